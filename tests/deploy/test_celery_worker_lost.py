"""A Celery worker lost mid-step: the step is delivered again to the other worker and the snapshot completes.

The production shape (Postgres instance, daemon, code server, two Celery workers, RabbitMQ), one
snapshot run. Once the step is running on a worker and has already materialized its first asset, the
worker is killed with SIGKILL: either its whole process group (a lost VM), or only the pool process
running the step (the OOM killer's choice). With the worker settings of
deploy/celery/dagster_celery_config.py (``task_acks_late``, ``task_reject_on_worker_lost``), the broker
still holds the unacknowledged task and delivers it again: to the surviving worker, or to either when
only the pool process died. The run, which waits in the code server for the task's result, receives it
from there and succeeds, and the snapshot verifies with every blob read. Without late acknowledgement
the task was acknowledged when the killed worker took it: nobody runs it again and the run waits until
run monitoring's ``max_runtime_seconds`` (6 h).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterRunStatus, RunsFilter

from resources.clock import Clock
from resources.snapshot_store import SnapshotStoreResource
from tests.processes import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

WORKERS = ("alpha", "beta")


def _celery_workers(instance, run_id: str) -> list[str]:
    """The workers that took the run's step, in order (dagster-celery's engine event names each)."""
    names = []
    for event in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        worker = event.dagster_event.engine_event_data.metadata.get("Celery worker")
        if worker is not None:
            names.append(worker.value.split("@")[0])
    return names


def _children(pid: int) -> list[int]:
    """The direct children of ``pid`` (a Celery worker's pool processes), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("lost", ["worker", "pool_process"])
def test_a_step_whose_celery_worker_is_killed_completes_on_another_worker(cluster, lost: str) -> None:
    customer = sorted(inst["account"].lower() for inst in cluster.emulator.info["installations"])[0]
    date = Clock(offset_days=0).today()
    partition = f"{customer}|{date}"
    instance = cluster.instance()
    instance.add_dynamic_partitions("customer", [customer])
    instance.add_dynamic_partitions("date", [date])

    for name in WORKERS:
        cluster.start_worker(name)
    cluster.start_code_server()
    cluster.dagster("sensor", "stop", "daily_snapshot_sensor")
    cluster.start_daemon()
    cluster.wait_for_workers(list(WORKERS))

    # Every GitHub answer comes 1.5 s late, so the step is still running when its worker is killed.
    cluster.emulator.control("POST", "faults", json={"rate": 1.0, "kinds": ["slow"]})
    backfill_id = cluster.launch_backfill([partition])
    run = wait_for(lambda: next(iter(instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill_id}))), None),
                    180, "no run created", cluster.tail_logs)
    first = wait_for(lambda: _celery_workers(instance, run.run_id), 240, "no worker took the step", cluster.tail_logs)[0]
    # Mid-step: the first asset is committed, the others are not yet.
    wait_for(lambda: instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION), 240,
              "the step materialized nothing", cluster.tail_logs)
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED
    worker = cluster.processes[f"worker-{first}"]
    if lost == "worker":
        worker.stop(signal.SIGKILL)
    else:
        pool = _children(worker.popen.pid)
        assert pool, "the worker has no pool process"
        for pid in pool:
            os.kill(pid, signal.SIGKILL)
    cluster.emulator.control("POST", "faults", json={"rate": 0.0})

    finished = wait_for(
        lambda: (r := instance.get_run_by_id(run.run_id)).is_finished and r, 300,
        f"run {run.run_id} did not finish after worker {first} was killed", cluster.tail_logs)
    survivor = next(name for name in WORKERS if name != first)

    # The run succeeded, and its step ran a second time: on the surviving worker when the first is gone.
    assert finished.status == DagsterRunStatus.SUCCESS, cluster.tail_logs()
    took = _celery_workers(instance, run.run_id)
    assert len(took) == 2 and took[0] == first, took
    if lost == "worker":
        assert took[1] == survivor
    else:
        assert worker.alive()  # only its pool process died; the worker went on taking tasks
    # The snapshot's last asset is materialized once (the killed attempt had not reached it: the kill was
    # mid-step), and the snapshot is committed and whole.
    wikis = instance.fetch_materializations(AssetKey("wikis"), limit=10).records
    assert [record.partition_key for record in wikis] == [partition]
    env = cluster.env()
    store = SnapshotStoreResource(store_url=env["BACKHUB_STORE_URL"], keyring_url=env["BACKHUB_KEYRING_URL"],
                                  master_key_uri=env["BACKHUB_MASTER_KEY_URI"],
                                  s3_endpoint_url=env["BACKHUB_S3_ENDPOINT_URL"]).get_client()
    assert sorted(store.list_snapshots(customer)) == [date]
    report = store.verify(customer, date, read_data=True)
    assert report.ok, report.problems
    assert report.blobs_checked > 0
