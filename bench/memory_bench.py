"""Peak memory of a daily run: ``python -m bench.memory_bench [--gib 1]``.

Issue 11, item 6: peak RSS of a daily run must not grow with repository size. Three measurements,
each ``backhub backup --customer imported --json`` in a fresh process (in process on the embedded
instance, every check run, local encrypted store), against an emulator (``--scale tiny``) whose
customer ``imported`` serves the bare repositories of an ``--import`` folder:

1. imports: ``python -c "import backhub_pipeline.definitions"`` (what every run pays before work);
2. empty: the customer has no repository at all (an empty ``--import`` folder);
3. 1 GiB: the customer has one repository holding ``--gib`` GiB of incompressible blobs (built once
   with ``git fast-import`` under ``.cache/memory-bench/``), day 1 (clone, full bundle, upload,
   checks), then the next day with nothing changed.

Peak RSS is reported for the largest single process (``wait4``'s ``ru_maxrss``) and for the process
tree (sampled every 0.2 s; git's children count). Results go to bench/README.md (``--no-readme``:
print only).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.side_by_side_bench import ROOT, _json_tail, run_measured, size_of

START, END = "<!-- memory-bench:start -->", "<!-- memory-bench:end -->"
CACHE = ROOT / ".cache" / "memory-bench"
MiB = 1024 * 1024


def build_big_repository(path: Path, gib: float) -> None:
    """A bare repository with one commit of ``gib`` GiB of random (incompressible) 64 MiB files."""
    if (path / "refs" / "heads" / "main").exists() or (path / "packed-refs").exists():
        return
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    part = 64 * MiB
    count = max(1, round(gib * 1024 * MiB / part))
    importer = subprocess.Popen(["git", "-C", str(path), "fast-import", "--quiet"], stdin=subprocess.PIPE)
    assert importer.stdin is not None
    for index in range(count):
        importer.stdin.write(b"blob\nmark :%d\ndata %d\n" % (index + 1, part))
        for _ in range(part // MiB):
            importer.stdin.write(os.urandom(MiB))
        importer.stdin.write(b"\n")
    message = b"Add data\n"
    importer.stdin.write(b"commit refs/heads/main\ncommitter Bench <bench@example.invalid> 1700000000 +0000\n"
                         b"data %d\n%s" % (len(message), message))
    for index in range(count):
        importer.stdin.write(b"M 100644 :%d data/part-%03d.bin\n" % (index + 1, index))
    importer.stdin.write(b"\n")
    importer.stdin.close()
    if importer.wait() != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "-C", str(path), "symbolic-ref", "HEAD", "refs/heads/main"], check=True)


def backhub_env(emulator, home: Path, offset_days: int) -> dict[str, str]:  # noqa: ANN001
    from backhub_pipeline.cli.demo import prepare_home

    env = {name: value for name, value in os.environ.items() if not name.startswith("BACKHUB_")}
    env.update({
        "DAGSTER_HOME": str(prepare_home(home)),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "BACKHUB_GITHUB_API_URL": emulator.api_url,
        "BACKHUB_GITHUB_APP_ID": str(emulator.app_id),
        "BACKHUB_GITHUB_APP_PRIVATE_KEY_PATH": str(emulator.private_key_path),
        "BACKHUB_CLOCK_OFFSET_DAYS": str(offset_days),
    })
    return env


def backup(emulator, home: Path, work: Path, label: str, offset_days: int = 0) -> dict:  # noqa: ANN001
    env = backhub_env(emulator, home, offset_days)
    subprocess.run([sys.executable, "-m", "backhub_pipeline.cli", "init"], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    log = work / f"{label}.log"
    command = [sys.executable, "-m", "backhub_pipeline.cli", "backup", "--customer", "imported", "--json"]
    seconds, code, tree, single = run_measured(command, env, log, cwd=ROOT)
    summaries = _json_tail(log)
    ok = code == 0 and bool(summaries) and summaries[0]["success"] and not summaries[0]["checks_failed"]
    if not ok:
        print(f"{label}: exit {code}; last lines of {log}:\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
    row = {"run": label, "seconds": round(seconds, 1), "tree": tree, "single": single, "ok": ok,
           "store": size_of(Path(env["DAGSTER_HOME"]) / "store")}
    print(row, flush=True)
    return row


def imports_only(work: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-W", "ignore", "-c", "import backhub_pipeline.definitions"]
    seconds, code, tree, single = run_measured(command, env, work / "imports.log", cwd=ROOT)
    row = {"run": "imports", "seconds": round(seconds, 1), "tree": tree, "single": single, "ok": code == 0, "store": 0}
    print(row, flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gib", type=float, default=1.0, help="size of the large repository in GiB")
    parser.add_argument("--no-readme", action="store_true", help="print the table, do not write bench/README.md")
    args = parser.parse_args(argv)
    from github_emulator.process import start_emulator

    load = os.getloadavg()
    big = CACHE / f"import-{args.gib:g}gib"
    build_big_repository(big / "huge.git", args.gib)
    rows = []
    with tempfile.TemporaryDirectory(prefix="memory-bench-") as scratch:
        work = Path(scratch)
        rows.append(imports_only(work))
        (work / "empty-import").mkdir()
        for label, folder in (("empty", work / "empty-import"), ("big", big)):
            (work / label).mkdir()
            emulator = start_emulator(work / label / "data", info_path=work / label / "info.json",
                                      log_path=work / label / "emulator.log", scale="tiny",
                                      extra_args=["--import", str(folder)], rate_limit=10**9, timeout=900)
            try:
                # The emulator stands in for GitHub's servers, which do not spend minutes and gigabytes
                # trying to deltify 64 MiB random blobs for every clone: neither does its upload-pack.
                for served in (work / label / "data").rglob("*.git"):
                    if (served / "HEAD").is_file():
                        subprocess.run(["git", "--git-dir", str(served), "config", "core.bigFileThreshold", "32m"],
                                       check=True)
                home = work / label / "backhub"
                if label == "empty":
                    rows.append(backup(emulator, home, work, "empty"))
                else:
                    rows.append(backup(emulator, home, work, f"{args.gib:g} GiB, day 1"))
                    emulator.control("POST", "clock", {"offset_days": 1})
                    rows.append(backup(emulator, home, work, f"{args.gib:g} GiB, day 2 (unchanged)", offset_days=1))
            finally:
                emulator.stop()
    lines = [
        START,
        "## Memory of a daily run (`python -m bench.memory_bench`)",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores ({platform.machine()}), "
        f"Python {platform.python_version()}; load average {load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end. "
        "`backhub backup --customer imported --json`, a fresh process per row, in process on the embedded instance, "
        "every check run, local encrypted store, emulator `--scale tiny --import DIR`. The large repository is one "
        f"commit of {args.gib:g} GiB of random 64 MiB files.",
        "",
        "| run | wall s | peak RSS 1 proc MiB | peak RSS tree MiB | store MiB | ok |",
        "|---|---:|---:|---:|---:|---|",
        *(f"| {r['run']} | {r['seconds']} | {r['single'] / MiB:.1f} | {r['tree'] / MiB:.1f} | {r['store'] / MiB:.1f} | "
          f"{'yes' if r['ok'] else 'NO'} |" for r in rows),
        END,
    ]
    section = "\n".join(lines)
    print(section)
    if not args.no_readme:
        text = (ROOT / "bench" / "README.md").read_text()
        if START not in text:
            (ROOT / "bench" / "README.md").write_text(text.rstrip("\n") + "\n\n" + START + "\n" + END + "\n")
        write_readme_section(section)
    return 0 if all(r["ok"] for r in rows) else 1


def write_readme_section(section: str) -> None:
    import re

    path = ROOT / "bench" / "README.md"
    text = path.read_text()
    path.write_text(re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: section, text, flags=re.S))


if __name__ == "__main__":
    raise SystemExit(main())
