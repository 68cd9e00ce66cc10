"""What retention would expire: every date older than the window, as ``date`` keys and as stored snapshots.

A date is expired when it is older than ``today - (retention_days - 1)``: the window holds exactly
``retention_days`` dates, the same rule ``BackupPolicy.check_date`` uses to refuse a late backup.
The full plan (``plan_expiry``) lists the store once per customer, so only the expiry run makes it; the
sensor decides from the ``date`` keys alone (``expired_date_keys``), one query however many customers.
"""

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import dagster as dg

from assets.partitions import date_partitions
from resources import names
from resources.errors import InvalidNameError
from resources.snapshot_store import SnapshotStore


def oldest_kept(today: dt.date, retention_days: int) -> dt.date:
    """The first date inside the window: the window is ``retention_days`` dates ending today."""
    return today - dt.timedelta(days=retention_days - 1)


def _valid_date(value: str) -> bool:
    try:
        names.date(value)
    except InvalidNameError:
        return False
    return True


@dataclass
class ExpiryPlan:
    today: str
    oldest_kept: str
    date_keys: list[str]  # expired `date` partition keys
    snapshots: dict[str, list[str]]  # customer -> expired dates that still have manifests

    @property
    def dates(self) -> list[str]:
        return sorted(set(self.date_keys).union(*self.snapshots.values()))

    @property
    def key(self) -> str:
        """Deterministic per (day, set of expired dates): the sensor's run key and attempt tag."""
        return run_key(self.today, self.dates)


def expired_date_keys(instance: dg.DagsterInstance, today: dt.date, retention_days: int) -> list[str]:
    """The ``date`` partition keys older than the window: what the retention sensor decides from."""
    first = oldest_kept(today, retention_days).isoformat()
    return sorted(d for d in instance.get_dynamic_partitions(date_partitions.name) if _valid_date(d) and d < first)


def run_key(today: str, dates: list[str]) -> str:
    """Deterministic per (day, set of expired dates): the sensor's run key and attempt tag."""
    digest = hashlib.sha256(json.dumps(sorted(dates)).encode()).hexdigest()[:12]
    return f"expire|{today}|{digest}"


def plan_expiry(
    instance: dg.DagsterInstance, store: SnapshotStore, today: dt.date, retention_days: int
) -> ExpiryPlan:
    """What is older than the window: date keys, and dates with snapshots in the store."""
    first = oldest_kept(today, retention_days).isoformat()
    keys = expired_date_keys(instance, today, retention_days)
    snapshots: dict[str, list[str]] = {}
    for customer in store.list_customers():
        old = [d for d in store.list_snapshots(customer) if d < first]
        if old:
            snapshots[customer] = old
    return ExpiryPlan(today.isoformat(), first, sorted(keys), snapshots)
