"""Alerts: a run failed, a check failed, or a customer's backup did not land by the deadline.

Three sensors send ``Alert`` s through the channels ``resources/alerts.py`` configures from the
``BACKHUB_ALERT_*`` variables (Slack, Microsoft Teams, email, PagerDuty, a JSON webhook), which
``Settings`` reads once and ``wiring`` hands over as the ``alerter`` (``AlertService``):

- ``run_failure_alert_sensor``: every failed run of this code location (snapshots, expiry, erasure,
  restores), naming the customer, date, failed step (asset, check) and its error;
- ``check_failure_alert_sensor``: every failed asset check evaluation, once per (customer, date, asset,
  check). Its cursor is a high-water mark on run update time, re-read with a minute of overlap, plus the
  identities already alerted, so a retried run failing the same check does not alert twice;
- ``missed_backup_sensor``: each installed customer without a committed snapshot (all four assets) for
  today by ``BACKHUB_MISSED_BACKUP_DEADLINE_HOURS`` after midnight UTC; once per customer and date.

Every message carries a link to the run in the UI (``BACKHUB_UI_URL``). When every configured channel
fails, the sensor's tick fails without moving its cursor, so the alert is sent again next tick.
"""

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import dagster as dg

from assets.partitions import BACKUP_ASSETS, CUSTOMER_TAG, SnapshotKey, customers_of
from resources.alerts import Alert, AlertService
from resources.clock import Clock
from resources.errors import InvalidNameError
from resources.github import GitHubAppResource
from resources.snapshot_store import SnapshotStoreResource

DATE_TAG = "dagster/partition/date"
#: Runs updated this long before the cursor are read again (clocks, slow commits).
OVERLAP = dt.timedelta(minutes=1)
#: Runs read per tick by the check-failure sensor; the cursor carries on from the last one.
RUNS_PER_TICK = 200
#: How long an alerted (customer, date, asset, check) is remembered.
REMEMBER = dt.timedelta(days=45)


def _asset_and_check(step_key: str | None) -> tuple[str | None, str | None]:
    """``repositories`` -> (repositories, None); ``repositories_blobs_decrypt`` -> (repositories, blobs_decrypt)."""
    if not step_key:
        return None, None
    for asset in BACKUP_ASSETS:
        if step_key == asset:
            return asset, None
        if step_key.startswith(asset + "_"):
            return asset, step_key[len(asset) + 1 :]
    return None, None


def _partition(tags: dict[str, str]) -> tuple[str | None, str | None]:
    return tags.get(CUSTOMER_TAG), tags.get(DATE_TAG)


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=30,
                       description="Sends one alert per failed run of any job in this code location, naming the cause.")
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, alerter: dg.ResourceParam[AlertService]) -> None:
    """One alert per failed run of any job in this code location."""
    run = context.dagster_run
    customer, date = _partition(dict(run.tags))
    failures = context.get_step_failure_events()
    step_key = failures[0].step_key if failures else None
    error = failures[0].event_specific_data.error if failures else None
    reason = (error.message.strip() if error else None) or context.failure_event.message or "run failed"
    asset, check = _asset_and_check(step_key)
    where = f" at step {step_key}" if step_key else ""
    alert = Alert(
        kind="run_failure",
        summary=f"{run.job_name} failed{where}: {reason.splitlines()[0][:300]}",
        customer=customer,
        date=date,
        asset=asset,
        check=check,
        run_id=run.run_id,
        run_url=alerter.run_url(run.run_id),
        details={"job": run.job_name, "failed_steps": [event.step_key for event in failures][:10]},
    )
    outcome = alerter.send(alert)
    context.log.info(f"alerted run failure of {run.run_id}: {outcome or 'no channel configured'}")


def _failed_checks(instance: dg.DagsterInstance, run_id: str) -> list[Any]:
    connection = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    evaluations = []
    for record in connection.records:
        event = record.event_log_entry.dagster_event
        evaluation = event.event_specific_data if event else None
        if evaluation is not None and not evaluation.passed:
            evaluations.append(evaluation)
    return evaluations


