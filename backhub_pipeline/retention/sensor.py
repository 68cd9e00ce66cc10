"""``retention_sensor``: requests one ``expire_snapshots_job`` run when anything is older than the window."""

import dagster as dg

from assets.policy import BackupPolicy
from backhub_pipeline.retention.job import EXPIRY_TAG, expire_snapshots_job, expiry_run_config
from backhub_pipeline.retention.plan import plan_expiry
from resources.clock import Clock
from resources.snapshot_store import SnapshotStoreResource

#: Attempts the sensor makes for one set of expired dates before it waits for an operator.
MAX_ATTEMPTS = 3

_ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
           dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


@dg.sensor(job=expire_snapshots_job, minimum_interval_seconds=3600, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Requests an expiry run when a date partition or stored snapshot is older than the retention window.")
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
