"""Everything the ``assets`` layer defines, for the code location to load."""

from __future__ import annotations

from assets.checks import ALL_CHECKS
from assets.daily_report import daily_report
from assets.inventory import inventory
from assets.issues import issues
from assets.repositories import repositories
from assets.wikis import wikis

ASSETS = [inventory, repositories, issues, wikis, daily_report]
CHECKS = ALL_CHECKS
