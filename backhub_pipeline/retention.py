"""Retention: the sensor that decides which dates have expired, and the run that destroys them.

``retention_sensor`` decides cheaply (the ``date`` keys plus one store listing per customer, well inside
a sensor's 60 s budget) which dates are older than the window by the clock resource, and requests one
``expire_snapshots_job`` run with a deterministic run key. The run, in this order:

1. cross-checks the worker's clock with the store's own clock: it writes a probe object and reads back
   the timestamp the store gave it. The clock resource's deliberate simulated offset (``offset_days``)
   is taken out first; if what remains disagrees with the store by more than the tolerance, the run
   refuses to delete anything, alerts and fails;
2. deletes the manifests of every expired date, for every customer (audit ``expire``);
3. sweeps each customer's blobs that no live manifest references and that are older than the grace
   period by the store's own timestamps, so a running backup never loses a blob it just reused
   (audit ``delete``);
4. removes each expired ``date`` key once no customer has a snapshot left on it, so the UI shows
   exactly the snapshots that exist.

A date is expired when it is older than ``today - (retention_days - 1)``: the window holds exactly
``retention_days`` dates, the same rule ``BackupPolicy.check_date`` uses to refuse a late backup.
Every step is idempotent: a re-run after a crash finishes what the first run started. ``dry_run``
reports what would go and changes nothing. docs/format.md ("Retention and erasure") says how long
deleted data can outlive the window.
"""

import datetime as dt
import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import dagster as dg
from pydantic import Field

from assets.partitions import date_partitions
from assets.policy import BackupPolicy
from backhub_pipeline.alerting import AlerterResource
from resources import names
from resources.alerts import Alert
from resources.audit import AuditLog, AuditLogResource
from resources.clock import Clock
from resources.errors import (
    BackhubError,
    ClockDisagreementError,  # noqa: F401 - re-exported
    InvalidNameError,
)
from resources.snapshot_store import SnapshotStore, SnapshotStoreResource, layout

log = logging.getLogger("backhub.retention")

#: Written and deleted by every expiry run at the store root, to read the store's own clock.
PROBE_KEY = layout.CLOCK_PROBE
#: Runs for the same set of expired dates share this tag; the sensor counts their attempts.
EXPIRY_TAG = "backhub/expiry"
#: Attempts the sensor makes for one set of expired dates before it waits for an operator.
MAX_ATTEMPTS = 3
ACTOR = "retention"


class RetentionResource(dg.ConfigurableResource):
    """How expiry protects data: the sweep's grace period and the clock cross-check's tolerance."""

    sweep_grace_hours: int = Field(
        default=72,
        description="Unreferenced blobs younger than this (by store timestamp) are kept. Must exceed the "
        "store's blob refresh age (24 h) plus the longest backup run; 0 only when no backup can run "
        "meanwhile (tests, the demo's sequential days).",
    )
    clock_tolerance_minutes: int = Field(
        default=10, description="Largest disagreement between the worker's and the store's clocks."
    )

    @property
    def grace(self) -> dt.timedelta:
        return dt.timedelta(hours=self.sweep_grace_hours)

    @property
    def tolerance(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.clock_tolerance_minutes)


class ExpireConfig(dg.Config):
    dates: list[str] = Field(
        default_factory=list,
        description="Dates to expire (YYYY-MM-DD); empty: every date older than the window. A date inside "
        "the window by this run's own clock is never expired, whatever is asked.",
    )
    dry_run: bool = Field(default=False, description="Report what would be deleted; delete nothing.")


# -- deciding --------------------------------------------------------------------------------------


def oldest_kept(today: dt.date, retention_days: int) -> dt.date:
    """The first date inside the window: the window is ``retention_days`` dates ending today."""
    return today - dt.timedelta(days=retention_days - 1)


def _valid_date(value: str) -> bool:
    try:
        names.date(value)
    except InvalidNameError:
        return False
    return True


