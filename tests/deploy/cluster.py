"""A production-shaped backhub on one machine, as real processes: the tests and bench/scale_bench.py use it.

``Cluster`` owns a fresh Postgres database and a RabbitMQ virtual host of its own, a ``DAGSTER_HOME``
holding deploy/dagster.yaml unchanged, and the processes a VM deployment runs (docs/deploy.md): one code
server, one ``dagster-daemon`` and N Celery workers, each a subprocess in its own process group, with
its log in the cluster's folder. Everything is configured through the environment, as in production.
``close()`` stops every process it started and drops the database and the virtual host, also after a
failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.servers import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
BIN = Path(sys.executable).parent
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
AMQP_HOST, AMQP_PORT = "127.0.0.1", 5672

LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on InvalidSubsetError { message }
    ... on PartitionSetNotFoundError { message }
    ... on UnauthorizedError { message }
  }
}
"""


def reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def services_missing() -> list[str]:
    """The services a production-shaped test needs and cannot reach, named for the error message."""
    missing = []
    if not reachable(PG_HOST, PG_PORT):
        missing.append(f"PostgreSQL at {PG_HOST}:{PG_PORT}")
    if not reachable(AMQP_HOST, AMQP_PORT):
        missing.append(f"RabbitMQ at {AMQP_HOST}:{AMQP_PORT}")
    return missing


def _pg_admin(sql: str) -> None:
    import psycopg2

    connection = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


