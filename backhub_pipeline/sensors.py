"""Sensors that keep partitions in step with the world and start the daily snapshots.

Each returns a ``SensorResult`` whose run requests carry deterministic run keys (``customer|date``), so
a tick that runs twice requests nothing twice, and says why when it skips.
"""


import json

import dagster as dg

from assets.partitions import BACKUP_ASSETS, SnapshotKey, customer_partitions, customers_of, date_partitions
from backhub_pipeline.alert_sensors import ALERT_SENSORS, KEYS_PER_QUERY, missed_backups
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
    bogus = sorted((known - current) - _with_data(context.instance, known - current))
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


def _with_data(instance: dg.DagsterInstance, customers: set[str]) -> set[str]:
    """Those of ``customers`` with any backup asset materialized for any date: indexed queries for
    their keys on the date keys only (usually none or a few customers)."""
    if not customers:
        return set()
    dates = instance.get_dynamic_partitions(date_partitions.name)
    keys = {str(SnapshotKey(customer, date).partition_key): customer for customer in customers for date in dates}
    names = sorted(keys)
    found: set[str] = set()
    for asset in BACKUP_ASSETS:
        for start in range(0, len(names), KEYS_PER_QUERY):
            found |= {keys[key] for key in instance.get_latest_storage_id_by_partition(
                dg.AssetKey(asset), dg.DagsterEventType.ASSET_MATERIALIZATION, set(names[start : start + KEYS_PER_QUERY]))}
    return found


def _snapshotted(instance: dg.DagsterInstance, customers: set[str], date: str) -> set[str]:
    """Those of ``customers`` with every backup asset materialized for ``date``: one indexed query per
    asset (and 5,000 customers) for that date's keys, not every key the event log holds."""
    return customers - set(missed_backups(instance, customers, date))


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
    unrequested = set(context.instance.get_dynamic_partitions(customer_partitions.name)) - requested
    candidates = unrequested - _snapshotted(context.instance, unrequested, today)
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
