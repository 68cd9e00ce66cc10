"""What every backup asset shares: its partitions, group, retry and backfill policy.

Modules that define assets, checks or sensors do not use ``from __future__ import annotations``:
Dagster inspects the ``context`` annotation itself when the definition is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from typing import TypeVar

import dagster as dg

from assets.partitions import snapshot_partitions
from resources.audit import AuditLog
from resources.errors import (
    GitCommandError,
    GitHubError,
    InvalidNameError,
    PermanentError,
    RemoteCorruptError,
)

# Transient faults (GitHub 5xx after the client's own retries, the store briefly unavailable) are
# retried by Dagster as a whole step: blobs are content-addressed and the manifest is written last,
# so a retry redoes only what did not land.
RETRY = dg.RetryPolicy(max_retries=2, delay=20, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)

# A backfill over any customers x dates runs one run per partition: each run is one customer's day,
# limited per customer by dagster.yaml.
BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)

T = TypeVar("T")
R = TypeVar("R")

ASSET_OPTIONS = dict(partitions_def=snapshot_partitions, retry_policy=RETRY, backfill_policy=BACKFILL)
GROUP = "backup"


@contextmanager
def backup_step(context: dg.AssetExecutionContext, asset: str, audit: AuditLog) -> Iterator[None]:
    """Every failed backup step is appended to the audit log. A permanent error (bad date, bad name,
    corrupt data, refused credentials) is not retried: the step fails at once with the error's own
    message, which names what is wrong; anything else is left to the retry policy."""
    try:
        yield
    except Exception as exc:
        customer, _, date = str(context.partition_key).partition("|")
        reason = f"{type(exc).__name__}: {exc}"
        try:
            audit.append(actor=f"dagster run {context.run_id}", action="backup", outcome="failed",
                         customer=customer or None, snapshot=date or None, details={"asset": asset, "error": reason[:500]})
        except Exception as audit_exc:  # never hide the backup's own error behind the audit log's
            context.log.error(f"could not append the failure to the audit log: {audit_exc}")
        if isinstance(exc, PermanentError):
            raise dg.Failure(description=reason, allow_retries=False) from exc
        raise


# GitHub's answers that refuse one repository for good (forbidden to the App, conflict, unprocessable,
# unavailable for legal reasons). Anything else GitHub sends (no status: a malformed or partial answer;
# 401: our credentials) is not about the repository: the step fails and its retry reads it again.
_REFUSALS = frozenset({403, 409, 422, 451})


def repository_failure(exc: BaseException) -> str | None:
    """What to record for one repository whose capture failed for good, so the others are still committed:
    GitHub refusing that repository (see ``_REFUSALS``), its remote corrupt, git failing on its data, a
    ref name we refuse. None for anything else (transient faults, malformed answers, refused credentials,
    the store): the step fails. The completeness check (``covers_inventory``) then fails naming the
    repository, and alerts fire."""
    refused = isinstance(exc, GitHubError) and (exc.status in _REFUSALS or isinstance(exc, RemoteCorruptError))
    if refused or isinstance(exc, GitCommandError | InvalidNameError):
        return f"{type(exc).__name__}: {exc}"[:1000]
    return None


def per_repository(work: Callable[[T], R], items: Iterable[T], *, workers: int, name: str,
                   label: Callable[[T], str]) -> list[R]:
    """``work`` over ``items``, at most ``workers`` at once (``BackupPolicy.parallelism``), results in the
    order of ``items``: the same list the sequential loop builds.

    Each item is one repository, so the parallel calls touch different repositories; what they share
    (the GitHub client, the store, the capture) is safe to share between threads. As soon as one call
    fails, the calls not yet started are cancelled; once the running ones have finished, the first
    error in the order of ``items`` is raised, with a note naming its repository (``label``).
    """
    items = list(items)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=name) as pool:
        futures = [pool.submit(work, item) for item in items]
        for done in as_completed(futures):
            if done.exception() is not None:
                for future in futures:
                    future.cancel()
                break
    results: list[R] = []
    for item, future in zip(items, futures, strict=True):
        if future.cancelled():
            continue
        error = future.exception()
        if error is not None:
            error.add_note(f"while backing up {name} of {label(item)}")
            raise error
        results.append(future.result())
    return results
