"""The Dagster glue of retention: its resource, the run config, and ``expire_snapshots_job``.

No ``from __future__ import annotations`` here: Dagster inspects the ``context`` annotation.
"""

import datetime as dt

import dagster as dg
from pydantic import Field

from assets.policy import BackupPolicy
from backhub_pipeline.failures import permanent_failure
from backhub_pipeline.retention.expiry import expire
from resources.alerts import Alert, AlertService
from resources.audit import AuditLogResource
from resources.clock import Clock
from resources.errors import ClockDisagreementError
from resources.snapshot_store import SnapshotStoreResource

#: Runs for the same set of expired dates share this tag; the sensor counts their attempts.
EXPIRY_TAG = "backhub/expiry"


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


@dg.op(out=dg.Out(dg.Nothing), description="Delete expired manifests, sweep unreferenced blobs, delete the dates' runs, remove date keys.")
def expire_snapshots(
    context: dg.OpExecutionContext,
    config: ExpireConfig,
    store: SnapshotStoreResource,
    clock: Clock,
    policy: BackupPolicy,
    retention: RetentionResource,
    audit: AuditLogResource,
    alerter: dg.ResourceParam[AlertService],
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
        raise permanent_failure(exc) from exc
    context.add_output_metadata({
        "expired_dates": dg.MetadataValue.json(report.expired_dates),
        "manifests_deleted": sum(report.manifests_deleted.values()),
        "blobs_deleted": sum(report.blobs_deleted.values()),
        "bytes_freed": sum(report.bytes_freed.values()),
        "date_keys_removed": dg.MetadataValue.json(report.date_keys_removed),
        "runs_deleted": sum(report.runs_deleted.values()),
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
