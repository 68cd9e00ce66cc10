"""A backhub error inside an op fails the step at once, naming the error: retrying cannot fix a bad
name, a refused restore or damaged data."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dagster as dg

from resources.errors import BackhubError


def permanent_failure(exc: BackhubError) -> dg.Failure:
    """The ``dg.Failure`` for ``exc``: its type and message, no retries."""
    return dg.Failure(description=f"{type(exc).__name__}: {exc}", allow_retries=False)


@contextlib.contextmanager
def failing_permanently() -> Iterator[None]:
    """Turn a ``BackhubError`` raised inside the block into ``permanent_failure``."""
    try:
        yield
    except BackhubError as exc:
        raise permanent_failure(exc) from exc
