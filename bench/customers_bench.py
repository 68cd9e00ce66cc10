"""Many customers on one Postgres-backed instance: sensor ticks, run creation, UI queries, event-log size.

    .venv/bin/python -m bench.customers_bench [--customers 1000,3000] [--days 30] [--write-readme]

Needs PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres): each size gets a fresh database, dropped
afterwards. Per size: an emulator with ``--customers N`` (one small repository each; the sensors list
the installations page by page from it, as from GitHub), then ``--days`` days of history written
straight into the instance (per customer and day: one finished ``snapshot_job`` run with its partition
tags and the four assets' materializations, written in batches through the event log; runs are
inserted in batches too, with the run storage's own insertion values). Today starts empty.

Then, in order, timing each with the instance and resources a daemon would use:

1. every sensor's tick (customers; daily snapshot, whose run requests are then created as runs, a
   sample of them one at a time and with 4 threads, as the daemon's threaded submission does);
2. half the customers' today landing (materializations and four check evaluations each, one in 20
   failing), then the missed-backup, check-failure, retention, daily report and deep verification
   ticks (the alert sensors twice: a first tick, then an unchanged one);
3. ``get_materialized_partitions`` of one asset, and the UI's GraphQL queries against a
   ``dagster-webserver`` on this instance: the asset catalog with partition counts, and the partition
   status of one asset, first (cold) and second load;
4. the event log's size in Postgres.

Not part of the test suite: it takes minutes per thousand customers.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

from bench.readme import write_section

REPO_ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- customers-bench:start -->", "<!-- customers-bench:end -->"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
RUN_BATCH = 500  # (customer, date) runs per insert
FAILED_EVERY = 20  # one customer in this many fails a check today

CATALOG = """query Catalog { assetNodes { assetKey { path } isPartitioned
  partitionStats { numMaterialized numMaterializing numPartitions numFailed } } }"""
PARTITIONS = """query PartitionStatus($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) {
  ... on AssetNode { assetKey { path } assetPartitionStatuses { __typename
    ... on MultiPartitionStatuses { primaryDimensionName ranges { primaryDimStartKey primaryDimEndKey
      secondaryDim { __typename ... on DefaultPartitionStatuses {
        materializedPartitions failedPartitions materializingPartitions unmaterializedPartitions } } } } } } } }"""


def _pg(sql: str, dbname: str = "postgres") -> list[tuple]:
    import psycopg2

    connection = psycopg2.connect(dbname=dbname, **PG)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def _timed(what: str, results: dict, call):
    started = time.perf_counter()
    value = call()
    results[what] = round(time.perf_counter() - started, 3)
    print(f"  {what}: {results[what]:.3f} s", flush=True)
    return value


def _instance_yaml(db: str) -> str:
    return f"""storage:
  postgres:
    postgres_db: {{hostname: {PG['host']}, port: {PG['port']}, db_name: {db}, username: {PG['user']},
                  password: "", scheme: postgresql+psycopg2}}
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 4
    tag_concurrency_limits: [{{key: dagster/partition/customer, value: {{applyLimitPerUniqueValue: true}}, limit: 1}}]
