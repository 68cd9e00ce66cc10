"""The code location loads, and the CLI answers, without touching the network or the environment."""

from __future__ import annotations

import os
import subprocess
import sys

from backhub_pipeline.definitions import defs


def test_cli_lists_commands() -> None:
    result = subprocess.run([sys.executable, "-m", "backhub_pipeline.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "emulator" in result.stdout


def test_dagster_validates_the_code_location_without_any_configuration(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKHUB_")}
    env["DAGSTER_HOME"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "backhub_pipeline.definitions"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_definitions_pin_the_assets_checks_jobs_and_sensors() -> None:
    definitions = defs()
    assert {key.to_user_string() for key in definitions.resolve_asset_graph().get_all_asset_keys()} == {
        "inventory", "repositories", "issues", "wikis", "daily_report"}
    checks = {(key.asset_key.to_user_string(), key.name) for key in definitions.resolve_asset_graph().asset_check_keys}
    assert checks == {
        ("inventory", "blobs_decrypt"), ("repositories", "blobs_decrypt"), ("issues", "blobs_decrypt"),
        ("wikis", "blobs_decrypt"), ("repositories", "git_data_restores"), ("wikis", "git_data_restores"),
        ("repositories", "covers_inventory"), ("issues", "covers_inventory"), ("wikis", "covers_inventory"),
        ("issues", "issue_table_is_valid"),
    }
    blocking = {(key.asset_key.to_user_string(), key.name) for key in definitions.resolve_asset_graph().asset_check_keys
                if definitions.resolve_asset_graph().get_check_spec(key).blocking}
    assert blocking == {(asset, "blobs_decrypt") for asset in ("inventory", "repositories", "issues", "wikis")} | {
        ("repositories", "git_data_restores"), ("wikis", "git_data_restores")}
    assert definitions.resolve_job_def("deep_verify_job") is not None
    assert definitions.resolve_job_def("daily_report_job") is not None
    assert {sensor.name for sensor in definitions.sensors} >= {"customers_sensor", "daily_snapshot_sensor",
                                                               "deep_verify_sensor", "daily_report_sensor"}


def test_a_snapshot_runs_as_one_step_with_its_assets_and_checks() -> None:
    job = defs().resolve_job_def("snapshot_job")
    assert [node.name for node in job.graph.nodes] == ["snapshot"]
    assert len(job.asset_layer.asset_graph.asset_check_keys) == 10
