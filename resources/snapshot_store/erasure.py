"""Erasure's part in the store: delete every object of a customer (docs/format.md 7.5).

Crypto-shredding (``Keyring.destroy``) is what makes the data unreadable; this removes the bytes.
"""

from __future__ import annotations

from resources.object_storage import ObjectStorage
from resources.snapshot_store import layout


def delete_customer(storage: ObjectStorage, customer: str) -> int:
    """Delete every object and unfinished upload under the customer's prefix; returns how many."""
    prefix = layout.customer_prefix(customer)
    count = 0
    for info in list(storage.list(prefix)):
        storage.delete(info.key)
        count += 1
    count += storage.delete_incomplete(prefix)
    return count
