"""Every instance config we ship evaluates sensors in threads and submits a tick's runs in parallel."""

import shutil
from pathlib import Path

import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config

from tests.deploy.cluster import DEPLOY, REPO_ROOT


@pytest.mark.parametrize("path", [REPO_ROOT / "dagster.yaml", DEPLOY / "dagster.yaml"], ids=["embedded", "vm"])
def test_instance_files_submit_a_ticks_runs_from_several_threads(path: Path, tmp_path) -> None:
    shutil.copyfile(path, tmp_path / "dagster.yaml")
    sensors = yaml.safe_load(path.read_text())["sensors"]
    assert sensors["use_threads"] is True and sensors["num_workers"] >= 2 and sensors["num_submit_workers"] >= 2
    # Dagster's own schema accepts the keys (the VM file's env references resolve only when it loads).
    if path.parent == REPO_ROOT:
        config, _ = dagster_instance_config(str(tmp_path))
        assert config["sensors"] == sensors


def test_helm_values_submit_a_ticks_runs_from_several_threads() -> None:
    sensors = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())["dagsterDaemon"]["sensors"]
    # The chart's Sensors model (helm/dagster/schema: useThreads, numWorkers, numSubmitWorkers).
    assert set(sensors) <= {"useThreads", "numWorkers", "numSubmitWorkers"}
    assert sensors["useThreads"] is True and sensors["numSubmitWorkers"] >= 2
