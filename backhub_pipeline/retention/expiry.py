"""Expiry: destroying what is older than the window, safely.

``retention_sensor`` (retention/sensor.py) decides cheaply (``retention/plan.py``: the ``date`` keys
alone, one query whatever the number of customers) whether a date is older than the window by the clock
resource, and requests one ``expire_snapshots_job`` run (retention/job.py) with a
deterministic run key. The run calls ``expire``, which, in this order:

1. cross-checks the worker's clock with the store's own clock: it writes a probe object and reads back
   the timestamp the store gave it. The clock resource's deliberate simulated offset (``offset_days``)
   is taken out first; if what remains disagrees with the store by more than the tolerance, the run
   refuses to delete anything, alerts and fails;
2. deletes the manifests of every expired date, for every customer (audit ``expire``);
3. sweeps each customer's blobs that no live manifest references and that are older than the grace
   period by the store's own timestamps, so a running backup never loses a blob it just reused
   (audit ``delete``);
4. once no customer has a snapshot left on an expired date: deletes the finished Dagster runs of that
   date with their events (``delete_run``), so the date leaves ``get_materialized_partitions``, the
   event log and the UI, and every query's cost stays flat over a year; then removes its ``date`` key,
   so the UI shows exactly the snapshots that exist.

Every step is idempotent: a re-run after a crash finishes what the first run started. ``dry_run``
reports what would go and changes nothing. docs/format.md ("Retention and erasure") says how long
deleted data can outlive the window.
"""

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import dagster as dg

from assets.partitions import date_partitions
from backhub_pipeline.retention.plan import plan_expiry
from resources import names
from resources.audit import AuditLog
from resources.clock import Clock
from resources.errors import BackhubError, ClockDisagreementError
from resources.snapshot_store import SnapshotStore, layout

log = logging.getLogger("backhub.retention")

#: Run statuses after which a run's records can go.
FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)

#: Written and deleted by every expiry run at the store root, to read the store's own clock.
PROBE_KEY = layout.CLOCK_PROBE
ACTOR = "retention"
#: The tag Dagster puts on every run of a (customer, date) partition: its date.
DATE_TAG = f"dagster/partition/{date_partitions.name}"


# -- the clock cross-check -------------------------------------------------------------------------


def store_now(store: SnapshotStore) -> dt.datetime:
    """The store's own idea of now: the timestamp it gives a probe object written this instant."""
    store.storage.put(PROBE_KEY, b"backhub retention clock probe\n")
    try:
        return store.storage.stat(PROBE_KEY).modified
    finally:
        store.storage.delete(PROBE_KEY)


def check_clock(clock: Clock, store: SnapshotStore, tolerance: dt.timedelta) -> dt.datetime:
    """Return the store's now; ClockDisagreementError if this worker's clock disagrees with it.

    The clock resource's ``offset_days`` is deliberate (simulated days) and is taken out before
    comparing; what remains is this machine's own time, which must match the store's.
    """
    before = clock.now() - dt.timedelta(days=clock.offset_days)
    stored = store_now(store)
    after = clock.now() - dt.timedelta(days=clock.offset_days)
    # The store stamps the probe between `before` and `after`; S3 timestamps have whole seconds.
    low, high = before - tolerance - dt.timedelta(seconds=1), after + tolerance
    if not low <= stored <= high:
        skew = (before - stored).total_seconds()
        raise ClockDisagreementError(
            f"refusing to expire snapshots: this worker's clock is {abs(skew) / 3600:.2f} h "
            f"{'ahead of' if skew > 0 else 'behind'} the store's (worker {before.isoformat()}, store "
            f"{stored.isoformat()}, tolerance {tolerance}); fix the worker's time (NTP) and re-run"
        )
    return stored


