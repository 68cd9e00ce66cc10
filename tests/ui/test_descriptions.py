"""What the Dagster UI shows about each definition, read through its own GraphQL API: every sensor,
job and asset check explains itself."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

REPO_ROOT = Path(__file__).resolve().parents[2]

DEFINITIONS = """
query Definitions {
  repositoriesOrError {
    ... on RepositoryConnection {
      nodes {
        jobs { name description }
        sensors { name description }
        schedules { name description }
        assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks { name description } } } }
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("home")
    with dg.instance_for_test(temp_dir=str(home)) as instance, define_out_of_process_context(
        str(REPO_ROOT / "backhub_pipeline" / "definitions.py"), "defs", instance
    ) as context:
        result = execute_dagster_graphql(context, DEFINITIONS)
    assert not result.errors, result.errors
    (node,) = result.data["repositoriesOrError"]["nodes"]
    return node


def test_every_job_has_a_description(repository: dict) -> None:
    jobs = [job for job in repository["jobs"] if not job["name"].startswith("__")]
    assert {job["name"] for job in jobs} >= {"snapshot_job", "restore_job", "verify_job"}
    assert [job["name"] for job in jobs if not job["description"]] == []


def test_every_sensor_and_schedule_has_a_description(repository: dict) -> None:
    instigators = repository["sensors"] + repository["schedules"]
    assert {sensor["name"] for sensor in repository["sensors"]} >= {"customers_sensor", "daily_snapshot_sensor"}
    assert [item["name"] for item in instigators if not item["description"]] == []


def test_every_asset_check_has_a_description(repository: dict) -> None:
    checks = [(node["assetKey"]["path"][-1], check) for node in repository["assetNodes"]
              for check in node["assetChecksOrError"].get("checks", [])]
    assert len(checks) >= 10
    assert [f"{asset}:{check['name']}" for asset, check in checks if not check["description"]] == []
