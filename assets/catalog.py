"""Everything the ``assets`` layer defines, for the code location to load."""

from __future__ import annotations

from assets.daily_report import daily_report
from assets.snapshot import snapshot

# One multi-asset: the four backup assets and their checks run as one step per snapshot; the daily
# report is per date.
ASSETS = [snapshot, daily_report]
CHECKS: list = []  # the checks are the snapshot's own check specs (assets/checks.py)
