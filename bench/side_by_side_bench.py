"""backhub beside python-github-backup, day by day: ``python -m bench.side_by_side_bench [--scale medium] [--days 7]``.

What a daily backup costs each tool on the same GitHub world, one customer (default ``acme-corp``):

1. python-github-backup 0.65.1 is installed into its own virtual environment under ``.cache/`` (a
   benchmark tool, not a project dependency), the first time only.
2. One emulator is started with ``--tls`` at ``--scale``; its rate limit is raised out of the way (the
   peer's first day alone nearly spends GitHub's 5,000 an hour), which changes no request counts.
3. Day 1: the floor (sequential ``git clone --mirror`` of the customer's repositories and populated
   wikis), then the peer, then backhub. Days 2..N: one day of emulator activity (``advance``), then the
   peer and backhub again on that same world. Last, an idle day: the clock moves a day, nothing changes.
   - the peer: ``github-backup --as-app -t TOKEN -H host:port -i`` with every per-repository kind
     backhub also keeps (see ``PEER_FLAGS``), into one output folder kept across days. ``--as-app``
     sends the token as ``Authorization: token ...`` and puts it in the clone URLs, so it is an
     installation access token, minted from the App's key just before each run. The emulator's CA is
     in ``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE`` and ``GIT_SSL_CAINFO``.
   - backhub: ``backhub backup --customer C --json`` (the path ``backhub demo`` takes: the partition
     runs in process on the embedded instance, every check included, local encrypted store), with
     ``BACKHUB_CLOCK_OFFSET_DAYS`` moved in step with the emulator's clock.

Every tool run is a fresh child process. Per run: REST requests counted by the emulator
(``/_emulator/stats``; "charged" are those GitHub would charge to the primary rate limit, so not the
304s to conditional requests), git smart-HTTP requests, wall time, peak RSS of the process tree (the
sum over the child and its descendants, sampled every 0.2 s) and of its largest single process
(``wait4``'s ``ru_maxrss``), and bytes at rest afterwards (the peer's output folder; backhub's store,
not its git cache, which is reported on its own). Results go to bench/README.md after every run
(``--no-readme``: print only). Not measured yet: a daemon-launched run beside an in-process one.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "bench" / "README.md"
START, END = "<!-- side-by-side-bench:start -->", "<!-- side-by-side-bench:end -->"
PEER_VERSION = "0.65.1"
PEER_VENV = ROOT / ".cache" / f"github-backup-{PEER_VERSION}"
# Everything per repository that backhub's snapshot also holds (hooks and collaborators are read by
# backhub; the peer has no flag for collaborators). Not: release asset binaries, which neither fetches.
PEER_FLAGS = ["-i", "-P", "-F", "--repositories", "--bare", "--wikis", "--issues", "--issue-comments", "--pulls",
              "--pull-comments", "--pull-reviews", "--labels", "--milestones", "--releases", "--hooks"]
PAGE = os.sysconf("SC_PAGE_SIZE")
MiB = 1024 * 1024


@dataclass
class Row:
    """One tool's run on one simulated day."""

    day: str  # "1".."N" or "idle"
    date: str
    tool: str
    seconds: float
    rest: int
    charged: int
    not_modified: int
    git: int
    tree_rss: int
    process_rss: int
    at_rest: int
    ok: bool
    note: str = ""


# ---- measuring a child process ----------------------------------------------------------------------
def _parents() -> dict[int, int]:
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    return parents


def tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants now (shared pages count once per process)."""
    parents = _parents()
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    total = 0
    for pid in tree:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            pass
    return total


def run_measured(command: list[str], env: dict[str, str], log: Path, cwd: Path | None = None) -> tuple[float, int, int, int]:
    """Run ``command`` to the end: (wall seconds, exit code, peak tree RSS, peak single-process RSS)."""
    with open(log, "ab") as out:
        started = time.monotonic()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], tree_rss(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    single = usage.ru_maxrss * 1024
    # A sample can miss a short-lived peak; the tree never held less than its largest process did.
    return seconds, process.returncode, max(peak[0], single), single


def size_of(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) if path.exists() else 0


# ---- the world and the tools ------------------------------------------------------------------------
class World:
    """The emulator, with the App credentials and the request counter the tools are measured by."""

    def __init__(self, emulator: Any, customer: str) -> None:
        self.emulator = emulator
        self.customer = customer
        self.ca = emulator.info["ca_cert"]
        self.installation = next(i for i in emulator.info["installations"] if i["account"] == customer)

    @property
    def host(self) -> str:
        return self.emulator.api_url.split("://", 1)[1]

    def token(self) -> str:
        """An installation access token, minted as GitHub Apps do: App JWT, then ``access_tokens``."""
        import jwt
        import requests

        now = int(time.time())
        claims = {"iat": now - 30, "exp": now + 540, "iss": str(self.emulator.app_id)}
        bearer = jwt.encode(claims, self.emulator.private_key, algorithm="RS256")
        response = requests.post(f"{self.emulator.api_url}/app/installations/{self.installation['id']}/access_tokens",
                                 headers={"Authorization": f"Bearer {bearer}", "Accept": "application/vnd.github+json"},
                                 verify=self.ca, timeout=60)
        response.raise_for_status()
        return response.json()["token"]

    def counts(self, reset: bool = False) -> dict[str, int]:
        return self.emulator.control("POST", "stats/reset") if reset else self.emulator.control("GET", "stats")

    def git_sources(self) -> list[str]:
        """The customer's repositories and populated wikis, as clone paths."""
        repos = self.emulator.state()["accounts"][self.customer]["repositories"]
        paths = []
        for repo in repos.values():
            paths.append(f"{repo['full_name']}.git")
            if repo["wiki"]["state"] == "populated":
                paths.append(f"{repo['full_name']}.wiki.git")
        return paths

    def repository_count(self) -> int:
        return len(self.emulator.state()["accounts"][self.customer]["repositories"])

    def tls_env(self) -> dict[str, str]:
        return {**os.environ, "SSL_CERT_FILE": self.ca, "REQUESTS_CA_BUNDLE": self.ca, "GIT_SSL_CAINFO": self.ca,
                "GIT_TERMINAL_PROMPT": "0"}


def measured(world: World, day: str, date: str, tool: str, command: list[str], env: dict[str, str], log: Path,
             at_rest: Path, note: str = "", cwd: Path | None = None) -> Row:
    world.counts(reset=True)
    seconds, code, tree, single = run_measured(command, env, log, cwd)
    counts = world.counts()
    if code != 0:
        print(f"{tool} day {day} exited {code}; last lines of {log}:\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
    return Row(day, date, tool, round(seconds, 1), counts["rest"], counts["rest_rate_limited"], counts["rest_not_modified"],
               counts["git"], tree, single, size_of(at_rest), code == 0, note)


def ensure_peer() -> Path:
    """python-github-backup in a virtual environment of its own, installed the first time."""
    program = PEER_VENV / "bin" / "github-backup"
    if not program.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(PEER_VENV / "bin" / "python"), "-m", "pip", "install", "-q", f"github-backup=={PEER_VERSION}"],
                       check=True)
    return program


def floor(world: World, work: Path, date: str) -> Row:
    """Sequential ``git clone --mirror`` of what both tools fetch: the least any backup of the git data costs."""
    token = world.token()
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    env = {**world.tls_env(), "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
           "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"}
    target = work / "floor"
    target.mkdir(parents=True, exist_ok=True)
    sources = world.git_sources()
    script = "\n".join(f"git clone -q --mirror -- {shlex.quote(f'{world.emulator.git_url}/{path}')} {shlex.quote(str(target / path))}"
                       for path in sources)
    return measured(world, "1", date, "git clone --mirror", ["sh", "-e", "-c", script], env, work / "logs" / "floor.log",
                    target, note=f"{len(sources)} repositories and wikis")


def peer(world: World, program: Path, work: Path, day: str, date: str) -> Row:
    output = work / "peer"
    flags = PEER_FLAGS + (["-O"] if world.installation["type"] == "Organization" else [])
    command = [str(program), "--as-app", "-t", world.token(), "-H", world.host, *flags, "-o", str(output), world.customer]
    return measured(world, day, date, f"python-github-backup {PEER_VERSION} -i", command, world.tls_env(),
                    work / "logs" / f"peer-{day}.log", output)


def backhub_env(world: World, home: Path, offset_days: int) -> dict[str, str]:
    from backhub_pipeline.cli.demo import prepare_home

    env = {name: value for name, value in os.environ.items() if not name.startswith("BACKHUB_")}
    env.update({
        "DAGSTER_HOME": str(prepare_home(home)),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "BACKHUB_GITHUB_API_URL": world.emulator.api_url,
        "BACKHUB_GITHUB_APP_ID": str(world.emulator.app_id),
        "BACKHUB_GITHUB_APP_PRIVATE_KEY_PATH": world.emulator.info["private_key_path"],
        "BACKHUB_CA_BUNDLE": world.ca,
        "BACKHUB_CLOCK_OFFSET_DAYS": str(offset_days),
    })
    return env


