"""Pacing GitHub calls: its rate limits, ``retry-after`` and secondary limits, one mechanism for every call.

``Pacer.send(what, attempt)`` calls ``attempt()`` (one HTTP request) until it gets an answer worth
returning:

- primary rate limit: a ``403``/``429`` with ``x-ratelimit-remaining: 0`` waits until
  ``x-ratelimit-reset``; an answer that spends the last request of the window makes the *next* call
  wait, so the limit is never hit on purpose. The reset instant is read against the server's ``Date``
  header, so a skewed local clock (or the emulator's simulated one) cannot make us wait for hours.
- ``retry-after`` (secondary limits, 429, some 5xx) is obeyed as given; a secondary-limit answer
  without it waits ``secondary_delay`` and doubles on each repetition, as GitHub asks.
- ``500``/``502``/``503``/``504`` and connection failures (``TransientError`` raised by ``attempt``)
  are retried with ``resources.retry.Backoff`` (exponential, full jitter), at most ``max_retries`` times.
One ``Pacer`` serves every thread of one installation client: a rate-limit wait that one thread is
told of holds the others too (they wait in ``_wait_for_window`` before their next request).
Every wait is logged on the ``backhub.github`` logger with its reason and length. When the attempts
or the longest acceptable wait run out, ``GitHubUnavailableError`` names the request.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from resources.errors import GitHubUnavailableError
from resources.retry import Backoff

log = logging.getLogger("backhub.github")

RETRY_STATUSES = frozenset({500, 502, 503, 504})
_SECONDARY_MARKERS = ("secondary rate limit", "abuse detection", "abuse rate limit")


class TransientError(Exception):
    """A request that got no usable answer (reset, timeout, refused): worth trying again."""


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, headers with lower-case names, body text."""

    status: int
    headers: Mapping[str, str]
    body: str


@dataclass
class RetryPolicy:
    """How long and how often to wait. ``sleep``/``now``/``rng`` are injectable for tests."""

    max_retries: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    secondary_delay: float = 60.0
    max_wait: float = 3900.0  # a primary window is an hour; anything longer is not a rate limit
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, failures: int) -> float:
        """Full jitter: uniform in [0, min(max_delay, base_delay * 2**(failures-1))]."""
        return Backoff(self.base_delay, self.max_delay, rng=self.rng).delay(failures)


class Pacer:
    """Sends requests under one ``RetryPolicy`` and remembers an exhausted rate-limit window."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self._resume_at = 0.0  # local time before which the current window is exhausted
        self._lock = threading.Lock()

    def send(self, what: str, attempt: Callable[[], Reply]) -> Reply:
        policy = self.policy
        failures = 0
        limited = 0
        while True:
            self._wait_for_window(what)
            try:
                reply = attempt()
            except TransientError as exc:
                failures += 1
                if failures > policy.max_retries:
                    raise GitHubUnavailableError(
                        f"{what}: no answer from GitHub after {failures} attempts: {exc}"
                    ) from exc
                self._pause(what, policy.backoff(failures), f"{exc}; retry {failures}/{policy.max_retries}")
                continue

            wait = self._rate_limit_wait(reply, limited)
            if wait is not None:
                limited += 1
                if limited > policy.max_retries:
                    raise GitHubUnavailableError(
                        f"{what}: still rate-limited by GitHub after {limited - 1} waits"
                    )
                held = self._hold(wait)
                self._pause(what, wait, f"GitHub rate limit ({reply.status})", warn=True)
                self._release(held)
                continue
            self._note_window(reply)

            if reply.status in RETRY_STATUSES:
                failures += 1
                if failures > policy.max_retries:
                    raise GitHubUnavailableError(
                        f"{what}: GitHub answered {reply.status} {failures} times in a row"
                    )
                delay = _retry_after(reply)
                if delay is None:
                    delay = policy.backoff(failures)
                self._pause(
                    what, delay, f"GitHub answered {reply.status}; retry {failures}/{policy.max_retries}"
                )
                continue
            return reply

    # -- rate limits -------------------------------------------------------------------------------

    def _rate_limit_wait(self, reply: Reply, limited: int) -> float | None:
        if reply.status not in (403, 429):
            return None
        delay = _retry_after(reply)
        if delay is not None:
            return delay
        if reply.headers.get("x-ratelimit-remaining") == "0":
            return self._until_reset(reply)
        body = reply.body.lower()
        if reply.status == 429 or any(marker in body for marker in _SECONDARY_MARKERS):
            return min(self.policy.max_wait, self.policy.secondary_delay * 2**limited)
        return None  # a real "forbidden": the caller decides

    def _until_reset(self, reply: Reply) -> float:
        try:
            reset = float(reply.headers["x-ratelimit-reset"])
        except (KeyError, ValueError):
            return self.policy.secondary_delay
        server_now = server_time(reply) or self.policy.now()
        # +1 s: Date has whole seconds and the window resets *at* that second.
        return max(0.0, reset - server_now) + 1.0

    def _note_window(self, reply: Reply) -> None:
        if reply.headers.get("x-ratelimit-remaining") == "0" and reply.status < 400:
            with self._lock:
                self._resume_at = max(self._resume_at, self.policy.now() + self._until_reset(reply))

    def _hold(self, seconds: float) -> float | None:
        """Every other request through this pacer waits too: a rate-limit answer to one thread is the
        installation's, and GitHub asks for no request until the wait is over. Returns the hold."""
        if seconds > self.policy.max_wait:
            return None
        with self._lock:
            self._resume_at = max(self._resume_at, self.policy.now() + seconds)
            return self._resume_at

    def _release(self, held: float | None) -> None:
        """The thread that was told waited it out: its hold is over (unless a later one replaced it)."""
        with self._lock:
            if held is not None and self._resume_at == held:
                self._resume_at = 0.0

    def _wait_for_window(self, what: str) -> None:
        with self._lock:
            resume_at = self._resume_at
            wait = resume_at - self.policy.now()
        if wait > 0:
            self._pause(what, wait, "GitHub rate limit exhausted; waiting until it resets", warn=True)
            with self._lock:
                if self._resume_at == resume_at:  # waited it out; the next answer says where we stand
                    self._resume_at = 0.0

    def _pause(self, what: str, seconds: float, reason: str, *, warn: bool = False) -> None:
        if seconds > self.policy.max_wait:
            raise GitHubUnavailableError(
                f"{what}: {reason}, but the wait ({seconds:.0f} s) is longer than {self.policy.max_wait:.0f} s"
            )
        level = logging.WARNING if warn else logging.INFO
        log.log(level, "%s: %s: waiting %.1f s", what, reason, seconds)
        if seconds > 0:
            self.policy.sleep(seconds)


def _retry_after(reply: Reply) -> float | None:
    value = reply.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    server_now = server_time(reply) or time.time()
    return max(0.0, when.timestamp() - server_now)


def server_time(reply: Reply) -> float | None:
    value = reply.headers.get("date")
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
