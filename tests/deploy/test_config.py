"""deploy/ checked as far as this machine allows: the instance file by Dagster's own loader, the code
location by `dagster definitions validate`, the Helm values against the keys the official chart reads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._config import process_config
from dagster._serdes.config_class import class_from_code_pointer
from dagster_postgres.storage import DagsterPostgresStorage

from backhub_pipeline.settings import Settings
from resources.errors import ConfigurationError
from tests.deploy.cluster import DEPLOY, REPO_ROOT

INSTANCE_ENV = {
    "DAGSTER_PG_HOST": "db.internal",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_DB": "backhub",
    "DAGSTER_PG_USERNAME": "backhub",
    "DAGSTER_PG_PASSWORD": "s3cret-password",
    "BACKHUB_MAX_CONCURRENT_RUNS": "6",
    "BACKHUB_COMPUTE_LOGS_BUCKET": "acme-backhub-logs",
    "BACKHUB_COMPUTE_LOGS_PREFIX": "compute-logs",
    "BACKHUB_S3_ENDPOINT_URL": "https://s3.eu-west-1.amazonaws.com",
    "AWS_DEFAULT_REGION": "eu-west-1",
}
SECRET_KEYS = {"password", "username", "hostname", "db_name", "postgres_url", "bucket", "endpoint_url"}


def _home_with(tmp_path: Path, name: str = "dagster.yaml") -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((DEPLOY / name).read_text())
    return home


def _resolved(klass: Any, config: Any) -> dict[str, Any]:
    result = process_config(klass.config_type(), config)
    assert result.success, result.errors
    return result.value


def _leaves(node: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict) and set(node) != {"env"}:
        return [leaf for key, value in node.items() for leaf in _leaves(value, f"{path}.{key}".lstrip("."))]
    if isinstance(node, list):
        return [leaf for i, value in enumerate(node) for leaf in _leaves(value, f"{path}[{i}]")]
    return [(path, node)]


# -- deploy/dagster.yaml --------------------------------------------------------------------------------


def test_production_instance_config_is_valid_and_resolves_from_the_environment(tmp_path, monkeypatch) -> None:
    from dagster._core.instance.config import dagster_instance_config

    for name, value in INSTANCE_ENV.items():
        monkeypatch.setenv(name, value)
    # Dagster's own check of the file against the instance schema ...
    config, _ = dagster_instance_config(str(_home_with(tmp_path)))
    # ... then each pluggable part's config as its class resolves it when the instance loads.
    config = {**config, "storage": {"postgres": _resolved(DagsterPostgresStorage, config["storage"]["postgres"])}}
    for section in ("run_coordinator", "compute_logs"):
        part = config[section]
        config[section] = {**part, "config": _resolved(class_from_code_pointer(part["module"], part["class"]),
                                                        part["config"])}

    postgres = config["storage"]["postgres"]["postgres_db"]
    assert (postgres["hostname"], postgres["db_name"], postgres["password"]) == ("db.internal", "backhub", "s3cret-password")
    coordinator = config["run_coordinator"]
    assert coordinator["class"] == "QueuedRunCoordinator"
    assert coordinator["config"]["max_concurrent_runs"] == 6
    assert coordinator["config"]["tag_concurrency_limits"] == [
        {"key": "dagster/partition/customer", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    ]
    assert config["run_monitoring"]["enabled"] is True
    assert config["run_retries"]["enabled"] is True and config["run_retries"]["max_retries"] >= 1
    logs = config["compute_logs"]
    assert (logs["module"], logs["class"]) == ("dagster_aws.s3.compute_log_manager", "S3ComputeLogManager")
    assert logs["config"]["bucket"] == "acme-backhub-logs"
    assert logs["config"]["endpoint_url"] == "https://s3.eu-west-1.amazonaws.com"


@pytest.mark.parametrize("shipped", [REPO_ROOT / "dagster.yaml", DEPLOY / "dagster.yaml"],
                         ids=["embedded", "production"])
def test_every_shipped_instance_monitors_runs_with_start_cancel_and_run_time_limits(
        shipped: Path, tmp_path, monkeypatch) -> None:
    """Without monitoring, a run whose worker was killed stays STARTED and holds its customer's slot
    forever (tests/pipeline/test_run_monitoring.py shows the daemon freeing it)."""
    from dagster._core.instance.config import dagster_instance_config

    for name, value in INSTANCE_ENV.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(shipped.read_text())
    config, _ = dagster_instance_config(str(home))
    monitoring = config["run_monitoring"]
    assert monitoring["enabled"] is True
    assert 0 < monitoring["start_timeout_seconds"] <= 600 and 0 < monitoring["cancel_timeout_seconds"] <= 600
    # The default run launcher cannot check or resume a worker: a lost run ends by its run-time limit.
    assert 3600 <= monitoring["max_runtime_seconds"] <= 24 * 3600
    assert monitoring["max_resume_run_attempts"] == 0
    assert monitoring["poll_interval_seconds"] <= 120


def test_production_instance_file_holds_no_secret_only_variable_names() -> None:
    document = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    literal = [path for path, value in _leaves(document)
               if path.rsplit(".", 1)[-1] in SECRET_KEYS and not (isinstance(value, dict) and "env" in value)]
    assert literal == [], f"set from the environment instead: {literal}"
    text = (DEPLOY / "dagster.yaml").read_text()
    assert "env: DAGSTER_PG_PASSWORD" in text


def test_a_missing_variable_is_named_when_the_instance_loads(tmp_path, monkeypatch) -> None:
    import dagster as dg

    for name, value in INSTANCE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DAGSTER_PG_PASSWORD")
    with pytest.raises(Exception, match="DAGSTER_PG_PASSWORD"):
        dg.DagsterInstance.from_config(str(_home_with(tmp_path)))


def test_production_instance_loads_against_a_fresh_postgres_database(cluster) -> None:
    """The real thing: Dagster builds every storage, the queue and the S3 log manager from the file."""
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
    from dagster_postgres import PostgresRunStorage

    with cluster.instance() as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert isinstance(instance.compute_log_manager, S3ComputeLogManager)
        assert instance.run_monitoring_enabled and instance.run_retries_enabled
        # The schema upgrade path docs/deploy.md gives: idempotent on an up-to-date database.
        instance.upgrade()
        assert instance.get_runs() == []


# -- the code location ---------------------------------------------------------------------------------


def test_dagster_validates_the_code_location_with_the_celery_executor(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKHUB_")}
    env.update(DAGSTER_HOME=str(tmp_path), BACKHUB_EXECUTOR="celery",
               BACKHUB_CELERY_BROKER_URL="pyamqp://guest:guest@127.0.0.1:5672//")
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "backhub_pipeline.definitions"],
        capture_output=True, text=True, env=env, timeout=300, cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_celery_executor_is_chosen_from_the_environment(monkeypatch) -> None:
    from backhub_pipeline.definitions import defs

    monkeypatch.setenv("BACKHUB_EXECUTOR", "celery")
    monkeypatch.setenv("BACKHUB_CELERY_BROKER_URL", "pyamqp://guest:guest@127.0.0.1:5672//")
    assert defs().resolve_job_def("snapshot_job").executor_def.name == "celery"
    monkeypatch.delenv("BACKHUB_EXECUTOR")
    assert defs().resolve_job_def("snapshot_job").executor_def.name != "celery"


def test_celery_executor_without_a_broker_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="BACKHUB_CELERY_BROKER_URL"):
        Settings.from_env({"BACKHUB_EXECUTOR": "celery"})
    with pytest.raises(ConfigurationError, match="BACKHUB_EXECUTOR"):
        Settings.from_env({"BACKHUB_EXECUTOR": "kubernetes"})


def test_parallelism_is_read_from_the_environment_bounded_and_reaches_the_backup_policy() -> None:
    from backhub_pipeline.wiring import resources_from

    assert Settings.from_env({}).parallelism == 4
    settings = Settings.from_env({"BACKHUB_PARALLELISM": "2"})
    assert settings.parallelism == 2 and settings.environment()["BACKHUB_PARALLELISM"] == "2"
    assert resources_from(settings, credentials_from_env=False)["policy"].parallelism == 2
    for wrong in ("0", "17", "four"):
        with pytest.raises(ConfigurationError, match="BACKHUB_PARALLELISM"):
            Settings.from_env({"BACKHUB_PARALLELISM": wrong})


def test_the_broker_password_stays_out_of_the_settings_repr() -> None:
    settings = Settings.from_env({"BACKHUB_EXECUTOR": "celery",
                                  "BACKHUB_CELERY_BROKER_URL": "pyamqp://backhub:hunter2@mq:5672/backhub"})
    assert settings.celery_broker_url and "hunter2" not in repr(settings)


def test_celery_worker_config_reads_the_same_broker_variable(monkeypatch) -> None:
    import runpy

    monkeypatch.setenv("BACKHUB_CELERY_BROKER_URL", "pyamqp://u:p@mq:5672/backhub")
    monkeypatch.delenv("BACKHUB_CELERY_BACKEND_URL", raising=False)
    settings = runpy.run_path(str(DEPLOY / "celery" / "dagster_celery_config.py"))
    assert settings["broker_url"] == "pyamqp://u:p@mq:5672/backhub"
    assert settings["result_backend"] == "rpc://"
    assert settings["worker_prefetch_multiplier"] == 1
    monkeypatch.delenv("BACKHUB_CELERY_BROKER_URL")
    with pytest.raises(RuntimeError, match="BACKHUB_CELERY_BROKER_URL"):
        runpy.run_path(str(DEPLOY / "celery" / "dagster_celery_config.py"))


# -- Kubernetes: deploy/helm/values.yaml and deploy/Dockerfile --------------------------------------------

# Top-level keys of the official chart's values (helm/dagster/schema/.../values.py in dagster-io/dagster).
CHART_KEYS = {
    "dagsterWebserver", "dagster-user-deployments", "postgresql", "generatePostgresqlPasswordSecret",
    "generateCeleryConfigSecret", "rabbitmq", "redis", "flower", "ingress", "imagePullSecrets",
    "computeLogManager", "scheduler", "runLauncher", "pythonLogs", "dagsterDaemon", "busybox", "migrate",
    "telemetry", "serviceAccount", "global", "retention", "additionalInstanceConfig",
}


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


def test_helm_values_use_only_keys_the_chart_knows(values) -> None:
    assert set(values) <= CHART_KEYS, set(values) - CHART_KEYS
    assert set(values["global"]) <= {"postgresqlSecretName", "dagsterHome", "serviceAccountName",
                                     "celeryConfigSecretName", "dagsterInstanceConfigMap"}
    assert set(values["postgresql"]) <= {"image", "enabled", "postgresqlHost", "postgresqlUsername",
                                         "postgresqlPassword", "postgresqlDatabase", "postgresqlParams",
                                         "postgresqlScheme", "service"}


def test_helm_values_launch_runs_as_kubernetes_jobs_of_the_code_location(values) -> None:
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert set(values["runLauncher"]["config"]) == {"k8sRunLauncher"}
    user = values["dagster-user-deployments"]
    assert user["enabled"] is True
    [deployment] = user["deployments"]
    assert {"name", "image", "port"} <= set(deployment)
    assert {"repository", "tag", "pullPolicy"} <= set(deployment["image"])
    assert deployment["image"]["tag"] != "latest"
    args = deployment["codeServerArgs"]
    assert args[args.index("--module-name") + 1] == "backhub_pipeline.definitions"
    assert args[args.index("--location-name") + 1] == "backhub"
    assert values["dagsterDaemon"]["enabled"] is True
    assert "dagsterWebserver" in values


def test_helm_values_queue_runs_with_the_per_customer_limit_and_monitor_them(values) -> None:
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert (coordinator["enabled"], coordinator["type"]) == (True, "QueuedRunCoordinator")
    queued = coordinator["config"]["queuedRunCoordinator"]
    assert queued["maxConcurrentRuns"] > 0
    assert {"key": "dagster/partition/customer", "value": {"applyLimitPerUniqueValue": True},
            "limit": 1} in queued["tagConcurrencyLimits"]
    monitoring = values["dagsterDaemon"]["runMonitoring"]
    assert monitoring["enabled"] is True
    assert monitoring["startTimeoutSeconds"] > 0 and monitoring["cancelTimeoutSeconds"] > 0
    assert monitoring["maxRuntimeSeconds"] > 0 and monitoring["pollIntervalSeconds"] <= 120
    assert values["dagsterDaemon"]["runRetries"]["enabled"] is True
    logs = values["computeLogManager"]
    assert logs["type"] == "S3ComputeLogManager" and set(logs["config"]) == {"s3ComputeLogManager"}


def test_helm_values_take_every_secret_from_kubernetes_secrets(values) -> None:
    assert values["postgresql"]["enabled"] is False
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"]
    [deployment] = values["dagster-user-deployments"]["deployments"]
    assert deployment["envSecrets"] and values["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"]
    assert any(volume.get("secret") for volume in deployment["volumes"])
    literal = [(path, value) for path, value in _leaves(values) if isinstance(value, str)
               and any(word in path.lower() for word in ("password", "secretkey", "token", "private_key"))
               and path != "postgresql.postgresqlPassword"]
    assert literal == []
    assert values["postgresql"]["postgresqlPassword"] == "unused"


def test_dockerfile_installs_the_code_location_and_serves_it() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11" in text
    assert "git" in text and "pip install ." in text and "dagster-k8s==0.29.27" in text
    assert '"backhub_pipeline.definitions"' in text and "USER backhub" in text
    for path in ("backhub_pipeline", "assets", "resources", "pyproject.toml"):
        assert (REPO_ROOT / path).exists()