def backhub(world: World, home: Path, work: Path, day: str, date: str, offset_days: int) -> Row:
    env = backhub_env(world, home, offset_days)
    log = work / "logs" / f"backhub-{day}.json"
    # A new installation's first step (idempotent, not measured): create the home's master key once.
    subprocess.run([sys.executable, "-m", "backhub_pipeline.cli", "init"], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    command = [sys.executable, "-m", "backhub_pipeline.cli", "backup", "--customer", world.customer, "--json"]
    row = measured(world, day, date, "backhub", command, env, log, Path(env["DAGSTER_HOME"]) / "store", cwd=ROOT)
    summaries = _json_tail(log)
    if summaries:
        summary = summaries[0]
        row.date = summary["date"]
        row.ok = row.ok and summary["success"] and not summary["checks_failed"]
        row.note = f"{summary['checks_passed']} checks passed" + (f", FAILED {summary['checks_failed']}" if summary["checks_failed"] else "")
        # A full re-read (backhub's issues asset reads every repository again every chain_recut_days) shows here.
        updated = summary["assets"].get("issues", {}).get("updated_records")
        if updated is not None:
            row.note += f"; {updated} of {summary['issues'] + summary['pull_requests']} issues+PRs re-read"
    return row


def _json_tail(log: Path) -> list[dict[str, Any]]:
    """The JSON summary ``backhub backup --json`` printed last (the log holds every day's output)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    start = text.rfind("\n[")
    try:
        return json.loads(text[start + 1 if start >= 0 else 0 :])
    except ValueError:
        return []


# ---- the report -------------------------------------------------------------------------------------
def _mib(value: int) -> str:
    return f"{value / MiB:.1f}"


def render(rows: list[Row], args: argparse.Namespace, repositories: int, git_sources: int, cache_bytes: int,
           partial: bool = False) -> str:
    command = f"python -m bench.side_by_side_bench --scale {args.scale} --days {args.days}"
    lines = [
        START,
        f"## Side by side with python-github-backup (`{command}`)",
        "",
        *(["**Partial: the run had not finished when this was written.**", ""] if partial else []),
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores ({platform.machine()}), "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}; emulator `--scale {args.scale} --tls` "
        f"on the same machine, one customer (`{args.customer}`: {repositories} repositories, {git_sources} git "
        "repositories and wikis on day 1), one day of the emulator's default activity between days, an idle day last "
        "(the clock moves, nothing changes). Every run is a fresh process; the tools take turns on the same world. "
        f"Load average at the start {args.load[0]:.1f}, at the end {os.getloadavg()[0]:.1f} (the machine was shared; "
        "wall times move with it, request counts do not).",
        "",
        f"- python-github-backup {PEER_VERSION}: `github-backup --as-app -t <installation token> -H host:port "
        f"{' '.join(PEER_FLAGS)}{' -O' if args.customer_type == 'Organization' else ''} -o DIR {args.customer}`; "
        "bytes at rest are its output folder (the latest state only).",
        "- backhub: `backhub backup --customer C --json` on the embedded instance, in process, every check run, "
        "local encrypted store; bytes at rest are the store (every day restorable). Its git cache (working "
        f"mirrors, not a backup) was {_mib(cache_bytes)} MiB at the end.",
        "- REST: requests the emulator served; charged: those counted against GitHub's primary rate limit "
        "(all but 304s to conditional requests and `/rate_limit`); git: smart-HTTP requests. RSS tree: the sum "
        "over the process and its descendants (a forked child's shared pages count again), sampled every 0.2 s "
        "(at least the largest process); RSS 1 proc: the "
        "largest single process. Day 1 of backhub includes nothing of the emulator's seeding.",
        "",
        "| day | date | tool | REST | charged | 304 | git | wall s | peak RSS tree MiB | peak RSS 1 proc MiB | at rest MiB | ok | note |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    lines += [f"| {r.day} | {r.date} | {r.tool} | {r.rest} | {r.charged} | {r.not_modified} | {r.git} | {r.seconds} | "
              f"{_mib(r.tree_rss)} | {_mib(r.process_rss)} | {_mib(r.at_rest)} | {'yes' if r.ok else 'NO'} | {r.note} |"
              for r in rows]
    lines += ["", *verdicts(rows, repositories, git_sources), END]
    return "\n".join(lines)


def verdicts(rows: list[Row], repositories: int, git_sources: int) -> list[str]:
    """The issue's targets, each with what this run reached."""
    def pick(tool_prefix: str, day: str) -> Row | None:
        return next((r for r in rows if r.tool.startswith(tool_prefix) and r.day == day), None)

    later = [d for d in dict.fromkeys(r.day for r in rows) if d.isdigit() and d != "1"]
    out = ["Targets (issue 11) and what this run reached:", ""]
    if later:
        pairs = [(pick("python-github-backup", d), pick("backhub", d)) for d in later]
        pairs = [(p, b) for p, b in pairs if p and b]
        charged = sum(p.charged for p, _ in pairs) / max(1, sum(b.charged for _, b in pairs))
        wall = sum(p.seconds for p, _ in pairs) / max(0.1, sum(b.seconds for _, b in pairs))
        days = f"days 2-{later[-1]}" if len(later) > 1 else "day 2"
        out.append(f"- {days}: python-github-backup / backhub charged REST requests **{charged:.2f}x** "
                   f"(target at least 10x), wall time **{wall:.2f}x** (target at least 5x).")
    idle, before = pick("backhub", "idle"), pick("backhub", later[-1] if later else "1")
    if idle and before:
        rest_allowed = 5 + repositories / 100
        added = idle.at_rest - before.at_rest
        out.append(f"- idle day, backhub: {idle.rest} REST requests (target at most {rest_allowed:g}: 5 + {repositories} repositories / 100), {idle.git} git "
                   f"requests (target at most {git_sources}), {added / 1024:.1f} KiB added (target at most 64 KiB). "
                   f"The idle day is simulated day {len(later) + 2}: the issues safety net re-reads some repositories in "
                   "full every day, spread by repository id (`BACKHUB_FULL_READ_DAYS`, 7), which the note column counts.")
    first, ground = pick("backhub", "1"), pick("git clone", "1")
    if first and ground:
        out.append(f"- day 1, backhub / `git clone --mirror` floor: **{first.seconds / ground.seconds:.2f}x** wall time "
                   "(target at most 2x).")
    ours = [r for r in rows if r.tool.startswith("backhub")]
    if ours:
        out.append(f"- peak RSS, backhub: {_mib(max(r.tree_rss for r in ours))} MiB process tree, "
                   f"{_mib(max(r.process_rss for r in ours))} MiB largest process (target at most 250 MB with a "
                   "1 GiB repository in the set; this set has none that large).")
    out.append("- not measured here: a daemon-launched run against the in-process time of the same partition "
               "(target at most 1.3x); `bench.scale_bench` times daemon-launched runs on the production shape.")
    return out


def write_readme(section: str) -> None:
    text = README.read_text()
    if START in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    README.write_text(text)


@contextmanager
def emulator_for(work: Path, scale: str) -> Iterator[Any]:
    from github_emulator.process import start_emulator

    (work / "emulator").mkdir(parents=True, exist_ok=True)
    emulator = start_emulator(work / "emulator" / "data", info_path=work / "emulator" / "info.json",
                              log_path=work / "emulator" / "emulator.log", scale=scale, tls=True,
                              rate_limit=10**9, timeout=900)
    try:
        yield emulator
    finally:
        emulator.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="medium", choices=["tiny", "small", "medium"])
    parser.add_argument("--days", type=int, default=7, help="simulated days with activity (then one idle day)")
    parser.add_argument("--customer", default="acme-corp", help="installation account to back up")
    parser.add_argument("--no-readme", action="store_true", help="print the table, do not write bench/README.md")
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temporary folder, removed)")
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days must be at least 1")
    args.load = os.getloadavg()
    program = ensure_peer()
    work = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="side-by-side-"))
    (work / "logs").mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []

    def record(row: Row) -> None:
        rows.append(row)
        print(json.dumps(asdict(row)), flush=True)
        if not args.no_readme:  # after every run, so a run stopped early still leaves what it measured
            write_readme(report(partial=True))

    def report(partial: bool) -> str:
        cache = size_of(work / "backhub" / "dagster" / "git-cache")
        return render(rows, args, repositories, git_sources, cache, partial)

    try:
        with emulator_for(work, args.scale) as emulator:
            world = World(emulator, args.customer)
            args.customer_type = world.installation["type"]
            repositories, git_sources = world.repository_count(), len(world.git_sources())
            home = work / "backhub"
            offset = 0
            for day in range(1, args.days + 1):
                if day > 1:
                    emulator.control("POST", "advance", {"days": 1})
                    offset += 1
                date = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=offset)).isoformat()
                if day == 1:
                    record(floor(world, work, date))
                record(peer(world, program, work, str(day), date))
                record(backhub(world, home, work, str(day), date, offset))
            emulator.control("POST", "clock", {"days": 1})
            offset += 1
            date = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=offset)).isoformat()
            record(peer(world, program, work, "idle", date))
            record(backhub(world, home, work, "idle", date, offset))
            section = report(partial=False)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(section)
    if not args.no_readme:
        write_readme(section)
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
