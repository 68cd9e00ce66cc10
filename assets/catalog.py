"""Everything the ``assets`` layer defines, for the code location to load."""

from __future__ import annotations

from assets.snapshot import snapshot

# One multi-asset: the four backup assets and their checks run as one step per snapshot.
ASSETS = [snapshot]
CHECKS: list = []  # the checks are the snapshot's own check specs (assets/checks.py)
