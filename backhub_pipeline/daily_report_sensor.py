"""``daily_report_sensor``: rebuilds a date's ``daily_report`` after snapshot runs of that date end.

No ``from __future__ import annotations`` here: Dagster inspects the ``context`` annotation.
"""

import datetime as dt
import json

import dagster as dg

from assets.daily_report import DATE_TAG
from backhub_pipeline.jobs import daily_report_job, snapshot_job

_ENDED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
#: Runs read per tick; more wait for the next tick (the cursor only moves past what was read).
BATCH = 200


@dg.sensor(job=daily_report_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="After snapshot runs of a date end (committed or failed), rebuilds that date's daily_report.")
def daily_report_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    """The cursor is ``{"updated_after": <unix time>}`` of the last ended run read; one report run per
    date per tick, keyed by that time so a later run of the same date asks again."""
    cursor = json.loads(context.cursor) if context.cursor else {}
    since = cursor.get("updated_after")
    records = context.instance.get_run_records(
        dg.RunsFilter(job_name=snapshot_job.name, statuses=_ENDED,
                      updated_after=dt.datetime.fromtimestamp(since, dt.UTC) if since else None),
        order_by="update_timestamp", ascending=True, limit=BATCH,
    )
    dates: dict[str, float] = {}
    known = set(context.instance.get_dynamic_partitions("date")) if records else set()  # one query, not one a run
    for record in records:
        date = record.dagster_run.tags.get(DATE_TAG)
        if date and date in known:
            dates[date] = max(dates.get(date, 0.0), record.update_timestamp.timestamp())
    if records:
        context.update_cursor(json.dumps({"updated_after": records[-1].update_timestamp.timestamp()}))
    # A report built after the date's last ended run already holds it (the demo and `backhub backup`
    # build their own): asking again would only show the same table twice.
    dates = {date: stamp for date, stamp in dates.items() if _reported_at(context.instance, date) < stamp}
    if not dates:
        return dg.SkipReason("no snapshot run ended since the last report")
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"daily_report|{date}|{stamp}", partition_key=date)
                                         for date, stamp in sorted(dates.items())])


def _reported_at(instance: dg.DagsterInstance, date: str) -> float:
    """When the date's ``daily_report`` was last materialized (0 if never): one indexed query."""
    found = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("daily_report"), asset_partitions=[date]), limit=1)
    return found.records[0].timestamp if found.records else 0.0
