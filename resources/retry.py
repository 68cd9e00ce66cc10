"""Retrying a call that can fail for a while: exponential backoff with jitter, bounded attempts.

Generic on purpose: the caller's classifier says which failures are transient (worth another try);
anything else, and the last transient failure, reaches the caller unchanged. GitHub's own pacing
(rate-limit headers, ``retry-after``) lives in ``resources.github_pacing`` and uses ``Backoff``.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

_T = TypeVar("_T")

log = logging.getLogger("backhub.retry")


@dataclass(frozen=True)
class Backoff:
    """The wait before retry number ``failures``: ``base * 2**(failures-1)``, at most ``cap``.

    With ``jitter`` (full jitter) the wait is uniform in [0, that], so callers that failed together do
    not retry together.
    """

    base: float
    cap: float = math.inf
    jitter: bool = True
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, failures: int) -> float:
        ceiling = min(self.cap, self.base * 2 ** (failures - 1))
        return self.rng.uniform(0.0, ceiling) if self.jitter else ceiling


def retry(
    call: Callable[[], _T],
    *,
    transient: Callable[[Exception], bool],
    retries: int,
    backoff: Backoff,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    logger: logging.Logger = log,
) -> _T:
    """Return ``call()``; retry it at most ``retries`` times while it raises what ``transient`` accepts.

    Each retry waits ``backoff.delay(failures)`` and is logged at INFO on ``logger`` naming ``what``.
    """
    failures = 0
    while True:
        try:
            return call()
        except Exception as exc:
            if not transient(exc) or failures >= retries:
                raise
            failures += 1
            wait = backoff.delay(failures)
            logger.info("%s: attempt %d failed (%s); retrying in %.1f s", what, failures, exc, wait)
            sleep(wait)
