"""What the Dagster UI shows about each definition, read through its own GraphQL API: every sensor,
job and asset check explains itself, and the launchpad of restore and verify shows their small config,
never where the store, keyring or audit log live."""

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

LAUNCHPAD = """
query Launchpad($selector: PipelineSelector!) {
  runConfigSchemaOrError(selector: $selector) { ... on RunConfigSchema { rootDefaultYaml } }
}
"""
LOCATIONS = {"BACKHUB_STORE_URL": "store", "BACKHUB_KEYRING_URL": "keyring", "BACKHUB_AUDIT_URL": "audit"}


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The UI's answers for a code location configured as in production: locations in variables."""
    home = tmp_path_factory.mktemp("home")
    (home / "dagster").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        for variable, folder in LOCATIONS.items():
            patch.setenv(variable, (home / folder).as_uri())
        patch.setenv("BACKHUB_MASTER_KEY_URI", (home / "master-keyset.json").as_uri())
        patch.setenv("BACKHUB_GIT_CACHE_DIR", str(home / "git-cache"))
        with dg.instance_for_test(temp_dir=str(home / "dagster")) as instance, define_out_of_process_context(
            str(REPO_ROOT / "backhub_pipeline" / "definitions.py"), "defs", instance
        ) as context:
            found = {"definitions": execute_dagster_graphql(context, DEFINITIONS), "home": str(home)}
            for job in ("restore_job", "verify_job"):
                selector = {"repositoryLocationName": "test_location", "repositoryName": "__repository__",
                            "pipelineName": job}
                found[job] = execute_dagster_graphql(context, LAUNCHPAD, {"selector": selector})
    for name, result in found.items():
        assert name == "home" or not result.errors, result.errors
    return found


@pytest.fixture(scope="module")
def repository(answers: dict) -> dict:
    (node,) = answers["definitions"].data["repositoriesOrError"]["nodes"]
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


@pytest.mark.parametrize("job", ["restore_job", "verify_job"])
def test_the_launchpad_shows_no_path_or_url_of_the_store_keyring_or_audit_log(answers: dict, job: str) -> None:
    default = answers[job].data["runConfigSchemaOrError"]["rootDefaultYaml"]
    assert "customer" in default or "ops" in default
    assert answers["home"] not in default and "file://" not in default
