"""Alerts: a run failed, a check failed, or a customer's backup did not land by the deadline.

Three sensors send ``Alert`` s through the channels ``resources/alerts.py`` configures from the
``BACKHUB_ALERT_*`` variables (Slack, Microsoft Teams, email, PagerDuty, a JSON webhook), which
``Settings`` reads once and ``wiring`` hands over as the ``alerter`` (``AlertService``):

- ``run_failure_alert_sensor``: every failed run of this code location (snapshots, expiry, erasure,
  restores), naming the customer, date, failed step (asset, check) and its error;
- ``check_failure_alert_sensor``: every failed asset check evaluation, once per (customer, date, asset,
  check), as one digest per tick. It reads only the check evaluations stored after its cursor (an event
  storage id) and remembers the identities already alerted, so a retried run failing the same check
  does not alert twice; its state is saved in the instance before sending, as the missed-backup one's;
- ``missed_backup_sensor``: the installed customers without a committed snapshot (all four assets) for
  today by ``BACKHUB_MISSED_BACKUP_DEADLINE_HOURS`` after midnight UTC, as one digest per tick; each
  customer once per date. It reads today's partition keys only, never the store, and saves its state
  in the instance before sending, so a tick that fails or times out after that does not alert again.

Every message carries a link to the run in the UI (``BACKHUB_UI_URL``), a digest of several runs a
link to the runs page. The check-failure and missed-backup sensors alert at most once: when every
configured channel fails (after the alerter's own retries) the tick fails and the UI shows the error,
but the alert is not sent again by a later tick; a repeated alert every minute for a tick that keeps
timing out would be worse.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import dagster as dg

from assets.partitions import BACKUP_ASSETS, CUSTOMER_TAG, SnapshotKey, customers_of
from resources.alerts import Alert, AlertService
from resources.clock import Clock
from resources.errors import InvalidNameError
from resources.github import GitHubAppResource

DATE_TAG = "dagster/partition/date"
#: Check evaluations read per tick by the check-failure sensor; the next tick carries on from the last.
EVALUATIONS_PER_TICK = 5000
#: On run-sharded SQLite: runs updated this long before the cursor are read again, and runs read per tick.
OVERLAP = dt.timedelta(minutes=1)
RUNS_PER_TICK = 200
#: How long an alerted (customer, date, asset, check) is remembered.
REMEMBER = dt.timedelta(days=45)
#: The missed-backup and check-failure sensors' state keys (``load_state``).
MISSED_BACKUP = "missed_backup"
CHECK_FAILURE = "check_failure"
#: A digest names this many customers (or failed checks) in its text and details; the count covers them all.
DIGEST_NAMES = 50


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


def _failed_part(event: dg.DagsterEvent | None) -> tuple[str | None, str | None]:
    """The asset (and check) that failed first inside the one snapshot step, from the failure's ``failed``
    metadata, which the step attaches on every failure path (assets/snapshot.py). Without it (the step's
    process died, or a resource failed before the step ran) no asset failed: none is named."""
    data = getattr(event.event_specific_data, "user_failure_data", None) if event is not None else None
    failed = data.metadata.get("failed") if data is not None else None
    if failed is None:
        return None, None
    asset, _, check = str(failed.value).split(", ")[0].partition(":")
    return (asset, check or None) if asset in BACKUP_ASSETS else (None, None)


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
    while error is not None and error.message.startswith("Exceeded max_retries") and error.cause is not None:
        error = error.cause  # the step's retries are spent: the cause is what the operator needs
    reason = (error.message.strip() if error else None) or context.failure_event.message or "run failed"
    asset, check = (_asset_and_check(step_key) if step_key != "snapshot"
                    else _failed_part(failures[0] if failures else None))
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


def _check_alert(alerter: AlertService, run_id: str, tags: dict[str, str], evaluation: Any) -> tuple[str, Alert]:
    customer, date = _partition(tags)
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
        run_id=run_id,
        run_url=alerter.run_url(run_id),
        details={"severity": severity, "blocking": bool(evaluation.blocking),
                 **({"problems": str(getattr(problems, "value", problems))[:1000]} if problems else {})},
    )
    return ident, alert


@dataclass(frozen=True)
class ChecksCursor:
    """Where the check-failure sensor's last tick stopped: an event storage id (Postgres, MySQL, one
    SQLite database), or, on the embedded instance's run-sharded SQLite, where each run's events live in
    a file of their own and ids are per run, the newest run update time read."""

    after: int | None = None
    updated_after: float | None = None


def new_failed_checks(
    instance: dg.DagsterInstance, cursor: ChecksCursor, since: dt.datetime, limit: int
) -> tuple[list[tuple[str, Any]], ChecksCursor]:
    """(run id, evaluation) of each failed check evaluation stored after ``cursor`` (with an empty one,
    since ``since``), oldest first, at most ``limit`` evaluations (runs, on run-sharded SQLite) read;
    and the cursor after them.

    On a shared event log this is one query on its (event type, id) index: only what is new is read,
    however long the history. Run-sharded SQLite (one machine, the embedded instance) keeps check
    evaluations in each run's file only, so there the runs updated since the cursor are read one by one.
    """
    storage = instance.event_log_storage
    failed: list[tuple[str, Any]] = []
    if not storage.is_run_sharded:
        # A storage id cursor, as Dagster's own asset sensors keep.
        records = storage.get_event_records(
            dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=cursor.after,
                                  after_timestamp=None if cursor.after is not None else since.timestamp()),
            limit=limit, ascending=True,
        )  # fmt: skip
        for record in records:
            evaluation = record.event_log_entry.dagster_event.event_specific_data
            if not evaluation.passed:
                failed.append((record.event_log_entry.run_id, evaluation))
        newest = max([cursor.after or 0, *(r.storage_id for r in records)]) if records or cursor.after else None
        return failed, ChecksCursor(after=newest)
    begin = dt.datetime.fromtimestamp(cursor.updated_after, dt.UTC) if cursor.updated_after is not None else since
    runs = instance.get_run_records(filters=dg.RunsFilter(updated_after=begin - OVERLAP), order_by="update_timestamp",
                                    ascending=True, limit=limit)  # fmt: skip
    for run in runs:
        events = instance.get_records_for_run(run.dagster_run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        failed += [(run.dagster_run.run_id, record.event_log_entry.dagster_event.event_specific_data)
                   for record in events.records if not record.event_log_entry.dagster_event.event_specific_data.passed]
    times = [r.update_timestamp.replace(tzinfo=r.update_timestamp.tzinfo or dt.UTC).timestamp() for r in runs]
    return failed, ChecksCursor(updated_after=max([begin.timestamp(), *times]))


def _check_failure_digest(alerter: AlertService, alerts: list[Alert]) -> Alert:
    """One alert: the failure itself when there is one, else a digest naming the first DIGEST_NAMES."""
    if len(alerts) == 1:
        return alerts[0]
    runs = {alert.run_id for alert in alerts}
    customers = {alert.customer for alert in alerts}
    dates = {alert.date for alert in alerts}
    shown = alerts[:DIGEST_NAMES]
    more = f" and {len(alerts) - len(shown)} more" if len(alerts) > len(shown) else ""
    only = next(iter(runs)) if len(runs) == 1 else None
    return Alert(
        kind="check_failure",
        summary=f"{len(alerts)} failed check(s): "
                + ", ".join(f"{a.check} on {a.asset} for {a.customer} {a.date}" for a in shown) + more,
        customer=next(iter(customers)) if len(customers) == 1 else None,
        date=next(iter(dates)) if len(dates) == 1 else None,
        run_id=only, run_url=alerter.run_url(only) if only else alerter.runs_url(),
        details={"checks_failed": len(alerts), "checks": [
            {"customer": a.customer, "date": a.date, "asset": a.asset, "check": a.check, "run": a.run_url,
             "summary": a.summary, **a.details} for a in shown]},
    )  # fmt: skip


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Sends one digest per tick of the failed (customer, date, asset, check) evaluations not yet alerted.")
def check_failure_alert_sensor(context: dg.SensorEvaluationContext, alerter: dg.ResourceParam[AlertService]) -> dg.SkipReason:
    """One alert per tick naming every failed (customer, date, asset, check) not alerted before.

    Its state (``load_state``/``save_state``) is a ``ChecksCursor`` (``after``: an event storage id) and
    ``alerted`` ({identity: unix time}); a tick reads only the check evaluations stored after the cursor
    (``new_failed_checks``) and saves the state before sending, so a tick that then fails or times out
    does not alert again. With no state the sensor starts from the last day, so turning it on does not
    replay old history.
    """
    now = dt.datetime.now(dt.UTC)
    state = load_state(context.instance, CHECK_FAILURE)
    cursor = ChecksCursor(after=state.get("after"), updated_after=state.get("updated_after"))
    alerted: dict[str, float] = dict(state.get("alerted", {}))
    failed, read_to = new_failed_checks(context.instance, cursor, now - dt.timedelta(days=1),
                                        RUNS_PER_TICK if context.instance.event_log_storage.is_run_sharded
                                        else EVALUATIONS_PER_TICK)
    run_ids = sorted({run_id for run_id, _ in failed})
    runs = context.instance.get_runs(dg.RunsFilter(run_ids=run_ids)) if run_ids else []  # one query
    tags = {run.run_id: dict(run.tags) for run in runs}
    fresh: dict[str, Alert] = {}
    for run_id, evaluation in failed:
        ident, alert = _check_alert(alerter, run_id, tags.get(run_id, {}), evaluation)
        if ident not in alerted:
            fresh.setdefault(ident, alert)
    horizon = (now - REMEMBER).timestamp()
    alerted = {ident: when for ident, when in alerted.items() if when >= horizon}
    alerted.update(dict.fromkeys(fresh, now.timestamp()))
    save_state(context, CHECK_FAILURE, {**asdict(read_to), "alerted": alerted})
    if not fresh:
        return dg.SkipReason("no new failed check since the last tick")
    outcome = alerter.send(_check_failure_digest(alerter, list(fresh.values())))
    context.log.info(f"alerted {len(fresh)} failed check(s) in one message: {outcome or 'no channel configured'}")
    return dg.SkipReason(f"alerted {len(fresh)} failed check(s) in one message: {', '.join(fresh)}")


def _installed(github: GitHubAppResource) -> set[str]:
    return customers_of(github.get_client().installations())


def deadline_of(date: dt.date, hours: int) -> dt.datetime:
    return dt.datetime.combine(date, dt.time(0), dt.UTC) + dt.timedelta(hours=hours)


def _state_key(sensor: str) -> str:
    return f"backhub/sensor-state/{sensor}"


def load_state(instance: dg.DagsterInstance, sensor: str) -> dict[str, Any]:
    """What ``save_state`` last wrote for ``sensor``; empty the first time."""
    raw = instance.run_storage.get_cursor_values({_state_key(sensor)}).get(_state_key(sensor))
    return json.loads(raw) if raw else {}


def save_state(context: dg.SensorEvaluationContext, sensor: str, state: dict[str, Any]) -> None:
    """Writes the sensor's state to the instance now, not when the tick returns.

    Dagster keeps a tick's cursor only if the tick returns in time; this write happens before any alert
    is sent, so a tick that then fails, raises or times out does not send the same alert again.
    """
    text = json.dumps(state, sort_keys=True)
    context.instance.run_storage.set_cursor_values({_state_key(sensor): text})
    context.update_cursor(text)


#: Partition keys per query: well under SQLite's limit on bound parameters.
KEYS_PER_QUERY = 5000


def missed_backups(instance: dg.DagsterInstance, customers: Iterable[str], date: str) -> dict[str, list[str]]:
    """customer -> backup assets not materialized for (customer, ``date``), only customers missing some.

    One indexed query per asset and 5,000 customers, for ``date``'s keys only: an asset is materialized
    only once its manifest is committed, so this is the committed-snapshot test without the store.
    """
    keys = {str(SnapshotKey(customer, date).partition_key): customer for customer in customers}
    have: dict[str, set[str]] = {customer: set() for customer in keys.values()}
    names = sorted(keys)
    for asset in BACKUP_ASSETS:
        for start in range(0, len(names), KEYS_PER_QUERY):
            found = instance.get_latest_storage_id_by_partition(
                dg.AssetKey(asset), dg.DagsterEventType.ASSET_MATERIALIZATION, set(names[start : start + KEYS_PER_QUERY]))
            for key in found:
                have[keys[key]].add(asset)
    return {customer: [a for a in BACKUP_ASSETS if a not in got] for customer, got in sorted(have.items())
            if len(got) < len(BACKUP_ASSETS)}  # fmt: skip


def _digest(customers: set[str]) -> str:
    return hashlib.sha256("\n".join(sorted(customers)).encode()).hexdigest()[:16]


def _missed_backup_digest(
    instance: dg.DagsterInstance, alerter: AlertService, missing: dict[str, list[str]], date: str, deadline: dt.datetime
) -> Alert:
    """One alert naming every customer missed this tick (the first DIGEST_NAMES with their last run)."""
    shown = sorted(missing)[:DIGEST_NAMES]
    runs = instance.get_runs(dg.RunsFilter(tags={DATE_TAG: date, CUSTOMER_TAG: shown}))  # newest first, one query
    last: dict[str, dg.DagsterRun] = {}
    for run in runs:
        last.setdefault(run.tags.get(CUSTOMER_TAG, ""), run)
    more = f" and {len(missing) - len(shown)} more" if len(missing) > len(shown) else ""
    single = last.get(shown[0]) if len(missing) == 1 else None
    return Alert(
        kind="missed_backup",
        summary=f"no committed snapshot for {date} by {deadline:%H:%M} UTC for {len(missing)} customer(s): "
                f"{', '.join(shown)}{more}",
        customer=shown[0] if len(missing) == 1 else None, date=date,
        asset=", ".join(missing[shown[0]]) if len(missing) == 1 else None, check="snapshot_committed_by_deadline",
        run_id=single.run_id if single else None,
        run_url=alerter.run_url(single.run_id) if single else alerter.runs_url(),
        details={
            "deadline": deadline.isoformat(), "customers_missed": len(missing),
            "customers": {customer: {
                "missing": missing[customer],
                "last_run": last[customer].run_id if customer in last else None,
                "last_run_status": last[customer].status.value if customer in last else "no run was started",
            } for customer in shown},
        },
    )  # fmt: skip


@dg.sensor(minimum_interval_seconds=600, default_status=dg.DefaultSensorStatus.RUNNING,
           description="After the deadline, sends one alert per installed customer without today's committed snapshot.")
def missed_backup_sensor(
    context: dg.SensorEvaluationContext,
    clock: Clock,
    github: GitHubAppResource,
    alerter: dg.ResourceParam[AlertService],
) -> dg.SkipReason:
    """After the deadline, one digest naming every installed customer without today's committed snapshot.

    Its state (``load_state``/``save_state``) is ``{"date", "alerted", "installed", "checked_at"}``: each
    customer is alerted at most once per date. A customer found complete stays complete, so a later tick
    reads nothing from the event log unless the set of installations changed (``installed`` is its
    digest); then the installed customers not yet alerted are checked again, for today's keys only.
    """
    now = clock.now()
    today = now.date().isoformat()
    deadline = deadline_of(now.date(), alerter.missed_backup_deadline_hours)
    if now < deadline:
        return dg.SkipReason(f"the deadline for {today} is {deadline.isoformat()}")
    state = load_state(context.instance, MISSED_BACKUP)
    if state.get("date") != today:
        state = {"date": today, "alerted": [], "installed": ""}
    installed = _installed(github)
    if state["installed"] == _digest(installed):
        return dg.SkipReason(f"the {len(installed)} installed customer(s) were checked for {today} at "
                             f"{state['checked_at']} ({len(state['alerted'])} alerted); no installation since")
    alerted = set(state["alerted"])  # alerted once per date, even if their backup lands later
    missing = missed_backups(context.instance, installed - alerted, today)
    save_state(context, MISSED_BACKUP, {"date": today, "installed": _digest(installed), "checked_at": now.isoformat(),
                                        "alerted": sorted(alerted | set(missing))})
    if not missing:
        return dg.SkipReason(f"every installed customer has a committed snapshot for {today}")
    outcome = alerter.send(_missed_backup_digest(context.instance, alerter, missing, today, deadline))
    context.log.info(f"alerted {len(missing)} missed backup(s) for {today}: {outcome or 'no channel configured'}")
    return dg.SkipReason(f"alerted missed backups for {today} in one message: {', '.join(sorted(missing))}")


ALERT_SENSORS = [run_failure_alert_sensor, check_failure_alert_sensor, missed_backup_sensor]
