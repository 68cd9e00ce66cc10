"""The snapshot store: content-addressed encrypted blobs plus one encrypted manifest per snapshot.

The only code that writes and reads backups; the format is specified in docs/format.md, and each
part of it has its module here: ``layout`` (keys), ``framing`` (a blob at rest), ``streams``
(reading a blob), ``manifest`` (the envelope), ``verify``, ``sweep`` and ``erasure``. A snapshot
exists if and only if its manifest exists; blobs are written before it, only if absent.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import io
import logging
import os
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from resources import names
from resources.errors import IntegrityError, InvalidNameError, ObjectNotFoundError, SnapshotNotFoundError
from resources.keyring import CustomerKeys, Keyring
from resources.object_storage import ObjectStorage, storage_from_url
from resources.snapshot_store import layout
from resources.snapshot_store.erasure import begin_erasure, delete_customer, end_erasure, unfinished_erasures
from resources.snapshot_store.framing import CHUNK, write_blob
from resources.snapshot_store.manifest import (
    MANIFEST_FORMAT,
    MANIFEST_VERSION,
    Manifest,
    decode_manifest,
    encode_manifest,
)
from resources.snapshot_store.streams import BackgroundHasher, BlobReader
from resources.snapshot_store.sweep import SweepPlan, SweepReport, execute_sweep, plan_sweep
from resources.snapshot_store.verify import VerifyReport, verify_snapshots

log = logging.getLogger(__name__)

# write_manifest checks referenced blobs one request each up to this many, else by one listing.
_LIST_THRESHOLD = 64


@dataclass(frozen=True)
class BlobRef:
    id: str  # keyed hash of the plaintext (hex); also the object name
    size: int  # plaintext bytes
    stored_size: int  # bytes at rest
    new: bool  # True if this call stored it, False if it already existed
    healed: bool = False  # True if a stored copy failed authentication and this call rewrote it


class SnapshotStore:
    """Writes and reads one store; see docs/format.md. Safe to share between threads."""

    def __init__(
        self,
        storage: ObjectStorage,
        keyring: Keyring,
        *,
        compression_level: int = 1,
        refresh_after: dt.timedelta = dt.timedelta(hours=24),
    ) -> None:
        self.storage = storage
        self.keyring = keyring
        self.compression_level = compression_level
        # A reused blob whose timestamp is older than this is touched, so the sweep's grace
        # period (which must be longer) protects it until the manifest that reuses it is written.
        self.refresh_after = refresh_after

    def __repr__(self) -> str:
        return f"SnapshotStore({self.storage.url!r})"

    @classmethod
    def from_urls(
        cls,
        store_url: str,
        keyring: Keyring,
        *,
        s3_endpoint_url: str | None = None,
        refresh_after: dt.timedelta = dt.timedelta(hours=24),
    ) -> SnapshotStore:
        storage = storage_from_url(store_url, s3_endpoint_url=s3_endpoint_url)
        return cls(storage, keyring, refresh_after=refresh_after)

    # -- blobs ----------------------------------------------------------------------------------

    def put_blob(self, customer: str, data: bytes) -> BlobRef:
        keys = self.keyring.customer_keys(customer, create=True)
        view = memoryview(data)
        bid = keys.blob_id(view)
        chunks = (view[i : i + CHUNK] for i in range(0, len(view), CHUNK))
        return self._store(customer, keys, bid, chunks, len(view))

    def put_blob_file(self, customer: str, path: os.PathLike[str] | str) -> BlobRef:
        """Store a file's content, streaming: memory stays bounded whatever its size."""
        keys = self.keyring.customer_keys(customer, create=True)
        hasher = keys.blob_hasher()
        size = 0
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                hasher.update(chunk)
                size += len(chunk)
        bid = hasher.hexdigest()

        def chunks() -> Iterator[bytes]:
            check = BackgroundHasher(keys.blob_hasher())
            try:
                with open(path, "rb") as f:
                    while chunk := f.read(CHUNK):
                        check.update(chunk)
                        yield chunk
                if not hmac.compare_digest(check.hexdigest(), bid):
                    raise IntegrityError(
                        f"store blob {bid} from {os.fspath(path)}: the file changed while it was read"
                    )
            finally:
                check.close()

        return self._store(customer, keys, bid, chunks(), size)

    def _store(
        self, customer: str, keys: CustomerKeys, bid: str, chunks: Iterable[Any], size: int
    ) -> BlobRef:
        key = layout.blob_key(customer, bid)
        try:
            info = self.storage.stat(key)
        except ObjectNotFoundError:
            pass
        else:
            problem = self.blob_problem(customer, bid)
            if problem is None:
                self._refresh(key, info.modified)
                return BlobRef(bid, size, info.size, new=False)
            # We hold the plaintext: replace the bad copy rather than reuse it (docs/format.md 4.3).
            log.warning("healing blob %s of customer %s: %s", bid, customer, problem)
            with self.storage.open_writer(key) as writer:
                write_blob(writer, keys, bid, chunks, size, self.compression_level)
                stored = writer.bytes_written
                writer.commit()
            return BlobRef(bid, size, stored, new=True, healed=True)
        with self.storage.open_writer(key, if_absent=True) as writer:
            write_blob(writer, keys, bid, chunks, size, self.compression_level)
            stored = writer.bytes_written
            created = writer.commit()
        if not created:  # another writer stored the same content first: theirs is as good
            return BlobRef(bid, size, self.storage.stat(key).size, new=False)
        return BlobRef(bid, size, stored, new=True)

    def blob_problem(self, customer: str, bid: str) -> str | None:
        """Why the stored blob ``bid`` is not a good copy (read, authenticated, re-hashed), or None.

        Only the size or a digest of the ciphertext would be cheaper, but encryption is randomised
        (no expected bytes to compare) and a flipped bit keeps the size: a full authenticated read
        is the cheapest sound check. A storage outage propagates: never heal on a transient error.
        """
        try:
            with self.open_blob(customer, bid) as f:
                while f.read(CHUNK):
                    pass
        except IntegrityError as exc:
            return str(exc)
        return None

    def _refresh(self, key: str, modified: dt.datetime) -> None:
        if dt.datetime.now(dt.UTC) - modified > self.refresh_after:
            with contextlib.suppress(ObjectNotFoundError):
                self.storage.touch(key)

    @contextlib.contextmanager
    def open_blob(self, customer: str, bid: str) -> Iterator[BinaryIO]:
        """A streaming reader of the blob's plaintext. IntegrityError naming the blob on tampering.

        The error can come from any read: tampering is found where it is (a bad segment fails when
        reached), and the final checks (end of stream, keyed hash of the plaintext) run at EOF.
        """
        key = layout.blob_key(customer, bid)
        keys = self.keyring.customer_keys(customer)
        try:
            raw = self.storage.open_reader(key)
        except ObjectNotFoundError:
            raise IntegrityError(
                f"load blob {bid} of customer {customer}: missing from the store; "
                "snapshots that name it cannot be restored (run verify)"
            ) from None
        reader = BlobReader(raw, keys, customer, bid)
        buffered = io.BufferedReader(reader, buffer_size=CHUNK)
        try:
            yield buffered  # type: ignore[misc]
        finally:
            buffered.close()

    def read_blob(self, customer: str, bid: str) -> bytes:
        with self.open_blob(customer, bid) as f:
            return f.read()

    def copy_blob_to(self, customer: str, bid: str, path: os.PathLike[str] | str) -> int:
        total = 0
        with self.open_blob(customer, bid) as src, open(path, "wb") as dst:
            while chunk := src.read(CHUNK):
                dst.write(chunk)
                total += len(chunk)
        return total

    def blob_exists(self, customer: str, bid: str) -> bool:
        return self.storage.exists(layout.blob_key(customer, bid))

    def blob_sizes(self, customer: str) -> dict[str, int]:
        """Blob id -> bytes at rest of every blob of ``customer``, by one listing."""
        return {layout.blob_id_of(info.key): info.size for info in self.storage.list(layout.blobs_prefix(customer))}

    def missing_blobs(self, customer: str, blob_ids: Collection[str]) -> list[str]:
        """Those of ``blob_ids`` not stored: a request each for a few, else one listing."""
        if len(blob_ids) <= _LIST_THRESHOLD:
            return [b for b in blob_ids if not self.blob_exists(customer, b)]
        present = self.blob_sizes(customer)
        return [b for b in blob_ids if b not in present]

    # -- manifests ------------------------------------------------------------------------------

    def write_manifest(
        self, customer: str, date: str, asset: str, body: dict, blobs: Iterable[str]
    ) -> Manifest:
        """Commit a snapshot of one asset. Refuses (IntegrityError) if a referenced blob is absent."""
        key = layout.manifest_key(customer, date, asset)
        keys = self.keyring.customer_keys(customer, create=True)
        blob_ids = tuple(dict.fromkeys(layout.blob_id(b) for b in blobs))
        missing = self.missing_blobs(customer, blob_ids)
        if missing:
            raise IntegrityError(
                f"write manifest {customer}/{date}/{asset}: {len(missing)} referenced blob(s) are not "
                f"stored, first {missing[0]}; store them before committing the snapshot"
            )
        supersedes, generation = None, 1
        try:
            previous_raw = self.storage.get(key)
        except ObjectNotFoundError:
            pass
        else:
            supersedes = hashlib.sha256(previous_raw).hexdigest()
            with contextlib.suppress(IntegrityError):
                generation = decode_manifest(customer, date, asset, previous_raw, keys).generation + 1
        parent_date, parent_digest, parent_generation = None, None, None
        for earlier in sorted((d for d in self._dates_with(customer, asset) if d < date), reverse=True):
            with contextlib.suppress(ObjectNotFoundError):
                parent_raw = self.storage.get(layout.manifest_key(customer, earlier, asset))
                parent_date, parent_digest = earlier, hashlib.sha256(parent_raw).hexdigest()
                with contextlib.suppress(IntegrityError):
                    parent_generation = decode_manifest(customer, earlier, asset, parent_raw, keys).generation
                break
        document = {
            "format": MANIFEST_FORMAT,
            "version": MANIFEST_VERSION,
            "customer": customer,
            "date": date,
            "asset": asset,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "generation": generation,
            "supersedes": supersedes,
            "parent": {"date": parent_date, "digest": parent_digest, "generation": parent_generation}
            if parent_date
            else None,
            "blobs": list(blob_ids),
            "body": body,
        }
        stored = encode_manifest(document, keys)
        self.storage.put(key, stored)
        log.info("committed snapshot %s/%s/%s with %d blobs", customer, date, asset, len(blob_ids))
        return decode_manifest(customer, date, asset, stored, keys)

    def read_manifest(
        self, customer: str, date: str, asset: str, *, expected_digest: str | None = None
    ) -> Manifest:
        """SnapshotNotFoundError if there is no committed snapshot; IntegrityError if it is not intact.

        ``expected_digest`` (from the audit log, say) also catches a manifest replaced by an older
        copy of itself, which decrypts fine (docs/format.md, "What is detectable").
        """
        key = layout.manifest_key(customer, date, asset)
        try:
            raw = self.storage.get(key)
        except ObjectNotFoundError:
            raise SnapshotNotFoundError(f"no snapshot {customer}/{date}/{asset}") from None
        keys = self.keyring.customer_keys(customer)
        manifest = decode_manifest(customer, date, asset, raw, keys)
        if expected_digest is not None and not hmac.compare_digest(manifest.digest, expected_digest):
            raise IntegrityError(
                f"load manifest {customer}/{date}/{asset}: digest {manifest.digest[:16]}... is not the "
                f"recorded {expected_digest[:16]}...: replaced by another version"
            )
        return manifest

    def manifest_exists(self, customer: str, date: str, asset: str) -> bool:
        return self.storage.exists(layout.manifest_key(customer, date, asset))

    def delete_manifest(self, customer: str, date: str, asset: str) -> None:
        self.storage.delete(layout.manifest_key(customer, date, asset))

    def manifest_written_at(self, customer: str, date: str, asset: str) -> dt.datetime:
        try:
            return self.storage.stat(layout.manifest_key(customer, date, asset)).modified
        except ObjectNotFoundError:
            raise SnapshotNotFoundError(f"no snapshot {customer}/{date}/{asset}") from None

    def list_customers(self) -> list[str]:
        found = []
        for name in self.storage.list_children(layout.CUSTOMERS):
            with contextlib.suppress(InvalidNameError):
                found.append(names.customer(name))
        return found

    def list_snapshots(self, customer: str) -> dict[str, list[str]]:
        """date -> assets with a committed manifest, both sorted."""
        result: dict[str, list[str]] = {}
        for info in self.storage.list(layout.snapshots_prefix(customer)):
            found = layout.manifest_of(customer, info.key)
            if found is not None:
                result.setdefault(found[0], []).append(found[1])
        return {d: sorted(result[d]) for d in sorted(result)}

    def _dates_with(self, customer: str, asset: str) -> list[str]:
        return [d for d, assets in self.list_snapshots(customer).items() if asset in assets]

    def latest_manifest_before(self, customer: str, date: str, asset: str) -> Manifest | None:
        names.date(date)
        for earlier in sorted((d for d in self._dates_with(customer, asset) if d < date), reverse=True):
            with contextlib.suppress(SnapshotNotFoundError):
                return self.read_manifest(customer, earlier, asset)
        return None

    # -- verify, sweep, erasure (each in its own module) ----------------------------------------

    def verify(
        self,
        customer: str,
        date: str,
        *,
        read_data: bool = False,
        assets: Iterable[str] | None = None,
    ) -> VerifyReport:
        """Check one date's snapshots like ``restic check``; ``read_data`` decrypts every blob."""
        return verify_snapshots(self, customer, date, read_data=read_data, assets=assets)

    def plan_sweep(
        self, customer: str, *, grace: dt.timedelta, now: dt.datetime, assume_expired: Collection[str] = ()
    ) -> SweepPlan:
        """Which blobs a sweep would delete (docs/format.md 7.2); nothing is changed."""
        return plan_sweep(self, customer, grace=grace, now=now, assume_expired=assume_expired)

    def execute_sweep(self, plan: SweepPlan) -> SweepReport:
        return execute_sweep(self, plan)

    def sweep(
        self, customer: str, *, grace: dt.timedelta, now: dt.datetime, dry_run: bool = False
    ) -> SweepReport:
        """Delete blobs no live manifest references and older than ``grace`` (by object timestamp).

        Refuses to run (IntegrityError) if any live manifest cannot be read: then it cannot know
        what is referenced. ``grace`` must exceed ``refresh_after`` plus the longest backup run.
        """
        plan = self.plan_sweep(customer, grace=grace, now=now)
        return plan.report() if dry_run else self.execute_sweep(plan)

    def delete_customer(self, customer: str) -> int:
        """Erasure: delete every object of the customer. Returns the number of objects deleted."""
        return delete_customer(self.storage, customer)

    def begin_erasure(self, customer: str) -> str:
        """Mark ``customer``'s erasure as started, before anything is deleted; returns when it started."""
        return begin_erasure(self.storage, customer)

    def end_erasure(self, customer: str) -> None:
        """Remove the marker: the erasure finished."""
        end_erasure(self.storage, customer)

    def unfinished_erasures(self) -> dict[str, str]:
        """customer -> start time of each erasure begun and not finished (a killed run)."""
        return unfinished_erasures(self.storage)
