"""The alert sensors on real failures, evaluated with Dagster's testing APIs; every channel receives."""

import datetime as dt

import dagster as dg
import pytest

from assets.partitions import SnapshotKey
from backhub_pipeline.alert_sensors import (
    check_failure_alert_sensor,
    missed_backup_sensor,
    run_failure_alert_sensor,
)
from backhub_pipeline.cli.backup import take_snapshots
from backhub_pipeline.definitions import defs
from resources.alerts import AlertService
from resources.clock import Clock
from resources.github import GitHubAppResource
from tests.alerting.conftest import UI

pytestmark = pytest.mark.slow


def _alerter(channels, deadline_hours: int = 12) -> AlertService:
    return AlertService(variables=channels.variables, ui_url=UI, missed_backup_deadline_hours=deadline_hours)


def test_a_failed_snapshot_run_alerts_every_channel_naming_customer_date_step_and_run(
    tmp_path, monkeypatch, channels
) -> None:
    home = tmp_path / "dagster"
    home.mkdir()
    for name, value in {"DAGSTER_HOME": str(home), "BACKHUB_GITHUB_API_URL": "http://127.0.0.1:9",
                        "BACKHUB_GITHUB_APP_ID": "1", "BACKHUB_GITHUB_APP_PRIVATE_KEY_PATH": str(tmp_path / "no-key.pem"),
                        "BACKHUB_CLOCK_OFFSET_DAYS": "0"}.items():
        monkeypatch.setenv(name, value)
    key = SnapshotKey("acme-corp", Clock().today())
    with dg.DagsterInstance.get() as instance:
        [summary] = take_snapshots(instance, defs(), [key])
        assert not summary.success
        run = instance.get_run_by_id(summary.run_id)
        [failure] = [r.event_log_entry.dagster_event for r in instance.get_records_for_run(
            summary.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records]
        context = dg.build_run_status_sensor_context(
            sensor_name=run_failure_alert_sensor.name, dagster_event=failure, dagster_instance=instance,
            dagster_run=run, resources={"alerter": _alerter(channels)},
        ).for_run_failure()
        run_failure_alert_sensor(context)
    # The snapshot is one step (its four assets and their checks): the alert names that step.
    channels.assert_each_channel_got(1, "acme-corp", key.date, f"{UI}/runs/{summary.run_id}",
                                     "snapshot_job failed at step snapshot")


def test_a_corrupt_blob_fails_its_check_and_alerts_once_naming_customer_date_asset_check(backhub, channels) -> None:
    customer = "zoe-dev"
    [summary] = backhub.snapshot([customer])
    assert summary.success, summary.error
    store = backhub.store()
    manifest = store.read_manifest(customer, backhub.today(), "inventory")
    blob_key = f"customers/{customer}/blobs/{manifest.blobs[0][:2]}/{manifest.blobs[0]}"
    data = bytearray(store.storage.get(blob_key))
    data[len(data) // 2] ^= 0x01
    store.storage.put(blob_key, bytes(data))

    key = SnapshotKey(customer, backhub.today())
    # The day's checks again, without a capture (a capture would rewrite the damaged blob: the writer heals).
    base = defs()
    checks_job = dg.define_asset_job("inventory_checks_job", selection=dg.AssetSelection.checks_for_assets("inventory"))
    definitions = dg.Definitions(assets=base.assets, asset_checks=base.asset_checks, jobs=[checks_job],
                                 resources=base.resources)
    with backhub.instance() as instance:
        checks = definitions.resolve_job_def("inventory_checks_job").execute_in_process(
            instance=instance, raise_on_error=False,
            tags={"dagster/partition": str(key.partition_key), "dagster/partition/customer": key.customer,
                  "dagster/partition/date": key.date})
        failed = {(e.asset_key.to_user_string(), e.check_name) for e in checks.get_asset_check_evaluations()
                  if not e.passed}
        assert ("inventory", "blobs_decrypt") in failed
        cursor = None
        for _ in range(2):  # the second evaluation finds nothing new
            context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"alerter": _alerter(channels)})
            check_failure_alert_sensor(context)
            cursor = context.cursor
    messages = channels.delivered()  # one message for the tick, naming every failed check of the run
    channels.assert_each_channel_got(1, customer, key.date, f"{UI}/runs/{checks.run_id}")
    assert any("blobs_decrypt" in m and "inventory" in m and blob_key.rsplit("/", 1)[-1] in m
               for m in messages["webhook"])
    for channel, delivered in messages.items():  # every channel names the asset and the failing check
        assert any("blobs_decrypt" in m and "inventory" in m for m in delivered), channel


def test_a_customer_without_todays_snapshot_is_alerted_once_after_the_deadline(backhub, channels) -> None:
    [summary] = backhub.snapshot(["zoe-dev"])  # acme-corp's backup does not land
    assert summary.success, summary.error
    info = backhub.emulator.info
    resources = {
        "clock": Clock(),
        "github": GitHubAppResource(api_url=info["api_url"], app_id=str(info["app_id"]),
                                    private_key_path=info["private_key_path"]),
    }
    hour = dt.datetime.now(dt.UTC).hour
    with backhub.instance() as instance:
        early = missed_backup_sensor(dg.build_sensor_context(
            instance=instance, resources={**resources, "alerter": _alerter(channels, deadline_hours=hour + 1)}))
        assert "deadline" in early.skip_message
        assert channels.delivered()["webhook"] == []
        for _ in range(2):  # past the deadline: one alert, and not again
            context = dg.build_sensor_context(instance=instance,
                                              resources={**resources, "alerter": _alerter(channels, deadline_hours=hour)})
            missed_backup_sensor(context)
    channels.assert_each_channel_got(1, "acme-corp", backhub.today(), "no committed snapshot", f"{UI}/runs")
    assert "zoe-dev" not in channels.delivered()["webhook"][0]
