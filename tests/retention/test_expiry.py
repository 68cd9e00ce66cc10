"""The expiry run and the retention sensor, on a real local store and a real (test) Dagster instance."""

import datetime as dt
import uuid

import dagster as dg
import pytest

from assets.partitions import date_partitions
from backhub_pipeline.retention.expiry import DATE_TAG, PROBE_KEY
from backhub_pipeline.retention.job import EXPIRY_TAG, expire_snapshots_job, expiry_run_config
from backhub_pipeline.retention.sensor import retention_sensor
from resources.clock import Clock
from resources.snapshot_store import SnapshotStore
from tests.retention.conftest import ASSETS, days_back, orphan_blobs

CUSTOMERS = ("acme-corp", "zoe-dev")


def _fill(local, n: int = 6, today: dt.date | None = None) -> list[str]:
    dates = days_back(n, today)
    for customer in CUSTOMERS:
        for date in dates:
            local.snapshot(customer, date)
    return dates


def _expire(local, dates=(), *, dry_run=False, **resources):
    return expire_snapshots_job.execute_in_process(
        instance=local.instance, run_config=expiry_run_config(list(dates), dry_run),
        resources=local.resources(**resources), raise_on_error=False,
    )  # fmt: skip


def _report(result) -> dict:
    [output] = [event for event in result.all_events if event.is_successful_output]
    return output.event_specific_data.metadata["report"].data


def test_expiry_keeps_exactly_the_window_and_leaves_no_orphan_blob(local) -> None:
    dates = _fill(local)
    result = _expire(local, retention_days=3)
    assert result.success
    store = local.store()
    for customer in CUSTOMERS:
        assert sorted(store.list_snapshots(customer)) == dates[-3:]
        assert orphan_blobs(store, customer) == set()
        for date in dates[-3:]:
            assert store.verify(customer, date, read_data=True).ok
    assert sorted(local.instance.get_dynamic_partitions(date_partitions.name)) == dates[-3:]
    report = _report(result)
    assert report["expired_dates"] == dates[:3]
    assert report["manifests_deleted"] == {customer: 12 for customer in CUSTOMERS}
    assert report["blobs_deleted"] == {customer: 12 for customer in CUSTOMERS}
    assert not store.storage.exists(PROBE_KEY)
    actions = [(r.action, r.customer, r.snapshot) for r in local.audit.records()]
    assert ("expire", "acme-corp", dates[0]) in actions and ("delete", "zoe-dev", None) in actions
    assert ("expire", None, dates[0]) in actions  # the date key
    assert local.audit.verify().ok


def test_expiring_twice_changes_nothing_the_second_time(local) -> None:
    dates = _fill(local, 4)
    assert _expire(local, retention_days=3).success
    records = len(list(local.audit.records()))
    again = _expire(local, dates[:1], retention_days=3)
    assert again.success
    assert _report(again)["manifests_deleted"] == {} and sum(_report(again)["blobs_deleted"].values()) == 0
    assert len(list(local.audit.records())) == records
    assert sorted(local.store().list_snapshots("acme-corp")) == dates[-3:]


def test_a_run_that_crashed_midway_is_finished_by_the_next(local, monkeypatch) -> None:
    dates = _fill(local, 6)
    calls = {"n": 0}
    original = SnapshotStore.delete_manifest

    def crash_after_five(self, customer, date, asset):
        calls["n"] += 1
        if calls["n"] > 5:
            raise OSError("worker killed")
        return original(self, customer, date, asset)

    monkeypatch.setattr(SnapshotStore, "delete_manifest", crash_after_five)
    assert not _expire(local, retention_days=3).success
    assert sorted(local.store().list_snapshots("acme-corp")) != dates[-3:]  # half done
    monkeypatch.setattr(SnapshotStore, "delete_manifest", original)
    assert _expire(local, retention_days=3).success
    store = local.store()
    for customer in CUSTOMERS:
        assert sorted(store.list_snapshots(customer)) == dates[-3:]
        assert orphan_blobs(store, customer) == set()
    assert sorted(local.instance.get_dynamic_partitions(date_partitions.name)) == dates[-3:]