def _rabbitmqctl(*args: str) -> bool:
    """Manage a virtual host; False when rabbitmqctl is missing or refused (then "/" is shared)."""
    if not shutil.which("rabbitmqctl"):
        return False
    result = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60)
    return result.returncode == 0


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        """Signal the whole process group (a worker's pool, a code server's run workers) and wait."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)  # leftovers of the group, if any
        if self.popen.poll() is None:
            self.popen.wait(timeout=10)


@dataclass
class Cluster:
    root: Path
    backhub_env: Mapping[str, str]
    max_concurrent_runs: int = 4
    worker_concurrency: int = 1
    database: str = field(default_factory=lambda: f"backhub_test_{uuid.uuid4().hex[:12]}")
    vhost: str = field(default_factory=lambda: f"backhub-test-{uuid.uuid4().hex[:12]}")
    processes: dict[str, Process] = field(default_factory=dict)
    emulator: Any = None  # the emulator the cluster backs up, when a fixture gives one
    bucket: str = ""
    _vhost_created: bool = False
    _database_created: bool = False

    def __post_init__(self) -> None:
        self.home = self.root / "dagster_home"
        self.logs = self.root / "logs"
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.grpc_port = free_port()

    # -- set-up and tear-down -------------------------------------------------------------------
    def create(self) -> None:
        _pg_admin(f'CREATE DATABASE "{self.database}"')
        self._database_created = True
        if _rabbitmqctl("add_vhost", self.vhost) and _rabbitmqctl(
            "set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*"
        ):
            self._vhost_created = True
        shutil.copyfile(DEPLOY / "dagster.yaml", self.home / "dagster.yaml")
        workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
        workspace["load_from"][0]["grpc_server"]["port"] = self.grpc_port
        (self.root / "workspace.yaml").write_text(yaml.safe_dump(workspace))

    def close(self) -> None:
        for process in list(self.processes.values()):
            process.stop()
        self.processes.clear()
        if self._database_created:
            _pg_admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            self._database_created = False
        if self._vhost_created:
            _rabbitmqctl("delete_vhost", self.vhost)
            self._vhost_created = False

    def __enter__(self) -> Cluster:
        try:
            self.create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the environment every process shares ---------------------------------------------------
    @property
    def broker_url(self) -> str:
        vhost = self.vhost if self._vhost_created else ""
        return f"pyamqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/{vhost}"

    def env(self, **extra: str) -> dict[str, str]:
        env = {**os.environ, **self.backhub_env}
        env.update({
            "DAGSTER_HOME": str(self.home),
            "DAGSTER_PG_HOST": PG_HOST,
            "DAGSTER_PG_PORT": str(PG_PORT),
            "DAGSTER_PG_DB": self.database,
            "DAGSTER_PG_USERNAME": PG_USER,
            "DAGSTER_PG_PASSWORD": "",
            "PGSSLMODE": "disable",
            "BACKHUB_MAX_CONCURRENT_RUNS": str(self.max_concurrent_runs),
            "BACKHUB_COMPUTE_LOGS_PREFIX": "compute-logs",
            "BACKHUB_EXECUTOR": "celery",
            "BACKHUB_CELERY_BROKER_URL": self.broker_url,
            "PYTHONPATH": os.pathsep.join([str(DEPLOY / "celery"), str(REPO_ROOT)]),
        })  # fmt: skip
        env.update(extra)
        return env

    def instance(self) -> Any:
        """The shared instance, from deploy/dagster.yaml and this cluster's environment."""
        import dagster as dg

        saved = dict(os.environ)
        os.environ.update(self.env())
        try:
            instance = dg.DagsterInstance.from_config(str(self.home))
            # Dagster builds these on first use, resolving their variables then: build them now.
            for part in ("run_coordinator", "run_launcher", "compute_log_manager", "scheduler"):
                getattr(instance, part)
            return instance
        finally:
            os.environ.clear()
            os.environ.update(saved)

    # -- processes ------------------------------------------------------------------------------
    def _spawn(self, name: str, args: list[str], **extra_env: str) -> Process:
        log_path = self.logs / f"{name}.log"
        log = open(log_path, "ab")  # noqa: SIM115 - the child process owns it
        popen = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=self.env(**extra_env),
                                 cwd=self.root, start_new_session=True)
        log.close()
        process = Process(name, popen, log_path)
        self.processes[name] = process
        return process

    def start_code_server(self, timeout: float = 120.0) -> Process:
        process = self._spawn("code-server", [
            str(BIN / "dagster"), "code-server", "start", "-m", "backhub_pipeline.definitions",
            "-h", "127.0.0.1", "-p", str(self.grpc_port), "--location-name", "backhub",
        ])  # fmt: skip
        deadline = time.monotonic() + timeout
        while not reachable("127.0.0.1", self.grpc_port, timeout=0.5):
            if not process.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"code server did not start:\n{process.log()[-4000:]}")
            time.sleep(0.2)
        return process

    def start_daemon(self, name: str = "daemon") -> Process:
        return self._spawn(name, [str(BIN / "dagster-daemon"), "run", "-w", str(self.root / "workspace.yaml")])

    def start_worker(self, name: str) -> Process:
        """A Celery worker named ``name@host``, with a git cache of its own (nothing assumes one host)."""
        return self._spawn(f"worker-{name}", [
            str(BIN / "celery"), "-A", "dagster_celery.app", "worker", "-Q", "dagster",
            "-n", f"{name}@%h", "--concurrency", str(self.worker_concurrency), "--loglevel", "INFO",
            "--without-gossip", "--without-mingle",
        ], BACKHUB_GIT_CACHE_DIR=str(self.root / f"git-cache-{name}"))  # fmt: skip

    def wait_for_workers(self, names: list[str], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        for name in names:
            process = self.processes[f"worker-{name}"]
            while " ready." not in process.log():
                if not process.alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"worker {name} did not become ready:\n{process.log()[-4000:]}")
                time.sleep(0.2)

    # -- what an operator does ------------------------------------------------------------------
    def graphql(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """Run a GraphQL document against the workspace, as the UI would (``dagster-graphql``)."""
        output = self.root / f"graphql-{uuid.uuid4().hex[:8]}.json"
        result = subprocess.run(
            [str(BIN / "dagster-graphql"), "-w", str(self.root / "workspace.yaml"), "-t", query,
             "-v", json.dumps(variables), "-o", str(output)],
            capture_output=True, text=True, env=self.env(), cwd=self.root, timeout=300,
        )  # fmt: skip
        if result.returncode != 0 or not output.exists():
            raise RuntimeError(f"dagster-graphql failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return json.loads(output.read_text())

    def dagster(self, *args: str, timeout: float = 300) -> str:
        """Run the ``dagster`` CLI against this cluster's instance and workspace; returns its output."""
        result = subprocess.run([str(BIN / "dagster"), *args, "-w", str(self.root / "workspace.yaml")],
                                capture_output=True, text=True, env=self.env(), cwd=self.root, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"dagster {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def launch_backfill(self, partition_names: list[str], job: str = "snapshot_job") -> str:
        answer = self.graphql(LAUNCH_BACKFILL, {"params": {
            "selector": {
                "partitionSetName": f"{job}_partition_set",
                "repositorySelector": {"repositoryLocationName": "backhub", "repositoryName": "__repository__"},
            },
            "partitionNames": partition_names,
        }})  # fmt: skip
        launched = (answer.get("data") or {}).get("launchPartitionBackfill") or {}
        if launched.get("__typename") != "LaunchBackfillSuccess":
            raise RuntimeError(f"backfill not launched: {json.dumps(answer)[:4000]}")
        return launched["backfillId"]

    def wait_for_backfill(self, instance: Any, backfill_id: str, timeout: float) -> Any:
        from dagster._core.execution.backfill import BulkActionStatus

        deadline = time.monotonic() + timeout
        while True:
            backfill = instance.get_backfill(backfill_id)
            if backfill.status not in (BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING):
                return backfill
            if time.monotonic() > deadline:
                raise TimeoutError(f"backfill {backfill_id} still {backfill.status} after {timeout}s\n{self.tail_logs()}")
            time.sleep(1)

    def tail_logs(self, chars: int = 3000) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.log()[-chars:]}" for p in self.processes.values())
