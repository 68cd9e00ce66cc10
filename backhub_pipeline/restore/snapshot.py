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

from assets.bodies import GitBody, GitEntry, InventoryBody, InventoryEntry, IssuesBody, IssuesEntry
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
    summary: InventoryEntry
    git: GitEntry  # the repositories entry
    wiki: GitEntry  # the wikis entry
    issues: IssuesEntry

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
        inventory = InventoryBody.of(self.manifests["inventory"])
        git, wikis = GitBody.of(self.manifests["repositories"]), GitBody.of(self.manifests["wikis"])
        issues = IssuesBody.of(self.manifests["issues"])
        result = []
        for summary in inventory.repositories:
            key, full_name = summary.key, summary.full_name
            if summary.reason is None:  # a skipped name is recorded as GitHub served it, never used
                names.full_name(full_name)
            result.append(
                RepositorySnapshot(
                    id=key,
                    full_name=full_name,
                    summary=summary,
                    git=git.repositories.get(key) or GitEntry(full_name, reason="not in the git data"),
                    wiki=wikis.repositories.get(key) or GitEntry(full_name, state="unknown"),
                    issues=issues.repositories.get(key) or IssuesEntry(full_name, reason="not in the issues"),
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
        if repo.summary.blob is None:
            return {}
        return json.loads(self.store.read_blob(self.customer, repo.summary.blob))

    def settings(self, repo: RepositorySnapshot) -> dict[str, Any] | None:
        """Protections and settings (docs/format.md 9.1) with the date they were read; ``None`` before
        they were captured."""
        link = repo.summary.settings
        if link is None:
            return None
        return {**json.loads(self.store.read_blob(self.customer, link.blob)), "read_on": link.read_on}
