"""The change log: one compact record per (webhook delivery, repository), durable in a local SQLite file.

A record says *that* something changed, never *what*: installation id, repository id (0 for the
installation as a whole), the event and action, the kind of data it touches, when it was received, and
the delivery's GUID. No name, title, body, ref, commit or author from the payload is kept, so the log
holds nothing a customer would call their data.

Records are keyed by ``(delivery_id, repository_id)``: a delivery received twice (GitHub retries,
a redelivery, a duplicate) is recorded once, and the order in which deliveries arrive changes nothing
in the set of records. Writes use WAL with ``synchronous=FULL``, so a record the receiver has
acknowledged survives a crash of the process or the machine.

Kinds (what a snapshot would have to read again):

- ``git``: push, create, delete (the repository's refs)
- ``wiki``: gollum (the wiki's git data)
- ``issues``: issues, issue_comment, pull_request, pull_request_review, pull_request_review_comment,
  pull_request_review_thread, label, milestone
- ``metadata``: repository, release, member, public, star... (repository settings and lists)
- ``installation``: installation, installation_repositories, installation_target (customers and the
  repositories they grant)
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SCHEMA_VERSION = 1

KINDS: dict[str, str] = {
    "push": "git", "create": "git", "delete": "git",
    "gollum": "wiki",
    "issues": "issues", "issue_comment": "issues", "pull_request": "issues", "pull_request_review": "issues",
    "pull_request_review_comment": "issues", "pull_request_review_thread": "issues", "label": "issues",
    "milestone": "issues",
    "installation": "installation", "installation_repositories": "installation", "installation_target": "installation",
}
DEFAULT_KIND = "metadata"


def kind_of(event: str) -> str:
    return KINDS.get(event, DEFAULT_KIND)


@dataclass(frozen=True, order=True)
class ChangeRecord:
    """That ``repository_id`` (0: the installation itself) of ``installation_id`` changed."""

    delivery_id: str
    repository_id: int
    installation_id: int
    event: str
    action: str | None
    kind: str
    received_at: str  # UTC, ISO 8601 with Z, from the receiver's clock


_CREATE = """
CREATE TABLE IF NOT EXISTS changes (
    delivery_id     TEXT    NOT NULL,
    repository_id   INTEGER NOT NULL,
    installation_id INTEGER NOT NULL,
    event           TEXT    NOT NULL,
    action          TEXT,
    kind            TEXT    NOT NULL,
    received_at     TEXT    NOT NULL,
    PRIMARY KEY (delivery_id, repository_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS changes_by_repository ON changes (installation_id, repository_id, received_at);
"""


class ChangeLog:
    """The SQLite file of change records. Safe to share between threads; one writer at a time."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise ValueError(f"change log {self.path}: schema version {version}, this backhub knows {SCHEMA_VERSION}")
        self._db.executescript(_CREATE)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def record(self, records: Iterable[ChangeRecord]) -> int:
        """Add the records in one transaction; returns how many were new (0 for a repeated delivery)."""
        rows = [(r.delivery_id, r.repository_id, r.installation_id, r.event, r.action, r.kind, r.received_at)
                for r in records]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                before = self._db.total_changes
                self._db.executemany("INSERT OR IGNORE INTO changes VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
                added = self._db.total_changes - before
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return added

    def seen(self, delivery_id: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM changes WHERE delivery_id = ? LIMIT 1", (delivery_id,)).fetchone() is not None

    def records(self) -> list[ChangeRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT delivery_id, repository_id, installation_id, event, action, kind, received_at FROM changes"
                " ORDER BY received_at, delivery_id, repository_id").fetchall()
        return [ChangeRecord(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
