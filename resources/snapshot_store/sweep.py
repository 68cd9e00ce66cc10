"""Reclaiming unreferenced blobs, planned then executed like ``restic prune`` (docs/format.md 7.2).

``plan_sweep`` decides once which blobs go; a dry run reports that plan, a real run executes the same
plan. Nothing is deleted while any live manifest cannot be read: then it is unknown what it references.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from resources.errors import ConfigurationError, ObjectNotFoundError, SnapshotNotFoundError
from resources.object_storage import ObjectInfo
from resources.snapshot_store import layout

if TYPE_CHECKING:
    from resources.snapshot_store.store import SnapshotStore

log = logging.getLogger("resources.snapshot_store")


@dataclass
class SweepReport:
    deleted: list[str]
    bytes_freed: int
    kept: int


@dataclass
class SweepPlan:
    """What a sweep of one customer deletes: blobs no live manifest names, older than ``cutoff``."""

    customer: str
    cutoff: dt.datetime
    doomed: list[ObjectInfo] = field(default_factory=list)
    kept: int = 0

    @property
    def bytes(self) -> int:
        return sum(info.size for info in self.doomed)

    def report(self) -> SweepReport:
        """The plan as a dry run reports it: what executing it would delete and free."""
        return SweepReport([layout.blob_id_of(info.key) for info in self.doomed], self.bytes, self.kept)


def plan_sweep(
    store: SnapshotStore,
    customer: str,
    *,
    grace: dt.timedelta,
    now: dt.datetime,
    assume_expired: Collection[str] = (),
) -> SweepPlan:
    """The sweep's decision for ``customer``, as if the manifests of ``assume_expired`` dates were gone.

    ``grace`` must exceed the store's ``refresh_after`` plus the longest backup run (docs/format.md 7.3).
    """
    if grace <= store.refresh_after:
        raise ConfigurationError(
            f"sweep grace {grace} must be longer than the blob refresh age {store.refresh_after}"
        )
    if now.tzinfo is None:
        raise ConfigurationError("sweep: now must be timezone-aware")
    plan = SweepPlan(customer, now - grace)
    referenced: set[str] = set()
    for date, assets in store.list_snapshots(customer).items():
        if date in assume_expired:
            continue
        for asset in assets:
            try:
                referenced.update(store.read_manifest(customer, date, asset).blobs)
            except SnapshotNotFoundError:
                continue  # deleted meanwhile
    for info in store.storage.list(layout.blobs_prefix(customer)):
        bid = layout.blob_id_of(info.key)
        if not layout.is_blob_id(bid) or bid in referenced or info.modified >= plan.cutoff:
            plan.kept += 1
        else:
            plan.doomed.append(info)
    return plan


def execute_sweep(store: SnapshotStore, plan: SweepPlan) -> SweepReport:
    """Delete what ``plan`` names, each blob re-checked just before: a writer may have reused it since."""
    deleted: list[str] = []
    freed, kept = 0, plan.kept
    for info in plan.doomed:
        try:
            fresh = store.storage.stat(info.key)
        except ObjectNotFoundError:
            continue
        if fresh.modified >= plan.cutoff:
            kept += 1
            continue
        store.storage.delete(info.key)
        deleted.append(layout.blob_id_of(info.key))
        freed += info.size
    store.storage.delete_incomplete(layout.customer_prefix(plan.customer), older_than=plan.cutoff)
    log.info("swept %s: %d blobs (%d bytes) deleted, %d kept", plan.customer, len(deleted), freed, kept)
    return SweepReport(deleted, freed, kept)