@dataclass
class ExpiryReport:
    today: str
    oldest_kept: str
    dry_run: bool
    store_time: str = ""
    expired_dates: list[str] = field(default_factory=list)
    kept_inside_window: list[str] = field(default_factory=list)
    manifests_deleted: dict[str, int] = field(default_factory=dict)  # customer -> count
    blobs_deleted: dict[str, int] = field(default_factory=dict)
    bytes_freed: dict[str, int] = field(default_factory=dict)
    date_keys_removed: list[str] = field(default_factory=list)
    runs_deleted: dict[str, int] = field(default_factory=dict)  # date -> Dagster runs deleted with their events
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def expire(
    *,
    instance: dg.DagsterInstance,
    store: SnapshotStore,
    clock: Clock,
    retention_days: int,
    grace: dt.timedelta,
    tolerance: dt.timedelta,
    audit: AuditLog,
    actor: str,
    dates: list[str] | None = None,
    dry_run: bool = False,
) -> ExpiryReport:
    """Expire what is older than the window (or the given dates, if older). Idempotent."""
    stored_now = check_clock(clock, store, tolerance)  # before anything is deleted
    today = clock.now().date()
    plan = plan_expiry(instance, store, today, retention_days)
    report = ExpiryReport(plan.today, plan.oldest_kept, dry_run, store_time=stored_now.isoformat())
    wanted = set(plan.dates)
    if dates:
        asked = {names.date(d) for d in dates}
        report.kept_inside_window = sorted(d for d in asked if d >= plan.oldest_kept)
        wanted &= asked
    report.expired_dates = sorted(wanted)
    verb = "would delete" if dry_run else "deleted"

    customers = sorted(set(store.list_customers()))
    for customer in customers:
        snapshots = store.list_snapshots(customer)
        for date in sorted(d for d in snapshots if d in wanted):
            assets = snapshots[date]
            if not dry_run:
                for asset in assets:
                    store.delete_manifest(customer, date, asset)
                audit.append(actor=actor, action="expire", outcome="ok", customer=customer, snapshot=date,
                             details={"assets": assets, "oldest_kept": plan.oldest_kept})
            report.manifests_deleted[customer] = report.manifests_deleted.get(customer, 0) + len(assets)
            log.info("%s %s/%s (%s)", verb, customer, date, ", ".join(assets))

    # The sweep reads the store's clock, not the simulated one: blob timestamps are the store's.
    sweeper = _sweeper(store, grace)
    for customer in customers:
        try:
            if dry_run:  # what the sweep would free once the expired manifests are gone
                swept = sweeper.plan_sweep(customer, grace=grace, now=stored_now, assume_expired=wanted).report()
            else:
                swept = sweeper.sweep(customer, grace=grace, now=stored_now)
        except BackhubError as exc:
            report.problems.append(f"sweep {customer}: {exc}")
            continue
        report.blobs_deleted[customer] = len(swept.deleted)
        report.bytes_freed[customer] = swept.bytes_freed
        if swept.deleted and not dry_run:
            audit.append(actor=actor, action="delete", outcome="ok", customer=customer,
                         details={"blobs": len(swept.deleted), "bytes": swept.bytes_freed, "kept": swept.kept,
                                  "grace_hours": grace.total_seconds() / 3600})

    remaining = {d for customer in customers for d in store.list_snapshots(customer)} if not dry_run else set()
    for date in sorted(wanted):
        if date in remaining:
            report.problems.append(f"date {date} kept (its key and runs): a snapshot on it is still in the store")
            continue
        report.runs_deleted[date] = delete_runs_of(instance, date, dry_run=dry_run)
        if date not in plan.date_keys:
            continue
        if not dry_run:
            instance.delete_dynamic_partition(date_partitions.name, date)
            audit.append(actor=actor, action="expire", outcome="ok", snapshot=date,
                         details={"partition": "date", "removed": True, "runs_deleted": report.runs_deleted[date]})
        report.date_keys_removed.append(date)
    return report


def delete_runs_of(instance: dg.DagsterInstance, date: str, *, dry_run: bool = False) -> int:
    """Deletes the finished runs of ``date``'s partitions with their events; returns how many.

    A run still in progress is left alone (none should be, on a date outside the window).
    """
    finished = dg.RunsFilter(tags={DATE_TAG: date}, statuses=list(FINISHED))
    run_ids = instance.get_run_ids(finished)
    if not dry_run:
        for run_id in run_ids:
            instance.delete_run(run_id)
    if run_ids:
        log.info("%s %d run(s) of %s with their events", "would delete" if dry_run else "deleted", len(run_ids), date)
    return len(run_ids)


def _sweeper(store: SnapshotStore, grace: dt.timedelta) -> SnapshotStore:
    """The store as the sweep needs it: its refresh age below the grace period.

    ``SnapshotStore.sweep`` refuses a grace not longer than the age at which backups refresh a reused
    blob's timestamp. A shorter grace (tests, the demo) is allowed here only with a warning: it is safe
    only while no backup runs.
    """
    if grace > store.refresh_after:
        return store
    log.warning("sweep grace %s is not longer than the blob refresh age %s: safe only while no backup runs",
                grace, store.refresh_after)
    return SnapshotStore(store.storage, store.keyring, refresh_after=grace - dt.timedelta(microseconds=1))
