"""Injected failures, drawn from a seeded RNG: what GitHub and its load balancers do on a bad day.

Kinds: ``502`` and ``503`` (with GitHub's bodies), ``reset`` (the connection is cut before an answer),
``slow`` (the answer comes late, but comes), ``secondary`` (403 secondary rate limit with retry-after)
and ``secondary_429`` (the same as a 429). ``force`` queues faults for the next requests so a test can
provoke exactly one.

The same mechanism, with its own seeded stream and kinds (``HOOK_KINDS``), decides what happens to each
webhook delivery (webhooks.py): ``drop`` (never reaches the receiver; recorded as failed to connect),
``delay`` (sent late), ``duplicate`` (sent twice with the same GUID) and ``reorder`` (sent after the next
delivery). ``POST /_emulator/app/hook/faults`` steers it as ``POST /_emulator/faults`` steers requests.
"""

from __future__ import annotations

import random
import threading
from collections import deque

KINDS = ("502", "503", "reset", "slow", "secondary", "secondary_429")
HOOK_KINDS = ("drop", "delay", "duplicate", "reorder")


class Faults:
    def __init__(self, rate: float, seed: int, kinds: tuple[str, ...] = KINDS, *, known: tuple[str, ...] = KINDS,
                 stream: str = "faults") -> None:
        self.lock = threading.Lock()
        self.rng = random.Random(f"{stream}:{seed}")
        self.known = known
        self.rate = rate
        self.kinds = kinds
        self.forced: deque[str] = deque()
        self.injected = 0

    def configure(self, rate: float | None = None, kinds: list[str] | None = None, force: list[str] | None = None) -> None:
        with self.lock:
            if rate is not None:
                self.rate = max(0.0, min(1.0, float(rate)))
            if kinds is not None:
                unknown = set(kinds) - set(self.known)
                if unknown:
                    raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {list(self.known)}")
                self.kinds = tuple(kinds)
            if force is not None:
                unknown = set(force) - set(self.known)
                if unknown:
                    raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {list(self.known)}")
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
