"""The snapshot store: content-addressed encrypted blobs plus one encrypted manifest per snapshot.

The only code that writes and reads backups; the format is specified in docs/format.md.

    <root>/customers/<customer>/blobs/<id[:2]>/<id>            immutable, encrypted, content-addressed
    <root>/customers/<customer>/snapshots/<date>/<asset>.json   manifest, encrypted, written LAST

A blob id is HMAC-SHA256 of the plaintext under a per-customer key; a blob at rest is an 8-byte
prefix then the plaintext, zstd-compressed, encrypted with Tink streaming AEAD (AES256_GCM_HKDF_1MB)
with the prefix and the id as associated data. A manifest is encrypted with Tink AEAD (AES256_GCM)
with associated data naming customer, date and asset. A snapshot exists if and only if its manifest
exists; blobs are written before it, only if absent, and reclaimed by ``sweep`` after a grace period.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import hashlib
import hmac
import io
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import dagster as dg

from resources import names
from resources.errors import ConfigurationError, IntegrityError, SnapshotNotFoundError
from resources.keyring import CustomerKeys, Keyring
from resources.object_storage import ObjectNotFoundError, ObjectStorage, storage_from_url

__all__ = [
    "BlobRef",
    "Manifest",
    "SnapshotStore",
    "SnapshotStoreResource",
    "SweepReport",
    "VerifyReport",
]

log = logging.getLogger(__name__)

BLOB_MAGIC = b"BHBLOB"
BLOB_VERSION = 1
CODEC_ZSTD = 1
BLOB_PREFIX = BLOB_MAGIC + bytes([BLOB_VERSION, CODEC_ZSTD])  # 8 bytes
MANIFEST_MAGIC = b"BHMF"
MANIFEST_VERSION = 1
MANIFEST_PREFIX = MANIFEST_MAGIC + bytes([MANIFEST_VERSION])  # 5 bytes
MANIFEST_FORMAT = "backhub-manifest"

CHUNK = 1024 * 1024
_BLOB_ID = re.compile(r"[0-9a-f]{64}")
_ASSET = re.compile(r"[a-z][a-z0-9_]{0,63}")
# write_manifest checks referenced blobs one request each up to this many, else by one listing.
_LIST_THRESHOLD = 64


def blob_id(value: str) -> str:
    """Validate a blob id before it becomes part of an object key: 64 lower-case hex digits."""
    if not isinstance(value, str) or not _BLOB_ID.fullmatch(value):
        raise names.InvalidNameError(f"invalid blob id {value!r}: expected 64 lower-case hex digits")
    return value


def asset_name(value: str) -> str:
    if not isinstance(value, str) or not _ASSET.fullmatch(value):
        raise names.InvalidNameError(f"invalid asset name {value!r}")
    return value


def blob_aad(bid: str) -> bytes:
    return BLOB_PREFIX + bid.encode("ascii")


def manifest_aad(customer: str, date: str, asset: str) -> bytes:
    return b"backhub-manifest/v1\x00" + "\x00".join((customer, date, asset)).encode("ascii")


@dataclass(frozen=True)
class BlobRef:
    id: str  # keyed hash of the plaintext (hex); also the object name
    size: int  # plaintext bytes
    stored_size: int  # bytes at rest
    new: bool  # True if this call stored it, False if it already existed


@dataclass(frozen=True)
class Manifest:
    customer: str
    date: str
    asset: str
    created_at: str  # ISO-8601 UTC
    blobs: tuple[str, ...]  # every blob id the snapshot needs
    body: dict = field(hash=False)  # the asset's own content: opaque to the store
    digest: str = ""  # SHA-256 (hex) of the manifest object as stored: its identity
    generation: int = 1  # 1 + the generation of the manifest it replaced at the same path
    supersedes: str | None = None  # digest of the manifest it replaced at the same path
    parent_date: str | None = None  # the latest earlier snapshot of the asset when this was written
    parent_digest: str | None = None
    parent_generation: int | None = None  # that manifest's generation (absent in older manifests)


@dataclass
class VerifyReport:
    ok: bool
    problems: list[str]
    blobs_checked: int
    bytes_read: int


@dataclass
class SweepReport:
    deleted: list[str]
    bytes_freed: int
    kept: int


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

    # -- keys -----------------------------------------------------------------------------------

    @staticmethod
    def _customer_prefix(customer: str) -> str:
        return f"customers/{names.customer(customer)}/"

    def _blob_key(self, customer: str, bid: str) -> str:
        blob_id(bid)
        return f"{self._customer_prefix(customer)}blobs/{bid[:2]}/{bid}"

    def _manifest_key(self, customer: str, date: str, asset: str) -> str:
        names.date(date)
        asset_name(asset)
        return f"{self._customer_prefix(customer)}snapshots/{date}/{asset}.json"

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
            check = _BackgroundHasher(keys.blob_hasher())
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
        key = self._blob_key(customer, bid)
        try:
            info = self.storage.stat(key)
        except ObjectNotFoundError:
            pass
        else:
            self._refresh(key, info.modified)
            return BlobRef(bid, size, info.size, new=False)

        import zstandard

        from resources.keyring import _tink

        tink = _tink()
        with self.storage.open_writer(key, if_absent=True) as writer:
            writer.write(BLOB_PREFIX)
            try:
                encrypting = keys.streaming_aead.new_encrypting_stream(_NoClose(writer), blob_aad(bid))
                compressor = zstandard.ZstdCompressor(level=self.compression_level).compressobj(size=size)
                for chunk in chunks:
                    encrypting.write(compressor.compress(chunk))
                encrypting.write(compressor.flush())
                encrypting.close()
            except tink.TinkError as exc:
                raise IntegrityError(f"store blob {bid}: encryption failed ({exc})") from None
            stored = writer.bytes_written
            created = writer.commit()
        if not created:  # another writer stored the same content first: theirs is as good
            return BlobRef(bid, size, self.storage.stat(key).size, new=False)
        return BlobRef(bid, size, stored, new=True)

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
        key = self._blob_key(customer, bid)
        keys = self.keyring.customer_keys(customer)
        try:
            raw = self.storage.open_reader(key)
        except ObjectNotFoundError:
            raise IntegrityError(
                f"load blob {bid} of customer {customer}: missing from the store; "
                "snapshots that name it cannot be restored (run verify)"
            ) from None
        reader = _BlobReader(raw, keys, customer, bid)
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
        return self.storage.exists(self._blob_key(customer, bid))

    # -- manifests ------------------------------------------------------------------------------

    def write_manifest(
        self, customer: str, date: str, asset: str, body: dict, blobs: Iterable[str]
    ) -> Manifest:
        """Commit a snapshot of one asset. Refuses (IntegrityError) if a referenced blob is absent."""
        key = self._manifest_key(customer, date, asset)
        keys = self.keyring.customer_keys(customer, create=True)
        blob_ids = tuple(dict.fromkeys(blob_id(b) for b in blobs))
        missing = self._missing_blobs(customer, blob_ids)
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
                generation = self._decode(customer, date, asset, previous_raw, keys).generation + 1
        parent_date, parent_digest, parent_generation = None, None, None
        for earlier in sorted((d for d in self._dates_with(customer, asset) if d < date), reverse=True):
            with contextlib.suppress(ObjectNotFoundError):
                parent_raw = self.storage.get(self._manifest_key(customer, earlier, asset))
                parent_date, parent_digest = earlier, hashlib.sha256(parent_raw).hexdigest()
                with contextlib.suppress(IntegrityError):
                    parent_generation = self._decode(customer, earlier, asset, parent_raw, keys).generation
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
        plaintext = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        stored = MANIFEST_PREFIX + keys.manifest_aead.encrypt(plaintext, manifest_aad(customer, date, asset))
        self.storage.put(key, stored)
        log.info("committed snapshot %s/%s/%s with %d blobs", customer, date, asset, len(blob_ids))
        return self._decode(customer, date, asset, stored, keys)

    def _missing_blobs(self, customer: str, blob_ids: tuple[str, ...]) -> list[str]:
        if len(blob_ids) <= _LIST_THRESHOLD:
            return [b for b in blob_ids if not self.blob_exists(customer, b)]
        present = {info.key.rsplit("/", 1)[-1] for info in self.storage.list(self._blobs_prefix(customer))}
        return [b for b in blob_ids if b not in present]

    def _blobs_prefix(self, customer: str) -> str:
        return f"{self._customer_prefix(customer)}blobs/"

    def read_manifest(
        self, customer: str, date: str, asset: str, *, expected_digest: str | None = None
    ) -> Manifest:
        """SnapshotNotFoundError if there is no committed snapshot; IntegrityError if it is not intact.

        ``expected_digest`` (from the audit log, say) also catches a manifest replaced by an older
        copy of itself, which decrypts fine (docs/format.md, "What is detectable").
        """
        key = self._manifest_key(customer, date, asset)
        try:
            raw = self.storage.get(key)
        except ObjectNotFoundError:
            raise SnapshotNotFoundError(f"no snapshot {customer}/{date}/{asset}") from None
        keys = self.keyring.customer_keys(customer)
        manifest = self._decode(customer, date, asset, raw, keys)
        if expected_digest is not None and not hmac.compare_digest(manifest.digest, expected_digest):
            raise IntegrityError(
                f"load manifest {customer}/{date}/{asset}: digest {manifest.digest[:16]}... is not the "
                f"recorded {expected_digest[:16]}...: replaced by another version"
            )
        return manifest

    def _decode(self, customer: str, date: str, asset: str, raw: bytes, keys: CustomerKeys) -> Manifest:
        from resources.keyring import _tink

        tink = _tink()
        where = f"load manifest {customer}/{date}/{asset}"
        if raw[: len(MANIFEST_MAGIC)] != MANIFEST_MAGIC:
            raise IntegrityError(f"{where}: not a manifest (bad magic)")
        if raw[len(MANIFEST_MAGIC) : len(MANIFEST_PREFIX)] != bytes([MANIFEST_VERSION]):
            raise IntegrityError(f"{where}: unsupported format version {raw[4:5].hex()}")
        try:
            plaintext = keys.manifest_aead.decrypt(raw[len(MANIFEST_PREFIX) :], manifest_aad(customer, date, asset))
        except tink.TinkError:
            raise IntegrityError(
                f"{where}: does not decrypt: edited, corrupt, or moved here from another snapshot; "
                "restore it from a replica or delete the snapshot"
            ) from None
        try:
            doc = json.loads(plaintext)
            parent = doc["parent"] or {}
            manifest = Manifest(
                customer=doc["customer"],
                date=doc["date"],
                asset=doc["asset"],
                created_at=doc["created_at"],
                blobs=tuple(blob_id(b) for b in doc["blobs"]),
                body=doc["body"],
                digest=hashlib.sha256(raw).hexdigest(),
                generation=int(doc["generation"]),
                supersedes=doc["supersedes"],
                parent_date=parent.get("date"),
                parent_digest=parent.get("digest"),
                parent_generation=parent.get("generation"),
            )
        except (ValueError, KeyError, TypeError, AttributeError):  # InvalidNameError is a ValueError
            raise IntegrityError(f"{where}: malformed content") from None
        if doc.get("format") != MANIFEST_FORMAT or (manifest.customer, manifest.date, manifest.asset) != (
            customer,
            date,
            asset,
        ):
            raise IntegrityError(f"{where}: records another identity")
        return manifest

    def manifest_exists(self, customer: str, date: str, asset: str) -> bool:
        return self.storage.exists(self._manifest_key(customer, date, asset))

    def delete_manifest(self, customer: str, date: str, asset: str) -> None:
        self.storage.delete(self._manifest_key(customer, date, asset))

    def manifest_written_at(self, customer: str, date: str, asset: str) -> dt.datetime:
        try:
            return self.storage.stat(self._manifest_key(customer, date, asset)).modified
        except ObjectNotFoundError:
            raise SnapshotNotFoundError(f"no snapshot {customer}/{date}/{asset}") from None

    def list_customers(self) -> list[str]:
        found = []
        for name in self.storage.list_children("customers/"):
            with contextlib.suppress(names.InvalidNameError):
                found.append(names.customer(name))
        return found

    def list_snapshots(self, customer: str) -> dict[str, list[str]]:
        """date -> assets with a committed manifest, both sorted."""
        prefix = f"{self._customer_prefix(customer)}snapshots/"
        result: dict[str, list[str]] = {}
        for info in self.storage.list(prefix):
            parts = info.key[len(prefix) :].split("/")
            if len(parts) != 2 or not parts[1].endswith(".json"):
                continue
            date, asset = parts[0], parts[1][: -len(".json")]
            with contextlib.suppress(names.InvalidNameError):
                result.setdefault(names.date(date), []).append(asset_name(asset))
        return {d: sorted(result[d]) for d in sorted(result)}

    def _dates_with(self, customer: str, asset: str) -> list[str]:
        return [d for d, assets in self.list_snapshots(customer).items() if asset in assets]

    def latest_manifest_before(self, customer: str, date: str, asset: str) -> Manifest | None:
        names.date(date)
        for earlier in sorted((d for d in self._dates_with(customer, asset) if d < date), reverse=True):
            with contextlib.suppress(SnapshotNotFoundError):
                return self.read_manifest(customer, earlier, asset)
        return None

    # -- verify and sweep -----------------------------------------------------------------------

    def verify(
        self,
        customer: str,
        date: str,
        *,
        read_data: bool = False,
        assets: Iterable[str] | None = None,
    ) -> VerifyReport:
        """Check one date's snapshots like ``restic check``; ``read_data`` decrypts every blob."""
        names.date(date)
        snapshots = self.list_snapshots(customer)
        wanted = sorted(assets) if assets is not None else snapshots.get(date, [])
        problems: list[str] = []
        blobs_checked = bytes_read = 0
        if not wanted:
            problems.append(f"no snapshot of customer {customer} on {date}")
        for asset in wanted:
            try:
                manifest = self.read_manifest(customer, date, asset)
            except (SnapshotNotFoundError, IntegrityError) as exc:
                problems.append(str(exc))
                continue
            problems.extend(self._check_successor(customer, manifest, snapshots))
            if not read_data:  # presence only: one listing instead of a HEAD per blob for large manifests
                blobs_checked += len(manifest.blobs)
                problems.extend(f"blob {bid} of {customer}/{date}/{asset}: missing"
                                for bid in self._missing_blobs(customer, manifest.blobs))
                continue
            for bid in manifest.blobs:
                blobs_checked += 1
                try:
                    with self.open_blob(customer, bid) as f:
                        while chunk := f.read(CHUNK):
                            bytes_read += len(chunk)
                except IntegrityError as exc:
                    problems.append(f"{exc} (named by {customer}/{date}/{asset})")
        return VerifyReport(not problems, problems, blobs_checked, bytes_read)

    def _check_successor(
        self, customer: str, manifest: Manifest, snapshots: dict[str, list[str]]
    ) -> list[str]:
        """The next snapshot of the asset recorded which manifest it followed: is it this one?"""
        later = sorted(d for d, assets in snapshots.items() if d > manifest.date and manifest.asset in assets)
        if not later:
            return []
        try:
            successor = self.read_manifest(customer, later[0], manifest.asset)
        except (SnapshotNotFoundError, IntegrityError):
            return []  # reported when that date is verified
        if successor.parent_date != manifest.date or successor.parent_digest is None:
            return []
        if successor.parent_digest in {manifest.digest, manifest.supersedes}:
            return []
        if successor.parent_generation is not None and manifest.generation > successor.parent_generation:
            return []  # re-committed since (a retried day): newer than the one its successor followed
        return [
            f"manifest {customer}/{manifest.date}/{manifest.asset}: not the version the snapshot of "
            f"{later[0]} was built on (digest {manifest.digest[:16]}..., recorded "
            f"{successor.parent_digest[:16]}...): replaced by an older or foreign copy"
        ]

    def sweep(
        self, customer: str, *, grace: dt.timedelta, now: dt.datetime, dry_run: bool = False
    ) -> SweepReport:
        """Delete blobs no live manifest references and older than ``grace`` (by object timestamp).

        Refuses to run (IntegrityError) if any live manifest cannot be read: then it cannot know
        what is referenced. ``grace`` must exceed ``refresh_after`` plus the longest backup run.
        """
        if grace <= self.refresh_after:
            raise ConfigurationError(
                f"sweep grace {grace} must be longer than the blob refresh age {self.refresh_after}"
            )
        if now.tzinfo is None:
            raise ConfigurationError("sweep: now must be timezone-aware")
        cutoff = now - grace
        referenced: set[str] = set()
        for date, assets in self.list_snapshots(customer).items():
            for asset in assets:
                try:
                    referenced.update(self.read_manifest(customer, date, asset).blobs)
                except SnapshotNotFoundError:
                    continue  # deleted meanwhile
        deleted: list[str] = []
        freed = kept = 0
        for info in self.storage.list(self._blobs_prefix(customer)):
            bid = info.key.rsplit("/", 1)[-1]
            if not _BLOB_ID.fullmatch(bid) or bid in referenced or info.modified >= cutoff:
                kept += 1
                continue
            if not dry_run:
                # Re-check just before deleting: a writer may have reused (touched) it meanwhile.
                try:
                    fresh = self.storage.stat(info.key)
                except ObjectNotFoundError:
                    continue
                if fresh.modified >= cutoff:
                    kept += 1
                    continue
                self.storage.delete(info.key)
            deleted.append(bid)
            freed += info.size
        if not dry_run:
            self.storage.delete_incomplete(self._customer_prefix(customer), older_than=cutoff)
        log.info("swept %s: %d blobs (%d bytes) deleted, %d kept", customer, len(deleted), freed, kept)
        return SweepReport(deleted, freed, kept)

    def delete_customer(self, customer: str) -> int:
        """Erasure: delete every object of the customer. Returns the number of objects deleted."""
        prefix = self._customer_prefix(customer)
        count = 0
        for info in list(self.storage.list(prefix)):
            self.storage.delete(info.key)
            count += 1
        count += self.storage.delete_incomplete(prefix)
        return count


