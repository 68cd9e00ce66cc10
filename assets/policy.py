"""What a backup keeps and how: retention window, bundle-chain re-cut rules, issue chunking."""

from __future__ import annotations

import datetime as dt

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
    # Repositories backed up at once inside one run (git and uploads are I/O bound).
    parallelism: int = 4

    def check_date(self, date: str, clock: Clock) -> None:
        """A backup is always of GitHub now: refuse a future date and one outside the window."""
        day = dt.date.fromisoformat(date)
        today = clock.now().date()
        if day > today:
            raise DateOutsideWindowError(f"refusing snapshot for {date}: it is in the future (today is {today})")
        oldest = today - dt.timedelta(days=self.retention_days - 1)
        if day < oldest:
            raise DateOutsideWindowError(
                f"refusing snapshot for {date}: older than the {self.retention_days}-day retention window "
                f"(oldest allowed {oldest})"
            )
