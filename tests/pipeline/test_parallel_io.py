"""Repositories are read and fetched in parallel (``BACKHUB_PARALLELISM``): the snapshot is the one the
sequential path takes, and an error in one repository is reported as that repository's."""

from __future__ import annotations

import os
import shutil
import threading
import time
from typing import Any

import pytest

from assets.common import per_repository
from tests.installation import Backhub

CUSTOMER = "acme-corp"
VOLATILE = {"watermark", "full_read_at"}  # the capture's own start time


def _bodies(backhub: Backhub) -> dict[str, dict[str, Any]]:
    store = backhub.store()
    bodies = {}
    for asset in ("inventory", "repositories", "issues", "wikis"):
        entries = store.read_manifest(CUSTOMER, backhub.today(), asset).body["repositories"]
        if asset == "inventory":
            bodies[asset] = {str(entry["id"]): entry for entry in entries}
        elif asset in ("repositories", "wikis"):
            # Bundles are packed afresh by git (its delta search may order objects differently), so a
            # chain is compared by what it rebuilds: the tips, and how the day extended it.
            bodies[asset] = {key: {**{k: v for k, v in entry.items() if k != "chain"},
                                   "chain": [(link["kind"], link["date"]) for link in entry.get("chain", [])]}
                             for key, entry in entries.items()}
        else:
            bodies[asset] = {key: {k: _stable(v) for k, v in entry.items() if k not in VOLATILE}
                             for key, entry in entries.items()}
    return bodies


def _stable(value: Any) -> Any:
    """A nested part (discussions) without its own capture-time fields."""
    return {k: v for k, v in value.items() if k not in VOLATILE} if isinstance(value, dict) else value


@pytest.mark.slow
def test_a_parallel_snapshot_equals_the_sequential_one(backhub: Backhub) -> None:
    backhub.monkeypatch.setenv("BACKHUB_PARALLELISM", "1")
    [sequential] = backhub.snapshot([CUSTOMER])
    assert sequential.success, sequential.error
    expected = _bodies(backhub)
    shutil.rmtree(os.environ["BACKHUB_GIT_CACHE_DIR"])  # the parallel run fetches everything again

    backhub.monkeypatch.setenv("BACKHUB_PARALLELISM", "8")
    [parallel] = backhub.snapshot([CUSTOMER])

    assert parallel.success, parallel.error
    assert parallel.checks_failed == []
    assert _bodies(backhub) == expected
    # Not logical_bytes: bundles packed afresh may differ in size by a few bytes.
    for count in ("repositories", "issues", "pull_requests", "comments", "wikis"):
        assert getattr(parallel, count) == getattr(sequential, count), count


def test_results_come_back_in_the_order_of_the_repositories_however_the_calls_finish() -> None:
    def slow_for_small(n: int) -> int:
        time.sleep(0.01 * (5 - n))  # the first items finish last
        return n * n

    assert per_repository(slow_for_small, range(5), workers=4, name="t", label=str) == [0, 1, 4, 9, 16]


def test_calls_run_at_most_workers_at_once() -> None:
    running, peak, lock = 0, 0, threading.Lock()

    def work(_: int) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01)
        with lock:
            running -= 1

    per_repository(work, range(20), workers=3, name="t", label=str)
    assert 1 <= peak <= 3


def test_an_error_in_one_repository_is_raised_naming_it_and_the_rest_not_started() -> None:
    started: list[str] = []
    release = threading.Event()

    def work(name: str) -> str:
        started.append(name)
        if name == "acme/broken":
            raise RuntimeError("GET /repos/acme/broken/issues: GitHub answered 500")
        release.wait(1)
        return name

    names = ["acme/a", "acme/broken", *[f"acme/later-{n}" for n in range(20)]]
    with pytest.raises(RuntimeError, match="acme/broken") as raised:
        threading.Timer(0.2, release.set).start()
        per_repository(work, names, workers=2, name="issues", label=str)

    assert "while backing up issues of acme/broken" in raised.value.__notes__
    assert len(started) < len(names)  # what had not started when the error was seen never ran
