"""The 40-day retention run: ``python -m bench.retention_bench [--days 40] [--scale small]``.

Runs ``backhub demo --no-ui --days N`` (a day of emulator activity between days, retention after each
day, sweep grace 0 so the count of orphan blobs is exact), then inspects the demo's home: snapshots
per customer, date keys, orphan blobs, every remaining snapshot verified with ``--read-data``, and
what expiry deleted (from the audit log). The test suite runs the same path scaled down
(tests/retention/test_forty_days.py); the result of the full run goes to bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parent / "README.md"
START, END = "<!-- retention-bench:start -->", "<!-- retention-bench:end -->"


def run_demo(home: Path, days: int, scale: str, retention_days: int) -> float:
    env = {**os.environ, "BACKHUB_RETENTION_DAYS": str(retention_days), "BACKHUB_SWEEP_GRACE_HOURS": "0"}
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "backhub_pipeline.cli", "demo", "--no-ui", "--days", str(days),
                    "--scale", scale, "--home", str(home), "--json"],
                   check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def inspect_home(home: Path) -> dict[str, Any]:
    """What the demo's home holds after the run (the demo's store, keyring and instance)."""
    import dagster as dg

    from assets.partitions import date_partitions
    from resources.audit import AuditLog
    from resources.keyring import Keyring
    from resources.snapshot_store import SnapshotStore

    dagster_home = home / "dagster"
    store = SnapshotStore.from_urls((dagster_home / "store").as_uri(), Keyring.from_urls(
        (dagster_home / "keyring").as_uri(), (dagster_home / "master-keyset.json").as_uri()))
    result: dict[str, Any] = {"customers": {}, "problems": []}
    for customer in store.list_customers():
        snapshots = store.list_snapshots(customer)
        live: set[str] = set()
        for date, assets in snapshots.items():
            for asset in assets:
                live.update(store.read_manifest(customer, date, asset).blobs)
            report = store.verify(customer, date, read_data=True)
            result["problems"] += report.problems
        blobs = list(store.storage.list(f"customers/{customer}/blobs/"))
        result["customers"][customer] = {
            "snapshots": len(snapshots),
            "dates": sorted(snapshots),
            "blobs": len(blobs),
            "bytes": sum(info.size for info in blobs),
            "orphans": len({info.key.rsplit("/", 1)[-1] for info in blobs} - live),
        }
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        result["date_keys"] = sorted(instance.get_dynamic_partitions(date_partitions.name))
    deleted = {"manifests": 0, "blobs": 0, "bytes": 0}
    for record in AuditLog.from_url((dagster_home / "audit").as_uri()).records():
        if record.action == "expire" and record.customer:
            deleted["manifests"] += len(record.details.get("assets", []))
        if record.action == "delete":
            deleted["blobs"] += int(record.details.get("blobs", 0))
            deleted["bytes"] += int(record.details.get("bytes", 0))
    result["deleted"] = deleted
    return result


def _write_readme(section: str) -> None:
    text = README.read_text()
    block = f"{START}\n{section}\n{END}"
    if START in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    README.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--scale", default="small", choices=["tiny", "small", "medium"])
    parser.add_argument("--retention-days", type=int, default=30)
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="retention-bench-") as tmp:
        home = Path(tmp) / "demo"
        seconds = run_demo(home, args.days, args.scale, args.retention_days)
        found = inspect_home(home)
    customers = found["customers"]
    rows = "\n".join(
        f"| `{name}` | {c['snapshots']} | {c['blobs']} | {c['bytes'] / 2**20:.2f} | {c['orphans']} |"
        for name, c in sorted(customers.items())
    )
    kept_blobs = sum(c["blobs"] for c in customers.values())
    kept_bytes = sum(c["bytes"] for c in customers.values())
    d = found["deleted"]
    section = f"""## Retention (`python -m bench.retention_bench --days {args.days} --scale {args.scale}`)

Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}.
`backhub demo --no-ui --days {args.days} --scale {args.scale}` with a {args.retention_days}-day window and sweep grace 0
(retention runs after each simulated day): **{seconds / 60:.1f} min** ({seconds / args.days:.1f} s per day).

| customer | snapshots | blobs | MiB stored | orphan blobs |
|---|---:|---:|---:|---:|
{rows}

Date keys left: {len(found['date_keys'])} ({found['date_keys'][0] if found['date_keys'] else '-'} .. {found['date_keys'][-1] if found['date_keys'] else '-'}).
Every remaining snapshot verified with `--read-data`: {'yes' if not found['problems'] else 'NO: ' + '; '.join(found['problems'][:3])}.
Expiry deleted {d['manifests']} manifests and {d['blobs']} blobs ({d['bytes'] / 2**20:.2f} MiB): before expiry the
store held {kept_blobs + d['blobs']} blobs ({(kept_bytes + d['bytes']) / 2**20:.2f} MiB), after it {kept_blobs} ({kept_bytes / 2**20:.2f} MiB)."""
    print(section)
    if not args.no_readme:
        _write_readme(section)
    ok = (not found["problems"] and len(found["date_keys"]) == min(args.days, args.retention_days)
          and all(c["snapshots"] == min(args.days, args.retention_days) and c["orphans"] == 0 for c in customers.values()))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
