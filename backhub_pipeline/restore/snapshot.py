"""Reading one committed snapshot: its four manifests, its repositories, the blobs they name.

Snapshots are read only through ``SnapshotStore`` (the code that wrote them) and the assets' own
readers; every name a manifest holds is validated (``resources.names``) before it becomes part of a
path, a URL or a git command line.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assets.partitions import BACKUP_ASSETS
from resources import names
from resources.errors import SnapshotNotFoundError
from resources.snapshot_store import SnapshotStore

Progress = Callable[[str], None]


def quiet(_message: str) -> None:
    """A progress callback that says nothing."""
    return None


def require_snapshots(store: SnapshotStore, customer: str, dates: list[str] | None = None) -> dict[str, list[str]]:
    """The customer's snapshots (date -> committed assets), or SnapshotNotFoundError naming what exists
    when the customer has none or a date asked for has none: an operator's typo, not damage."""
    listing = store.list_snapshots(customer)
    if not listing:
        known = store.list_customers()
        close = difflib.get_close_matches(customer, known, n=1)
        raise SnapshotNotFoundError(
            f"no snapshot of {customer}" + (f"; did you mean {close[0]}?" if close else "")
            + f" (known: {', '.join(known) or 'none'}; see `backhub snapshots`)")
    for date in dates or []:
        if date not in listing:
            available = sorted(listing)
            span = available[0] if len(available) == 1 else f"{available[0]} ... {available[-1]}"
            raise SnapshotNotFoundError(f"no snapshot of {customer} on {date} (available: {span}; "
                                        "see `backhub snapshots`)")
    return listing


# -- reading one snapshot ----------------------------------------------------------------------------


@dataclass
class RepositorySnapshot:
    """One repository as a snapshot recorded it, across the four assets (entries keyed by repo id)."""

    id: str
    full_name: str
    summary: dict[str, Any]  # the inventory entry
    git: dict[str, Any]  # the repositories entry
    wiki: dict[str, Any]  # the wikis entry
    issues: dict[str, Any]  # the issues entry

    @property
    def owner(self) -> str:
        return names.full_name(self.full_name)[0]

    @property
    def name(self) -> str:
        return names.full_name(self.full_name)[1]


class Snapshot:
    """The four manifests of one (customer, date), read and checked for completeness."""

    def __init__(self, store: SnapshotStore, customer: str, date: str) -> None:
        self.store, self.customer, self.date = store, names.customer(customer), names.date(date)
        present = store.list_snapshots(customer).get(date, [])
        if not present:
            raise SnapshotNotFoundError(f"no snapshot of customer {customer} on {date} (see `backhub snapshots`)")
        missing = [asset for asset in BACKUP_ASSETS if asset not in present]
        if missing:
            raise SnapshotNotFoundError(
                f"snapshot {customer}/{date} is incomplete: no committed {', '.join(missing)} "
                "(the backup of that day failed part-way; restore another date)"
            )
        self.manifests = {asset: store.read_manifest(customer, date, asset) for asset in BACKUP_ASSETS}

    def repositories(self) -> list[RepositorySnapshot]:
        bodies = {asset: self.manifests[asset].body for asset in BACKUP_ASSETS}
        result = []
        for summary in bodies["inventory"].get("repositories", []):
            key = str(summary["id"])
            full_name = summary["full_name"]
            names.full_name(full_name)
            result.append(
                RepositorySnapshot(
                    id=key,
                    full_name=full_name,
                    summary=summary,
                    git=bodies["repositories"]["repositories"].get(key, {"reason": "not in the git data"}),
                    wiki=bodies["wikis"]["repositories"].get(key, {"state": "unknown"}),
                    issues=bodies["issues"]["repositories"].get(key, {"reason": "not in the issues"}),
                )
            )
        return result

    def repository(self, full_name: str) -> RepositorySnapshot:
        names.full_name(full_name)
        for repo in self.repositories():
            if repo.full_name.lower() == full_name.lower():
                return repo
        raise SnapshotNotFoundError(
            f"snapshot {self.customer}/{self.date} has no repository {full_name} "
            f"(it has {', '.join(r.full_name for r in self.repositories()) or 'none'})"
        )

    def metadata(self, repo: RepositorySnapshot) -> dict[str, Any]:
        """The repository object, labels, milestones, releases, collaborators and hooks, as stored."""
        if "blob" not in repo.summary:
            return {}
        return json.loads(self.store.read_blob(self.customer, repo.summary["blob"]))

    def settings(self, repo: RepositorySnapshot) -> dict[str, Any] | None:
        """Protections and settings (docs/format.md 9.1) with the date they were read; ``None`` before
        they were captured."""
        reference = repo.summary.get("settings") or {}
        if "blob" not in reference:
            return None
        return {**json.loads(self.store.read_blob(self.customer, reference["blob"])), "read_on": reference["read_on"]}


def body_blobs(asset: str, body: dict[str, Any]) -> dict[str, int]:
    """Blob id -> plaintext size of every blob an asset's manifest body names."""
    found: dict[str, int] = {}
    if asset == "inventory":
        for entry in body.get("repositories", []):
            if "blob" in entry:
                found[entry["blob"]] = int(entry.get("blob_size", 0))
            settings = entry.get("settings") or {}
            if "blob" in settings:
                found[settings["blob"]] = int(settings.get("size", 0))
            for asset in entry.get("release_assets") or []:
                if "blob" in asset:
                    found[asset["blob"]] = int(asset.get("size", 0))
        cache = body.get("etag_cache") or {}
        if "blob" in cache:  # stored with the snapshot like any blob, so counted in its logical size
            found[cache["blob"]] = int(cache.get("size", 0))
    elif asset in ("repositories", "wikis"):
        for entry in body.get("repositories", {}).values():
            for link in entry.get("chain") or []:
                found[link["blob"]] = int(link.get("size", 0))
    elif asset == "issues":
        for entry in body.get("repositories", {}).values():
            for chunk in (entry.get("chunks") or {}).values():
                found[chunk["blob"]] = int(chunk.get("size", 0))
    return found
