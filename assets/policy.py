"""What a backup keeps and how: retention window, bundle-chain re-cut rules, issue chunking."""

from __future__ import annotations

import datetime as dt
import hashlib

import dagster as dg

from resources.clock import Clock
from resources.errors import (
    DateOutsideWindowError,  # noqa: F401 - re-exported
    )


class BackupPolicy(dg.ConfigurableResource):
    """The rules every snapshot follows. Defaults are DESIGN.md's."""

    retention_days: int = 30
    # A chain is re-cut with a fresh full bundle when its history holds objects no current ref reaches
    # and its base is older than this many days (bounds how long deleted data outlives the window)...
    chain_recut_days: int = 7
    # ...or when it has this many bundles (bounds restore time).
    max_chain_length: int = 30
    # Issues are stored in chunks of this many consecutive numbers, so an untouched range is the same
    # blob as yesterday's.
    issue_chunk_size: int = 100
    # Re-read this much history before the previous snapshot's watermark: clocks and GitHub's
    # eventual consistency are not exact.
    since_overlap_minutes: int = 60
    # Repositories backed up at once inside one snapshot, by each of inventory, repositories, issues and
    # wikis (git, REST reads and uploads are I/O bound). Every thread shares the installation's pacing.
    parallelism: int = 4
    # The safety net: every repository's issues are read whole at least every this many days, which
    # is how deleted issues and comments (invisible to ``since`` and to the change probe) leave the
    # snapshot. Each repository's full read falls on its own day of the cycle (a stable hash of its
    # id), so the full reads spread evenly over the days instead of all landing on one.
    full_read_days: int = 7
    # The most release-asset bytes one customer's snapshot keeps; an asset past it is recorded as
    # skipped with its reason (a hit is never silent).
    release_assets_max_bytes: int = 10 * 1024**3

    def full_read_slot(self, repository_id: int | str) -> int:
        """The day of the ``full_read_days`` cycle on which this repository is read whole."""
        digest = hashlib.sha256(f"full-read:{repository_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.full_read_days

    def full_read_due(self, repository_id: int | str, date: str, last_full_read: dt.date | None) -> bool:
        """Whether the snapshot of ``date`` reads this repository whole: never read whole yet, the last
        full read ``full_read_days`` or more ago, or today is its slot of the cycle."""
        if last_full_read is None:
            return True
        day = dt.date.fromisoformat(date)
        if (day - last_full_read).days >= self.full_read_days:
            return True
        return day > last_full_read and day.toordinal() % self.full_read_days == self.full_read_slot(repository_id)

    def window(self, clock: Clock) -> tuple[dt.date, dt.date]:
        """The dates a backup may be taken for: the oldest inside the retention window, and today."""
        today = clock.now().date()
        return today - dt.timedelta(days=self.retention_days - 1), today

    def check_date(self, date: str, clock: Clock) -> None:
        """A backup is always of GitHub now: refuse a future date and one outside the window."""
        day = dt.date.fromisoformat(date)
        oldest, today = self.window(clock)
        if day > today:
            raise DateOutsideWindowError(f"refusing snapshot for {date}: it is in the future (today is {today})")
        if day < oldest:
            raise DateOutsideWindowError(
                f"refusing snapshot for {date}: older than the {self.retention_days}-day retention window "
                f"(oldest allowed {oldest})"
            )
