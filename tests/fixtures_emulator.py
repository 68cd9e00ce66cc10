"""Fixtures that start the GitHub emulator as a real process on a free loopback port.

``start_emulator(tmp_dir, ...)`` runs ``backhub emulator`` in a subprocess with ``--port 0`` and
returns once its info file exists. ``emulator`` is one tiny HTTP emulator per test worker, for tests
that only read; tests that change anything (writes, advance, clock, faults, limits, token expiry) use
``fresh_emulator``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


@dataclass
class EmulatorProcess:
    """A running emulator: its info file's contents and a client for the control API."""

    process: subprocess.Popen[bytes]
    info: dict[str, Any]
    data_dir: Path
    log_path: Path
    args: list[str] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return self.info["api_url"]

    @property
    def git_url(self) -> str:
        return self.info["git_url"]

    @property
    def app_id(self) -> int:
        return int(self.info["app_id"])

    @property
    def private_key(self) -> str:
        return Path(self.info["private_key_path"]).read_text()

    def installation_id(self, account: str) -> int:
        return next(i["id"] for i in self.info["installations"] if i["account"] == account)

    def control(self, method: str, path: str, json: Any = None) -> Any:
        """Call ``/_emulator/<path>``; returns the decoded JSON answer, raises on an HTTP error."""
        import json as _json
        import ssl

        url = f"{self.info['control_url']}/{path.lstrip('/')}"
        data = None if json is None else _json.dumps(json).encode()
        request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        context = ssl.create_default_context(cafile=self.info["ca_cert"]) if "ca_cert" in self.info else None
        with urllib.request.urlopen(request, timeout=300, context=context) as response:
            return _json.loads(response.read() or b"null")

    def state(self) -> dict[str, Any]:
        return self.control("GET", "state")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_emulator(
    tmp_dir: Path,
    *,
    scale: str = "tiny",
    seed: int = 1,
    tls: bool = False,
    faults: float = 0.0,
    extra_args: Sequence[str] = (),
    timeout: float = 180.0,
) -> EmulatorProcess:
    """Start ``backhub emulator`` with its data in ``tmp_dir/data`` (reused if it holds a world)."""
    tmp_dir = Path(tmp_dir)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    data_dir = tmp_dir / "data"
    info_path = tmp_dir / f"info-{time.monotonic_ns()}.json"
    log_path = tmp_dir / "emulator.log"
    args = [
        sys.executable, "-m", "backhub_pipeline.cli", "emulator",
        "--port", "0", "--data", str(data_dir), "--scale", scale, "--seed", str(seed),
        "--faults", str(faults), "--info", str(info_path),
        *(["--tls"] if tls else []),
        *extra_args,
    ]  # fmt: skip
    log = open(log_path, "ab")  # noqa: SIM115 - the child process owns it
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
    log.close()
    deadline = time.monotonic() + timeout
    while not info_path.exists():
        if process.poll() is not None:
            raise RuntimeError(f"emulator exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        if time.monotonic() > deadline:
            process.kill()
            raise TimeoutError(f"emulator not ready after {timeout}s:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.05)
    info = json.loads(info_path.read_text())
    return EmulatorProcess(process=process, info=info, data_dir=data_dir, log_path=log_path, args=args)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """A tiny HTTP emulator shared by a worker's read-only tests. Do not change its state."""
    proc = start_emulator(tmp_path_factory.mktemp("emulator"))
    yield proc
    proc.stop()


@pytest.fixture
def fresh_emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    """A tiny HTTP emulator of the test's own, free to change."""
    proc = start_emulator(tmp_path / "emulator")
    yield proc
    proc.stop()
