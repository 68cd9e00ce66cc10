"""The pacing mechanism every GitHub request goes through, driven with scripted answers."""

from __future__ import annotations

import email.utils
import logging
import random
from collections.abc import Iterator

import pytest

from resources.errors import GitHubUnavailableError
from resources.github_pacing import Pacer, Reply, RetryPolicy, TransientError

NOW = 1_700_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now = NOW
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_pacer(clock: FakeClock, **overrides: float) -> Pacer:
    settings = {"max_retries": 3, "base_delay": 1.0, "max_delay": 8.0, "secondary_delay": 60.0}
    settings.update(overrides)
    return Pacer(RetryPolicy(**settings, sleep=clock.sleep, now=lambda: clock.now, rng=random.Random(4)))  # type: ignore[arg-type]


def scripted(*answers: Reply | Exception) -> tuple[list[int], object]:
    calls: list[int] = []
    iterator: Iterator[Reply | Exception] = iter(answers)

    def attempt() -> Reply:
        calls.append(1)
        answer = next(iterator)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return calls, attempt


def reply(status: int = 200, body: str = "{}", **headers: str) -> Reply:
    return Reply(status=status, headers={k.replace("_", "-"): v for k, v in headers.items()}, body=body)


def test_server_errors_and_resets_are_retried_with_bounded_full_jitter() -> None:
    clock = FakeClock()
    calls, attempt = scripted(
        reply(502), TransientError("ConnectionError (Connection reset)"), reply(503), reply(200)
    )

    assert make_pacer(clock).send("GET /repos/a/b", attempt).status == 200  # type: ignore[arg-type]
    assert len(calls) == 4
    caps = [1.0, 2.0, 4.0]
    assert len(clock.sleeps) == 3 and all(0 <= s <= cap for s, cap in zip(clock.sleeps, caps, strict=True))


def test_retries_run_out_into_unavailable_naming_the_request() -> None:
    clock = FakeClock()
    calls, attempt = scripted(*[reply(500)] * 10)

    with pytest.raises(GitHubUnavailableError, match="GET /repos/a/b/issues: GitHub answered 500 4 times"):
        make_pacer(clock).send("GET /repos/a/b/issues", attempt)  # type: ignore[arg-type]
    assert len(calls) == 4


def test_exhausted_primary_limit_waits_until_reset_by_the_servers_clock(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    server_date = email.utils.formatdate(NOW + 5000, usegmt=True)  # server clock 5000 s ahead of ours
    limited = reply(403, '{"message": "API rate limit exceeded"}', x_ratelimit_remaining="0",
                    x_ratelimit_reset=str(int(NOW + 5000 + 30)), date=server_date)  # fmt: skip
    calls, attempt = scripted(limited, reply(200))

    with caplog.at_level(logging.WARNING, logger="backhub.github"):
        assert make_pacer(clock).send("GET /repos/a/b", attempt).status == 200  # type: ignore[arg-type]
    assert clock.sleeps == [31.0]
    assert "GET /repos/a/b" in caplog.text and "rate limit" in caplog.text and "31.0 s" in caplog.text


def test_the_last_request_of_a_window_makes_the_next_one_wait() -> None:
    clock = FakeClock()
    pacer = make_pacer(clock)
    last = reply(200, x_ratelimit_remaining="0", x_ratelimit_reset=str(int(NOW + 10)),
                 date=email.utils.formatdate(NOW, usegmt=True))  # fmt: skip
    _, first = scripted(last)
    pacer.send("GET /a", first)  # type: ignore[arg-type]
    assert clock.sleeps == []

    _, second = scripted(reply(200))
    pacer.send("GET /b", second)  # type: ignore[arg-type]
    assert clock.sleeps == [11.0]


def test_retry_after_is_obeyed_for_secondary_limits() -> None:
    clock = FakeClock()
    secondary = reply(403, '{"message": "You have exceeded a secondary rate limit."}', retry_after="7")
    _, attempt = scripted(secondary, reply(429, "{}", retry_after="3"), reply(200))

    make_pacer(clock).send("GET /a", attempt)  # type: ignore[arg-type]
    assert clock.sleeps == [7.0, 3.0]


def test_secondary_limit_without_retry_after_waits_a_minute_then_doubles() -> None:
    clock = FakeClock()
    secondary = reply(403, '{"message": "You have exceeded a secondary rate limit."}')
    _, attempt = scripted(secondary, secondary, reply(200))

    make_pacer(clock).send("GET /a", attempt)  # type: ignore[arg-type]
    assert clock.sleeps == [60.0, 120.0]


def test_a_plain_forbidden_is_returned_not_retried() -> None:
    clock = FakeClock()
    calls, attempt = scripted(reply(403, '{"message": "Resource not accessible by integration"}'))

    assert make_pacer(clock).send("GET /a", attempt).status == 403  # type: ignore[arg-type]
    assert len(calls) == 1 and clock.sleeps == []


def test_a_wait_longer_than_the_limit_is_refused() -> None:
    clock = FakeClock()
    limited = reply(403, "{}", x_ratelimit_remaining="0", x_ratelimit_reset=str(int(NOW + 86_400)))
    _, attempt = scripted(limited)

    with pytest.raises(GitHubUnavailableError, match="longer than"):
        make_pacer(clock, max_wait=3900).send("GET /a", attempt)  # type: ignore[arg-type]
    assert clock.sleeps == []


def test_a_secondary_limit_told_to_one_thread_holds_the_requests_of_the_others() -> None:
    """Threads of one installation share its pacer: a request that starts while another thread waits
    out a secondary limit first waits for the rest of that wait."""
    clock = FakeClock()
    waits: dict[str, list[float]] = {"a": [], "b": []}
    pacer = make_pacer(clock)

    def sleep(seconds: float) -> None:
        if not waits["a"]:  # thread a waits out its limit; 20 s in, thread b sends a request
            waits["a"].append(seconds)
            clock.now += 20
            pacer.send("GET /b", lambda: reply(200))
            clock.now += seconds - 20
        else:  # thread b's wait passes while thread a is still waiting: the clock is a's
            waits["b"].append(seconds)

    pacer.policy.sleep = sleep
    secondary = reply(403, '{"message": "You have exceeded a secondary rate limit."}', retry_after="60")
    _, attempt = scripted(secondary, reply(200))

    assert pacer.send("GET /a", attempt).status == 200  # type: ignore[arg-type]
    assert waits == {"a": [60.0], "b": [40.0]}


def test_a_request_after_the_wait_is_over_is_not_held() -> None:
    clock = FakeClock()
    pacer = make_pacer(clock)
    secondary = reply(403, '{"message": "You have exceeded a secondary rate limit."}', retry_after="5")
    _, attempt = scripted(secondary, reply(200))
    pacer.send("GET /a", attempt)  # type: ignore[arg-type]

    pacer.send("GET /b", lambda: reply(200))
    assert clock.sleeps == [5.0]