def _check_alert(alerter: dg.ResourceParam[AlertService], run: dg.DagsterRun, evaluation: Any) -> tuple[str, Alert]:
    customer, date = _partition(dict(run.tags))
    if evaluation.partition:
        try:
            key = SnapshotKey.parse(evaluation.partition)
            customer, date = key.customer, key.date
        except InvalidNameError:
            pass
    asset = evaluation.asset_key.to_user_string()
    ident = "|".join((customer or "", date or "", asset, evaluation.check_name))
    severity = getattr(evaluation.severity, "value", str(evaluation.severity))
    problems = evaluation.metadata.get("problems")
    alert = Alert(
        kind="check_failure",
        summary=f"check {evaluation.check_name} on {asset} failed"
        + (f": {evaluation.description}" if evaluation.description else ""),
        customer=customer,
        date=date,
        asset=asset,
        check=evaluation.check_name,
        run_id=run.run_id,
        run_url=alerter.run_url(run.run_id),
        details={"severity": severity, "blocking": bool(evaluation.blocking),
                 **({"problems": str(getattr(problems, "value", problems))[:1000]} if problems else {})},
    )
    return ident, alert


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Sends one alert per failed (customer, date, asset, check) evaluation.")
def check_failure_alert_sensor(context: dg.SensorEvaluationContext, alerter: dg.ResourceParam[AlertService]) -> dg.SkipReason:
    """One alert per failed (customer, date, asset, check), read from ASSET_CHECK_EVALUATION events.

    The cursor is ``{"updated_after": <unix time>, "alerted": {identity: <unix time>}}``; with no cursor
    the sensor starts from the last day, so turning it on does not replay old history.
    """
    now = dt.datetime.now(dt.UTC)
    cursor = json.loads(context.cursor) if context.cursor else {}
    since = dt.datetime.fromtimestamp(cursor["updated_after"], dt.UTC) if "updated_after" in cursor else now - dt.timedelta(days=1)
    alerted: dict[str, float] = dict(cursor.get("alerted", {}))
    records = context.instance.get_run_records(
        filters=dg.RunsFilter(updated_after=since - OVERLAP), order_by="update_timestamp", ascending=True,
        limit=RUNS_PER_TICK,
    )  # fmt: skip
    newest, sent = since, []
    for record in records:
        for evaluation in _failed_checks(context.instance, record.dagster_run.run_id):
            ident, alert = _check_alert(alerter, record.dagster_run, evaluation)
            if ident in alerted:
                continue
            outcome = alerter.send(alert)  # raises if no channel took it: the cursor stays put
            alerted[ident] = now.timestamp()
            sent.append(ident)
            context.log.info(f"alerted failed check {ident}: {outcome or 'no channel configured'}")
        newest = max(newest, record.update_timestamp.replace(tzinfo=record.update_timestamp.tzinfo or dt.UTC))
    horizon = (now - REMEMBER).timestamp()
    alerted = {ident: when for ident, when in alerted.items() if when >= horizon}
    context.update_cursor(json.dumps({"updated_after": newest.timestamp(), "alerted": alerted}, sort_keys=True))
    if not sent:
        return dg.SkipReason(f"no new failed check in {len(records)} run(s) updated since {since.isoformat()}")
    return dg.SkipReason(f"alerted {len(sent)} failed check(s): {', '.join(sent)}")


def _installed(github: GitHubAppResource) -> set[str]:
    return customers_of(github.get_client().installations())


def deadline_of(date: dt.date, hours: int) -> dt.datetime:
    return dt.datetime.combine(date, dt.time(0), dt.UTC) + dt.timedelta(hours=hours)


def missed_backups(store_client: Any, customers: Sequence[str], date: str) -> dict[str, list[str]]:
    """customer -> assets without a committed manifest for ``date`` (only customers missing some)."""
    missing = {}
    for customer in sorted(customers):
        have = set(store_client.list_snapshots(customer).get(date, []))
        lacking = [asset for asset in BACKUP_ASSETS if asset not in have]
        if lacking:
            missing[customer] = lacking
    return missing


@dg.sensor(minimum_interval_seconds=600, default_status=dg.DefaultSensorStatus.RUNNING,
           description="After the deadline, sends one alert per installed customer without today's committed snapshot.")
def missed_backup_sensor(
    context: dg.SensorEvaluationContext,
    clock: Clock,
    github: GitHubAppResource,
    store: SnapshotStoreResource,
    alerter: dg.ResourceParam[AlertService],
) -> dg.SkipReason:
    """After the deadline, one alert per installed customer without today's committed snapshot.

    The cursor is ``{"date": today, "alerted": [customers]}``: each miss alerts once per date.
    """
    now = clock.now()
    today = now.date().isoformat()
    deadline = deadline_of(now.date(), alerter.missed_backup_deadline_hours)
    if now < deadline:
        return dg.SkipReason(f"the deadline for {today} is {deadline.isoformat()}")
    cursor = json.loads(context.cursor) if context.cursor else {}
    alerted = set(cursor.get("alerted", [])) if cursor.get("date") == today else set()
    missing = missed_backups(store.get_client(), sorted(_installed(github) - alerted), today)
    for customer, assets in missing.items():
        runs = context.instance.get_runs(dg.RunsFilter(tags={CUSTOMER_TAG: customer, DATE_TAG: today}), limit=1)
        last = runs[0] if runs else None
        state = f"its last run {last.run_id} is {last.status.value}" if last else "no run was started"
        alerter.send(Alert(
            kind="missed_backup",
            summary=f"no committed snapshot of {customer} for {today} by {deadline:%H:%M} UTC: "
                    f"missing {', '.join(assets)}; {state}",
            customer=customer, date=today, asset=", ".join(assets), check="snapshot_committed_by_deadline",
            run_id=last.run_id if last else None,
            run_url=alerter.run_url(last.run_id) if last else alerter.runs_url(),
            details={"deadline": deadline.isoformat(), "last_run_status": last.status.value if last else None},
        ))  # fmt: skip
        alerted.add(customer)
    context.update_cursor(json.dumps({"date": today, "alerted": sorted(alerted)}))
    if not missing:
        return dg.SkipReason(f"every installed customer has a committed snapshot for {today}")
    return dg.SkipReason(f"alerted missed backups for {today}: {', '.join(missing)}")


ALERT_SENSORS = [run_failure_alert_sensor, check_failure_alert_sensor, missed_backup_sensor]
