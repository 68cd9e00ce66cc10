"""Daily snapshots at scale: ``python -m bench.snapshot_bench [--scale medium] [--days 2]``.

Runs ``backhub demo --no-ui --days N --json`` in a fresh home (emulator, local encrypted store, the
real Dagster instance) and reports, per simulated day, the wall time and what the snapshots cost:
API requests and new bytes stored, summed over customers, from each run's own recorded metadata.
Day 2 onwards shows what incremental snapshots save. Results go to bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.readme import write_section

START, END = "<!-- snapshot-bench:start -->", "<!-- snapshot-bench:end -->"


def run_day(home: Path, scale: str) -> tuple[float, list[dict]]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "backhub_pipeline.cli", "demo", "--no-ui", "--days", "1", "--scale", scale,
         "--home", str(home), "--json"],
        check=True, capture_output=True, text=True,
    )
    return time.monotonic() - started, json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="medium", choices=["tiny", "small", "medium"])
    parser.add_argument("--days", type=int, default=2)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="backhub-bench-") as tmp:
        home = Path(tmp) / "home"
        for day in range(1, args.days + 1):
            seconds, summaries = run_day(home, args.scale)
            rows.append({
                "day": day,
                "date": summaries[0]["date"],
                "seconds": seconds,
                "customers": len(summaries),
                "repositories": sum(s["repositories"] for s in summaries),
                "issues_and_pulls": sum(s["issues"] + s["pull_requests"] for s in summaries),
                "api_requests": sum(s["api_requests"] for s in summaries),
                "free_304s": sum(int(s["assets"].get("inventory", {}).get("not_modified", 0)) for s in summaries),
                "new_bytes": sum(s["new_bytes"] for s in summaries),
                "logical_bytes": sum(s["logical_bytes"] for s in summaries),
                **{key: sum(int(s["assets"].get("repositories", {}).get(key, 0)) for s in summaries)
                   for key in ("lfs_objects", "lfs_bytes", "lfs_missing", "lfs_downloaded", "lfs_downloaded_bytes",
                               "lfs_batch_requests")},
                "checks": "all passed" if all(s["success"] and not s["checks_failed"] for s in summaries) else "FAILED",
            })
            print(json.dumps(rows[-1]), flush=True)
    table = ["| day | date | wall time (s, incl. emulator start) | customers | repos | issues+PRs | API requests | of which free 304s | new bytes stored | logical bytes | LFS objects kept (bytes) | LFS downloaded (bytes) | LFS requests (batch + downloads) | checks |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    table += [f"| {r['day']} | {r['date']} | {r['seconds']:.1f} | {r['customers']} | {r['repositories']} | "
              f"{r['issues_and_pulls']} | {r['api_requests']} | {r['free_304s']} | {r['new_bytes']:,} | {r['logical_bytes']:,} | "
              f"{r['lfs_objects']} ({r['lfs_bytes']:,}) | {r['lfs_downloaded']} ({r['lfs_downloaded_bytes']:,}) | "
              f"{r['lfs_batch_requests'] + r['lfs_downloaded']} | {r['checks']} |"
              for r in rows]
    section = "\n".join([
        START,
        f"## Daily snapshots (`python -m bench.snapshot_bench --scale {args.scale} --days {args.days}`)",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} with 2 cores, Python {platform.python_version()}: "
        "`backhub demo --no-ui` per simulated day, a day of emulator activity between days, local encrypted store, "
        "every check run. Day 1 includes seeding the emulator. A 304 (ETag unchanged since the previous day) "
        "costs no rate limit on GitHub.",
        "",
        *table,
        END,
    ])
    write_section(START, END, section)


if __name__ == "__main__":
    main()
