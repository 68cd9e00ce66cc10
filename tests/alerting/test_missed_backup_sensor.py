"""The missed-backup sensor at small N: one digest per tick, state saved before sending, no re-reads.

The instance holds recorded (customer, date) runs (tests/retention/conftest.py); the installations are
the read-only emulator's; alerts go to a real local HTTP receiver.
"""

import dagster as dg
import pytest

from backhub_pipeline.alert_sensors import MISSED_BACKUP, load_state, missed_backup_sensor
from resources.alerts import AlertService
from resources.clock import Clock
from resources.errors import AlertDeliveryError
from resources.github import GitHubAppResource
from tests.alerts.conftest import receiver  # noqa: F401 - a fixture
from tests.retention.conftest import ASSETS, record_run


def _accounts(emulator) -> list[str]:
    return sorted(inst["account"].lower() for inst in emulator.info["installations"])


def _resources(emulator, receiver) -> dict:  # noqa: F811 - the imported fixture's name
    info = emulator.info
    return {
        "clock": Clock(),
        "github": GitHubAppResource(api_url=info["api_url"], app_id=str(info["app_id"]),
                                    private_key_path=info["private_key_path"]),
        # A deadline at midnight: every tick of the day is past it.
        "alerter": AlertService(variables={"BACKHUB_ALERT_WEBHOOK_URL": f"{receiver.url}/hook"},
                                ui_url="http://ui.test:3000", missed_backup_deadline_hours=0),
    }  # fmt: skip


def _tick(instance, resources) -> dg.SkipReason:
    return missed_backup_sensor(dg.build_sensor_context(instance=instance, resources=resources))


def test_missed_backups_go_out_as_one_digest_and_an_unchanged_tick_reads_and_sends_nothing(
    emulator, receiver  # noqa: F811 - the imported fixture
) -> None:
    accounts = _accounts(emulator)
    assert len(accounts) >= 2, accounts
    complete, partial, *others = accounts
    today = Clock().today()
    with dg.instance_for_test() as instance:
        record_run(instance, complete, today)
        record_run(instance, partial, today, assets=ASSETS[:2])
        record_run(instance, complete, "2020-01-01", assets=ASSETS[:1])  # another date: not today's business
        resources = _resources(emulator, receiver)
        first = _tick(instance, resources)
        [message] = receiver.to("/hook")
        body = message.json()
        missed = sorted([partial, *others])
        assert body["kind"] == "missed_backup"
        assert f"for {len(missed)} customer(s)" in body["summary"]
        assert complete not in body["summary"] and all(name in body["summary"] for name in missed)
        assert body["details"]["customers"][partial]["missing"] == list(ASSETS[2:])
        assert sorted(body["details"]["customers"]) == missed
        assert all(name in first.skip_message for name in missed)

        # The partial customer's backup lands: the digest went out once for today, it does not again.
        record_run(instance, partial, today, assets=ASSETS[2:])
        second = _tick(instance, resources)
        assert len(receiver.to("/hook")) == 1
        assert "no installation since" in second.skip_message, second.skip_message
        assert load_state(instance, MISSED_BACKUP)["alerted"] == missed


def test_a_tick_whose_delivery_fails_after_saving_its_state_does_not_alert_again(
    emulator, receiver  # noqa: F811 - the imported fixture
) -> None:
    receiver.answer("/hook", (503, "refused", 0.0))  # the receiver refuses every delivery
    today = Clock().today()
    with dg.instance_for_test() as instance:
        resources = _resources(emulator, receiver)
        with pytest.raises(AlertDeliveryError):
            _tick(instance, resources)
        attempts = len(receiver.to("/hook"))
        assert attempts >= 1
        assert load_state(instance, MISSED_BACKUP)["date"] == today  # saved before sending

        receiver.answer("/hook", (200, '{"ok": true}', 0.0))  # the channel is back: still nothing re-sent
        again = _tick(instance, resources)
        assert len(receiver.to("/hook")) == attempts
        assert "no installation since" in again.skip_message


def test_before_the_deadline_the_sensor_reads_nothing_and_says_when(emulator, receiver) -> None:  # noqa: F811
    with dg.instance_for_test() as instance:
        resources = _resources(emulator, receiver)
        resources["alerter"] = AlertService(variables=resources["alerter"].variables, missed_backup_deadline_hours=25)
        skip = _tick(instance, resources)
        assert "the deadline for" in skip.skip_message
        assert receiver.to("/hook") == [] and load_state(instance, MISSED_BACKUP) == {}
