"""Sensors and partitions, evaluated with Dagster's testing APIs against the emulator."""

from __future__ import annotations

import json

import dagster as dg

from assets.catalog import ASSETS
from assets.partitions import customer_partitions, date_partitions
from backhub_pipeline.sensors import customers_sensor, daily_snapshot_sensor
from resources.clock import Clock
from resources.github import GitHubAppResource
from tests.retention.conftest import ASSETS as ASSET_NAMES
from tests.retention.conftest import record_run


def _github(emulator) -> GitHubAppResource:
    info = emulator.info
    return GitHubAppResource(api_url=info["api_url"], app_id=str(info["app_id"]), private_key_path=info["private_key_path"])


def _accounts(emulator) -> list[str]:
    return sorted(inst["account"].lower() for inst in emulator.info["installations"])


def test_customers_sensor_adds_one_partition_per_installation_once(emulator) -> None:
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"github": _github(emulator)})
        result = customers_sensor(context)
        assert isinstance(result, dg.SensorResult)
        [request] = result.dynamic_partitions_requests
        assert sorted(request.partition_keys) == _accounts(emulator)
        instance.add_dynamic_partitions(customer_partitions.name, list(request.partition_keys))

        again = customers_sensor(dg.build_sensor_context(instance=instance, resources={"github": _github(emulator)}))
        assert isinstance(again, dg.SkipReason)


def test_daily_sensor_adds_the_date_and_requests_one_keyed_run_per_customer(emulator) -> None:
    clock = Clock()
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(customer_partitions.name, _accounts(emulator))
        resources = {"github": _github(emulator), "clock": clock}
        context = dg.build_sensor_context(instance=instance, resources=resources)
        result = daily_snapshot_sensor(context)
        assert isinstance(result, dg.SensorResult)
        [add] = result.dynamic_partitions_requests
        assert add.partitions_def_name == date_partitions.name and list(add.partition_keys) == [clock.today()]
        assert sorted(run.run_key for run in result.run_requests) == [f"{c}|{clock.today()}" for c in _accounts(emulator)]
        for run in result.run_requests:
            assert run.partition_key.keys_by_dimension["date"] == clock.today()

        instance.add_dynamic_partitions(date_partitions.name, [clock.today()])
        cursor = context.cursor
        again = daily_snapshot_sensor(dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor))
        assert isinstance(again, dg.SkipReason)
        assert json.loads(cursor)["date"] == clock.today()


def test_daily_sensor_requests_nothing_for_an_uninstalled_customer(emulator) -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(customer_partitions.name, [*_accounts(emulator), "gone-customer"])
        resources = {"github": _github(emulator), "clock": Clock()}
        result = daily_snapshot_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert "gone-customer" not in {run.partition_key.keys_by_dimension["customer"] for run in result.run_requests}


def test_backfills_run_one_partition_per_run() -> None:
    for asset in ASSETS:
        policy = asset.backfill_policy
        assert policy is not None and policy.max_partitions_per_run == 1, asset.key


def test_daily_sensor_skips_a_customer_whose_day_is_already_snapshotted(backhub) -> None:
    [done, *others] = backhub.customers
    backhub.snapshot([done])
    resources = {"github": _github(backhub.emulator), "clock": Clock()}
    with backhub.instance() as instance:
        instance.add_dynamic_partitions(customer_partitions.name, others)
        result = daily_snapshot_sensor(dg.build_sensor_context(instance=instance, resources=resources))
    requested = {run.partition_key.keys_by_dimension["customer"] for run in result.run_requests}
    assert requested == set(others)


def test_daily_sensor_asks_again_for_a_customer_whose_day_is_partial_not_for_one_complete(emulator) -> None:
    complete, partial, *others = _accounts(emulator)
    today = Clock().today()
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(customer_partitions.name, _accounts(emulator))
        record_run(instance, complete, today)
        record_run(instance, partial, today, assets=ASSET_NAMES[:3])  # its wikis did not land
        for customer in others:
            record_run(instance, customer, "2020-01-01")  # another date's snapshot does not count for today
        resources = {"github": _github(emulator), "clock": Clock()}
        result = daily_snapshot_sensor(dg.build_sensor_context(instance=instance, resources=resources))
    requested = {run.partition_key.keys_by_dimension["customer"] for run in result.run_requests}
    assert requested == {partial, *others}


def test_customers_sensor_removes_a_key_without_installation_or_data_and_keeps_one_with_data(emulator) -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(customer_partitions.name, [*_accounts(emulator), "typo-customer", "gone-customer"])
        instance.add_dynamic_partitions(date_partitions.name, ["2020-01-01", Clock().today()])
        record_run(instance, "gone-customer", "2020-01-01", assets=ASSET_NAMES[:1])  # uninstalled, data kept
        result = customers_sensor(dg.build_sensor_context(instance=instance, resources={"github": _github(emulator)}))
    [delete] = result.dynamic_partitions_requests
    assert list(delete.partition_keys) == ["typo-customer"]
