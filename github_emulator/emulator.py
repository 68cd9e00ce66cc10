"""The emulator as its request handlers see it; its own module so they name it without importing the server."""

from __future__ import annotations

import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from .auth import Authority
from .faults import Faults
from .ratelimit import GRAPHQL_POINTS, SEARCH_LIMIT, SEARCH_WINDOW, RateLimiter
from .search import SearchSettings
from .state import Store, write_atomic


class RequestCounts:
    """Requests served since the last reset, by kind (``GET /_emulator/stats``), for benchmarks.

    ``rest_rate_limited`` counts exactly the REST requests charged to a primary rate limit: per
    GitHub's REST docs a 304 to a conditional request made with an Authorization header is free, as
    is ``GET /rate_limit``. ``git`` counts every smart-HTTP request (ref advertisement and pack alike).
``lfs`` counts every Git LFS request (batch API and object transfers), ``lfs_batch`` the batch calls.
    """

    KINDS = ("rest", "rest_rate_limited", "rest_not_modified", "git", "download", "graphql", "graphql_points",
             "lfs", "lfs_batch")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts = dict.fromkeys(self.KINDS, 0)

    def add(self, *kinds: str) -> None:
        with self.lock:
            for kind in kinds:
                self.counts[kind] += 1

    def add_points(self, points: int) -> None:
        """GraphQL points charged (``graphql`` counts the requests)."""
        with self.lock:
            self.counts["graphql_points"] += points

    def take(self, reset: bool = False) -> dict[str, int]:
        with self.lock:
            counts = dict(self.counts)
            if reset:
                self.counts = dict.fromkeys(self.KINDS, 0)
            return counts


class LfsGrants:
    """The transfer authorisations the LFS batch API handed out: header secret -> (repo, oid, operation),
    each valid until its ``expires_in`` runs out (memory only: a restarted emulator asks for a new batch)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._grants: dict[str, tuple[int, str, str, float]] = {}

    def issue(self, repo_id: int, oid: str, operation: str, expires_in: float) -> str:
        secret = secrets.token_hex(16)
        with self._lock:
            now = time.time()
            self._grants = {k: v for k, v in self._grants.items() if v[3] > now}
            self._grants[secret] = (repo_id, oid, operation, now + expires_in)
        return secret

    def allows(self, secret: str, repo_id: int, oid: str, operation: str) -> bool:
        with self._lock:
            grant = self._grants.get(secret)
        return grant is not None and grant[:3] == (repo_id, oid, operation) and grant[3] > time.time()


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
        self.counts = RequestCounts()
        # Search has its own budget (30 a minute) and knobs (forced incomplete results, a lower cap).
        self.search_limiter = RateLimiter(SEARCH_LIMIT, window=SEARCH_WINDOW)
        self.search = SearchSettings()
        # GraphQL has its own budget of points per installation (graphql_api.py).
        self.graphql_limiter = RateLimiter(GRAPHQL_POINTS)
        self.hooks: Any = None  # webhooks.Hookshot, set by the CLI
        self.hook_faults: Faults = Faults(0.0, 0)
        self.info: dict[str, Any] = {}
        self.info_path: Path | None = None
        self.lfs_grants = LfsGrants()  # transfer authorisations the LFS batch API handed out

    def write_info(self) -> None:
        """(Re)write the ``--info`` file atomically, as at start."""
        if self.info_path is not None:
            write_atomic(self.info_path, json.dumps(self.info, indent=2).encode())

    def installations(self) -> dict[int, dict[str, Any]]:
        return {inst["id"]: inst for inst in self.store.db["installations"]}