@dataclass
class ExpiryPlan:
    today: str
    oldest_kept: str
    date_keys: list[str]  # expired `date` partition keys
    snapshots: dict[str, list[str]]  # customer -> expired dates that still have manifests

    @property
    def dates(self) -> list[str]:
        return sorted(set(self.date_keys).union(*self.snapshots.values()))

    @property
    def key(self) -> str:
        """Deterministic per (day, set of expired dates): the sensor's run key and attempt tag."""
        digest = hashlib.sha256(json.dumps(self.dates).encode()).hexdigest()[:12]
        return f"expire|{self.today}|{digest}"


def plan_expiry(
    instance: dg.DagsterInstance, store: SnapshotStore, today: dt.date, retention_days: int
) -> ExpiryPlan:
    """What is older than the window: date keys, and dates with snapshots in the store."""
    first = oldest_kept(today, retention_days).isoformat()
    keys = [d for d in instance.get_dynamic_partitions(date_partitions.name) if _valid_date(d) and d < first]
    snapshots: dict[str, list[str]] = {}
    for customer in store.list_customers():
        old = [d for d in store.list_snapshots(customer) if d < first]
        if old:
            snapshots[customer] = old
    return ExpiryPlan(today.isoformat(), first, sorted(keys), snapshots)


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


# -- expiring --------------------------------------------------------------------------------------


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
    for date in sorted(set(plan.date_keys) & wanted):
        if date in remaining:
            report.problems.append(f"date key {date} kept: a snapshot on it is still in the store")
            continue
        if not dry_run:
            instance.delete_dynamic_partition(date_partitions.name, date)
            audit.append(actor=actor, action="expire", outcome="ok", snapshot=date,
                         details={"partition": "date", "removed": True})
        report.date_keys_removed.append(date)
    return report


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


# -- Dagster: the job and the sensor ---------------------------------------------------------------


@dg.op(out=dg.Out(dg.Nothing), description="Delete expired manifests, sweep unreferenced blobs, remove date keys.")
def expire_snapshots(
    context: dg.OpExecutionContext,
    config: ExpireConfig,
    store: SnapshotStoreResource,
    clock: Clock,
    policy: BackupPolicy,
    retention: RetentionResource,
    audit: AuditLogResource,
    alerter: AlerterResource,
) -> None:
    audit_log = audit.get_client()
    actor = f"dagster run {context.run_id}"
    try:
        report = expire(
            instance=context.instance, store=store.get_client(), clock=clock,
            retention_days=policy.retention_days, grace=retention.grace, tolerance=retention.tolerance,
            audit=audit_log, actor=actor, dates=list(config.dates), dry_run=config.dry_run,
        )  # fmt: skip
    except ClockDisagreementError as exc:
        audit_log.append(actor=actor, action="expire", outcome="refused", details={"reason": str(exc)[:500]})
        outcome = alerter.send(Alert(kind="retention_refused", summary=str(exc), run_id=context.run_id,
                                     run_url=alerter.run_url(context.run_id)))
        context.log.error(f"{exc} (alert: {outcome or 'no channel configured'})")
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    context.add_output_metadata({
        "expired_dates": dg.MetadataValue.json(report.expired_dates),
        "manifests_deleted": sum(report.manifests_deleted.values()),
        "blobs_deleted": sum(report.blobs_deleted.values()),
        "bytes_freed": sum(report.bytes_freed.values()),
        "date_keys_removed": dg.MetadataValue.json(report.date_keys_removed),
        "dry_run": report.dry_run,
        "report": dg.MetadataValue.json(report.as_dict()),
    })  # fmt: skip
    if report.kept_inside_window:
        context.log.warning(f"not expired, inside the window: {', '.join(report.kept_inside_window)}")
    if report.problems:
        raise dg.Failure(description=f"{len(report.problems)} problem(s); first: {report.problems[0]}",
                         metadata={"problems": dg.MetadataValue.json(report.problems)})


@dg.job(description="Expire snapshots older than the retention window: manifests, blobs, date keys.",
        tags={"backhub/kind": "retention"})