telemetry: {{enabled: false}}
"""


def _write_runs(instance, rows: list[tuple[str, str, str]], status) -> None:
    """Finished snapshot runs (run id, customer, date) in one insert per RUN_BATCH, as add_run writes them."""
    from dagster import DagsterRun, serialize_value
    from dagster._core.storage.runs.schema import RunsTable, RunTagsTable

    from assets.partitions import CUSTOMER_TAG, SnapshotKey

    storage = instance.run_storage
    for start in range(0, len(rows), RUN_BATCH):
        runs, tags = [], []
        for run_id, customer, date in rows[start : start + RUN_BATCH]:
            created = dt.datetime.combine(dt.date.fromisoformat(date), dt.time(1), dt.UTC).replace(tzinfo=None)
            key = str(SnapshotKey(customer, date).partition_key)
            run = DagsterRun(job_name="snapshot_job", run_id=run_id, status=status,
                             tags={"dagster/partition": key, CUSTOMER_TAG: customer, "dagster/partition/date": date})
            # add_run's own columns (SqlRunStorage._get_run_insertion_values, which reflects the table
            # once per run to look for backfill_id: here once per history)
            values = {"run_id": run_id, "pipeline_name": run.job_name, "status": status.value,
                      "run_body": serialize_value(run), "snapshot_id": None, "partition": key, "partition_set": None,
                      "backfill_id": None, "create_timestamp": created,
                      "update_timestamp": created + dt.timedelta(minutes=10),
                      "start_time": created.timestamp(), "end_time": created.timestamp() + 600}  # fmt: skip
            runs.append(values)
            tags += [{"run_id": run_id, "key": k, "value": v} for k, v in run.tags_for_storage().items()]
        with storage.connect() as conn:
            conn.execute(RunsTable.insert(), runs)
            conn.execute(RunTagsTable.insert(), tags)


def _materializations(rows: list[tuple[str, str, str]], assets: tuple[str, ...]) -> list:
    from dagster import AssetKey, AssetMaterialization, DagsterEvent, DagsterEventType
    from dagster._core.events import StepMaterializationData
    from dagster._core.events.log import EventLogEntry

    from assets.partitions import SnapshotKey

    entries = []
    for run_id, customer, date in rows:
        key = str(SnapshotKey(customer, date).partition_key)
        when = dt.datetime.combine(dt.date.fromisoformat(date), dt.time(1, 5), dt.UTC).timestamp()
        for asset in assets:
            event = DagsterEvent(
                event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value, job_name="snapshot_job",
                step_key="snapshot",
                event_specific_data=StepMaterializationData(AssetMaterialization(AssetKey(asset), partition=key)),
            )  # fmt: skip
            entries.append(EventLogEntry(error_info=None, level=20, user_message="", run_id=run_id,
                                         timestamp=when, step_key="snapshot", job_name="snapshot_job",
                                         dagster_event=event))  # fmt: skip
    return entries


def _check_evaluations(rows: list[tuple[str, str, str]], failing: set[str]) -> list:
    from dagster import AssetCheckEvaluation, AssetKey, DagsterEvent, DagsterEventType
    from dagster._core.events.log import EventLogEntry

    from assets.partitions import BACKUP_ASSETS, SnapshotKey

    entries = []
    for run_id, customer, date in rows:
        key = str(SnapshotKey(customer, date).partition_key)
        for asset in BACKUP_ASSETS:
            evaluation = AssetCheckEvaluation(asset_key=AssetKey(asset), check_name="manifest_readable",
                                              passed=not (customer in failing and asset == "inventory"),
                                              partition=key)  # fmt: skip
            event = DagsterEvent(event_type_value=DagsterEventType.ASSET_CHECK_EVALUATION.value,
                                 job_name="snapshot_job", step_key="snapshot", event_specific_data=evaluation)
            entries.append(EventLogEntry(error_info=None, level=20, user_message="", run_id=run_id,
                                         timestamp=time.time(), step_key="snapshot", job_name="snapshot_job",
                                         dagster_event=event))  # fmt: skip
    return entries


def _store(instance, entries: list, batch: int = 2000) -> None:
    from dagster import DagsterEventType

    storage = instance.event_log_storage
    for start in range(0, len(entries), batch):
        chunk = entries[start : start + batch]
        if chunk[0].dagster_event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            storage.store_event_batch(chunk)
        else:
            for entry in chunk:  # check evaluations are not batch-writable
                storage.store_event(entry)


def _graphql(url: str, query: str, variables: dict | None = None) -> tuple[float, int]:
    started = time.perf_counter()
    response = requests.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=600)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors'][:2]}")
    return elapsed, len(response.content)


def _start_webserver(home: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    from tests.servers import free_port

    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-webserver"), "-w", str(REPO_ROOT / "workspace.yaml"),
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO_ROOT, env={**os.environ, **env, "DAGSTER_HOME": str(home)},
        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dagster-webserver exited: {log.read_text()[-2000:]}")
        try:
            if requests.get(f"{url}/server_info", timeout=5).ok:
                # The code location loads after the server answers: wait until the assets are there.
                if _graphql(url, "{ assetNodes { id } }")[1] > 100:
                    return process, url
        except (requests.RequestException, RuntimeError):
            pass
        time.sleep(2)
    raise RuntimeError("dagster-webserver did not answer within 300 s")


def measure(customers: int, days: int, root: Path) -> dict:  # noqa: PLR0915 - one measurement, in order
    import dagster as dg
    from dagster._core.remote_origin import (
        RegisteredCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.run_coordinator import SubmitRunContext

    from assets.partitions import (
        BACKUP_ASSETS,
        CUSTOMER_TAG,
        SnapshotKey,
        customer_partitions,
        date_partitions,
    )
    from assets.policy import BackupPolicy
    from backhub_pipeline.alert_sensors import check_failure_alert_sensor, missed_backup_sensor
    from backhub_pipeline.daily_report_sensor import daily_report_sensor
    from backhub_pipeline.deep_verification import deep_verify_sensor
    from backhub_pipeline.definitions import definitions_from
    from backhub_pipeline.retention.sensor import retention_sensor
    from backhub_pipeline.sensors import customers_sensor, daily_snapshot_sensor
    from backhub_pipeline.settings import Settings
    from github_emulator.process import start_emulator
    from resources.alerts import AlertService
    from resources.clock import Clock
    from resources.github import GitHubAppResource
    from resources.keyring import initialise

    results: dict = {"customers": customers, "days": days}
    work = root / f"n{customers}"
    work.mkdir(parents=True)
    db = f"bench_customers_{uuid.uuid4().hex[:10]}"
    _pg(f"CREATE DATABASE {db}")
    home = work / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(_instance_yaml(db))
    emulator = webserver = None
    try:
        print(f"{customers} customers: seeding the emulator", flush=True)
        emulator = _timed("emulator seeding (s)", results, lambda: start_emulator(
            work / "emulator", info_path=work / "emulator-info.json", log_path=work / "emulator.log",
            customers=customers, rate_limit=10**9, timeout=3600))  # fmt: skip
        info = emulator.info
        env = {
            "BACKHUB_GITHUB_API_URL": info["api_url"], "BACKHUB_GITHUB_APP_ID": str(info["app_id"]),
            "BACKHUB_GITHUB_APP_PRIVATE_KEY_PATH": info["private_key_path"],
            "BACKHUB_STORE_URL": (work / "store").as_uri(), "BACKHUB_KEYRING_URL": (work / "keyring").as_uri(),
            "BACKHUB_MASTER_KEY_URI": (work / "master.json").as_uri(), "BACKHUB_AUDIT_URL": (work / "audit").as_uri(),
            "BACKHUB_CLOCK_OFFSET_DAYS": "0", "BACKHUB_RETENTION_DAYS": str(days),
        }  # fmt: skip
        initialise(env["BACKHUB_KEYRING_URL"], env["BACKHUB_MASTER_KEY_URI"])
        accounts = sorted(inst["account"].lower() for inst in info["installations"])
        clock = Clock()
        today = clock.now().date()
        history = [(today - dt.timedelta(days=n)).isoformat() for n in range(days, 0, -1)]
        results["history_dates"] = f"{history[0]} .. {history[-1]} (today {today} empty)"
        github = GitHubAppResource(api_url=info["api_url"], app_id=str(info["app_id"]),
                                   private_key_path=info["private_key_path"])
        resources = {"github": github, "clock": clock, "policy": BackupPolicy(retention_days=days - 1),
                     "alerter": AlertService(variables={}, ui_url="http://ui.test:3000", missed_backup_deadline_hours=0)}
        instance = dg.DagsterInstance.from_config(str(home))

        print(f"  writing {len(accounts) * days:,} runs and {len(accounts) * days * 4:,} materializations", flush=True)

        def history_write() -> None:
            instance.add_dynamic_partitions(customer_partitions.name, accounts)
            instance.add_dynamic_partitions(date_partitions.name, history)
            for date in history:
                rows = [(uuid.uuid4().hex, customer, date) for customer in accounts]
                _write_runs(instance, rows, dg.DagsterRunStatus.SUCCESS)
                _store(instance, _materializations(rows, BACKUP_ASSETS))

        _timed("history write (s)", results, history_write)

        def tick(name, sensor, cursor=None):
            context = dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor)
            result = _timed(name, results, lambda: sensor(context))
            return result, context.cursor

        print("  ticks", flush=True)
        tick("customers sensor (s)", customers_sensor)
        daily, _ = tick("daily snapshot sensor (s)", daily_snapshot_sensor)
        requests_ = list(daily.run_requests) if isinstance(daily, dg.SensorResult) else []
        results["daily run requests"] = len(requests_)
        results["daily run requests KB"] = round(len(dg.serialize_value(requests_)) / 1024, 1)
        instance.add_dynamic_partitions(date_partitions.name, [today.isoformat()])

        # Run creation as the daemon does it for each request: the run with its execution plan, then
        # submitted to the queue. A sample, one at a time and with 4 threads (num_submit_workers).
        os.environ.update(env)
        definitions = definitions_from(Settings.from_env())
        job = definitions.resolve_job_def("snapshot_job")
        origin = RemoteJobOrigin(RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("backhub"), "__repository__"),
                                 "snapshot_job")  # where the daemon's runs come from: the workspace's location
        sample = requests_[: min(len(requests_), 101)]

        def create(request) -> None:
            key = SnapshotKey.parse(str(request.partition_key))
            tags = {"dagster/partition": str(key.partition_key), CUSTOMER_TAG: key.customer,
                    "dagster/partition/date": key.date, "dagster/run_key": request.run_key,
                    "dagster/sensor_name": "daily_snapshot_sensor"}
            run = instance.create_run_for_job(job_def=job, run_config={}, tags=tags, remote_job_origin=origin)
            instance.run_coordinator.submit_run(SubmitRunContext(run, workspace=None))

        create(sample[0])  # the first run also stores the job's snapshots: not what every run costs
        sample = sample[1:]
        half = len(sample) // 2
        seq = _timed("run creation, sequential (s)", results, lambda: [create(r) for r in sample[:half]])
        del seq
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            _timed("run creation, 4 threads (s)", results, lambda: list(pool.map(create, sample[half:])))
        results["runs created (timed)"] = len(sample)
        each_seq = results["run creation, sequential (s)"] / max(half, 1)
        each_par = results["run creation, 4 threads (s)"] / max(len(sample) - half, 1)
        results["run creation per run, sequential (s)"] = round(each_seq, 4)
        results["run creation per run, 4 threads (s)"] = round(each_par, 4)
        results["a day's runs, 4 threads (min)"] = round(each_par * len(accounts) / 60, 1)

        # Half the customers' today lands; one in FAILED_EVERY of them fails a check.
        landed = accounts[::2]
        rows = [(uuid.uuid4().hex, customer, today.isoformat()) for customer in landed]
        _write_runs(instance, rows, dg.DagsterRunStatus.SUCCESS)
        _store(instance, _materializations(rows, BACKUP_ASSETS))
        failing = set(landed[::FAILED_EVERY])
        print(f"  {len(rows)} customers' today landed; {len(rows) * 4} check evaluations", flush=True)
        _store(instance, _check_evaluations(rows, failing))
        tick("missed-backup sensor, first tick (s)", missed_backup_sensor)
        tick("missed-backup sensor, unchanged tick (s)", missed_backup_sensor)
        first, _ = tick("check-failure sensor, first tick (s)", check_failure_alert_sensor)
        results["check failures alerted"] = first.skip_message.split(" failed check")[0].removeprefix("alerted ")
        more = [(uuid.uuid4().hex, customer, today.isoformat()) for customer in accounts[1:200:2]]
        _store(instance, _check_evaluations(more, set()))
        tick("check-failure sensor, next tick, 400 new evaluations (s)", check_failure_alert_sensor)
        tick("retention sensor (s)", retention_sensor)
        tick("daily report sensor (s)", daily_report_sensor)
        tick("deep verification sensor (s)", deep_verify_sensor)

        asset = dg.AssetKey("repositories")
        keys = _timed("get_materialized_partitions, one asset (s)", results,
                      lambda: instance.get_materialized_partitions(asset))
        results["materialized partitions of one asset"] = len(keys)

        print("  UI (dagster-webserver)", flush=True)
        webserver, url = _start_webserver(home, env, work / "webserver.log")
        for attempt in ("first", "second"):
            took, size = _graphql(url, CATALOG)
            results[f"UI catalog with partition counts, {attempt} load (s)"] = round(took, 2)
            took, size2 = _graphql(url, PARTITIONS, {"key": {"path": ["repositories"]}})
            results[f"UI partition status of one asset, {attempt} load (s)"] = round(took, 2)
        results["UI catalog response KB"] = round(size / 1024, 1)
        results["UI partition status response KB"] = round(size2 / 1024, 1)
        print(f"  UI: {results}", flush=True)

        [(rows_, total, table, index)] = _pg(
            "SELECT count(*), pg_total_relation_size('event_logs'), pg_relation_size('event_logs'), "
            "pg_indexes_size('event_logs') FROM event_logs", db)
        results["event_logs rows"] = rows_
        results["event_logs MB (table + indexes)"] = round(total / 2**20, 1)
        results["event_logs MB per day of history"] = round(total / 2**20 / (days + 0.5), 2)
        results["database MB"] = round(_pg(f"SELECT pg_database_size('{db}')")[0][0] / 2**20, 1)
        del table, index
        instance.dispose()
        return results
    finally:
        if webserver is not None:
            os.killpg(webserver.pid, 15)
            webserver.wait(timeout=60)
        if emulator is not None:
            emulator.stop()
        _pg(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def _table(runs: list[dict]) -> str:
    keys = [k for k in runs[0] if k not in ("customers", "days", "history_dates")]
    lines = ["| measurement | " + " | ".join(f"{r['customers']:,} customers" for r in runs) + " |",
             "|---|" + "---:|" * len(runs)]
    lines += [f"| {k} | " + " | ".join(f"{r.get(k, '')}" for r in runs) + " |" for k in keys]
    return "\n".join(lines)


def write_readme(runs: list[dict], notes: str) -> None:
    section = "\n".join([
        START, "## Many customers on one instance (`python -m bench.customers_bench`)", "",
        f"Measured {dt.date.today()} on {os.cpu_count()} cores ({platform.machine()}), {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; Postgres on the same machine; "
        f"{runs[0]['days']} days of history ({runs[0]['history_dates']}).", "",
        _table(runs), "", notes.strip(), END,
    ])  # fmt: skip
    write_section(START, END, section)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", default="1000", help="comma-separated sizes (default 1000)")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--write-readme", action="store_true", help="replace this benchmark's README section")
    parser.add_argument("--notes", type=Path, help="a file of notes for the README section")
    args = parser.parse_args(argv)
    random.seed(1)
    runs = []
    with tempfile.TemporaryDirectory(prefix="backhub-customers-bench-") as tmp:
        for size in (int(n) for n in args.customers.split(",")):
            runs.append(measure(size, args.days, Path(tmp)))
            print(json.dumps(runs[-1], indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))
    print(_table(runs))
    if args.write_readme:
        write_readme(runs, args.notes.read_text() if args.notes else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
