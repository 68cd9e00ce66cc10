"""The operator's view of a day, as an on-call engineer meets it: ``backhub status`` in a terminal and
the ``daily_report`` asset (and a failed run) in the UI, read through the UI's own GraphQL API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

from assets.partitions import SnapshotKey
from backhub_pipeline.cli.backup import take_snapshots
from backhub_pipeline.daily_report_sensor import daily_report_sensor
from backhub_pipeline.definitions import defs
from backhub_pipeline.restore.listing import list_snapshots

REPO_ROOT = Path(__file__).resolve().parents[2]
GHOST = "ghost"  # a customer key with no installation behind it: its run fails at the inventory
LATECOMER = "latecomer"  # a customer key with no run yet

RUN_EVENTS = """
query RunEvents($runId: ID!) {
  runOrError(runId: $runId) {
    ... on Run {
      status
      eventConnection(afterCursor: null) {
        events {
          __typename
          ... on MessageEvent { message level stepKey }
          ... on ExecutionStepFailureEvent { error { message } }
          ... on RunFailureEvent { error { message } }
        }
      }
    }
  }
}
"""


def _status(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "backhub_pipeline.cli", "status", *args], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, timeout=300)


def _files(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


def test_a_day_with_a_committed_a_failed_and_a_missing_customer(backhub) -> None:
    today = backhub.today()
    with backhub.instance() as instance:
        committed = take_snapshots(instance, defs(), [SnapshotKey(customer, today) for customer in backhub.customers])
        (failed,) = take_snapshots(instance, defs(), [SnapshotKey(GHOST, today)])
        instance.add_dynamic_partitions("customer", [LATECOMER])
    assert all(summary.success for summary in committed) and not failed.success

    # The terminal: one row per customer, read-only.
    before = _files(backhub.home)
    listed = _status("--json")
    assert listed.returncode == 1, listed.stderr  # not every customer is backed up
    rows = {row["customer"]: row for row in json.loads(listed.stdout)}
    assert _files(backhub.home) == before
    assert set(rows) == {*backhub.customers, GHOST, LATECOMER}
    for summary in committed:
        row = rows[summary.customer]
        assert row["status"] == "committed" and row["run_id"] == summary.run_id
        # One logical size: the run's own count, the listing of the store and the report agree.
        (listing,) = [item for item in list_snapshots(backhub.store(), summary.customer) if item.date == today]
        assert row["logical_bytes"] == summary.logical_bytes == listing.logical_bytes > 0
        assert row["new_bytes"] == summary.new_bytes == listing.new_bytes > 0
        assert row["api_requests"] == summary.api_requests > 0
    assert rows[GHOST]["status"] == "failed" and rows[GHOST]["run_id"] == failed.run_id
    assert rows[GHOST]["reason"].startswith("inventory:") and "ghost is not an installation" in rows[GHOST]["reason"]
    assert rows[LATECOMER]["status"] == "missing" and rows[LATECOMER]["run_id"] is None

    printed = _status("--date", today)
    assert printed.returncode == 1
    assert "committed" in printed.stdout and "ghost is not an installation" in printed.stdout
    assert "iB" in printed.stdout  # human units in the table
    assert _status("--date", "2026-13-01").returncode == 2

    with backhub.instance() as instance:
        # The sensor asks for the day's report once the runs have ended, and not again for the same runs.
        context = dg.build_sensor_context(instance=instance)
        result = daily_report_sensor(context)
        assert [request.partition_key for request in result.run_requests] == [today]
        again = daily_report_sensor(dg.build_sensor_context(instance=instance, cursor=context.cursor))
        assert isinstance(again, dg.SkipReason)

        report = defs().resolve_job_def("daily_report_job").execute_in_process(instance=instance, partition_key=today)
        # Once the report is built after the runs ended, the same runs never ask for it again.
        assert isinstance(daily_report_sensor(dg.build_sensor_context(instance=instance)), dg.SkipReason)
        (materialization,) = report.asset_materializations_for_node("daily_report")
        metadata = materialization.metadata
        table = metadata["customers"]
        assert isinstance(table, dg.TableMetadataValue)
        assert [column.name for column in table.schema.columns][:2] == ["customer", "status"]
        assert metadata["dagster/row_count"].value == len(table.records) == len(rows)
        assert {record.data["customer"]: record.data["status"] for record in table.records} == {
            name: row["status"] for name, row in rows.items()}
        assert isinstance(metadata["last_committed_at"], dg.TimestampMetadataValue)
        assert isinstance(metadata[f"failed_run/{GHOST}"], dg.UrlMetadataValue)
        assert metadata[f"failed_run/{GHOST}"].value.endswith(f"/runs/{failed.run_id}")

        # The UI: the failed run's first error, and the run's failure, name the root cause.
        with define_out_of_process_context(str(REPO_ROOT / "backhub_pipeline" / "definitions.py"), "defs",
                                           instance) as graphql:
            answer = execute_dagster_graphql(graphql, RUN_EVENTS, {"runId": failed.run_id})
    assert not answer.errors, answer.errors
    run = answer.data["runOrError"]
    assert run["status"] == "FAILURE"
    errors = [event for event in run["eventConnection"]["events"] if event.get("level") == "ERROR"]
    # The snapshot is one step; its failure names the asset that failed first, and why.
    assert errors and errors[0]["__typename"] == "ExecutionStepFailureEvent" and errors[0]["stepKey"] == "snapshot"
    assert "inventory: " in errors[0]["error"]["message"]
    assert "ghost is not an installation" in errors[0]["error"]["message"]
    (run_failure,) = [event for event in run["eventConnection"]["events"] if event["__typename"] == "RunFailureEvent"]
    assert "ghost is not an installation" in run_failure["error"]["message"]