class _NoClose(io.RawIOBase):
    """Passes writes through; closing it leaves the target open (Tink closes its destination)."""

    def __init__(self, target: Any) -> None:
        super().__init__()
        self._target = target

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return self._target.write(data)


class _BlobReader(io.RawIOBase):
    """Decrypts, decompresses and re-hashes one blob as it is read."""

    def __init__(self, raw: BinaryIO, keys: CustomerKeys, customer: str, bid: str) -> None:
        super().__init__()
        self._raw, self._bid, self._customer = raw, bid, customer
        self._where = f"load blob {bid} of customer {customer}"
        self._hasher = _BackgroundHasher(keys.blob_hasher())
        self._eof = False
        import zstandard

        from resources.keyring import _tink

        self._errors: tuple[type[BaseException], ...] = (_tink().TinkError, zstandard.ZstdError)
        try:
            prefix = _read_exactly(raw, len(BLOB_PREFIX))
        except Exception:
            raw.close()
            raise
        if prefix[: len(BLOB_MAGIC)] != BLOB_MAGIC:
            raw.close()
            raise self._corrupt("not a blob (bad magic)")
        if prefix != BLOB_PREFIX:
            raw.close()
            raise self._corrupt(f"unsupported version/codec {prefix[6:].hex()}")
        # Tink turns an exception raised by the source into "decryption failed": keep the original,
        # so a dropped connection stays a retryable StorageUnavailableError, not corruption.
        self._source = _SourceGuard(raw)
        self._decrypting = keys.streaming_aead.new_decrypting_stream(self._source, blob_aad(bid))
        self._plain = zstandard.ZstdDecompressor().stream_reader(
            self._decrypting, read_size=CHUNK, read_across_frames=False, closefd=False
        )

    def _corrupt(self, what: str) -> IntegrityError:
        return IntegrityError(
            f"{self._where}: {what}; the blob is corrupt or was tampered with: snapshots that name "
            "it cannot be restored from this store (run verify --read-data to list them)"
        )

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._eof:
            return 0
        try:
            data = self._plain.read(len(buffer))
        except self._errors:
            self._source.reraise()
            raise self._corrupt("authentication failed") from None
        if not data:
            self._finish()
            return 0
        self._hasher.update(data)
        n = len(data)
        buffer[:n] = data
        return n

    def _finish(self) -> None:
        self._eof = True
        try:
            trailing = self._decrypting.read(1)  # authenticates the final segment, finds appended data
        except self._errors:
            self._source.reraise()
            raise self._corrupt("authentication of the last segment failed") from None
        if trailing:
            raise self._corrupt("data after the end of the compressed stream")
        if not hmac.compare_digest(self._hasher.hexdigest(), self._bid):
            raise self._corrupt("the plaintext does not hash to the blob id")

    def close(self) -> None:
        if not self.closed:
            self._hasher.close()
            with contextlib.suppress(Exception):
                self._plain.close()
            with contextlib.suppress(Exception):
                self._decrypting.close()
            with contextlib.suppress(Exception):
                self._raw.close()
        super().close()