def expire_snapshots_job() -> None:
    expire_snapshots()


def expiry_run_config(dates: list[str], dry_run: bool = False) -> dg.RunConfig:
    return dg.RunConfig(ops={"expire_snapshots": ExpireConfig(dates=dates, dry_run=dry_run)})


_ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
           dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


@dg.sensor(job=expire_snapshots_job, minimum_interval_seconds=3600, default_status=dg.DefaultSensorStatus.RUNNING)
def retention_sensor(
    context: dg.SensorEvaluationContext, clock: Clock, policy: BackupPolicy, store: SnapshotStoreResource
) -> dg.RunRequest | dg.SkipReason:
    """Requests an expiry run when a date key or a stored snapshot is older than the window.

    The run key is ``expire|<today>|<digest of the dates>``; a run that failed is retried under
    ``...|attempt-N`` up to MAX_ATTEMPTS times, then the sensor waits (and says so) for an operator.
    """
    plan = plan_expiry(context.instance, store.get_client(), clock.now().date(), policy.retention_days)
    if not plan.dates:
        return dg.SkipReason(f"nothing older than {plan.oldest_kept} ({policy.retention_days}-day window)")
    active = context.instance.get_runs(dg.RunsFilter(job_name=expire_snapshots_job.name, statuses=_ACTIVE), limit=1)
    if active:
        return dg.SkipReason(f"expiry run {active[0].run_id} is still in progress")
    earlier = context.instance.get_runs(dg.RunsFilter(job_name=expire_snapshots_job.name, tags={EXPIRY_TAG: plan.key}))
    if len(earlier) >= MAX_ATTEMPTS:
        return dg.SkipReason(f"{len(earlier)} expiry runs for {len(plan.dates)} date(s) did not finish the job, "
                             f"latest {earlier[0].run_id}: see its logs; not retrying until tomorrow")
    run_key = plan.key if not earlier else f"{plan.key}|attempt-{len(earlier) + 1}"
    context.log.info(f"requesting expiry of {len(plan.dates)} date(s) before {plan.oldest_kept}: {plan.dates}")
    return dg.RunRequest(run_key=run_key, run_config=expiry_run_config(plan.dates), tags={EXPIRY_TAG: plan.key})


def expire_now(instance: dg.DagsterInstance | None = None, settings: Any = None, *, dry_run: bool = False) -> ExpiryReport | None:
    """Run ``expire_snapshots_job`` now, in this process (the demo runs it after each simulated day).

    Returns the run's report, or None when nothing is older than the window.
    """
    from backhub_pipeline.definitions import defs
    from backhub_pipeline.settings import Settings

    settings = settings or Settings.from_env()
    definitions = defs()
    if instance is None:
        with dg.DagsterInstance.get() as owned:
            return _expire_in_process(owned, definitions, settings, dry_run)
    return _expire_in_process(instance, definitions, settings, dry_run)


def _expire_in_process(instance: dg.DagsterInstance, definitions: dg.Definitions, settings: Any,
                       dry_run: bool) -> ExpiryReport | None:
    from backhub_pipeline.wiring import resources_from

    store = resources_from(settings)["store"].get_client()
    clock = Clock(offset_days=settings.clock_offset_days)
    plan = plan_expiry(instance, store, clock.now().date(), settings.retention_days)
    if not plan.dates:
        return None
    result = definitions.resolve_job_def(expire_snapshots_job.name).execute_in_process(
        instance=instance, run_config=expiry_run_config(plan.dates, dry_run), raise_on_error=False,
        tags={EXPIRY_TAG: plan.key, "backhub/launched-by": "cli"},
    )  # fmt: skip
    for event in result.all_events:
        if event.is_successful_output:
            metadata = event.event_specific_data.metadata
            return ExpiryReport(**metadata["report"].data)
    failures = [event.step_failure_data.error for event in result.all_events if event.is_step_failure]
    reason = failures[0].message.strip() if failures and failures[0] else "no report"
    raise BackhubError(f"expiry run {result.run_id} failed: {reason}")
