"""Scale-out benchmark: partitions per minute of a backfill on the production shape, by Celery worker count.

    .venv/bin/python -m bench.scale_bench [--scale medium] [--workers 1,2,4] [--dates 1] [--write-readme]

Needs PostgreSQL (127.0.0.1:5432) and RabbitMQ (127.0.0.1:5672), as tests/deploy does. Starts one
emulator (``--scale``, unexhaustible rate limit) and one moto server, then for each worker count builds
a fresh cluster (tests/deploy/cluster.py: new database, new virtual host, new bucket, so every
measurement is a first, full snapshot), starts the code server, the daemon and that many Celery
workers (``--concurrency 1`` each), launches one backfill of every customer x ``--dates`` dates, and
times it from the launch to the backfill's completion. Set-up (imports, seeding) is not timed.

The queue allows one run per customer at a time, so with the emulator's two customers at most two runs
are in flight; inside a run, three assets and then ten checks can run in parallel. On a 2-core machine
the workers share those two cores with the emulator, moto, Postgres and the run workers: the ratio
measures how much of a run's work can overlap here, not what more machines would give.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3

from github_emulator.process import start_emulator

REPO_ROOT = Path(__file__).resolve().parents[1]
README = REPO_ROOT / "bench" / "README.md"
START, END = "<!-- scale-bench:start -->", "<!-- scale-bench:end -->"


def measure(workers: int, scale: str, dates: int, emulator, moto, root: Path) -> dict:
    from dagster import DagsterRunStatus, RunsFilter

    from resources.clock import Clock
    from resources.keyring import initialise
    from tests.deploy.cluster import Cluster

    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto.endpoint_url).create_bucket(Bucket=bucket)
    info = emulator.info
    env = {
        "BACKHUB_GITHUB_API_URL": info["api_url"],
        "BACKHUB_GITHUB_APP_ID": str(info["app_id"]),
        "BACKHUB_GITHUB_APP_PRIVATE_KEY_PATH": info["private_key_path"],
        "BACKHUB_STORE_URL": f"s3://{bucket}/store",
        "BACKHUB_KEYRING_URL": f"s3://{bucket}/keyring",
        "BACKHUB_S3_ENDPOINT_URL": moto.endpoint_url,
        "BACKHUB_COMPUTE_LOGS_BUCKET": bucket,
        "BACKHUB_MASTER_KEY_URI": (root / f"master-{workers}.json").as_uri(),
        "BACKHUB_AUDIT_URL": f"s3://{bucket}/audit",
        "BACKHUB_CLOCK_OFFSET_DAYS": "0",
    }
    initialise(env["BACKHUB_KEYRING_URL"], env["BACKHUB_MASTER_KEY_URI"], s3_endpoint_url=moto.endpoint_url)
    customers = sorted(inst["account"].lower() for inst in info["installations"])
    today = dt.date.fromisoformat(Clock(offset_days=0).today())
    days = [(today - dt.timedelta(days=n)).isoformat() for n in range(dates)]
    partitions = [f"{customer}|{day}" for customer in customers for day in days]
    with Cluster(root / f"cluster-{workers}", env, max_concurrent_runs=8) as cluster:
        instance = cluster.instance()
        instance.add_dynamic_partitions("customer", customers)
        instance.add_dynamic_partitions("date", days)
        cluster.start_code_server()
        cluster.dagster("sensor", "stop", "daily_snapshot_sensor")
        names = [f"w{n}" for n in range(workers)]
        for name in names:
            cluster.start_worker(name)
        cluster.start_daemon()
        cluster.wait_for_workers(names)
        started = time.monotonic()
        backfill_id = cluster.launch_backfill(partitions)
        backfill = cluster.wait_for_backfill(instance, backfill_id, timeout=3600)
        seconds = time.monotonic() - started
        records = instance.get_run_records(RunsFilter(tags={"dagster/backfill": backfill_id}))
        ok = sum(r.dagster_run.status == DagsterRunStatus.SUCCESS for r in records)
        run_seconds = sorted(round(r.end_time - r.start_time, 1) for r in records if r.end_time and r.start_time)
        # From the first run's start to the last run's end: the work itself, without the daemons' polling
        # (the backfill daemon looks every 30 s, before the first run and after the last).
        timed = [r for r in records if r.start_time and r.end_time]
        span = max(r.end_time for r in timed) - min(r.start_time for r in timed)
        statuses = sorted(f"{r.dagster_run.tags.get('dagster/partition')}:{r.dagster_run.status.value}" for r in records)
        instance.dispose()
    return {"workers": workers, "partitions": len(partitions), "succeeded": ok, "status": str(backfill.status),
            "seconds": round(seconds, 1), "run_span_seconds": round(span, 1),
            "partitions_per_minute": round(len(partitions) * 60 / span, 2), "run_seconds": run_seconds,
            "runs": statuses}


def render(results: list[dict], scale: str, dates: int) -> str:
    base = results[0]["partitions_per_minute"] if results else 0
    cpu = platform.processor() or platform.machine()
    lines = [
        START,
        "## Scale-out with Celery workers (`python -m bench.scale_bench`)",
        "",
        f"Measured {dt.date.today().isoformat()} on {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}: "
        f"Postgres instance, one daemon, one code server, N Celery workers (`--concurrency 1`), emulator "
        f"`--scale {scale}` and moto S3 on the same machine. One backfill of 2 customers x {dates} date(s), a "
        "first (full) snapshot each, timed from launch to completion; the queue allows one run per customer.",
        "",
        "`runs` is from the first run's start to the last run's end, and gives partitions per minute;",
        "`launch to done` adds the backfill daemon's 30 s polling before and after.",
        "",
        "| Celery workers | partitions | succeeded | runs (s) | launch to done (s) | partitions / minute | ratio to 1 worker | each run (s) |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        ratio = r["partitions_per_minute"] / base if base else 0
        lines.append(f"| {r['workers']} | {r['partitions']} | {r['succeeded']} | {r['run_span_seconds']} | {r['seconds']} | "
                     f"{r['partitions_per_minute']} | {ratio:.2f} | {', '.join(map(str, r['run_seconds']))} |")
    lines += [
        "",
        "Two cores run everything here: the workers, the run workers that orchestrate, the emulator, moto and",
        "Postgres. More workers can only overlap one run's parallel steps (three assets, then ten checks) and",
        "the two customers' runs; on separate machines each worker brings its own cores, which this machine",
        "cannot show. Other sessions shared the machine while this ran, so treat small differences as noise.",
        END,
    ]
    return "\n".join(lines)


def write_readme(section: str) -> None:
    text = README.read_text()
    if START in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    README.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="medium")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--dates", type=int, default=1)
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args(argv)
    # Stopped with SIGTERM (or from a background shell, where SIGINT is ignored): clean up all the same.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        os.environ.setdefault(name, value)
    sys.path.insert(0, str(REPO_ROOT))
    from tests.deploy.cluster import services_missing
    from tests.servers import start_moto_server

    if missing := services_missing():
        print(f"needs {' and '.join(missing)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        root = Path(tmp)
        moto = start_moto_server(root)
        emulator = start_emulator(root / "emulator", info_path=root / "emulator-info.json",
                                  log_path=root / "emulator.log", scale=args.scale, rate_limit=10**9)
        results = []
        try:
            for workers in (int(n) for n in args.workers.split(",")):
                result = measure(workers, args.scale, args.dates, emulator, moto, root)
                print(json.dumps(result), flush=True)
                results.append(result)
        finally:
            emulator.stop()
            moto.stop()
    section = render(results, args.scale, args.dates)
    print(section)
    if args.write_readme:
        write_readme(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
