"""Sensors that keep partitions in step with the world and start the daily snapshots.

Each returns a ``SensorResult`` whose run requests carry deterministic run keys (``customer|date``), so
a tick that runs twice requests nothing twice, and says why when it skips.
"""


import json

import dagster as dg

from assets.partitions import BACKUP_ASSETS, SnapshotKey, customer_partitions, customers_of, date_partitions
from backhub_pipeline.alert_sensors import ALERT_SENSORS
from backhub_pipeline.daily_report_sensor import daily_report_sensor
from backhub_pipeline.deep_verification import deep_verify_sensor
from backhub_pipeline.jobs import snapshot_job
from backhub_pipeline.retention.sensor import retention_sensor
from resources.clock import Clock
from resources.github import GitHubAppResource


@dg.sensor(minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Adds a customer partition for every new installation of the GitHub App.")
def customers_sensor(context: dg.SensorEvaluationContext, github: GitHubAppResource) -> dg.SensorResult | dg.SkipReason:
    """Adds a ``customer`` partition for every new installation of the GitHub App, and removes a key
    that is no installation and holds no data (typed into the UI's Materialize dialog).

    Uninstalled customers keep their key: their snapshots stay visible until they expire or are erased.
    """
    known = set(context.instance.get_dynamic_partitions(customer_partitions.name))
    current = customers_of(github.get_client().installations())
    new = sorted(current - known)
    bogus = sorted((known - current) - _with_data(context.instance))
    context.update_cursor(json.dumps(sorted(current)))
    if not new and not bogus:
        return dg.SkipReason(f"all {len(current)} installations already have a customer partition")
    requests = []
    if new:
        context.log.info(f"adding customers: {', '.join(new)}")
        requests.append(customer_partitions.build_add_request(new))
    if bogus:
        context.log.info(f"removing customer keys with no installation and no data: {', '.join(bogus)}")
        requests.append(customer_partitions.build_delete_request(bogus))
    return dg.SensorResult(dynamic_partitions_requests=requests)


def _with_data(instance: dg.DagsterInstance) -> set[str]:
    """Customers with any backup asset materialized for any date."""
    return {SnapshotKey.parse(key).customer for asset in BACKUP_ASSETS
            for key in instance.get_materialized_partitions(dg.AssetKey(asset))}


def _snapshotted(instance: dg.DagsterInstance, date: str) -> set[str]:
    """Customers with every backup asset materialized for ``date``."""
    done: set[str] | None = None
    for asset in BACKUP_ASSETS:
        keys = instance.get_materialized_partitions(dg.AssetKey(asset))
        customers = {SnapshotKey.parse(key).customer for key in keys if str(key).endswith(f"|{date}")}
        done = customers if done is None else done & customers
    return done or set()


@dg.sensor(job=snapshot_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Each UTC day: adds the date partition and requests one snapshot run per installed customer.")
def daily_snapshot_sensor(
    context: dg.SensorEvaluationContext, github: GitHubAppResource, clock: Clock
) -> dg.SensorResult | dg.SkipReason:
    """Each UTC day: adds the date key and requests one snapshot run per installed customer.

    The cursor is ``{"date": ..., "requested": [...]}``: customers already requested for that date are
    not asked for again, and a customer installed later in the day still gets its run. A customer whose
    day is already fully materialized (``backhub backup``, a backfill) is not asked for either.
    """
    today = clock.today()
    cursor = json.loads(context.cursor) if context.cursor else {}
    requested = set(cursor.get("requested", [])) if cursor.get("date") == today else set()
    candidates = (set(context.instance.get_dynamic_partitions(customer_partitions.name)) - requested
                  - _snapshotted(context.instance, today))
    # GitHub is asked which customers are still installed only when someone could still be due.
    due = sorted(candidates & customers_of(github.get_client().installations())) if candidates else []
    partition_requests = []
    if not context.instance.has_dynamic_partition(date_partitions.name, today):
        partition_requests.append(date_partitions.build_add_request([today]))
    if not due and not partition_requests:
        return dg.SkipReason(f"every installed customer already has a run for {today}")
    context.update_cursor(json.dumps({"date": today, "requested": sorted(requested | set(due))}))
    runs = [
        dg.RunRequest(run_key=str(key), partition_key=key.partition_key)
        for key in (SnapshotKey(customer=customer, date=today) for customer in due)
    ]
    return dg.SensorResult(run_requests=runs, dynamic_partitions_requests=partition_requests)

SENSORS = [customers_sensor, daily_snapshot_sensor, retention_sensor, deep_verify_sensor, daily_report_sensor,
           *ALERT_SENSORS]
