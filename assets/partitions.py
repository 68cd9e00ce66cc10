"""The snapshot partitions, defined once and imported everywhere.

Both dimensions are dynamic (DESIGN.md section 3): customers come and go with the App's installations,
and the retention sensor deletes a date key once its data is gone, so the UI shows exactly the
snapshots that exist. A partition key reads ``"<customer>|<date>"`` (dimensions sort by name).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import dagster as dg

from resources import names
from resources.errors import ConfigurationError, InvalidNameError
from resources.github import Installation

customer_partitions = dg.DynamicPartitionsDefinition(name="customer")
date_partitions = dg.DynamicPartitionsDefinition(name="date")
snapshot_partitions = dg.MultiPartitionsDefinition({"customer": customer_partitions, "date": date_partitions})

def customers_of(installations: Iterable[Installation]) -> set[str]:
    """The customer key of each installation: its account login, lower-cased. An account whose login
    is not a valid customer name is left out (the sensors say nothing new can be made of it)."""
    customers = set()
    for installation in installations:
        try:
            customers.add(names.customer(installation.account.lower()))
        except InvalidNameError:
            continue
    return customers


# The assets that make up one snapshot: a (customer, date) is backed up when all four are committed.
BACKUP_ASSETS = ("inventory", "repositories", "issues", "wikis")

# Dagster tags every run of a multi-partitioned job with one tag per dimension; dagster.yaml limits
# concurrent runs per value of this tag, so one customer never has two runs at once.
CUSTOMER_TAG = "dagster/partition/customer"


@dataclass(frozen=True)
class SnapshotKey:
    customer: str
    date: str

    @classmethod
    def parse(cls, partition_key: str | dg.MultiPartitionKey) -> SnapshotKey:
        if isinstance(partition_key, dg.MultiPartitionKey):
            by_dimension = partition_key.keys_by_dimension
            customer, date = by_dimension["customer"], by_dimension["date"]
        else:
            customer, _, date = str(partition_key).partition("|")
        return cls(customer=names.customer(customer), date=names.date(date))

    @property
    def partition_key(self) -> dg.MultiPartitionKey:
        return dg.MultiPartitionKey({"customer": self.customer, "date": self.date})

    def __str__(self) -> str:
        return f"{self.customer}|{self.date}"


def check_snapshot_key(key: SnapshotKey, check_date: Callable[[str], None], installed: Callable[[], Iterable[str]]) -> None:
    """Refuse, in one line, a partition key no backup can be made for: a date outside the window
    (``check_date`` raises) or a customer the GitHub App is not installed for (the UI's Materialize
    dialog lets anyone type one; the customers sensor removes such a key when it holds no data)."""
    check_date(key.date)
    customers = sorted(installed())
    if key.customer not in customers:
        close = difflib.get_close_matches(key.customer, customers, n=1)
        raise ConfigurationError(
            f"partition {key} refused: {key.customer} is not an installation of the GitHub App"
            + (f" (did you mean {close[0]}?)" if close else "")
            + "; back up an installed customer, the customers sensor removes this key")
