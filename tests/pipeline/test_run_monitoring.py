"""A run whose processes are killed mid-way does not hold its customer's slot forever.

The embedded instance (./dagster.yaml, SQLite), a real ``dagster-daemon`` with its code server, and two
queued runs of one customer (the per-customer limit lets one run at a time). The daemon, its code
server and the running run's worker are killed with SIGKILL, as a crash or a reboot would: nobody is
left to report the run's end, so it stays STARTED. After a restart, run monitoring fails it and the
customer's queued run is launched and starts. Only the killed run's time limit is shortened for the test (its
``dagster/max_runtime`` tag), and the monitoring poll; that monitoring runs at all is the shipped file's.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster import DagsterEventType, DagsterRunStatus, RunsFilter

from resources.clock import Clock
from tests.deploy.cluster import LAUNCH_BACKFILL
from tests.installation import REPO_ROOT, installation_environment
from tests.processes import kill_tree, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

BIN = Path(sys.executable).parent
WORKSPACE = REPO_ROOT / "workspace.yaml"
# The killed run's own limit (the `dagster/max_runtime` tag, read by run monitoring): the queued run keeps
# the shipped instance-wide limit, which a healthy run never reaches.
TEST_MAX_RUNTIME_SECONDS = 30


def daemon_logs(daemon: Daemon):
    return lambda: f"--- daemon ---\n{daemon.tail()}"


class Daemon:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", str(WORKSPACE)],
                                            stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                            cwd=REPO_ROOT, start_new_session=True)

    def kill(self) -> None:
        if self.process is not None:
            kill_tree(self.process)
            self.process = None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def _run(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_a_run_killed_mid_way_is_failed_by_monitoring_and_the_customers_next_run_proceeds(
    tmp_path: Path, fresh_emulator, moto_server
) -> None:
    env = {**os.environ, **installation_environment(fresh_emulator, moto_server.endpoint_url, tmp_path)}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
    home = Path(env["DAGSTER_HOME"])
    # The shipped instance file, polled more often: whether monitoring is on is the file's.
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    config.setdefault("run_monitoring", {}).update(poll_interval_seconds=2)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))

    customer = sorted(inst["account"].lower() for inst in fresh_emulator.info["installations"])[0]
    today = dt.date.fromisoformat(Clock(offset_days=0).today())
    dates = [(today - dt.timedelta(days=2)).isoformat(), (today - dt.timedelta(days=1)).isoformat()]
    instance = dg.DagsterInstance.from_config(str(home))
    instance.add_dynamic_partitions("customer", [customer])
    instance.add_dynamic_partitions("date", dates)
    # Only the two runs below: the daily sensor would add today's.
    _run(env, str(BIN / "dagster"), "sensor", "stop", "-w", str(WORKSPACE), "daily_snapshot_sensor")
    # Every GitHub answer comes late, so the first run is still in its step when it is killed.
    fresh_emulator.control("POST", "faults", json={"rate": 1.0, "kinds": ["slow"]})

    daemon = Daemon(env, tmp_path / "daemon.log")
    daemon.start()
    try:
        output = tmp_path / f"graphql-{uuid.uuid4().hex[:8]}.json"
        _run(env, str(BIN / "dagster-graphql"), "-w", str(WORKSPACE), "-t", LAUNCH_BACKFILL, "-o", str(output),
             "-v", json.dumps({"params": {
                 "selector": {"partitionSetName": "snapshot_job_partition_set",
                              "repositorySelector": {"repositoryLocationName": "backhub",
                                                     "repositoryName": "__repository__"}},
                 "partitionNames": [f"{customer}|{date}" for date in dates]}}))
        launched = json.loads(output.read_text())["data"]["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        backfill = {"dagster/backfill": launched["backfillId"]}

        def runs() -> list[dg.DagsterRun]:
            return [record.dagster_run for record in instance.get_run_records(RunsFilter(tags=backfill))]

        def one_started_one_queued():
            current = runs()
            started = [run for run in current if run.status == DagsterRunStatus.STARTED]
            queued = [run for run in current if run.status == DagsterRunStatus.QUEUED]
            return (started[0], queued[0]) if len(current) == 2 and started and queued else None

        killed, waiting = wait_for(one_started_one_queued, 400, "one run started, the other queued", daemon_logs(daemon))

        daemon.kill()  # the daemon, its code server and the run's worker: nobody reports the run's end
        fresh_emulator.control("POST", "faults", json={"rate": 0.0})
        assert instance.get_run_by_id(killed.run_id).status == DagsterRunStatus.STARTED
        instance.add_run_tags(killed.run_id, {"dagster/max_runtime": str(TEST_MAX_RUNTIME_SECONDS)})

        daemon.start()
        wait_for(lambda: instance.get_run_by_id(killed.run_id).is_finished, TEST_MAX_RUNTIME_SECONDS + 300,
                  "the killed run marked finished by monitoring", daemon_logs(daemon))
        assert instance.get_run_by_id(killed.run_id).status == DagsterRunStatus.FAILURE
        # The customer's slot is free again: its queued run is launched (a whole run takes minutes more).
        wait_for(lambda: instance.get_run_by_id(waiting.run_id).status != DagsterRunStatus.QUEUED, 300,
                  "the customer's queued run launched", daemon_logs(daemon))
        wait_for(lambda: instance.all_logs(waiting.run_id, of_type=DagsterEventType.RUN_START), 300,
                  "the customer's queued run started", daemon_logs(daemon))
        assert instance.get_run_by_id(waiting.run_id).status in (DagsterRunStatus.STARTED, DagsterRunStatus.SUCCESS)
        reasons = [event.message or "" for event in instance.all_logs(killed.run_id)
                   if event.dagster_event and event.dagster_event.event_type in
                   (DagsterEventType.RUN_CANCELING, DagsterEventType.RUN_FAILURE)]
        assert any("maximum runtime" in reason for reason in reasons), reasons
    finally:
        daemon.kill()
        instance.dispose()
