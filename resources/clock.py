"""The one clock every "now" comes from: capture times, today's date key, the retention cutoff.

Production runs on real UTC time. The demo and the tests shift it by whole days so that simulated days
run end to end, with the GitHub emulator's clock moved in step.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

UTC = dt.UTC


class Clock(dg.ConfigurableResource):
    """UTC time, optionally shifted by a whole number of days (simulated days in the demo and tests)."""

    offset_days: int = 0

    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC) + dt.timedelta(days=self.offset_days)

    def today(self) -> str:
        """Today's date key, ``YYYY-MM-DD`` in UTC."""
        return self.now().date().isoformat()
