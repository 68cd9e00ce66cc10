"""The emulator as a child process: start ``python -m github_emulator``, wait until it serves, stop it.

The one launcher the demo, the tests and the benchmarks share. The emulator writes its info file
(atomically) only once its socket listens, so :func:`start_emulator` returns an emulator that answers;
the info file's fields are exposed as they are (``api_url``, ``app_id``, ``private_key_path``, ...).
"""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from json import dumps, loads
from pathlib import Path
from typing import Any


class EmulatorNotStarted(RuntimeError):
    """The emulator exited (``returncode`` set) or wrote no info file in time (``returncode`` None)."""

    def __init__(self, message: str, returncode: int | None, log_path: Path) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.log_path = log_path


@dataclass
class EmulatorProcess:
    """A running emulator: what its info file says, and a client for its control API."""

    process: subprocess.Popen[bytes]
    info: dict[str, Any]
    data_dir: Path
    log_path: Path
    args: list[str] = field(default_factory=list)
    seconds_to_start: float = 0.0  # from spawning the process to reading its info file

    @property
    def api_url(self) -> str:
        return self.info["api_url"]

    @property
    def git_url(self) -> str:
        return self.info["git_url"]

    @property
    def control_url(self) -> str:
        return self.info["control_url"]

    @property
    def app_id(self) -> int:
        return int(self.info["app_id"])

    @property
    def private_key_path(self) -> Path:
        return Path(self.info["private_key_path"])

    @property
    def private_key(self) -> str:
        return self.private_key_path.read_text()

    @property
    def ca_cert(self) -> str | None:
        """The CA bundle that verifies the emulator's certificate under ``--tls``; None over HTTP."""
        return self.info.get("ca_cert")

    def installation_id(self, account: str) -> int:
        return next(i["id"] for i in self.info["installations"] if i["account"] == account)

    def control(self, method: str, path: str, json: Any = None, timeout: float = 600.0) -> Any:
        """Call ``/_emulator/<path>``; returns the decoded JSON answer, raises on an HTTP error."""
        url = f"{self.control_url.rstrip('/')}/{path.lstrip('/')}"
        data = None if json is None else dumps(json).encode()
        request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        context = ssl.create_default_context(cafile=self.ca_cert) if self.ca_cert else None
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return loads(response.read() or b"null")

    def state(self) -> dict[str, Any]:
        return self.control("GET", "state")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (the emulator saves its world and exits), then SIGKILL if it has not within ``timeout``."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_emulator(
    data_dir: Path,
    *,
    info_path: Path,
    log_path: Path,
    port: int = 0,
    scale: str = "tiny",
    customers: int = 0,
    seed: int = 1,
    tls: bool = False,
    faults: float = 0.0,
    rate_limit: int | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = 180.0,
) -> EmulatorProcess:
    """Start an emulator serving ``data_dir`` (seeded on first use, reused as it is after) and return
    once it listens. Its output is appended to ``log_path``. Raises :class:`EmulatorNotStarted`."""
    data_dir, info_path, log_path = Path(data_dir), Path(info_path), Path(log_path)
    info_path.unlink(missing_ok=True)  # a stale one would read as ready
    args = [
        sys.executable, "-m", "github_emulator",
        "--port", str(port), "--data", str(data_dir), "--scale", scale, "--seed", str(seed),
        "--faults", str(faults), "--info", str(info_path),
        *(["--customers", str(customers)] if customers else []),
        *(["--tls"] if tls else []),
        *(["--rate-limit", str(rate_limit)] if rate_limit is not None else []),
        *extra_args,
    ]  # fmt: skip
    started = time.monotonic()
    with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    deadline = started + timeout
    while not info_path.exists():
        if process.poll() is not None:
            raise EmulatorNotStarted(
                f"the emulator exited with {process.returncode}:\n{_tail(log_path)}", process.returncode, log_path
            )
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise EmulatorNotStarted(
                f"the emulator wrote no info file within {timeout:.0f}s:\n{_tail(log_path)}", None, log_path
            )
        time.sleep(0.02)
    info = loads(info_path.read_text())
    return EmulatorProcess(process, info, data_dir, log_path, args, time.monotonic() - started)


def _tail(log_path: Path, chars: int = 4000) -> str:
    return log_path.read_text(errors="replace")[-chars:] if log_path.exists() else ""
