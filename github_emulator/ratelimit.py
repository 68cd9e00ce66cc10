"""GitHub's primary rate limit: an hourly budget per installation (and per App, and for anonymous calls).

A window opens at the first request and resets an hour later, as GitHub's does. The control API can
set the limit, what remains, and the window's length, so clients' handling of an exhausted budget
(wait for the reset, then continue) is testable in seconds.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

ANONYMOUS_LIMIT = 60
WINDOW = 3600
# "For authenticated requests, you can make up to 30 requests per minute for all search endpoints
# except for the Search code endpoint" (docs.github.com/rest/search/search, "Rate limit"); 10 anonymous.
SEARCH_LIMIT = 30
SEARCH_ANONYMOUS_LIMIT = 10
SEARCH_WINDOW = 60
# GraphQL: 5,000 points an hour per installation (GitHub's GraphQL rate-limit docs; more for big accounts).
GRAPHQL_POINTS = 5000


@dataclass
class Bucket:
    limit: int
    used: int
    reset: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def headers(self, resource: str = "core") -> list[tuple[str, str]]:
        return [
            ("x-ratelimit-limit", str(self.limit)),
            ("x-ratelimit-remaining", str(self.remaining)),
            ("x-ratelimit-reset", str(self.reset)),
            ("x-ratelimit-used", str(self.used)),
            ("x-ratelimit-resource", resource),
        ]


class RateLimiter:
    def __init__(self, limit: int, window: int = WINDOW) -> None:
        self.limit = limit
        self.window = self.default_window = window
        self.anonymous_limit = ANONYMOUS_LIMIT if window == WINDOW else SEARCH_ANONYMOUS_LIMIT
        self.lock = threading.Lock()
        self.buckets: dict[str, Bucket] = {}
        self.preset_remaining: int | None = None

    def _get(self, key: str) -> Bucket:
        now = int(time.time())
        bucket = self.buckets.get(key)
        if bucket is None or bucket.reset <= now:
            limit = self.anonymous_limit if key == "anonymous" else self.limit
            used = 0
            # A preset budget applies to a key's first window; after a reset the budget is whole.
            if bucket is None and key != "anonymous" and self.preset_remaining is not None:
                used = max(0, limit - self.preset_remaining)
            bucket = Bucket(limit=limit, used=used, reset=now + self.window)
            self.buckets[key] = bucket
        return bucket

    def peek(self, key: str) -> Bucket:
        with self.lock:
            b = self._get(key)
            return Bucket(b.limit, b.used, b.reset)

    def consume(self, key: str, amount: int = 1) -> Bucket:
        with self.lock:
            b = self._get(key)
            b.used += amount
            return Bucket(b.limit, b.used, b.reset)

    def configure(self, limit: int | None, remaining: int | None, window: int | None = None) -> None:
        """New limit and/or remaining for every authenticated bucket, present and future; ``window``
        (seconds) shortens the hour so the present windows reset that many seconds from now."""
        with self.lock:
            if window is not None:
                self.window = window
                for bucket in self.buckets.values():
                    bucket.reset = int(time.time()) + window
            if limit is not None:
                self.limit = limit
            self.preset_remaining = remaining
            for key in [k for k in self.buckets if k != "anonymous"]:
                b = self._get(key)
                if limit is not None:
                    b.limit = limit
                if remaining is not None:
                    b.used = max(0, b.limit - remaining)

    def reset(self) -> None:
        with self.lock:
            self.buckets.clear()
            self.preset_remaining = None
            self.window = self.default_window