def test_dry_run_reports_what_would_go_and_deletes_nothing(local) -> None:
    dates = _fill(local, 5)
    before = sorted(info.key for info in local.store().storage.list("customers/"))
    result = _expire(local, dry_run=True, retention_days=3)
    assert result.success
    report = _report(result)
    assert report["expired_dates"] == dates[:2]
    assert report["manifests_deleted"] == {customer: 8 for customer in CUSTOMERS}
    assert report["blobs_deleted"] == {customer: 8 for customer in CUSTOMERS}
    assert sorted(info.key for info in local.store().storage.list("customers/")) == before
    assert sorted(local.instance.get_dynamic_partitions(date_partitions.name)) == dates
    assert list(local.audit.records()) == []


def test_a_date_inside_the_window_is_never_expired_even_when_asked(local) -> None:
    dates = _fill(local, 4)
    result = _expire(local, dates, retention_days=3)
    assert result.success
    assert _report(result)["kept_inside_window"] == dates[1:]
    assert sorted(local.store().list_snapshots("acme-corp")) == dates[1:]


def test_unreferenced_blobs_younger_than_the_grace_period_survive(local) -> None:
    dates = _fill(local, 5)
    result = _expire(local, retention_days=3, grace_hours=48)
    assert result.success
    store = local.store()
    assert sorted(store.list_snapshots("acme-corp")) == dates[-3:]
    # The expired days' own blobs were written just now: a backup may have reused them.
    assert len(orphan_blobs(store, "acme-corp")) == 8
    assert _report(result)["blobs_deleted"] == {customer: 0 for customer in CUSTOMERS}


class FastClock(Clock):
    """A worker whose system clock runs ten days ahead: no simulated offset, just a wrong clock."""

    def now(self) -> dt.datetime:
        return super().now() + dt.timedelta(days=10)


def test_a_worker_clock_that_disagrees_with_the_store_refuses_and_alerts(local, receiver) -> None:
    _fill(local, 4)
    before = sorted(info.key for info in local.store().storage.list("customers/"))
    result = _expire(local, clock=FastClock(), retention_days=3,
                     alert_variables={"BACKHUB_ALERT_WEBHOOK_URL": f"{receiver.url}/hook"})
    assert not result.success
    assert sorted(info.key for info in local.store().storage.list("customers/")) == before
    assert len(local.instance.get_dynamic_partitions(date_partitions.name)) == 4
    [alert] = receiver.to("/hook")
    body = alert.json()
    assert body["kind"] == "retention_refused"
    assert "ahead of the store" in body["summary"]
    assert body["run_url"] == f"http://ui.test:3000/runs/{result.run_id}"
    [record] = local.audit.records()
    assert (record.action, record.outcome) == ("expire", "refused")


def test_a_simulated_clock_offset_is_not_a_disagreement(local) -> None:
    clock = Clock(offset_days=10)
    dates = _fill(local, 5, today=clock.now().date())
    result = _expire(local, clock=clock, retention_days=3)
    assert result.success
    assert sorted(local.store().list_snapshots("zoe-dev")) == dates[-3:]


def test_sensor_requests_one_keyed_run_only_when_a_date_key_expired(local) -> None:
    dates = _fill(local, 3)
    resources = {key: value for key, value in local.resources().items() if key in {"clock", "policy"}}
    skip = retention_sensor(dg.build_sensor_context(instance=local.instance, resources=resources))
    assert isinstance(skip, dg.SkipReason) and dates[0] in skip.skip_message

    local.snapshot("acme-corp", days_back(5)[0])  # a snapshot, and its date key, older than the window
    request = retention_sensor(dg.build_sensor_context(instance=local.instance, resources=resources))
    assert isinstance(request, dg.RunRequest)
    assert request.run_key.startswith(f"expire|{dates[-1]}|")
    assert request.run_config["ops"]["expire_snapshots"]["config"]["dates"] == []  # all that is older
    again = retention_sensor(dg.build_sensor_context(instance=local.instance, resources=resources))
    assert again.run_key == request.run_key  # deterministic: Dagster launches it once


