"""The weekly deep verification finds damage to old data that the daily checks, proportional to what
each day wrote, no longer read; and its sensor spreads customers over the week."""

from __future__ import annotations

import json

import boto3
import dagster as dg
import pytest

from assets.partitions import SnapshotKey, customer_partitions
from backhub_pipeline.deep_verification import deep_verify_sensor, due_on, rotation_day
from backhub_pipeline.definitions import defs
from backhub_pipeline.settings import Settings
from resources.clock import Clock


def _flip_stored_blob(customer: str, blob: str) -> None:
    settings = Settings.from_env()
    bucket, _, prefix = settings.store_url.removeprefix("s3://").partition("/")
    key = f"{prefix}/customers/{customer}/blobs/{blob[:2]}/{blob}"
    s3 = boto3.client("s3", endpoint_url=settings.s3_endpoint_url)
    data = bytearray(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    data[len(data) // 2] ^= 0x40
    s3.put_object(Bucket=bucket, Key=key, Body=bytes(data))


def _deep_verify(backhub, customer: str) -> dg.ExecuteInProcessResult:
    with backhub.instance() as instance:
        return defs().resolve_job_def("deep_verify_job").execute_in_process(
            instance=instance, raise_on_error=False,
            run_config={"ops": {"deep_verify_op": {"config": {"customers": [customer]}}}})


@pytest.mark.slow
def test_a_blob_corrupted_after_its_day_passes_the_next_daily_checks_and_fails_deep_verification(backhub) -> None:
    customer = "zoe-dev" if "zoe-dev" in backhub.customers else backhub.customers[0]
    [day1] = backhub.snapshot([customer])
    assert day1.success and day1.checks_failed == [], day1.error
    first_day = day1.date
    entry = next(entry for entry in backhub.store().read_manifest(customer, first_day, "repositories")
                 .body["repositories"].values() if entry.get("chain"))
    full_bundle = entry["chain"][0]["blob"]

    backhub.next_day()
    _flip_stored_blob(customer, full_bundle)  # written on day 1, reused by day 2's chain
    [day2] = backhub.snapshot([customer])
    assert day2.success, day2.error
    assert day2.checks_failed == [] and day2.checks_passed == 10

    result = _deep_verify(backhub, customer)
    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    assert full_bundle in failure.step_failure_data.user_failure_data.description
    observations = [event.event_specific_data.asset_observation for event in result.all_events
                    if event.event_type_value == "ASSET_OBSERVATION"]
    verdicts = {(o.asset_key.to_user_string(), o.partition): o.metadata["deep_verified_ok"].value for o in observations}
    assert verdicts.get(("repositories", str(SnapshotKey(customer, first_day)))) is False, verdicts
    assert verdicts.get(("repositories", str(SnapshotKey(customer, day2.date)))) is False, verdicts
    assert all("last_deep_verified" in o.metadata for o in observations)


@pytest.mark.slow
def test_deep_verification_of_intact_snapshots_passes_and_is_shown_per_snapshot(backhub) -> None:
    customer = "zoe-dev" if "zoe-dev" in backhub.customers else backhub.customers[0]
    [day1] = backhub.snapshot([customer])
    assert day1.success, day1.error

    result = _deep_verify(backhub, customer)
    assert result.success
    observed = {event.event_specific_data.asset_observation.asset_key.to_user_string()
                for event in result.all_events if event.event_type_value == "ASSET_OBSERVATION"}
    assert observed == {"inventory", "repositories", "issues", "wikis"}


def test_every_customer_is_due_once_a_week_and_an_overdue_one_the_next_day() -> None:
    customers = [f"customer-{n}" for n in range(40)]
    week = [f"2026-12-{day:02d}" for day in range(7, 14)]  # Monday to Sunday
    due = [customer for date in week for customer in due_on(date, customers, {})]
    assert sorted(due) == sorted(customers)
    assert len({rotation_day(customer) for customer in customers}) == 7  # spread, not all on one day
    late = customers[0]
    not_its_day = next(date for date in week if rotation_day(late) != week.index(date))
    assert late in due_on(not_its_day, customers, {late: "2026-11-20"})


def test_deep_verify_sensor_requests_the_due_customers_once_a_day() -> None:
    clock = Clock()
    today = clock.today()
    customers = [f"customer-{n}" for n in range(20)]
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(customer_partitions.name, customers)
        result = deep_verify_sensor(dg.build_sensor_context(instance=instance, resources={"clock": clock}))
        expected = due_on(today, customers, {})
        assert expected  # 20 customers cover every weekday
        assert isinstance(result, dg.RunRequest)
        assert result.run_key == f"deep-verify|{today}"
        assert result.run_config["ops"]["deep_verify_op"]["config"]["customers"] == expected
        cursor = json.dumps({"date": today, "requested": {}})
        again = deep_verify_sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources={"clock": clock}))
        assert isinstance(again, dg.SkipReason)
