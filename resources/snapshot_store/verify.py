"""Checking one date's snapshots like ``restic check`` (docs/format.md sections 6 and 8).

Presence of every named blob by default; ``read_data`` decrypts and re-hashes each one. Each manifest
is also checked against what its successor recorded, which catches a rollback to an older copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from resources import names
from resources.errors import IntegrityError, SnapshotNotFoundError
from resources.snapshot_store.framing import CHUNK
from resources.snapshot_store.manifest import Manifest

if TYPE_CHECKING:
    from resources.snapshot_store.store import SnapshotStore


@dataclass
class VerifyReport:
    ok: bool
    problems: list[str]
    blobs_checked: int
    bytes_read: int


def verify_snapshots(
    store: SnapshotStore,
    customer: str,
    date: str,
    *,
    read_data: bool = False,
    assets: Iterable[str] | None = None,
) -> VerifyReport:
    names.date(date)
    snapshots = store.list_snapshots(customer)
    wanted = sorted(assets) if assets is not None else snapshots.get(date, [])
    problems: list[str] = []
    blobs_checked = bytes_read = 0
    if not wanted:
        problems.append(f"no snapshot of customer {customer} on {date}")
    for asset in wanted:
        try:
            manifest = store.read_manifest(customer, date, asset)
        except (SnapshotNotFoundError, IntegrityError) as exc:
            problems.append(str(exc))
            continue
        problems.extend(_check_successor(store, customer, manifest, snapshots))
        if not read_data:  # presence only: one listing instead of a HEAD per blob for large manifests
            blobs_checked += len(manifest.blobs)
            problems.extend(f"blob {bid} of {customer}/{date}/{asset}: missing"
                            for bid in store.missing_blobs(customer, manifest.blobs))
            continue
        for bid in manifest.blobs:
            blobs_checked += 1
            try:
                with store.open_blob(customer, bid) as f:
                    while chunk := f.read(CHUNK):
                        bytes_read += len(chunk)
            except IntegrityError as exc:
                problems.append(f"{exc} (named by {customer}/{date}/{asset})")
    return VerifyReport(not problems, problems, blobs_checked, bytes_read)


def _check_successor(
    store: SnapshotStore, customer: str, manifest: Manifest, snapshots: dict[str, list[str]]
) -> list[str]:
    """The next snapshot of the asset recorded which manifest it followed: is it this one?"""
    later = sorted(d for d, assets in snapshots.items() if d > manifest.date and manifest.asset in assets)
    if not later:
        return []
    try:
        successor = store.read_manifest(customer, later[0], manifest.asset)
    except (SnapshotNotFoundError, IntegrityError):
        return []  # reported when that date is verified
    if successor.parent_date != manifest.date or successor.parent_digest is None:
        return []
    if successor.parent_digest in {manifest.digest, manifest.supersedes}:
        return []
    if successor.parent_generation is not None and manifest.generation > successor.parent_generation:
        return []  # re-committed since (a retried day): newer than the one its successor followed
    return [
        f"manifest {customer}/{manifest.date}/{manifest.asset}: not the version the snapshot of "
        f"{later[0]} was built on (digest {manifest.digest[:16]}..., recorded "
        f"{successor.parent_digest[:16]}...): replaced by an older or foreign copy"
    ]
