"""The snapshot partitions, defined once and imported everywhere.

Both dimensions are dynamic (DESIGN.md section 3): customers come and go with the App's installations,
and the retention sensor deletes a date key once its data is gone, so the UI shows exactly the
snapshots that exist. A partition key reads ``"<customer>|<date>"`` (dimensions sort by name).
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from resources import names

customer_partitions = dg.DynamicPartitionsDefinition(name="customer")
date_partitions = dg.DynamicPartitionsDefinition(name="date")
snapshot_partitions = dg.MultiPartitionsDefinition({"customer": customer_partitions, "date": date_partitions})

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
