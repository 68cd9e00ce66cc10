"""The generic retry: transient failures are retried with backoff, anything else reaches the caller at once."""

from __future__ import annotations

import random

import pytest

from resources.retry import Backoff, retry


class Flaky(Exception):
    pass


def failing(times: int, error: Exception, calls: list[int]):
    def call() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "done"

    return call


def test_transient_failures_are_retried_with_growing_waits_until_the_call_succeeds() -> None:
    sleeps: list[float] = []
    calls: list[int] = []
    result = retry(failing(3, Flaky("reset"), calls), transient=lambda e: isinstance(e, Flaky), retries=3,
                   backoff=Backoff(0.5, jitter=False), what="test", sleep=sleeps.append)
    assert result == "done" and len(calls) == 4 and sleeps == [0.5, 1.0, 2.0]


def test_the_last_transient_failure_reaches_the_caller_when_retries_run_out() -> None:
    sleeps: list[float] = []
    calls: list[int] = []
    with pytest.raises(Flaky):
        retry(failing(9, Flaky("reset"), calls), transient=lambda e: isinstance(e, Flaky), retries=2,
              backoff=Backoff(0.5), what="test", sleep=sleeps.append)
    assert len(calls) == 3 and len(sleeps) == 2


def test_a_failure_the_classifier_calls_permanent_is_not_retried() -> None:
    sleeps: list[float] = []
    calls: list[int] = []
    with pytest.raises(ValueError):
        retry(failing(1, ValueError("bad request"), calls), transient=lambda e: isinstance(e, Flaky), retries=5,
              backoff=Backoff(0.5), what="test", sleep=sleeps.append)
    assert len(calls) == 1 and sleeps == []


def test_full_jitter_waits_between_zero_and_the_capped_exponential() -> None:
    backoff = Backoff(1.0, cap=4.0, rng=random.Random(7))
    delays = [backoff.delay(n) for n in range(1, 9) for _ in range(20)]
    assert all(0.0 <= d <= 4.0 for d in delays) and max(delays) > 2.0
    assert Backoff(1.0, cap=4.0, jitter=False).delay(6) == 4.0
