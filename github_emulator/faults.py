"""Injected failures, drawn from a seeded RNG: what GitHub and its load balancers do on a bad day.

Kinds: ``502`` and ``503`` (with GitHub's bodies), ``reset`` (the connection is cut before an answer),
``slow`` (the answer comes late, but comes), ``secondary`` (403 secondary rate limit with retry-after)
and ``secondary_429`` (the same as a 429). ``force`` queues faults for the next requests so a test can
provoke exactly one.
"""

from __future__ import annotations

import random
import threading
from collections import deque

KINDS = ("502", "503", "reset", "slow", "secondary", "secondary_429")


class Faults:
    def __init__(self, rate: float, seed: int, kinds: tuple[str, ...] = KINDS) -> None:
        self.lock = threading.Lock()
        self.rng = random.Random(f"faults:{seed}")
        self.rate = rate
        self.kinds = kinds
        self.forced: deque[str] = deque()
        self.injected = 0

    def configure(self, rate: float | None = None, kinds: list[str] | None = None, force: list[str] | None = None) -> None:
        with self.lock:
            if rate is not None:
                self.rate = max(0.0, min(1.0, float(rate)))
            if kinds is not None:
                unknown = set(kinds) - set(KINDS)
                if unknown:
                    raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {list(KINDS)}")
                self.kinds = tuple(kinds)
            if force is not None:
                unknown = set(force) - set(KINDS)
                if unknown:
                    raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {list(KINDS)}")
                self.forced.extend(force)

    def pick(self) -> str | None:
        with self.lock:
            if self.forced:
                self.injected += 1
                return self.forced.popleft()
            if self.rate <= 0 or not self.kinds or self.rng.random() >= self.rate:
                return None
            self.injected += 1
            return self.rng.choice(self.kinds)
