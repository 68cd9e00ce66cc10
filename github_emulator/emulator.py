"""The emulator as its request handlers see it; its own module so they name it without importing the server."""

from __future__ import annotations

from typing import Any

from .auth import Authority
from .faults import Faults
from .ratelimit import RateLimiter
from .state import Store


class Emulator:
    """Everything a request handler needs: the world, credentials, limits, faults, and settings."""

    def __init__(
        self,
        store: Store,
        authority: Authority,
        limiter: RateLimiter,
        faults: Faults,
        *,
        scheme: str,
        slow_seconds: float = 1.5,
        secondary_retry_after: int = 1,
        log: bool = False,
    ) -> None:
        self.store = store
        self.authority = authority
        self.limiter = limiter
        self.faults = faults
        self.scheme = scheme
        self.slow_seconds = slow_seconds
        self.secondary_retry_after = secondary_retry_after
        self.log = log
        self.reseed: Any = None  # set by the CLI: rebuilds the world from scratch
        self.address = ("127.0.0.1", 0)

    def installations(self) -> dict[int, dict[str, Any]]:
        return {inst["id"]: inst for inst in self.store.db["installations"]}