def test_sensor_decides_from_date_keys_without_the_store(local) -> None:
    """No store resource at all: the sensor cannot list it, whatever the number of customers."""
    _fill(local, 5)
    resources = {"clock": Clock(), "policy": local.resources()["policy"]}
    request = retention_sensor(dg.build_sensor_context(instance=local.instance, resources=resources))
    assert isinstance(request, dg.RunRequest)
    assert _expire(local, request.run_config["ops"]["expire_snapshots"]["config"]["dates"], retention_days=3).success
    skip = retention_sensor(dg.build_sensor_context(instance=local.instance, resources=resources))
    assert isinstance(skip, dg.SkipReason) and "no date key older than" in skip.skip_message


def test_a_snapshot_on_a_date_without_key_is_expired_by_the_next_run(local) -> None:
    dates = _fill(local, 3)
    stray = days_back(6)[0]
    local.snapshot("acme-corp", stray)
    local.instance.delete_dynamic_partition(date_partitions.name, stray)
    result = _expire(local, retention_days=3)
    assert result.success
    assert stray in _report(result)["expired_dates"]
    assert sorted(local.store().list_snapshots("acme-corp")) == dates


def test_expiry_removes_the_expired_dates_runs_and_materializations_from_the_instance(local) -> None:
    dates = _fill(local, 5)
    runs = {(customer, date): local.record_run(customer, date) for customer in CUSTOMERS for date in dates}
    keys = {f"{customer}|{date}" for customer in CUSTOMERS for date in dates}
    for asset in ASSETS:
        assert local.instance.get_materialized_partitions(dg.AssetKey(asset)) == keys

    result = _expire(local, retention_days=3)
    assert result.success
    expired, kept = dates[:2], dates[2:]
    assert _report(result)["runs_deleted"] == {date: len(CUSTOMERS) for date in expired}
    for asset in ASSETS:
        assert local.instance.get_materialized_partitions(dg.AssetKey(asset)) == {
            f"{customer}|{date}" for customer in CUSTOMERS for date in kept}
    for (_customer, date), run_id in runs.items():
        assert (local.instance.get_run_by_id(run_id) is None) == (date in expired), date
        assert (local.instance.get_records_for_run(run_id).records == []) == (date in expired), date
    assert local.instance.get_run_ids(dg.RunsFilter(tags={DATE_TAG: expired[0]})) == []


def test_a_dry_run_counts_the_runs_it_would_delete_and_keeps_them(local) -> None:
    dates = _fill(local, 4)
    run_id = local.record_run("zoe-dev", dates[0])
    result = _expire(local, dry_run=True, retention_days=3)
    assert _report(result)["runs_deleted"] == {dates[0]: 1}
    assert local.instance.get_run_by_id(run_id) is not None


def test_sensor_retries_a_failed_expiry_under_a_new_key_and_then_waits(local) -> None:
    _fill(local, 5)
    resources = {key: value for key, value in local.resources().items() if key in {"clock", "policy"}}
    keys = []
    for _ in range(3):
        request = retention_sensor(dg.build_sensor_context(instance=local.instance, resources=resources))
        assert isinstance(request, dg.RunRequest)
        keys.append(request.run_key)
        local.instance.add_run(dg.DagsterRun(job_name=expire_snapshots_job.name, run_id=str(uuid.uuid4()),
                                             status=dg.DagsterRunStatus.FAILURE, tags=request.tags))
    assert keys[1] == f"{keys[0]}|attempt-2" and keys[2] == f"{keys[0]}|attempt-3"
    skip = retention_sensor(dg.build_sensor_context(instance=local.instance, resources=resources))
    assert isinstance(skip, dg.SkipReason) and "not retrying" in skip.skip_message
    assert EXPIRY_TAG in request.tags


@pytest.mark.parametrize("hours", ["-1", "x"])
def test_a_negative_or_garbled_sweep_grace_is_refused(hours) -> None:
    from backhub_pipeline.settings import Settings
    from resources.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="BACKHUB_SWEEP_GRACE_HOURS"):
        Settings.from_env({"BACKHUB_SWEEP_GRACE_HOURS": hours})
