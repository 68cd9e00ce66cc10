"""``backhub demo``: the main job a new user runs first.

It starts the GitHub emulator and a local store under a demo home, registers the customers, takes
today's snapshot of every customer with all checks, prints a summary, and then serves the Dagster UI
with its daemon (schedules and sensors running) on http://127.0.0.1:3000. ``--days N`` runs N
consecutive simulated days with a day of emulator activity between them; the demo's clock and the
emulator's move in step, and the home (instance, store, keys, emulator data) is reused by the next run,
which continues with the next simulated day.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from github_emulator.process import EmulatorNotStarted, EmulatorProcess, start_emulator
from resources.errors import ConfigurationError

REPO_DAGSTER_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", default=".demo", help="folder for the demo's instance, store, keys and emulator data (reused)")
    parser.add_argument("--days", type=int, default=1, help="simulated days to run, with emulator activity between them")
    parser.add_argument("--scale", default="small", choices=["tiny", "small", "medium"], help="emulator seed scale")
    parser.add_argument("--no-ui", action="store_true", help="stop after the summary instead of serving the Dagster UI")
    parser.add_argument("--port", type=int, default=3000, help="port for the Dagster UI")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def start_demo_emulator(home: Path, scale: str, port: int = 0) -> EmulatorProcess:
    """Start on ``port`` (the previous run's, so GitHub's URL and its ETags stay the same from one
    simulated day to the next, as real GitHub's do), or on any free port if that one is taken."""

    def start(on_port: int) -> EmulatorProcess:
        return start_emulator(home / "emulator", info_path=home / "emulator-info.json",
                              log_path=home / "emulator.log", port=on_port, scale=scale, timeout=600)

    try:
        try:
            return start(port)
        except EmulatorNotStarted as exc:
            if not port or exc.returncode is None:
                raise
            return start(0)
    except EmulatorNotStarted as exc:
        if exc.returncode is None:
            raise ConfigurationError("the emulator did not start within 10 minutes") from exc
        raise ConfigurationError(f"the emulator exited with {exc.returncode}; see {exc.log_path}") from exc


def _load_state(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {"offset_days": 0, "dates": []}


def _save_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)


def prepare_home(home: Path) -> Path:
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    if not (dagster_home / "dagster.yaml").exists():
        shutil.copyfile(REPO_DAGSTER_YAML, dagster_home / "dagster.yaml")
    return dagster_home


def run(args: argparse.Namespace) -> int:
    if args.days < 1:
        raise ConfigurationError("--days must be at least 1")
    home = Path(args.home).resolve()
    dagster_home = prepare_home(home)
    state_path = home / "demo-state.json"
    state = _load_state(state_path)
    say = (lambda *_: None) if args.json else (lambda message: print(message, flush=True))

    say(f"backhub demo: home {home}")
    say(f"starting the GitHub emulator ({args.scale}); the first start seeds it...")
    emulator = start_demo_emulator(home, args.scale, port=state.get("emulator_port", 0))
    state["emulator_port"] = urllib.parse.urlsplit(emulator.info["api_url"]).port
    from backhub_pipeline.settings import Settings

    # Everything points at the demo's home and its emulator; the demo always uses its own local store.
    settings = Settings.from_env(overrides={
        "DAGSTER_HOME": str(dagster_home),
        "BACKHUB_GITHUB_API_URL": emulator.info["api_url"],
        "BACKHUB_GITHUB_APP_ID": str(emulator.info["app_id"]),
        "BACKHUB_GITHUB_APP_PRIVATE_KEY_PATH": emulator.info["private_key_path"],
        **dict.fromkeys(("BACKHUB_STORE_URL", "BACKHUB_KEYRING_URL", "BACKHUB_MASTER_KEY_URI", "BACKHUB_S3_ENDPOINT_URL")),
    })  # fmt: skip
    try:
        _initialise_keys(settings)  # the one place the demo's master key is created (first run of its home)
        say(f"emulator: {emulator.info['api_url']} ({len(emulator.info['installations'])} installations)")
        all_summaries = []
        for _ in range(args.days):
            if state["dates"]:  # a new simulated day: a day of activity on GitHub, then the next snapshot
                emulator.control("POST", "advance", {"days": 1})
                state["offset_days"] += 1
            else:
                emulator.control("POST", "clock", {"offset_days": state["offset_days"]})
            settings = dataclasses.replace(settings, clock_offset_days=state["offset_days"])
            # Numbered across runs of the demo: the home's second run takes "day 2".
            say(f"\nday {len(state['dates']) + 1}: snapshots of {wiring_today(settings)}")
            summaries = _snapshot_day(settings, progress=lambda line: say(f"  {line}"))
            _expire(settings)  # retention runs after each simulated day
            if summaries:
                _report(settings, summaries[0].date)
            state["dates"].append(summaries[0].date if summaries else None)
            _save_state(state_path, state)
            all_summaries.extend(summaries)
            if not args.json:
                from backhub_pipeline.cli.backup import render_table

                say(render_table(summaries))
        if args.json:
            json.dump([summary.as_dict() for summary in all_summaries], sys.stdout, indent=2, default=str)
            print()
        ok = all(summary.success and not summary.checks_failed for summary in all_summaries)
        ui_log = home / "dagster-ui.log"
        say(closing_block(home, settings.dagster_home, None if args.no_ui else args.port, ui_log,
                          customer=all_summaries[0].customer if all_summaries else None))
        if args.no_ui:
            return 0 if ok else 1
        return _serve_ui(args.port, settings, log_path=ui_log)
    finally:
        emulator.stop()


def _initialise_keys(settings) -> None:
    from resources.keyring import initialise

    initialise(settings.keyring_url, settings.master_key_uri, s3_endpoint_url=settings.s3_endpoint_url)


def wiring_today(settings) -> str:
    from backhub_pipeline import wiring

    return wiring.clock(settings).today()


def _snapshot_day(settings, progress=None):
    from assets.partitions import SnapshotKey
    from backhub_pipeline import wiring
    from backhub_pipeline.cli.backup import installed_customers, progress_line, take_snapshots
    from backhub_pipeline.definitions import definitions_from

    date = wiring_today(settings)
    keys = [SnapshotKey(customer, date) for customer in installed_customers(settings)]
    with wiring.instance(settings) as instance:  # each customer's line comes as its snapshot ends
        return take_snapshots(instance, definitions_from(settings, credentials_from_env=False), keys,
                              progress=(lambda summary: progress(progress_line(summary))) if progress else None)


def _report(settings, date: str) -> None:
    """Materialize the day's ``daily_report`` now (the daemon's sensor would, once the UI is up)."""
    from backhub_pipeline import wiring
    from backhub_pipeline.cli.runs import QUIET, run_job
    from backhub_pipeline.definitions import definitions_from

    with wiring.instance(settings) as instance:
        run_job(instance, definitions_from(settings, credentials_from_env=False), "daily_report_job",
                partition_key=date, run_config=QUIET)


def closing_block(home: Path, dagster_home: str, port: int | None, ui_log: Path, *, customer: str | None) -> str:
    """What the demo ends with: where the UI is, where its data lives, how to point the CLI at it."""
    lines = [""]
    if port is not None:
        lines.append(f"Dagster UI:   http://127.0.0.1:{port}   (Ctrl-C to stop; its log: {ui_log})")
    lines += [f"demo home:    {home}",
              "point the CLI at it:",
              f"  export DAGSTER_HOME={shlex.quote(dagster_home)}",
              "then try:",
              "  backhub status",
              f"  backhub snapshots --customer {customer or 'CUSTOMER'}",
              f"  backhub verify --customer {customer or 'CUSTOMER'} --read-data"]
    return "\n".join(lines)


def _expire(settings) -> dict | None:
    """Run ``expire_snapshots_job`` now, in this process; its report, or None when nothing is older than
    the window."""
    from backhub_pipeline import wiring
    from backhub_pipeline.cli.runs import report_of, run_job
    from backhub_pipeline.definitions import definitions_from
    from backhub_pipeline.retention.job import EXPIRY_TAG, expire_snapshots_job, expiry_run_config
    from backhub_pipeline.retention.plan import plan_expiry

    store = wiring.store_resource(settings).get_client()
    with wiring.instance(settings) as instance:
        plan = plan_expiry(instance, store, wiring.clock(settings).now().date(), settings.retention_days)
        if not plan.dates:
            return None
        result = run_job(instance, definitions_from(settings, credentials_from_env=False), expire_snapshots_job.name,
                         run_config=expiry_run_config(plan.dates), tags={EXPIRY_TAG: plan.key})
    return report_of(result, "expiry")


def ui_command(port: int) -> list[str]:
    return [sys.executable, "-m", "dagster", "dev", "-m", "backhub_pipeline.definitions",
            "-h", "127.0.0.1", "-p", str(port)]


class Stopped(Exception):
    """SIGTERM arrived: stop as Ctrl-C does."""


def _raise_stopped(_signum: int, _frame: Any) -> None:
    raise Stopped


#: How long ``dagster dev`` gets to stop its webserver, daemon and code server before they are killed.
STOP_GRACE_SECONDS = 20


def _serve_ui(port: int, settings, command: list[str] | None = None, log_path: Path | None = None) -> int:
    """``dagster dev`` loads the code location in processes of its own: they read the settings from the
    environment, so theirs is built from these settings.

    It runs in a session of its own, so Ctrl-C and SIGTERM alike reach the whole group (webserver,
    daemon, code server) through ``os.killpg``, and whatever is left when it exits is killed: nothing
    outlives the demo, even when ``dagster dev`` itself dies first."""
    with open(log_path or os.devnull, "ab") as log:  # the UI's own chatter goes to its log, not the terminal
        process = subprocess.Popen(command or ui_command(port), env=settings.child_environment(),
                                   start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    previous = signal.signal(signal.SIGTERM, _raise_stopped)
    try:
        return process.wait()
    except (KeyboardInterrupt, Stopped):
        _signal_group(process.pid, signal.SIGINT)
        try:
            return process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            return process.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
        _signal_group(process.pid, signal.SIGKILL)  # orphans of a child that died or stopped early


def _signal_group(group: int, signum: int) -> None:
    try:
        os.killpg(group, signum)
    except ProcessLookupError:  # the group is already empty
        pass
