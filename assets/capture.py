"""One asset's capture of one (customer, date): what it stored, what it reused, what it cost.

Every asset writes its blobs through a ``Capture`` and commits with ``Capture.commit``, which writes
the manifest last (DESIGN.md section 5: a snapshot exists if and only if its manifest exists) and
builds the metadata an operator sees in the UI.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Collection, Mapping
from os import PathLike
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from assets.bodies import Body, IssueChunk, decode_chunk
from assets.partitions import SnapshotKey, check_snapshot_key, customers_of
from assets.policy import BackupPolicy
from resources.audit import AuditLog
from resources.clock import Clock
from resources.snapshot_store import BlobRef, Manifest, SnapshotStore


class Capture:
    def __init__(self, context: AssetExecutionContext, store: SnapshotStore, clock: Clock, policy: BackupPolicy,
                 audit: AuditLog):
        self.key = SnapshotKey.parse(context.partition_key)
        check_snapshot_key(self.key, lambda date: policy.check_date(date, clock),
                           lambda: customers_of(context.resources.github.get_client().installations()))
        self.store = store
        self.audit = audit
        self.log = context.log
        self.actor = f"dagster run {context.run_id}"
        if not store.keyring.exists(self.customer):
            store.keyring.customer_keys(self.customer, create=True)
            audit.append(actor=self.actor, action="key.create", outcome="created", customer=self.customer)
        self.clock = clock
        self.started_at: dt.datetime = clock.now()
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._sizes: dict[str, int] = {}
        self.new_bytes = 0
        self.new_blobs = 0

    @property
    def customer(self) -> str:
        return self.key.customer

    @property
    def date(self) -> str:
        return self.key.date

    def _record(self, ref: BlobRef) -> str:
        with self._lock:
            self._sizes[ref.id] = ref.size
            if ref.new:
                self.new_bytes += ref.stored_size
                self.new_blobs += 1
        if ref.healed:  # a stored copy failed authentication and was rewritten from today's plaintext
            self.audit.append(actor=self.actor, action="heal", outcome="rewritten", customer=self.customer,
                              snapshot=self.date, details={"blob": ref.id, "size": ref.size})
        return ref.id

    def put(self, data: bytes) -> BlobRef:
        ref = self.store.put_blob(self.customer, data)
        self._record(ref)
        return ref

    def put_file(self, path: PathLike[str] | str) -> BlobRef:
        ref = self.store.put_blob_file(self.customer, path)
        self._record(ref)
        return ref

    def reuse(self, blob_id: str, size: int) -> str:
        """Reference a blob an earlier snapshot stored; the manifest write checks it still exists."""
        with self._lock:
            self._sizes[blob_id] = size
        return blob_id

    @property
    def logical_bytes(self) -> int:
        return sum(self._sizes.values())

    def keep_untouched(self, previous_chunks: Mapping[str, IssueChunk], touched: Collection[str]) -> dict[str, IssueChunk]:
        """The previous snapshot's chunks that no update touches: the same blobs, referenced again."""
        kept = {}
        for chunk_id, info in previous_chunks.items():
            if chunk_id not in touched:
                self.reuse(info.blob, info.size)
                kept[chunk_id] = info
        return kept

    def chunk_records(self, previous_chunks: Mapping[str, IssueChunk], chunk_id: str) -> dict[int, dict[str, Any]]:
        """The records of one previous chunk, by number (none for a chunk the previous snapshot lacks)."""
        if chunk_id not in previous_chunks:
            return {}
        return decode_chunk(self.store.read_blob(self.customer, previous_chunks[chunk_id].blob))

    def previous(self, asset: str) -> Manifest | None:
        return self.store.latest_manifest_before(self.customer, self.date, asset)

    def commit(self, asset: str, typed: Body) -> Manifest:
        """Write ``typed`` (stamped with the capture's start and end) as the asset's manifest: the commit."""
        body = dataclasses.replace(typed, capture_started_at=self.started_at.isoformat(),
                                   captured_at=self.clock.now().isoformat()).to_json()
        manifest = self.store.write_manifest(self.customer, self.date, asset, body, sorted(self._sizes))
        # The record holds the manifest's digest: the anchor that shows a manifest later replaced by
        # an older copy of itself (docs/format.md section 8).
        self.audit.append(actor=self.actor, action="backup", outcome="committed", customer=self.customer,
                          snapshot=self.date, details={"asset": asset, "manifest_digest": manifest.digest,
                                                       "generation": manifest.generation, "blobs": len(manifest.blobs),
                                                       "new_bytes": self.new_bytes})
        return manifest

    def metadata(self, *, api_requests: int | None = None, **counts: Any) -> dict[str, Any]:
        meta: dict[str, Any] = dict(counts)
        meta["logical_bytes"] = dg.MetadataValue.int(self.logical_bytes)
        meta["new_bytes"] = dg.MetadataValue.int(self.new_bytes)
        meta["new_blobs"] = dg.MetadataValue.int(self.new_blobs)
        if api_requests is not None:
            meta["api_requests"] = dg.MetadataValue.int(api_requests)
        meta["captured_at"] = dg.MetadataValue.text(self.clock.now().isoformat())
        meta["duration_seconds"] = dg.MetadataValue.float(round(time.monotonic() - self._started, 3))
        return meta

