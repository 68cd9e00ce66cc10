"""The operator's view of one day: every customer, backed up or not and why, in one table.

``day_report`` reads only the Dagster instance (the snapshot runs and the backup assets'
materializations of that date), so ``backhub status`` prints the same rows without touching the store,
and the ``daily_report`` asset (one partition per date, group ``operations``) shows them in the UI as a
table with a schema, a row count, timestamps and links to the runs.

Sizes use the names of docs/format.md ("Sizes"): ``logical_bytes`` and ``new_bytes``.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from assets.common import BACKFILL
from assets.partitions import BACKUP_ASSETS, CUSTOMER_TAG, SnapshotKey, customer_partitions, date_partitions
from resources.alerts import AlertService

DATE_TAG = "dagster/partition/date"
SNAPSHOT_JOB = "snapshot_job"

COMMITTED, FAILED, RUNNING, MISSING = "committed", "failed", "running", "missing"
_IN_FLIGHT = {dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
              dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING}


@dataclass
class CustomerDay:
    """One customer's day: ``committed`` (all four backup assets materialized), ``failed`` (the latest
    run failed; ``reason`` is its first error), ``running``, or ``missing`` (no run yet)."""

    customer: str
    date: str
    status: str
    reason: str | None = None
    logical_bytes: int = 0
    new_bytes: int = 0
    api_requests: int = 0
    assets_committed: list[str] = field(default_factory=list)
    run_id: str | None = None
    committed_at: float | None = None  # unix time of the latest backup materialization

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _latest_materializations(instance: dg.DagsterInstance, asset: str, partitions: list[str]) -> dict[str, Any]:
    """Partition key -> its latest materialization record, for ``partitions`` of ``asset``."""
    latest: dict[str, Any] = {}
    cursor = None
    while partitions and len(latest) < len(partitions):
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=partitions),
            limit=max(100, len(partitions)), cursor=cursor)
        for record in page.records:  # newest first
            latest.setdefault(record.partition_key, record)
        if not page.has_more:
            break
        cursor = page.cursor
    return latest


def first_error(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """The message of the run's first failed step: the root cause, not the steps skipped after it."""
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        error = record.dagster_event.step_failure_data.error if record.dagster_event else None
        if error:
            # The snapshot step's failure names the asset first (assets/snapshot.py); Dagster's class
            # name in front of it says nothing to an operator.
            message = error.message.strip().removeprefix("dagster._core.definitions.events.Failure: ")
            step = record.dagster_event.step_key
            return message if step == "snapshot" else f"{step}: {message}"
    return None


def day_report(instance: dg.DagsterInstance, date: str) -> list[CustomerDay]:
    """Every known customer's row for ``date``, sorted by customer."""
    customers = sorted(instance.get_dynamic_partitions(customer_partitions.name))
    keys = {customer: str(SnapshotKey(customer, date).partition_key) for customer in customers}
    latest = {asset: _latest_materializations(instance, asset, list(keys.values())) for asset in BACKUP_ASSETS}
    runs: dict[str, dg.DagsterRun] = {}
    for record in instance.get_run_records(dg.RunsFilter(job_name=SNAPSHOT_JOB, tags={DATE_TAG: date})):  # newest first
        customer = record.dagster_run.tags.get(CUSTOMER_TAG)
        if customer:
            runs.setdefault(customer, record.dagster_run)
    rows = []
    for customer in customers:
        row = CustomerDay(customer=customer, date=date, status=MISSING)
        for asset in BACKUP_ASSETS:
            record = latest[asset].get(keys[customer])
            if record is None:
                continue
            row.assets_committed.append(asset)
            metadata = record.asset_materialization.metadata
            for name in ("logical_bytes", "new_bytes", "api_requests"):
                value = metadata.get(name)
                setattr(row, name, getattr(row, name) + int(getattr(value, "value", value) or 0))
            row.committed_at = max(row.committed_at or 0.0, record.timestamp)
        run = runs.get(customer)
        row.run_id = run.run_id if run else None
        if len(row.assets_committed) == len(BACKUP_ASSETS):
            row.status = COMMITTED
        elif run and run.status == dg.DagsterRunStatus.FAILURE:
            row.status, row.reason = FAILED, first_error(instance, run.run_id) or "run failed"
        elif run and run.status in _IN_FLIGHT:
            row.status = RUNNING
        rows.append(row)
    return rows


REPORT_SCHEMA = dg.TableSchema(columns=[
    dg.TableColumn("customer", "string", description="installation account login, lower-cased"),
    dg.TableColumn("status", "string", description="committed, failed, running or missing"),
    dg.TableColumn("reason", "string", description="a failed run's first error: its root cause"),
    dg.TableColumn("logical_bytes", "int", description="plaintext bytes of the blobs the snapshot names"),
    dg.TableColumn("new_bytes", "int", description="bytes at rest this snapshot added to the store"),
    dg.TableColumn("api_requests", "int", description="GitHub API requests the snapshot used"),
    dg.TableColumn("run_id", "string", description="the latest snapshot run of this customer and date"),
])


def report_metadata(rows: list[CustomerDay], run_url: Callable[[str], str]) -> dict[str, Any]:
    """The asset's metadata: Dagster's standard table, schema and row count, plus counts, the latest
    commit as a timestamp and each failed run as a link."""
    records = [dg.TableRecord({"customer": row.customer, "status": row.status, "reason": row.reason or "",
                               "logical_bytes": row.logical_bytes, "new_bytes": row.new_bytes,
                               "api_requests": row.api_requests, "run_id": row.run_id or ""}) for row in rows]
    metadata: dict[str, Any] = {
        "customers": dg.MetadataValue.table(records, schema=REPORT_SCHEMA),
        "dagster/column_schema": REPORT_SCHEMA,
        "dagster/row_count": dg.MetadataValue.int(len(rows)),
        **{status: dg.MetadataValue.int(sum(1 for row in rows if row.status == status))
           for status in (COMMITTED, FAILED, RUNNING, MISSING)},
        "logical_bytes": dg.MetadataValue.int(sum(row.logical_bytes for row in rows)),
        "new_bytes": dg.MetadataValue.int(sum(row.new_bytes for row in rows)),
        "api_requests": dg.MetadataValue.int(sum(row.api_requests for row in rows)),
    }
    committed = [row.committed_at for row in rows if row.committed_at]
    if committed:
        metadata["last_committed_at"] = dg.MetadataValue.timestamp(max(committed))
    for row in rows:
        if row.status == FAILED and row.run_id:
            metadata[f"failed_run/{row.customer}"] = dg.MetadataValue.url(run_url(row.run_id))
    return metadata


@dg.asset(
    partitions_def=date_partitions,
    group_name="operations",
    backfill_policy=BACKFILL,  # a backfill over dates: one run per date, like the snapshots
    deps=[dg.AssetDep(asset, partition_mapping=dg.MultiToSingleDimensionPartitionMapping("date"))
          for asset in BACKUP_ASSETS],
    description="Who is backed up on this date, and why not: one row per customer (committed, failed with "
                "its root cause, running or missing; logical and new bytes; API requests), from the instance.",
)
def daily_report(context: AssetExecutionContext, alerter: dg.ResourceParam[AlertService]) -> dg.MaterializeResult:
    rows = day_report(context.instance, context.partition_key)
    return dg.MaterializeResult(metadata=report_metadata(rows, alerter.run_url))
