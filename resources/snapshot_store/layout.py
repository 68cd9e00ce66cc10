"""Where each object of a store lives: the only module that spells object keys (docs/format.md section 2).

Every name is validated before it becomes part of a key, so a key built here can always be trusted
to stay inside its customer's prefix.
"""

from __future__ import annotations

import re

from resources import names
from resources.errors import InvalidNameError

_BLOB_ID = re.compile(r"[0-9a-f]{64}")
_ASSET = re.compile(r"[a-z][a-z0-9_]{0,63}")
_MANIFEST_SUFFIX = ".json"

#: Every customer's objects live under this prefix.
CUSTOMERS = "customers/"
#: Written, read back and deleted by each expiry run at the store root, to read the store's clock.
CLOCK_PROBE = "clock-probe"
#: One marker per erasure in progress, outside the customer's prefix so deleting it spares the marker.
ERASURES = "erasures/"


def blob_id(value: str) -> str:
    """Validate a blob id before it becomes part of an object key: 64 lower-case hex digits."""
    if not isinstance(value, str) or not _BLOB_ID.fullmatch(value):
        raise InvalidNameError(f"invalid blob id {value!r}: expected 64 lower-case hex digits")
    return value


def is_blob_id(value: str) -> bool:
    return bool(_BLOB_ID.fullmatch(value))


def asset_name(value: str) -> str:
    if not isinstance(value, str) or not _ASSET.fullmatch(value):
        raise InvalidNameError(f"invalid asset name {value!r}")
    return value


def customer_prefix(customer: str) -> str:
    return f"{CUSTOMERS}{names.customer(customer)}/"


def blobs_prefix(customer: str) -> str:
    return f"{customer_prefix(customer)}blobs/"


def blob_key(customer: str, bid: str) -> str:
    blob_id(bid)
    return f"{blobs_prefix(customer)}{bid[:2]}/{bid}"


def blob_id_of(key: str) -> str:
    """The blob id a blob key names (its last component; not validated: listings may hold strays)."""
    return key.rsplit("/", 1)[-1]


def snapshots_prefix(customer: str) -> str:
    return f"{customer_prefix(customer)}snapshots/"


def manifest_key(customer: str, date: str, asset: str) -> str:
    names.date(date)
    asset_name(asset)
    return f"{snapshots_prefix(customer)}{date}/{asset}{_MANIFEST_SUFFIX}"


def manifest_of(customer: str, key: str) -> tuple[str, str] | None:
    """(date, asset) of a key listed under ``snapshots_prefix(customer)``; None if not a manifest."""
    parts = key[len(snapshots_prefix(customer)) :].split("/")
    if len(parts) != 2 or not parts[1].endswith(_MANIFEST_SUFFIX):
        return None
    try:
        return names.date(parts[0]), asset_name(parts[1][: -len(_MANIFEST_SUFFIX)])
    except InvalidNameError:
        return None


def erasure_marker_key(customer: str) -> str:
    return f"{ERASURES}{names.customer(customer)}"
