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
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from resources.errors import ConfigurationError

REPO_DAGSTER_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", default=".demo", help="folder for the demo's instance, store, keys and emulator data (reused)")
    parser.add_argument("--days", type=int, default=1, help="simulated days to run, with emulator activity between them")
    parser.add_argument("--scale", default="small", choices=["tiny", "small", "medium"], help="emulator seed scale")
    parser.add_argument("--no-ui", action="store_true", help="stop after the summary instead of serving the Dagster UI")
    parser.add_argument("--port", type=int, default=3000, help="port for the Dagster UI")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


class DemoEmulator:
    """The emulator as a child process, with the control calls the demo needs."""

    def __init__(self, home: Path, scale: str, port: int = 0):
        """Start on ``port`` (the previous run's, so GitHub's URL and its ETags stay the same from one
        simulated day to the next, as real GitHub's do), or on any free port if that one is taken."""
        self.info_path = home / "emulator-info.json"
        self.log = open(home / "emulator.log", "ab")  # noqa: SIM115 - lives as long as the process
        if not self._start(home, scale, port) and port:
            self._start(home, scale, 0)
        if self.process.poll() is not None:
            raise ConfigurationError(f"the emulator exited with {self.process.returncode}; see {home / 'emulator.log'}")
        self.info: dict[str, Any] = json.loads(self.info_path.read_text())

    def _start(self, home: Path, scale: str, port: int) -> bool:
        self.info_path.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "backhub_pipeline.cli", "emulator", "--port", str(port), "--data", str(home / "emulator"),
             "--scale", scale, "--info", str(self.info_path)],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 600
        while not self.info_path.exists():
            if self.process.poll() is not None:
                return False
            if time.monotonic() > deadline:
                self.stop()
                raise ConfigurationError("the emulator did not start within 10 minutes")
            time.sleep(0.2)
        return True

    def control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        base = self.info.get("control_url") or f"{self.info['api_url']}/_emulator"
        request = urllib.request.Request(f"{base.rstrip('/')}/{path}", data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=600) as response:
            return json.loads(response.read() or b"{}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


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
    emulator = DemoEmulator(home, args.scale, port=state.get("emulator_port", 0))
    state["emulator_port"] = urllib.parse.urlsplit(emulator.info["api_url"]).port
    try:
        os.environ.update({
            "DAGSTER_HOME": str(dagster_home),
            "BACKHUB_GITHUB_API_URL": emulator.info["api_url"],
            "BACKHUB_GITHUB_APP_ID": str(emulator.info["app_id"]),
            "BACKHUB_GITHUB_APP_PRIVATE_KEY_PATH": emulator.info["private_key_path"],
        })
        for name in ("BACKHUB_STORE_URL", "BACKHUB_KEYRING_URL", "BACKHUB_MASTER_KEY_URI", "BACKHUB_S3_ENDPOINT_URL"):
            os.environ.pop(name, None)  # the demo always uses its own local store under the home
        _initialise_keys()  # the one place the demo's master key is created (first run of its home)
        say(f"emulator: {emulator.info['api_url']} ({len(emulator.info['installations'])} installations)")
        all_summaries = []
        for day in range(args.days):
            if state["dates"]:  # a new simulated day: a day of activity on GitHub, then the next snapshot
                emulator.control("advance", {"days": 1})
                state["offset_days"] += 1
            else:
                emulator.control("clock", {"offset_days": state["offset_days"]})
            os.environ["BACKHUB_CLOCK_OFFSET_DAYS"] = str(state["offset_days"])
            summaries = _snapshot_day()
            from backhub_pipeline.retention import expire_now  # retention runs after each simulated day
            expire_now()
            state["dates"].append(summaries[0].date if summaries else None)
            _save_state(state_path, state)
            all_summaries.extend(summaries)
            if not args.json:
                from backhub_pipeline.snapshots import render_table

                say(f"\nday {day + 1} of {args.days}: snapshot of {summaries[0].date if summaries else '?'}")
                say(render_table(summaries))
        if args.json:
            json.dump([summary.as_dict() for summary in all_summaries], sys.stdout, indent=2, default=str)
            print()
        ok = all(summary.success and not summary.checks_failed for summary in all_summaries)
        if args.no_ui:
            return 0 if ok else 1
        say(f"\nserving the Dagster UI on http://127.0.0.1:{args.port} (Ctrl-C to stop)")
        return _serve_ui(args.port)
    finally:
        emulator.stop()


def _initialise_keys() -> None:
    from backhub_pipeline.settings import Settings
    from resources.keyring import initialise

    settings = Settings.from_env()
    initialise(settings.keyring_url, settings.master_key_uri, s3_endpoint_url=settings.s3_endpoint_url)


def _snapshot_day():
    import dagster as dg

    from assets.partitions import SnapshotKey
    from backhub_pipeline.backup_cli import installed_customers
    from backhub_pipeline.definitions import defs
    from backhub_pipeline.settings import Settings
    from backhub_pipeline.snapshots import take_snapshots
    from resources.clock import Clock

    settings = Settings.from_env()
    date = Clock(offset_days=settings.clock_offset_days).today()
    customers = installed_customers(settings)
    with dg.DagsterInstance.get() as instance:
        return take_snapshots(instance, defs(), [SnapshotKey(customer, date) for customer in customers])


def _serve_ui(port: int) -> int:
    command = [sys.executable, "-m", "dagster", "dev", "-m", "backhub_pipeline.definitions",
               "-h", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(command)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        return process.wait()
