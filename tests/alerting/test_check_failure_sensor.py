"""The check-failure sensor at small N: one digest per tick, only new evaluations read, state saved first.

Check evaluations are recorded by a small job as a snapshot run records them (its partition tags, one
ASSET_CHECK_EVALUATION event per check); alerts go to a real local HTTP receiver.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

from assets.partitions import CUSTOMER_TAG, SnapshotKey
from backhub_pipeline.alert_sensors import (
    CHECK_FAILURE,
    DATE_TAG,
    ChecksCursor,
    check_failure_alert_sensor,
    load_state,
    new_failed_checks,
)
from resources.alerts import AlertService
from resources.clock import Clock
from resources.errors import AlertDeliveryError
from tests.alerts.conftest import receiver  # noqa: F401 - a fixture


@dg.op(config_schema={"partition": str, "checks": [{"asset": str, "check": str, "passed": bool}]})
def _evaluate_checks(context: dg.OpExecutionContext) -> None:
    for check in context.op_config["checks"]:
        context.log_event(dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey(check["asset"]), check_name=check["check"], passed=check["passed"],
            partition=context.op_config["partition"],
            metadata={"problems": "blob 0a1b... does not decrypt"} if not check["passed"] else {},
        ))  # fmt: skip


@dg.job
def recorded_checks_job() -> None:
    _evaluate_checks()


def record_checks(instance: dg.DagsterInstance, customer: str, date: str, **checks: bool) -> str:
    """A finished run for (customer, date) that evaluated ``asset__check=passed`` checks; its run id."""
    items = [{"asset": name.split("__")[0], "check": name.split("__")[1], "passed": passed}
             for name, passed in checks.items()]
    config = {"partition": str(SnapshotKey(customer, date).partition_key), "checks": items}
    return recorded_checks_job.execute_in_process(
        instance=instance, run_config={"ops": {"_evaluate_checks": {"config": config}}},
        tags={CUSTOMER_TAG: customer, DATE_TAG: date},
    ).run_id  # fmt: skip


@contextmanager
def _instance(kind: str, tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """``shared``: one event log for every run, as Postgres (what the sensor reads by storage id);
    ``sharded``: the embedded instance's run-sharded SQLite (read run by run)."""
    overrides = {"event_log_storage": {"module": "dagster._core.storage.event_log",
                                       "class": "ConsolidatedSqliteEventLogStorage",
                                       "config": {"base_dir": str(tmp_path / "events")}}} if kind == "shared" else None
    with dg.instance_for_test(overrides=overrides) as instance:
        assert instance.event_log_storage.is_run_sharded == (kind == "sharded")
        yield instance


STORAGES = pytest.mark.parametrize("kind", ["shared", "sharded"])


def _tick(instance, receiver) -> dg.SkipReason:  # noqa: F811 - the imported fixture's name
    alerter = AlertService(variables={"BACKHUB_ALERT_WEBHOOK_URL": f"{receiver.url}/hook"}, ui_url="http://ui.test:3000")
    # No Dagster cursor passed in: a retried or timed-out tick starts from what Dagster kept, which is nothing.
    return check_failure_alert_sensor(dg.build_sensor_context(instance=instance, resources={"alerter": alerter}))


@STORAGES
def test_failed_checks_go_out_as_one_digest_once_and_a_tick_reads_only_what_is_new(
    kind, tmp_path, receiver  # noqa: F811 - the imported fixture
) -> None:
    today = Clock().today()
    with _instance(kind, tmp_path) as instance:
        first = record_checks(instance, "acme-corp", today, inventory__blobs_decrypt=False, issues__count=True)
        record_checks(instance, "zoe-dev", today, repositories__refs=False, wikis__pages=False)
        record_checks(instance, "globex", today, inventory__blobs_decrypt=True)
        skip = _tick(instance, receiver)
        [message] = receiver.to("/hook")
        body = message.json()
        assert body["kind"] == "check_failure" and body["summary"].startswith("3 failed check(s)")
        named = {(c["customer"], c["asset"], c["check"]) for c in body["details"]["checks"]}
        assert named == {("acme-corp", "inventory", "blobs_decrypt"), ("zoe-dev", "repositories", "refs"),
                         ("zoe-dev", "wikis", "pages")}
        assert body["run_url"] == "http://ui.test:3000/runs"  # two runs: the runs page
        assert "globex" not in body["summary"] and "issues" not in body["summary"]
        assert "3 failed check(s)" in skip.skip_message

        # Nothing after the cursor: the next tick reads nothing new and sends nothing. (Run-sharded
        # SQLite re-reads the runs of the last minute; what was alerted is not sent again.)
        state = load_state(instance, CHECK_FAILURE)
        after = ChecksCursor(after=state["after"], updated_after=state["updated_after"])
        if kind == "shared":
            assert new_failed_checks(instance, after, Clock().now(), 100) == ([], after)
        assert "no new failed check" in _tick(instance, receiver).skip_message
        assert len(receiver.to("/hook")) == 1

        # A retry of acme-corp's run fails the same check (not alerted again) and one new check.
        retry = record_checks(instance, "acme-corp", today, inventory__blobs_decrypt=False, issues__count=False)
        if kind == "shared":
            failed, _last = new_failed_checks(instance, after, Clock().now(), 100)
            assert [(run_id, e.check_name) for run_id, e in failed] == [(retry, "blobs_decrypt"), (retry, "count")]
        _tick(instance, receiver)
        second = receiver.to("/hook")[1].json()
        assert second["check"] == "count" and second["asset"] == "issues" and second["customer"] == "acme-corp"
        assert second["run_url"] == f"http://ui.test:3000/runs/{retry}" and retry != first
        assert len(receiver.to("/hook")) == 2


@STORAGES
def test_a_tick_whose_delivery_fails_after_saving_its_state_does_not_alert_again(
    kind, tmp_path, receiver  # noqa: F811 - the imported fixture
) -> None:
    receiver.answer("/hook", (503, "refused", 0.0))  # the receiver refuses every delivery
    today = Clock().today()
    with _instance(kind, tmp_path) as instance:
        record_checks(instance, "acme-corp", today, inventory__blobs_decrypt=False)
        with pytest.raises(AlertDeliveryError):
            _tick(instance, receiver)
        attempts = len(receiver.to("/hook"))
        assert attempts >= 1
        assert "acme-corp|" + today + "|inventory|blobs_decrypt" in load_state(instance, CHECK_FAILURE)["alerted"]

        receiver.answer("/hook", (200, '{"ok": true}', 0.0))  # the channel is back: still nothing re-sent
        again = _tick(instance, receiver)
        assert len(receiver.to("/hook")) == attempts
        assert "no new failed check" in again.skip_message
