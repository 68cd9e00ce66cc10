"""``retention_sensor``: requests one ``expire_snapshots_job`` run when a ``date`` key is older than the window.

It decides from the date keys (about 30) and never lists the store: the run it requests does the
per-customer work, and with no dates configured it expires everything older than the window, a
snapshot stored on a date without a key included.
"""

import dagster as dg

from assets.policy import BackupPolicy
from backhub_pipeline.retention.job import EXPIRY_TAG, expire_snapshots_job, expiry_run_config
from backhub_pipeline.retention.plan import expired_date_keys, oldest_kept, run_key
from resources.clock import Clock

#: Attempts the sensor makes for one set of expired dates before it waits for an operator.
MAX_ATTEMPTS = 3

_ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
           dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


@dg.sensor(job=expire_snapshots_job, minimum_interval_seconds=3600, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Requests an expiry run when a date partition or stored snapshot is older than the retention window.")
def retention_sensor(
    context: dg.SensorEvaluationContext, clock: Clock, policy: BackupPolicy
) -> dg.RunRequest | dg.SkipReason:
    """Requests an expiry run when a ``date`` key is older than the window.

    The run key is ``expire|<today>|<digest of the dates>``; a run that failed is retried under
    ``...|attempt-N`` up to MAX_ATTEMPTS times, then the sensor waits (and says so) for an operator.
    """
    today = clock.now().date()
    first = oldest_kept(today, policy.retention_days).isoformat()
    dates = expired_date_keys(context.instance, today, policy.retention_days)
    if not dates:
        return dg.SkipReason(f"no date key older than {first} ({policy.retention_days}-day window)")
    active = context.instance.get_runs(dg.RunsFilter(job_name=expire_snapshots_job.name, statuses=_ACTIVE), limit=1)
    if active:
        return dg.SkipReason(f"expiry run {active[0].run_id} is still in progress")
    key = run_key(today.isoformat(), dates)
    earlier = context.instance.get_runs(dg.RunsFilter(job_name=expire_snapshots_job.name, tags={EXPIRY_TAG: key}))
    if len(earlier) >= MAX_ATTEMPTS:
        return dg.SkipReason(f"{len(earlier)} expiry runs for {len(dates)} date(s) did not finish the job, "
                             f"latest {earlier[0].run_id}: see its logs; not retrying until tomorrow")
    context.log.info(f"requesting expiry of everything before {first}: date keys {dates}")
    # No dates in the config: the run expires every date older than the window by its own clock.
    return dg.RunRequest(run_key=key if not earlier else f"{key}|attempt-{len(earlier) + 1}",
                         run_config=expiry_run_config([]), tags={EXPIRY_TAG: key})
