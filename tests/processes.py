"""Processes a test (or a benchmark) starts and kills: the tree below one, and waiting on a condition."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from /proc (a daemon's code server and run workers, git)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(process: subprocess.Popen, *, group: bool = False, timeout: float = 30) -> None:
    """SIGKILL ``process`` and everything below it (and its process group, with ``group``)."""
    for pid in [*descendants(process.pid), process.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if group:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=timeout)


def wait_for(predicate: Callable[[], T], timeout: float, what: str, logs: Callable[[], str],
             interval: float = 0.5) -> T:
    """``predicate()``'s first truthy value; past ``timeout``, AssertionError naming ``what`` with ``logs()``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s\n{logs()}")
        time.sleep(interval)
