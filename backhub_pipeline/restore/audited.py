"""Restore and verify, from the CLI or a run, each leave one audit record: what was asked, and how it ended."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


def audit(log: Any, *, actor: str, action: str, customer: str, snapshot: str | None, outcome: str,
          details: dict[str, Any]) -> None:
    """Append one record to the audit log when one is configured (``log`` is an ``AuditLog`` or None)."""
    if log is None:
        return
    log.append(actor=actor, action=action, customer=customer, snapshot=snapshot, outcome=outcome, details=details)


@contextlib.contextmanager
def audited(log: Any, *, actor: str, action: str, customer: str, snapshot: str | None,
            details: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Audit the enclosed operation: ``ok`` with the details it adds, or ``failed`` with the error."""
    extra: dict[str, Any] = {}
    try:
        yield extra
    except BaseException as exc:
        audit(log, actor=actor, action=action, customer=customer, snapshot=snapshot, outcome="failed",
              details={**details, **extra, "error": f"{type(exc).__name__}: {exc}"[:2000]})
        raise
    audit(log, actor=actor, action=action, customer=customer, snapshot=snapshot,
          outcome=extra.pop("outcome", "ok"), details={**details, **extra})
