"""Stopping the demo's UI stops everything it started: ``dagster dev`` and its webserver, daemon and
code server, whether the demo is sent SIGTERM or ``dagster dev`` dies under it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 300

SERVE = """
import sys
from backhub_pipeline.cli.demo import _serve_ui
from backhub_pipeline.settings import Settings
sys.exit(_serve_ui(int(sys.argv[1]), Settings.from_env(overrides={"DAGSTER_HOME": sys.argv[2]})))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _session_members(session: int) -> list[int]:
    """Live processes (not zombies) whose session id is ``session``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def _ui_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def demo_ui(tmp_path: Path):
    """The demo's UI helper as a process of its own, once the UI answers and its group has the
    webserver, daemon and code server; yields (demo process, dagster dev's pid)."""
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    demo = subprocess.Popen([sys.executable, "-c", SERVE, str(port), str(home)], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dev_pid = None
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline and demo.poll() is None:
            children = Path(f"/proc/{demo.pid}/task/{demo.pid}/children").read_text().split()
            dev_pid = int(children[0]) if children else None
            if dev_pid and len(_session_members(dev_pid)) >= 4 and _ui_answers(port):
                break
            time.sleep(1)
        assert dev_pid and _ui_answers(port), "the UI did not come up"
        yield demo, dev_pid
    finally:
        if demo.poll() is None:
            demo.kill()
        if dev_pid:
            for pid in _session_members(dev_pid):
                os.kill(pid, signal.SIGKILL)


def _wait_until_gone(session: int, seconds: float = 60) -> list[int]:
    deadline = time.monotonic() + seconds
    while _session_members(session) and time.monotonic() < deadline:
        time.sleep(0.5)
    return _session_members(session)


def test_sigterm_stops_dagster_dev_and_every_process_it_started(demo_ui) -> None:
    demo, dev_pid = demo_ui
    assert len(_session_members(dev_pid)) >= 4  # dagster dev, webserver, daemon, code server
    demo.send_signal(signal.SIGTERM)
    demo.wait(timeout=60)
    assert _wait_until_gone(dev_pid) == []


def test_when_dagster_dev_dies_its_webserver_daemon_and_code_server_are_stopped(demo_ui) -> None:
    demo, dev_pid = demo_ui
    os.kill(dev_pid, signal.SIGKILL)
    demo.wait(timeout=60)
    assert _wait_until_gone(dev_pid) == []
