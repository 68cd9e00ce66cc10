"""Erasure's part in the store: a marker while an erasure runs, and deleting every object of a customer
(docs/format.md 7.5).

Crypto-shredding (``Keyring.destroy``) is what makes the data unreadable; this removes the bytes. The
marker (``erasures/<customer>``: the customer and when it started, nothing else) is written before
anything is deleted and removed last, so an erasure killed part-way is listed until a rerun finishes it.
"""

from __future__ import annotations

import datetime as dt
import json

from resources import names
from resources.errors import InvalidNameError, ObjectNotFoundError
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


def begin_erasure(storage: ObjectStorage, customer: str) -> str:
    """Record that ``customer``'s erasure started (kept if one is already recorded); returns when."""
    started = unfinished_erasures(storage).get(customer)
    if started is None:
        started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        body = {"customer": names.customer(customer), "started_at": started}
        storage.put(layout.erasure_marker_key(customer), json.dumps(body, sort_keys=True).encode())
    return started


def end_erasure(storage: ObjectStorage, customer: str) -> None:
    storage.delete(layout.erasure_marker_key(customer))


def unfinished_erasures(storage: ObjectStorage) -> dict[str, str]:
    """customer -> when its erasure started, for every erasure begun and not finished."""
    found: dict[str, str] = {}
    for info in storage.list(layout.ERASURES):
        name = info.key[len(layout.ERASURES) :]
        try:
            customer = names.customer(name)
        except InvalidNameError:
            continue
        try:
            started = str(json.loads(storage.get(info.key)).get("started_at", "unknown time"))
        except (ObjectNotFoundError, ValueError, AttributeError):
            started = "unknown time"
        found[customer] = started
    return found
