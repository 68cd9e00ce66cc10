"""Crashes at random points, then reruns: ``python -m bench.crash_bench [--kills 5] [--seed 1]``.

An embedded installation in a scratch folder (the tiny emulator world, the repository's ``dagster.yaml``
with a short run-monitoring timeout, a local encrypted store), driven through the ``backhub`` CLI and a
real ``dagster-daemon`` exactly as an operator would. Four kinds of crash, ``--kills`` of each, each
at a random moment drawn from a seeded RNG (SIGKILL to the whole process group and every descendant:
git, the code server, run workers):

- ``backup``: ``backhub backup --customer A --date D`` (a new date each time), killed at a moment drawn
  uniformly from 70% of the command's start-up (the measured length of ``backhub snapshots``) to the
  length of its latest whole run (the first is the baseline; later ones are incremental and shorter);
  then rerun with ``--replace``;
- ``restore``: ``backhub restore --customer A --date D --to DIR`` killed the same way; then rerun with
  ``--force`` (it replaces only a folder a restore made);
- ``daemon``: first the daemon runs until monitoring has ended the ``backhub backup`` runs killed
  above (STARTED, with nobody left to end them); then, customers alternating, a backfill of one
  (customer, date) is launched through the daemon and, once its run has started, the daemon, its code
  server and the run's worker are killed at U(0, a backup's length); the daemon is restarted for the
  next one. At the end the daemon runs until monitoring has dealt with every run (at most one timeout),
  and each date whose snapshot is not whole is rerun with ``backhub backup --replace``; every customer
  is verified before the erasures;
- ``erase``: customer B backed up, then ``backhub customers erase B --yes`` killed the same way
  against an erasure's length; then rerun.

Then it counts, and writes to bench/README.md: committed snapshots lost or changed (every manifest
committed before a crash must still be there, byte for byte), runs left unfinished after the monitoring
timeout, plaintext left behind (restore staging folders, backhub scratch folders in the processes'
``TMPDIR``, the git cache and store folders of the erased customer, an erasure listed as unfinished),
and whether every snapshot of every customer passes ``backhub verify --read-data``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
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

import yaml

from bench.readme import write_section
from github_emulator.process import start_emulator
from tests.processes import kill_tree as tests_kill_tree

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- crash-bench:start -->", "<!-- crash-bench:end -->"
BIN = Path(sys.executable).parent
ASSETS = {"inventory", "repositories", "issues", "wikis"}
UNFINISHED = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")

LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""


def kill_tree(process: subprocess.Popen) -> None:
    tests_kill_tree(process, group=True, timeout=60)


class Bench:
    def __init__(self, work: Path, args: argparse.Namespace) -> None:
        self.work, self.args = work, args
        self.rng = random.Random(args.seed)
        self.home = work / "home"
        self.tmp = work / "tmp"  # every child's TMPDIR: scratch folders left by a kill are counted here
        self.restores = work / "restores"
        self.logs = work / "logs"
        for path in (self.home, self.tmp, self.restores, self.logs):
            path.mkdir(parents=True, exist_ok=True)
        self.emulator = start_emulator(work / "emulator", info_path=work / "emulator-info.json",
                                       log_path=self.logs / "emulator.log", scale="tiny", rate_limit=10**9)
        info = self.emulator.info
        self.customers = sorted(inst["account"].lower() for inst in info["installations"])
        self.env = {
            **os.environ,
            "DAGSTER_HOME": str(self.home),
            "TMPDIR": str(self.tmp),
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            "BACKHUB_GITHUB_API_URL": info["api_url"],
            "BACKHUB_GITHUB_APP_ID": str(info["app_id"]),
            "BACKHUB_GITHUB_APP_PRIVATE_KEY_PATH": info["private_key_path"],
            "BACKHUB_CLOCK_OFFSET_DAYS": "0",
        }
        for name in ("BACKHUB_STORE_URL", "BACKHUB_KEYRING_URL", "BACKHUB_MASTER_KEY_URI", "BACKHUB_S3_ENDPOINT_URL",
                     "BACKHUB_GIT_CACHE_DIR", "BACKHUB_AUDIT_URL", "BACKHUB_EXECUTOR"):
            self.env.pop(name, None)
        # The shipped embedded instance, with run monitoring's timeouts shortened for the benchmark only.
        config = yaml.safe_load((ROOT / "dagster.yaml").read_text())
        config["run_monitoring"].update(start_timeout_seconds=args.start_timeout, cancel_timeout_seconds=30,
                                        max_runtime_seconds=args.max_runtime, poll_interval_seconds=2)
        (self.home / "dagster.yaml").write_text(yaml.safe_dump(config))
        self.committed: dict[str, str] = {}  # manifest path -> sha256 of its bytes, once committed
        self.events: list[dict] = []
        self.daemon: subprocess.Popen | None = None

    # -- commands ---------------------------------------------------------------------------------
    def spawn(self, *args: str, log: str) -> subprocess.Popen:
        with open(self.logs / f"{log}.log", "ab") as out:
            return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=self.work,
                                    start_new_session=True)

    def backhub(self, *args: str, log: str = "backhub", check: bool = True) -> tuple[int, float]:
        started = time.monotonic()
        process = self.spawn(sys.executable, "-m", "backhub_pipeline.cli", *args, log=log)
        code = process.wait()
        if check and code != 0:
            raise RuntimeError(f"backhub {' '.join(args)} exited {code}; see {self.logs / (log + '.log')}")
        return code, time.monotonic() - started

    def kill_at(self, seconds: float, *args: str, log: str, kind: str = "") -> str:
        """Run ``backhub ARGS`` and SIGKILL it (with everything below it) after ``seconds``."""
        started = time.monotonic()
        process = self.spawn(sys.executable, "-m", "backhub_pipeline.cli", *args, log=log)
        try:
            process.wait(timeout=seconds)
            if kind and process.returncode == 0:  # a whole run: the next kill point is drawn from its length
                self.lengths[kind] = time.monotonic() - started
            return f"finished before the kill (exit {process.returncode})"
        except subprocess.TimeoutExpired:
            kill_tree(process)
            return "killed"

    # -- what is in the store -------------------------------------------------------------------
    @property
    def store(self) -> Path:
        return self.home / "store"

    def manifests(self, customer: str) -> dict[str, str]:
        root = self.store / "customers" / customer / "snapshots"
        return {str(p.relative_to(self.store)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*.json"))} if root.exists() else {}

    def whole(self, customer: str, date: str) -> bool:
        folder = self.store / "customers" / customer / "snapshots" / date
        return folder.exists() and {p.stem for p in folder.glob("*.json")} >= ASSETS

    def commit(self, customer: str) -> None:
        """Every manifest now in the store must stay as it is through every later crash."""
        self.committed.update(self.manifests(customer))

    def lost_or_changed(self) -> list[str]:
        current = {**self.manifests(self.customers[0])}
        return [path for path, digest in self.committed.items()
                if path.startswith(f"customers/{self.customers[0]}/") and current.get(path) != digest]

    def record(self, kind: str, index: int, delay: float, outcome: str, **extra) -> None:
        event = {"kind": kind, "i": index, "kill_after_s": round(delay, 2), "outcome": outcome, **extra,
                 "lost_or_changed": len(self.lost_or_changed())}
        self.events.append(event)
        print(json.dumps(event), flush=True)

    # -- the four kinds of crash ----------------------------------------------------------------
    def dates(self, start: int, count: int) -> list[str]:
        today = dt.date.fromisoformat(self.today)
        return [(today - dt.timedelta(days=start + i)).isoformat() for i in range(count)]

    def baseline(self) -> None:
        self.backhub("init", log="init")
        a, b = self.customers[0], self.customers[1]
        self.today = dt.datetime.now(dt.UTC).date().isoformat()
        _, self.backup_seconds = self.backhub("backup", "--customer", a, log="baseline")
        # A command's first seconds are imports; kills are drawn from after them to just past the end.
        _, self.startup_seconds = self.backhub("snapshots", "--customer", a, log="baseline")
        self.commit(a)
        target = self.restores / "baseline"
        _, self.restore_seconds = self.backhub("restore", "--customer", a, "--date", self.today, "--to", str(target),
                                               "--quiet", log="baseline")
        self.backhub("backup", "--customer", b, log="baseline")
        _, self.erase_seconds = self.backhub("customers", "erase", b, "--yes", log="baseline")
        self.lengths = {"backup": self.backup_seconds, "restore": self.restore_seconds, "erase": self.erase_seconds}
        print(json.dumps({"baseline_s": {"startup": round(self.startup_seconds, 1), "backup": round(self.backup_seconds, 1),
                                         "restore": round(self.restore_seconds, 1),
                                         "erase": round(self.erase_seconds, 1)}}), flush=True)

    def scratch(self) -> int:
        """backhub's scratch folders in the processes' TMPDIR (plaintext while they exist)."""
        return sum(1 for p in self.tmp.iterdir() if p.name.startswith("backhub-"))

    def point(self, kind: str) -> float:
        """A random moment from most of the start-up to the end of the command's latest whole run (later
        runs are incremental, so shorter than the first)."""
        length = self.lengths[kind]
        floor = min(self.startup_seconds * 0.7, length * 0.5)
        return self.rng.uniform(floor, length)

    def backups(self) -> None:
        a = self.customers[0]
        for i, date in enumerate(self.dates(1, self.args.kills)):
            delay = self.point("backup")
            outcome = self.kill_at(delay, "backup", "--customer", a, "--date", date, log=f"backup-{i}", kind="backup")
            partial = sorted(p.split("/")[-1] for p in self.manifests(a) if f"/{date}/" in p)
            scratch = self.scratch()
            _, self.lengths["backup"] = self.backhub("backup", "--customer", a, "--date", date, "--replace",
                                                     log=f"backup-{i}-rerun")
            self.commit(a)
            self.record("backup", i, delay, outcome, manifests_at_kill=partial, scratch_at_kill=scratch,
                        scratch_after_rerun=self.scratch())

    def restores_(self) -> None:
        a = self.customers[0]
        for i in range(self.args.kills):
            target = self.restores / f"r{i}"
            delay = self.point("restore")
            outcome = self.kill_at(delay, "restore", "--customer", a, "--date", self.today, "--to", str(target),
                                   "--quiet", log=f"restore-{i}", kind="restore")
            staging_at_kill = len(list(self.restores.glob(f".r{i}.restore-*")))
            scratch = self.scratch()
            _, self.lengths["restore"] = self.backhub("restore", "--customer", a, "--date", self.today, "--to",
                                                      str(target), "--force", "--quiet", log=f"restore-{i}-rerun")
            complete = (target / "backhub-restore.json").exists()
            self.record("restore", i, delay, outcome, staging_at_kill=staging_at_kill, scratch_at_kill=scratch,
                        complete_after_rerun=complete, staging_after_rerun=len(list(self.restores.glob(".r*"))))

    def erasures(self) -> None:
        b = self.customers[1]
        for i in range(self.args.kills):
            self.clear_tombstone(b)
            self.backhub("backup", "--customer", b, "--replace", log=f"erase-{i}-backup")
            delay = self.point("erase")
            outcome = self.kill_at(delay, "customers", "erase", b, "--yes", log=f"erase-{i}", kind="erase")
            listed = self.unfinished_erasures()
            cache_at_kill = (self.home / "git-cache" / b).exists()
            self.backhub("customers", "erase", b, "--yes", log=f"erase-{i}-rerun")
            self.record("erase", i, delay, outcome, listed_unfinished=b in listed, git_cache_at_kill=cache_at_kill,
                        leftovers_after_rerun=self.erasure_leftovers(b))

    def unfinished_erasures(self) -> list[str]:
        """The customers ``backhub customers`` lists as erasure unfinished (it then exits 1)."""
        result = subprocess.run([sys.executable, "-m", "backhub_pipeline.cli", "customers", "--json"],
                                capture_output=True, text=True, env=self.env, cwd=self.work)
        return sorted(json.loads(result.stdout)["unfinished_erasures"])

    def erasure_leftovers(self, customer: str) -> list[str]:
        found = []
        # The keyring keeps the customer's tombstone (name and time, no key material): not a leftover.
        for path in (self.home / "git-cache" / customer, self.store / "customers" / customer):
            if path.exists():
                found.append(str(path.relative_to(self.home)))
        return found

    # -- the daemon ----------------------------------------------------------------------------
    def start_daemon(self, name: str) -> None:
        self.daemon = self.spawn(str(BIN / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml"), log=name)

    def stop_daemon(self) -> None:
        if self.daemon is not None:
            kill_tree(self.daemon)
            self.daemon = None

    def dagster(self, *args: str) -> str:
        result = subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True, env=self.env,
                                cwd=ROOT, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
        return result.stdout

    def launch(self, partition: str) -> str:
        output = self.work / f"graphql-{uuid.uuid4().hex[:8]}.json"
        self.dagster("dagster-graphql", "-w", str(ROOT / "workspace.yaml"), "-t", LAUNCH_BACKFILL, "-o", str(output),
                     "-v", json.dumps({"params": {
                         "selector": {"partitionSetName": "snapshot_job_partition_set",
                                      "repositorySelector": {"repositoryLocationName": "backhub",
                                                             "repositoryName": "__repository__"}},
                         "partitionNames": [partition]}}))
        launched = json.loads(output.read_text())["data"]["launchPartitionBackfill"]
        if launched["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(f"backfill not launched: {launched}")
        return launched["backfillId"]

    @contextlib.contextmanager
    def environment(self):
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)

    @contextlib.contextmanager
    def instance(self):
        import dagster as dg

        with self.environment(), dg.DagsterInstance.get() as instance:
            yield instance

    def clear_tombstone(self, customer: str) -> None:
        """An erased customer's backups are refused until an operator clears the tombstone (format.md 7.5)."""
        from backhub_pipeline import wiring
        from backhub_pipeline.settings import Settings

        with self.environment():
            keyring = wiring.clients(Settings.from_env()).store.keyring
            if keyring.is_shredded(customer):
                keyring.clear_tombstone(customer)

    def runs(self) -> list[tuple[str, str, str]]:
        """(run id, status, partition) of every run in the instance."""
        with self.instance() as instance:
            return [(r.run_id, r.status.value, r.tags.get("dagster/partition", "")) for r in instance.get_runs()]

    def settle(self, name: str) -> list[tuple[str, str, str]]:
        """Run the daemon until run monitoring has finished every run, or one timeout (plus the cancel
        timeout and a margin) has passed; returns the runs still unfinished then."""
        self.start_daemon(name)
        deadline = time.monotonic() + self.args.max_runtime + 30 + 120
        while time.monotonic() < deadline:
            time.sleep(5)
            if not [r for r in self.runs() if r[1] in UNFINISHED]:
                break
        unfinished = [r for r in self.runs() if r[1] in UNFINISHED]
        self.stop_daemon()
        return unfinished

    def wait_started(self, partition: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = [status for _, status, p in self.runs() if p == partition]
            if states and states[-1] != "QUEUED" and states[-1] != "NOT_STARTED":
                return states[-1]
            time.sleep(1)
        return "not started"

    def daemons(self) -> None:
        dates = self.dates(1 + self.args.kills, self.args.kills)
        self.dagster("dagster", "sensor", "stop", "-w", str(ROOT / "workspace.yaml"), "daily_snapshot_sensor")
        with self.instance() as instance:  # as `backhub backup` does before a run (the UI's backfill needs them)
            instance.add_dynamic_partitions("date", dates)
            instance.add_dynamic_partitions("customer", self.customers)
        self.clear_tombstone(self.customers[1])  # erased in the baseline; its daemon runs must be able to back up
        # The `backhub backup` runs killed above are STARTED with nobody to end them: monitoring's turn.
        self.unfinished_runs = self.settle("daemon-cli-sweep")
        self.daemon_partitions = []
        self.start_daemon("daemon-0")
        for i, date in enumerate(dates):
            # Customers alternate: a customer's killed run holds its slot until monitoring ends it.
            partition = f"{self.customers[i % 2]}|{date}"
            self.daemon_partitions.append(partition)
            launched = time.monotonic()
            self.launch(partition)
            state = self.wait_started(partition, 150)
            started_after = time.monotonic() - launched
            delay = self.rng.uniform(0, self.backup_seconds)
            time.sleep(delay)
            states = [status for _, status, p in self.runs() if p == partition]
            self.stop_daemon()
            self.record("daemon", i, delay, "killed", partition=partition, state_after_launch=state,
                        started_after_s=round(started_after, 1), run_states_at_kill=states)
            self.start_daemon(f"daemon-{i + 1}")
        self.stop_daemon()
        self.unfinished_runs += self.settle("daemon-final")
        self.run_states = sorted({r[1] for r in self.runs()})
        self.daemon_reruns = 0
        for partition in self.daemon_partitions:
            customer, date = partition.split("|")
            if not self.whole(customer, date):
                self.daemon_reruns += 1
                self.backhub("backup", "--customer", customer, "--date", date, "--replace", log=f"daemon-rerun-{date}")
        self.commit(self.customers[0])

    # -- the tally -----------------------------------------------------------------------------
    def verify_all(self) -> dict[str, int]:
        results = {}
        # Every customer with snapshots in the store (the erased one has none left).
        for customer in sorted(p.name for p in (self.store / "customers").iterdir() if p.is_dir()):
            code, _ = self.backhub("verify", "--customer", customer, "--read-data", "--quiet", log="verify", check=False)
            results[customer] = code
        return results

    def leftovers(self) -> dict[str, list[str]]:
        # backhub's scratch folders (git, verify, restore, push); Dagster's own sockets are not data.
        scratch = sorted(p.name for p in self.tmp.iterdir() if p.name.startswith("backhub-"))
        staging = [p.name for p in self.restores.iterdir() if p.name.startswith(".")]
        store_tmp = [str(p.relative_to(self.store)) for p in self.store.rglob("*") if p.is_file()
                     and p.name.startswith(".")]
        return {"tmpdir": scratch, "restore_staging": staging, "store_temporary": store_tmp,
                "erased_customer": self.erasure_leftovers(self.customers[1]),
                "unfinished_erasures": self.unfinished_erasures()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=5, help="crashes of each kind (default 5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-runtime", type=int, default=90, help="the bench instance's max_runtime_seconds")
    parser.add_argument("--start-timeout", type=int, default=60, help="the bench instance's start_timeout_seconds")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--no-readme", action="store_true", help="print only; leave bench/README.md alone")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="backhub-crash-bench-"))
    started = time.monotonic()
    bench = Bench(work, args)
    try:
        bench.baseline()
        bench.backups()
        bench.restores_()
        bench.daemons()
        verify_before_erasure = bench.verify_all()
        bench.erasures()
        verify = bench.verify_all()
        leftovers = bench.leftovers()
        lost = bench.lost_or_changed()
    finally:
        bench.stop_daemon()
        bench.emulator.stop()
    minutes = (time.monotonic() - started) / 60
    summary = {
        "kills": {kind: sum(1 for e in bench.events if e["kind"] == kind) for kind in ("backup", "restore", "daemon", "erase")},
        "killed_mid_way": sum(1 for e in bench.events if e["outcome"] == "killed"),
        "committed_manifests": len(bench.committed),
        "lost_or_changed": lost,
        "unfinished_runs": bench.unfinished_runs,
        "run_states": bench.run_states,
        "daemon_reruns": bench.daemon_reruns,
        "verify_exit_codes_before_erasure": verify_before_erasure,
        "verify_exit_codes": verify,
        "leftovers": leftovers,
        "minutes": round(minutes, 1),
        "work": str(work),
    }
    print(json.dumps(summary, indent=2), flush=True)
    if not args.no_readme:
        write_readme(bench, summary, args)
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    ok = not lost and not bench.unfinished_runs and all(code == 0 for code in [*verify.values(), *verify_before_erasure.values()]) and not any(leftovers.values())
    return 0 if ok else 1


def write_readme(bench: Bench, summary: dict, args: argparse.Namespace) -> None:
    rows = ["| kind | i | kill after (s) | outcome | at the kill | lost/changed manifests after |",
            "|---|---:|---:|---|---|---:|"]
    for e in bench.events:
        detail = {k: v for k, v in e.items() if k not in {"kind", "i", "kill_after_s", "outcome", "lost_or_changed"}}
        rows.append(f"| {e['kind']} | {e['i']} | {e['kill_after_s']} | {e['outcome']} | "
                    f"{json.dumps(detail, separators=(',', ':')).replace('|', '/')} | {e['lost_or_changed']} |")
    leftovers = summary["leftovers"]
    section = "\n".join([
        START,
        f"## Crashes (`python -m bench.crash_bench --kills {args.kills} --seed {args.seed}`)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()} with 2 cores shared "
        f"with other work, Python {platform.python_version()}, {summary['minutes']} minutes. Tiny emulator world, "
        "embedded instance (`dagster.yaml` with run monitoring's `max_runtime_seconds` shortened to "
        f"{args.max_runtime} s, `start_timeout_seconds` {args.start_timeout} s, `cancel_timeout_seconds` 30 s, "
        "polled every 2 s), local encrypted store. Every kill is SIGKILL to the process group and every "
        "descendant, at a moment drawn uniformly from 70% of start-up "
        f"({bench.startup_seconds:.1f} s, the length of `backhub snapshots`) to the length of the command's latest "
        f"whole run (baselines: backup {bench.backup_seconds:.1f} s, restore {bench.restore_seconds:.1f} s, erase "
        f"{bench.erase_seconds:.1f} s, whole processes); the daemon at U(0, a backup's length) after its run "
        "started (customers alternating, since a killed run holds its customer's slot until monitoring ends it).",
        "",
        "| measure | result |",
        "|---|---|",
        f"| crashes (backup / restore / daemon / erase) | {' / '.join(str(v) for v in summary['kills'].values())}"
        f" ({summary['killed_mid_way']} landed while the command ran, the rest after it had finished) |",
        f"| committed manifests tracked | {summary['committed_manifests']} |",
        f"| committed snapshots lost or changed | **{len(summary['lost_or_changed'])}** |",
        f"| runs unfinished after the monitoring timeout | **{len(summary['unfinished_runs'])}** "
        f"(run states at the end: {', '.join(summary['run_states'])}) |",
        f"| daemon-killed dates rerun by `backup --replace` | {summary['daemon_reruns']} of {summary['kills']['daemon']} |",
        f"| `verify --read-data` exit codes, every customer before the erasures | {summary['verify_exit_codes_before_erasure']} |",
        f"| `verify --read-data` exit codes at the end | {summary['verify_exit_codes']} |",
        f"| scratch folders left in TMPDIR | **{len(leftovers['tmpdir'])}** {leftovers['tmpdir'][:6]} |",
        f"| restore staging folders left | **{len(leftovers['restore_staging'])}** |",
        f"| temporary files left in the store | {len(leftovers['store_temporary'])} |",
        f"| erased customer's git cache or store folder left (its keyring keeps a tombstone, no key) | **{len(leftovers['erased_customer'])}** |",
        f"| erasures listed unfinished at the end | {len(leftovers['unfinished_erasures'])} |",
        "",
        "Each crash:",
        "",
        *rows,
        END,
    ])
    write_section(START, END, section)


if __name__ == "__main__":
    sys.exit(main())
