"""How fast a snapshot restores, against cloning the same repositories: ``python -m bench.restore_bench``.

1. ``backhub demo --no-ui --days 1 --scale medium`` in a scratch home: the emulator seeds the medium
   world and every customer's snapshot is taken (local store under the home), exactly as a user would.
2. The emulator is started again on the same data; for each customer, timed one after the other:
   - ``backhub restore --to DIR`` of the whole snapshot (git data, wikis, metadata, issues as JSON
     and Markdown), through ``restore_to_directory``;
   - the git data alone: every repository's and wiki's bundle chain rebuilt into a bare repository
     (``assets.git_chain.restore_chain``: decrypt, unbundle, set refs);
   - ``git clone --mirror`` over smart HTTP from the emulator of the same repositories and wikis,
     authenticated as the installation (token in the environment, never in the URL).
3. Ratios restore / clone are printed and written to the restore section of ``bench/README.md``
   (target: within 2x).

Everything runs on one machine: the clone's server competes with its client for the cores, while a
restore reads a local store; the comparison is of two ways to get the same repositories back.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from github_emulator.process import EmulatorProcess, start_emulator

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "bench" / "README.md"
START = "<!-- restore-bench:start -->"
END = "<!-- restore-bench:end -->"


def _backhub(*args: str, **kwargs) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "backhub_pipeline.cli", *args], check=True, **kwargs)


def _start_emulator(home: Path, scale: str) -> EmulatorProcess:
    """The demo's emulator again (same data), with a rate limit no clone exhausts."""
    return start_emulator(home / "emulator", info_path=home / "bench-emulator-info.json",
                          log_path=home / "bench-emulator.log", scale=scale, rate_limit=10**9, timeout=600)


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure(home: Path, scale: str) -> dict:
    from assets.git_chain import restore_chain
    from backhub_pipeline.restore.snapshot import Snapshot
    from backhub_pipeline.restore.to_folder import restore_to_directory
    from backhub_pipeline.settings import Settings
    from backhub_pipeline.wiring import clients as build_clients
    from resources.github import GitHubApp

    started = time.monotonic()
    with open(home / "bench-demo.log", "wb") as log:
        _backhub("demo", "--no-ui", "--days", "1", "--scale", scale, "--home", str(home), "--json",
                 stdout=log, stderr=subprocess.STDOUT)
    snapshot_seconds = time.monotonic() - started
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    for name in ("BACKHUB_STORE_URL", "BACKHUB_KEYRING_URL", "BACKHUB_MASTER_KEY_URI", "BACKHUB_S3_ENDPOINT_URL",
                 "BACKHUB_GIT_CACHE_DIR", "BACKHUB_AUDIT_URL"):
        os.environ.pop(name, None)
    clients = build_clients(Settings.from_env())
    emulator = _start_emulator(home, scale)
    info = emulator.info
    rows = []
    try:
        app = GitHubApp(api_url=info["api_url"], app_id=str(info["app_id"]),
                        private_key=Path(info["private_key_path"]).read_text())
        for customer in clients.store.list_customers():
            date = max(clients.store.list_snapshots(customer))
            snapshot = Snapshot(clients.store, customer, date)
            work = Path(tempfile.mkdtemp(prefix="restore-bench-", dir=home))
            t0 = time.monotonic()
            restore_to_directory(clients.store, clients.git, customer, date, work / "full")
            full = time.monotonic() - t0

            entries = []
            for repo in snapshot.repositories():
                if repo.git.chain:
                    entries.append((repo.full_name, repo.git, False))
                if repo.wiki.chain:
                    entries.append((repo.full_name, repo.wiki, True))
            t0 = time.monotonic()
            for index, (_name, entry, _wiki) in enumerate(entries):
                restore_chain(clients.git, clients.store, customer, entry, work / "git" / f"{index}.git")
            git_only = time.monotonic() - t0
            git_bytes = _du(work / "git")

            client = app.installation_for(customer)
            env = {**os.environ, **client.git_environment(), "GIT_TERMINAL_PROMPT": "0"}
            t0 = time.monotonic()
            for index, (name, _entry, wiki) in enumerate(entries):
                url = client.wiki_url(name) if wiki else client.git_url(name)
                subprocess.run(["git", "clone", "--mirror", "--quiet", "--", url, str(work / "clone" / f"{index}.git")],
                               check=True, env=env, capture_output=True)
            clone = time.monotonic() - t0
            rows.append({"customer": customer, "date": date, "repositories": len(snapshot.repositories()),
                         "git_repositories": len(entries), "git_mib": round(git_bytes / 2**20, 2),
                         "restore_full_s": round(full, 2), "restore_git_s": round(git_only, 2),
                         "clone_mirror_s": round(clone, 2)})
            print(json.dumps(rows[-1]), flush=True)
            shutil.rmtree(work)
    finally:
        emulator.stop(timeout=30)
    return {"scale": scale, "snapshot_seconds": round(snapshot_seconds, 1), "rows": rows}


def render(result: dict) -> str:
    rows = result["rows"]
    total = {key: sum(row[key] for row in rows) for key in ("restore_full_s", "restore_git_s", "clone_mirror_s")}
    cpu = platform.processor() or platform.machine()
    lines = [
        START,
        "## Restore vs `git clone --mirror` (`python -m bench.restore_bench`)",
        "",
        f"Measured {dt.date.today()} on {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; `{result['scale']}` scale, one daily snapshot per customer taken by "
        f"`backhub demo` ({result['snapshot_seconds']} s for both), local store; clones over loopback from the emulator.",
        "",
        "| customer | repositories | git repos + wikis | restored git MiB | full restore s | git-only restore s "
        "| `clone --mirror` s | git-only / clone | full / clone |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(f"| {row['customer']} | {row['repositories']} | {row['git_repositories']} | {row['git_mib']} | "
                     f"{row['restore_full_s']} | {row['restore_git_s']} | {row['clone_mirror_s']} | "
                     f"{row['restore_git_s'] / row['clone_mirror_s']:.2f} | "
                     f"{row['restore_full_s'] / row['clone_mirror_s']:.2f} |")
    lines.append(f"| **all** | | | | {total['restore_full_s']:.2f} | {total['restore_git_s']:.2f} | "
                 f"{total['clone_mirror_s']:.2f} | **{total['restore_git_s'] / total['clone_mirror_s']:.2f}** | "
                 f"**{total['restore_full_s'] / total['clone_mirror_s']:.2f}** |")
    lines += ["", "Target: restore within 2x of `git clone --mirror`. The full restore also writes every issue and "
              "pull request as JSON and Markdown, which a clone does not fetch at all.", END]
    return "\n".join(lines)


def write_readme(section: str) -> None:
    text = README.read_text()
    if START in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _m: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    README.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="medium", choices=["tiny", "small", "medium"])
    parser.add_argument("--no-readme", action="store_true", help="print only; leave bench/README.md alone")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="backhub-restore-bench-"))
    try:
        result = measure(home, args.scale)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    section = render(result)
    print(section)
    if not args.no_readme:
        write_readme(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
