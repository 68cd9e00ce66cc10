"""A backfill on the production shape: Postgres instance, daemon, code server, two Celery workers.

One test, because the set-up is the expensive part (~40 s of imports on two cores): a backfill of
2 customers x 2 dates (the emulator's two installations; yesterday and today by the Clock), with the
daemon killed and restarted while it runs. Each assertion names the property it proves.
"""

from __future__ import annotations

import datetime as dt
import signal
import time
from collections import defaultdict

import boto3
import pytest
from dagster import AssetKey, DagsterEventType, DagsterRunStatus, RunsFilter
from dagster._core.execution.backfill import BulkActionStatus

from assets.catalog import ASSETS, CHECKS
from assets.partitions import BACKUP_ASSETS, CUSTOMER_TAG
from resources.clock import Clock
from resources.snapshot_store import SnapshotStoreResource
from tests.processes import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]

WORKERS = ("alpha", "beta")


def test_a_backfill_spreads_over_celery_workers_and_survives_a_daemon_restart(cluster) -> None:
    customers = sorted(inst["account"].lower() for inst in cluster.emulator.info["installations"])
    today = dt.date.fromisoformat(Clock(offset_days=0).today())
    dates = [(today - dt.timedelta(days=1)).isoformat(), today.isoformat()]
    partitions = [f"{customer}|{date}" for customer in customers for date in dates]
    instance = cluster.instance()
    instance.add_dynamic_partitions("customer", customers)
    instance.add_dynamic_partitions("date", dates)

    for name in WORKERS:  # they start while the code server loads
        cluster.start_worker(name)
    cluster.start_code_server()
    # The daily sensor would snapshot today on its own: stop it so the backfill is the only source of runs.
    cluster.dagster("sensor", "stop", "daily_snapshot_sensor")
    cluster.start_daemon("daemon-1")
    cluster.wait_for_workers(list(WORKERS))

    backfill_id = cluster.launch_backfill(partitions)

    def backfill_runs():
        return instance.get_run_records(RunsFilter(tags={"dagster/backfill": backfill_id}))

    # Kill the daemon (SIGKILL: a crash, not a polite stop) once a run is under way and others wait.
    wait_for(lambda: any(r.dagster_run.status == DagsterRunStatus.STARTED for r in backfill_runs()),
              180, "no backfill run started", cluster.tail_logs)
    cluster.processes["daemon-1"].stop(signal.SIGKILL)
    restarted_at = time.time()
    time.sleep(3)
    cluster.start_daemon("daemon-2")

    backfill = cluster.wait_for_backfill(instance, backfill_id, timeout=360)
    records = backfill_runs()
    detail = "\n".join(f"{r.dagster_run.tags.get('dagster/partition')} {r.dagster_run.status}" for r in records)

    # The backfill completed, with exactly one successful run per partition.
    assert backfill.status == BulkActionStatus.COMPLETED_SUCCESS, f"{backfill.status}\n{detail}\n{cluster.tail_logs()}"
    assert sorted(r.dagster_run.tags["dagster/partition"] for r in records) == sorted(partitions), detail
    assert all(r.dagster_run.status == DagsterRunStatus.SUCCESS for r in records), detail
    # The restart was in the middle: runs were launched by both daemons.
    assert any(r.start_time < restarted_at for r in records), detail
    assert any(r.start_time > restarted_at for r in records), detail

    # Every asset materialized once per partition: nothing twice, across the restart.
    for asset in BACKUP_ASSETS:
        materialized = [record.partition_key for record in
                        instance.fetch_materializations(AssetKey(asset), limit=100).records]
        assert sorted(materialized) == sorted(partitions), asset

    # Every check ran in every run and passed.
    checks_per_run = sum(len(list(definition.check_specs)) for definition in [*ASSETS, *CHECKS])
    assert checks_per_run >= len(ASSETS)
    for record in records:
        evaluations = [event.dagster_event.event_specific_data
                       for event in instance.all_logs(record.dagster_run.run_id,
                                                      of_type=DagsterEventType.ASSET_CHECK_EVALUATION)]
        assert len(evaluations) == checks_per_run, record.dagster_run.tags["dagster/partition"]
        failed = [f"{e.asset_key.to_user_string()}:{e.check_name}" for e in evaluations if not e.passed]
        assert failed == [], failed

    # Steps ran on both Celery workers (dagster-celery records the worker's node name per step).
    seen = defaultdict(set)
    for record in records:
        for event in instance.all_logs(record.dagster_run.run_id, of_type=DagsterEventType.ENGINE_EVENT):
            worker = event.dagster_event.engine_event_data.metadata.get("Celery worker")
            if worker is not None:
                seen[worker.value.split("@")[0]].add(event.dagster_event.step_key)
    assert set(seen) == set(WORKERS), dict(seen)

    # The per-customer limit held: one customer's runs never overlapped in time.
    by_customer = defaultdict(list)
    for record in records:
        by_customer[record.dagster_run.tags[CUSTOMER_TAG]].append((record.start_time, record.end_time))
    assert sorted(by_customer) == customers
    for customer, spans in by_customer.items():
        spans.sort()
        for (_, earlier_end), (later_start, _) in zip(spans, spans[1:], strict=False):
            assert later_start >= earlier_end, f"{customer}: runs overlapped {spans}"
    # ... while different customers did run at once (the workers were shared).
    all_spans = sorted(span for spans in by_customer.values() for span in spans)
    assert any(b[0] < a[1] for a, b in zip(all_spans, all_spans[1:], strict=False)), all_spans

    # No snapshot is corrupted: every blob of every manifest decrypts and matches its id.
    env = cluster.env()
    store = SnapshotStoreResource(store_url=env["BACKHUB_STORE_URL"], keyring_url=env["BACKHUB_KEYRING_URL"],
                                  master_key_uri=env["BACKHUB_MASTER_KEY_URI"],
                                  s3_endpoint_url=env["BACKHUB_S3_ENDPOINT_URL"]).get_client()
    for customer in customers:
        assert sorted(store.list_snapshots(customer)) == dates
        for date in dates:
            report = store.verify(customer, date, read_data=True)
            assert report.ok, report.problems
            assert report.blobs_checked > 0

    # Step logs went to S3 (the compute log manager of deploy/dagster.yaml).
    s3 = boto3.client("s3", endpoint_url=env["BACKHUB_S3_ENDPOINT_URL"])
    logs = s3.list_objects_v2(Bucket=cluster.bucket, Prefix="compute-logs/")
    assert logs.get("KeyCount", 0) > 0
