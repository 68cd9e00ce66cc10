"""``backhub backup`` checks what it is asked before anything reaches the instance or the store: a
mistyped customer, a date outside the window, an unreachable GitHub, a date already backed up (unless
--replace). A key typed into the UI anyway is refused by the snapshot step and removed by the sensor."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import dagster as dg
import pytest

from tests.cli.conftest import CUSTOMER, World, backhub, one_line, tree

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cli")]


def _refused(world: World, *args: str, **extra: str) -> str:
    before = tree(world.home)
    done = backhub("backup", *args, env={**world.env, **extra})
    assert done.returncode == 2, done.stderr
    assert tree(world.home) == before  # no partition key, no run, no key, no blob
    return one_line(done.stderr)


def test_a_mistyped_customer_is_refused_with_the_closest_installation(world: World) -> None:
    line = _refused(world, "--customer", "acme-crop")
    assert line.startswith("backhub backup: acme-crop is not a customer") and "did you mean acme-corp?" in line


def test_a_customer_is_matched_case_insensitively(world: World) -> None:
    line = _refused(world, "--customer", "Zoe-Dev", "--date", world.date)  # found, then refused as already done
    assert f"zoe-dev already has a snapshot of {world.date}" in line


def test_dates_in_the_future_or_before_the_window_are_refused(world: World) -> None:
    today = dt.date.fromisoformat(world.date)
    line = _refused(world, "--customer", CUSTOMER, "--date", str(today + dt.timedelta(days=30)))
    assert "in the future" in line and f"to {world.date}" in line
    line = _refused(world, "--customer", CUSTOMER, "--date", str(today - dt.timedelta(days=400)))
    assert "retention window" in line


def test_an_unreachable_github_fails_at_once_naming_the_variable(world: World) -> None:
    line = _refused(world, "--customer", CUSTOMER, BACKHUB_GITHUB_API_URL="http://127.0.0.1:9")
    assert "did not answer" in line and "check BACKHUB_GITHUB_API_URL" in line


def test_a_second_backup_of_a_date_is_refused_unless_replace_which_says_what_it_replaces(
        world: World, home_copy: Path) -> None:
    line = _refused(world, "--customer", CUSTOMER, "--date", world.date)
    assert "add --replace" in line
    done = backhub("backup", "--customer", CUSTOMER, "--date", world.date, "--replace",
                   env=world.with_home(home_copy))
    assert done.returncode == 0, done.stderr
    assert (f"replacing the snapshot of {CUSTOMER} on {world.date} (inventory, issues, repositories, wikis "
            "committed)") in done.stderr


def test_a_key_typed_into_the_ui_is_refused_by_the_step_and_removed_by_the_customers_sensor(
        world: World, home_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assets.partitions import SnapshotKey, customer_partitions
    from backhub_pipeline.cli.runs import first_failure, run_job
    from backhub_pipeline.definitions import definitions_from
    from backhub_pipeline.sensors import customers_sensor
    from backhub_pipeline.settings import Settings
    from backhub_pipeline.wiring import github_resource

    settings = Settings.from_env(world.with_home(home_copy))
    for name, value in settings.environment().items():
        monkeypatch.setenv(name, value)
    bogus = SnapshotKey("acme-crop", world.date)
    with dg.DagsterInstance.from_config(str(home_copy)) as instance:
        instance.add_dynamic_partitions(customer_partitions.name, [bogus.customer])  # what the dialog does
        result = run_job(instance, definitions_from(settings), "snapshot_job", partition_key=bogus.partition_key)
        assert not result.success
        _step, cause = first_failure(result)
        assert cause.endswith("partition acme-crop|" + world.date + " refused: acme-crop is not an installation "
                              "of the GitHub App (did you mean acme-corp?); back up an installed customer, the "
                              "customers sensor removes this key")
        context = dg.build_sensor_context(instance=instance,
                                          resources={"github": github_resource(settings, credentials_from_env=False)})
        outcome = customers_sensor(context)
        deletes = [r for r in outcome.dynamic_partitions_requests if isinstance(r, dg.DeleteDynamicPartitionsRequest)]
        assert [list(r.partition_keys) for r in deletes] == [["acme-crop"]]  # zoe-dev holds data: kept


def test_backup_prints_one_progress_line_per_customer_as_each_ends(world: World, home_copy: Path) -> None:
    done = backhub("backup", "--customer", "acme-corp", "--customer", CUSTOMER, "--date", world.date, "--replace",
                   "--json", env=world.with_home(home_copy))
    assert done.returncode == 0, done.stderr
    progress = [line for line in done.stderr.splitlines() if not line.startswith("replacing ")]
    assert [line.split(":")[0] for line in progress] == ["acme-corp", CUSTOMER]  # in the order they ran
    assert all(re.fullmatch(r"[a-z-]+: committed, \d+ repositories, [\d.]+ [KM]?i?B logical, [\d.]+ [KM]?i?B new, "
                            r"\d+ checks passed", line) for line in progress), progress
    assert [s["customer"] for s in json.loads(done.stdout)] == ["acme-corp", CUSTOMER]  # stdout: only the JSON
