"""Listing a customer's snapshots without restoring them: assets, repositories, logical and stored bytes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from assets.bodies import InventoryBody, read_body
from assets.partitions import BACKUP_ASSETS
from resources import names
from resources.errors import BackhubError
from resources.snapshot_store import SnapshotStore


@dataclass
class SnapshotListing:
    customer: str
    date: str
    assets: list[str]
    repositories: int
    # The three sizes, named the same everywhere (docs/format.md, "Sizes").
    logical_bytes: int  # plaintext bytes of every blob the snapshot names, each once
    stored_bytes: int  # bytes at rest (encrypted) of the blobs it names
    new_bytes: int  # bytes at rest of blobs no earlier snapshot named (what that day cost)
    checks: str = "unknown"
    problem: str | None = None
    missing: list[str] = field(default_factory=list)  # assets never committed: the backup failed part-way

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def stored_sizes(store: SnapshotStore, customer: str) -> dict[str, int]:
    """Blob id -> bytes at rest, by one listing of the customer's blobs (docs/format.md section 2)."""
    return store.blob_sizes(customer)


def list_snapshots(
    store: SnapshotStore, customer: str, *, check_status: Callable[[str], str] | None = None
) -> list[SnapshotListing]:
    """Every snapshot of ``customer``, oldest first. A manifest that cannot be read is reported; a
    snapshot missing an asset (its backup failed part-way) is listed as incomplete, whatever its checks."""
    names.customer(customer)
    sizes = stored_sizes(store, customer)
    seen: set[str] = set()
    listings = []
    for date, assets in store.list_snapshots(customer).items():
        blobs: dict[str, int] = {}
        repositories = 0
        problem = None
        for asset in assets:
            try:
                manifest = store.read_manifest(customer, date, asset)
            except BackhubError as exc:
                problem = problem or str(exc)
                continue
            try:
                body = read_body(manifest)
            except BackhubError as exc:
                problem = problem or str(exc)
            else:
                blobs.update(body.blobs())
                if isinstance(body, InventoryBody):
                    repositories = len(body.repositories)
            blobs.update({bid: blobs.get(bid, 0) for bid in manifest.blobs})
        new_bytes = sum(sizes.get(bid, 0) for bid in blobs if bid not in seen)
        seen.update(blobs)
        missing = [asset for asset in BACKUP_ASSETS if asset not in assets]
        checks = check_status(date) if check_status else "unknown"
        listings.append(
            SnapshotListing(
                customer=customer,
                date=date,
                assets=list(assets),
                repositories=repositories,
                logical_bytes=sum(blobs.values()),
                stored_bytes=sum(sizes.get(bid, 0) for bid in blobs),
                new_bytes=new_bytes,
                checks=f"INCOMPLETE: no committed {', '.join(missing)}" if missing else checks,
                problem=problem,
                missing=missing,
            )
        )
    return listings


# -- verify ------------------------------------------------------------------------------------------