class _BackgroundHasher:
    """Feeds an HMAC on a helper thread (hashlib releases the GIL), in order, a few chunks behind.

    Hashing is the single largest CPU cost of reading and writing a blob; on a second core it runs
    beside decryption and decompression instead of after them. Memory: at most _HASH_BACKLOG chunks.
    """

    def __init__(self, hasher: hmac.HMAC) -> None:
        self._hasher = hasher
        self._pool: ThreadPoolExecutor | None = None
        self._pending: collections.deque[Future[None]] = collections.deque()

    def update(self, data: bytes) -> None:
        if len(data) < 64 * 1024:
            self._drain()
            self._hasher.update(data)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="blob-hash")
        while len(self._pending) >= _HASH_BACKLOG:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(self._hasher.update, bytes(data)))

    def _drain(self) -> None:
        while self._pending:
            self._pending.popleft().result()

    def hexdigest(self) -> str:
        self._drain()
        return self._hasher.hexdigest()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._pending.clear()


_HASH_BACKLOG = 4


class _SourceGuard(io.RawIOBase):
    """Reads through to the stored object, remembering the first error the storage raised."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._raw.read(len(buffer))
        except BaseException as exc:
            self.error = exc
            raise
        n = len(data)
        buffer[:n] = data
        return n

    def reraise(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def _read_exactly(raw: BinaryIO, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = raw.read(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


class SnapshotStoreResource(dg.ConfigurableResource):
    """The snapshot store and the keyring that opens it.

    ``store_url``: ``file:///path`` or ``s3://bucket/prefix``; ``keyring_url`` and ``master_key_uri``
    as in ``KeyringResource``; ``s3_endpoint_url`` for a non-AWS S3/KMS endpoint.
    """

    store_url: str
    keyring_url: str
    master_key_uri: str
    s3_endpoint_url: str | None = None

    def get_client(self) -> SnapshotStore:
        keyring = Keyring.from_urls(self.keyring_url, self.master_key_uri, s3_endpoint_url=self.s3_endpoint_url)
        return SnapshotStore.from_urls(self.store_url, keyring, s3_endpoint_url=self.s3_endpoint_url)
