"""Fixtures that start the GitHub emulator as a real process on a free loopback port.

``start_emulator(tmp_dir, ...)`` starts one through :mod:`github_emulator.process` with its data, info
file and log under ``tmp_dir``. ``emulator`` is one tiny HTTP emulator per test worker, for tests that
only read; tests that change anything (writes, advance, clock, faults, limits, token expiry) use
``fresh_emulator``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from github_emulator import process
from github_emulator.process import EmulatorProcess


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
    """Start an emulator with its data in ``tmp_dir/data`` (reused if it holds a world)."""
    tmp_dir = Path(tmp_dir)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    return process.start_emulator(
        tmp_dir / "data",
        info_path=tmp_dir / f"info-{time.monotonic_ns()}.json",
        log_path=tmp_dir / "emulator.log",
        scale=scale,
        seed=seed,
        tls=tls,
        faults=faults,
        extra_args=extra_args,
        timeout=timeout,
    )


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


def timeless_accounts(state: dict) -> dict:
    """The accounts without issue and discussion timestamps, which follow the (wall-clock based) emulator
    clock."""
    def drop(item: dict) -> None:
        item.pop("created_at", None)
        item.pop("updated_at", None)
        for child in (*item.get("comments", ()), *item.get("replies", ())):
            drop(child)

    for account in state["accounts"].values():
        for repo in account["repositories"].values():
            for issue in repo["issues"].values():
                issue.pop("updated_at")
            for discussion in repo.get("discussions", {}).values():
                drop(discussion)
    return state["accounts"]
