"""What a snapshot holds (``backhub ls``) and what changed between two (``backhub diff``), like restic's
``ls`` and ``diff``: repositories with their refs, wiki state, issue and pull request counts and sizes;
refs created, moved and deleted, issues and pull requests opened, edited, closed, reopened, deleted.

Read only through ``Snapshot`` (the four manifests, as the code that wrote them reads them) and the typed
bodies of ``assets.bodies``, in ``_contents``, ``_records`` and ``_snapshot_sizes``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from assets.bodies import COUNT_KEYS, InventoryBody, read_body, read_records
from backhub_pipeline.restore.snapshot import RepositorySnapshot, Snapshot
from resources.snapshot_store import SnapshotStore

THREADS = ("comments", "reviews", "review_comments")  # the lists of a stored issue record, each by id
# What an edit of an issue or pull request changes (its comments are counted on their own), and of a
# comment, review or review comment: compared by content, not by URLs that name the server.
EDITED_FIELDS = ("title", "body", "labels", "milestone", "assignees", "locked", "draft")
THREAD_FIELDS = ("body", "updated_at", "state", "submitted_at")


# -- reading: the one place that knows the manifest bodies ---------------------------------------------


@dataclass
class RepositoryContents:
    """One repository as a snapshot holds it."""

    id: str
    full_name: str
    refs: dict[str, str]  # every ref exactly as recorded: ref -> sha
    wiki: str  # populated, never_created, disabled, unknown
    wiki_refs: dict[str, str]
    counts: dict[str, int]  # issues, pull_requests, comments, reviews, review_comments
    logical_bytes: int  # plaintext bytes of the blobs this repository's entries name
    stored_bytes: int  # bytes at rest of those blobs
    reason: str | None = None  # why something is not in the snapshot (gone, skipped, issues disabled)
    chunks: dict[str, str] = field(default_factory=dict, repr=False)  # issues chunk id -> blob id

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["chunks"]
        return data


def _contents(item: RepositorySnapshot, sizes: dict[str, int]) -> RepositoryContents:
    blobs = InventoryBody(installation_id=0, repositories=(item.summary,)).blobs()  # metadata, settings, assets
    for entry in (item.git, item.wiki):
        blobs.update({link.blob: link.size for link in entry.links})
    blobs.update({chunk.blob: chunk.size for chunk in (item.issues.chunks or {}).values()})
    reasons = [reason for reason in (item.summary.reason, item.git.unavailable, item.issues.unavailable) if reason]
    return RepositoryContents(
        id=item.id,
        full_name=item.full_name,
        refs=dict(sorted((item.git.tips or {}).items())),
        wiki=str(item.wiki.state or "unknown"),
        wiki_refs=dict(sorted((item.wiki.tips or {}).items())),
        counts={key: int((item.issues.counts or {}).get(key, 0)) for key in COUNT_KEYS},
        logical_bytes=sum(blobs.values()),
        stored_bytes=sum(sizes.get(blob, 0) for blob in blobs),
        reason="; ".join(dict.fromkeys(reasons)) or None,
        chunks={chunk: info.blob for chunk, info in (item.issues.chunks or {}).items()},
    )


def _records(snapshot: Snapshot, chunks: Iterable[str], item: RepositorySnapshot) -> dict[int, dict[str, Any]]:
    """The stored issue records of the given chunks of one repository, by number."""
    wanted = {chunk: info for chunk, info in (item.issues.chunks or {}).items() if chunk in set(chunks)}
    return {int(record["number"]): record
            for record in read_records(snapshot.store, snapshot.customer, dataclasses.replace(item.issues, chunks=wanted))}


def _snapshot_sizes(snapshot: Snapshot, sizes: dict[str, int]) -> dict[str, int]:
    """The snapshot's ``logical_bytes`` and ``stored_bytes``, counted as ``backhub snapshots`` counts them."""
    blobs: dict[str, int] = {}
    for manifest in snapshot.manifests.values():
        blobs.update(read_body(manifest).blobs())
        blobs.update({blob: blobs.get(blob, 0) for blob in manifest.blobs})
    return {"logical_bytes": sum(blobs.values()), "stored_bytes": sum(sizes.get(blob, 0) for blob in blobs)}


# -- ls ----------------------------------------------------------------------------------------------


@dataclass
class SnapshotContents:
    customer: str
    date: str
    logical_bytes: int
    stored_bytes: int
    repositories: list[RepositoryContents]

    def as_dict(self) -> dict[str, Any]:
        return {**{key: value for key, value in asdict(self).items() if key != "repositories"},
                "repositories": [repo.as_dict() for repo in self.repositories]}


def snapshot_contents(store: SnapshotStore, customer: str, date: str, *, repo: str | None = None) -> SnapshotContents:
    """What the snapshot of ``customer`` on ``date`` holds (only ``repo``, OWNER/NAME, when given)."""
    snapshot = Snapshot(store, customer, date)
    sizes = store.blob_sizes(customer)
    chosen = [snapshot.repository(repo)] if repo else snapshot.repositories()
    return SnapshotContents(customer=snapshot.customer, date=snapshot.date, **_snapshot_sizes(snapshot, sizes),
                            repositories=[_contents(item, sizes) for item in chosen])


# -- diff --------------------------------------------------------------------------------------------


@dataclass
class RefChange:
    ref: str
    change: str  # created, moved, deleted
    old: str | None
    new: str | None


@dataclass
class IssueChange:
    number: int
    kind: str  # issue, pull
    title: str
    changes: list[str]  # opened, edited, closed, merged, reopened, deleted
    # per thread (comments, reviews, review_comments): {added, removed, edited}, only those that changed
    threads: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class RepositoryChange:
    id: str
    full_name: str
    renamed_from: str | None = None
    refs: list[RefChange] = field(default_factory=list)
    wiki: str | None = None  # "never_created -> populated" when the state changed
    wiki_refs: list[RefChange] = field(default_factory=list)
    issues: list[IssueChange] = field(default_factory=list)
    counts: dict[str, list[int]] = field(default_factory=dict)  # only those that changed: [old, new]

    @property
    def changed(self) -> bool:
        return bool(self.renamed_from or self.refs or self.wiki or self.wiki_refs or self.issues or self.counts)


@dataclass
class SnapshotDiff:
    customer: str
    old_date: str
    new_date: str
    added: list[RepositoryContents]
    removed: list[RepositoryContents]
    changed: list[RepositoryChange]
    sizes: dict[str, dict[str, int]]  # "old"/"new" -> logical_bytes, stored_bytes

    def totals(self) -> dict[str, int]:
        """How many of each change: refs created/moved/deleted, issue changes by word, threads by verb."""
        totals: dict[str, int] = {"repositories_added": len(self.added), "repositories_removed": len(self.removed),
                                  "repositories_changed": len(self.changed)}
        for repo in self.changed:
            for ref in repo.refs + repo.wiki_refs:
                totals[f"refs_{ref.change}"] = totals.get(f"refs_{ref.change}", 0) + 1
            for issue in repo.issues:
                for word in issue.changes:
                    key = f"{'pulls' if issue.kind == 'pull' else 'issues'}_{word}"
                    totals[key] = totals.get(key, 0) + 1
                for thread, verbs in issue.threads.items():
                    for verb, count in verbs.items():
                        totals[f"{thread}_{verb}"] = totals.get(f"{thread}_{verb}", 0) + count
        return totals

    def as_dict(self) -> dict[str, Any]:
        return {"customer": self.customer, "from": self.old_date, "to": self.new_date,
                "added": [repo.as_dict() for repo in self.added], "removed": [repo.as_dict() for repo in self.removed],
                "changed": [asdict(repo) for repo in self.changed], "sizes": self.sizes, "totals": self.totals()}


def diff_snapshots(store: SnapshotStore, customer: str, old_date: str, new_date: str) -> SnapshotDiff:
    """What changed from the snapshot of ``old_date`` to that of ``new_date``. Repositories are matched by
    GitHub's id (a rename is a change, not a removal and an addition); issue chunks whose blob is the same
    on both dates hold the same records and are not read."""
    old, new = Snapshot(store, customer, old_date), Snapshot(store, customer, new_date)
    sizes = store.blob_sizes(customer)
    before = {item.id: item for item in old.repositories()}
    after = {item.id: item for item in new.repositories()}
    changed = []
    for key in sorted(set(before) & set(after), key=lambda k: after[k].full_name.lower()):
        change = _repository_change(old, before[key], new, after[key], sizes)
        if change.changed:
            changed.append(change)
    return SnapshotDiff(
        customer=new.customer, old_date=old.date, new_date=new.date,
        added=[_contents(after[k], sizes) for k in sorted(set(after) - set(before), key=lambda k: after[k].full_name)],
        removed=[_contents(before[k], sizes) for k in sorted(set(before) - set(after),
                                                              key=lambda k: before[k].full_name)],
        changed=changed,
        sizes={"old": _snapshot_sizes(old, sizes), "new": _snapshot_sizes(new, sizes)},
    )


def _repository_change(old: Snapshot, before: RepositorySnapshot, new: Snapshot, after: RepositorySnapshot,
                       sizes: dict[str, int]) -> RepositoryChange:
    was, now = _contents(before, sizes), _contents(after, sizes)
    change = RepositoryChange(id=now.id, full_name=now.full_name,
                              renamed_from=was.full_name if was.full_name != now.full_name else None,
                              refs=ref_changes(was.refs, now.refs), wiki_refs=ref_changes(was.wiki_refs, now.wiki_refs),
                              wiki=f"{was.wiki} -> {now.wiki}" if was.wiki != now.wiki else None,
                              counts={key: [was.counts[key], now.counts[key]] for key in COUNT_KEYS
                                      if was.counts[key] != now.counts[key]})
    differing = {chunk for chunk in set(was.chunks) | set(now.chunks) if was.chunks.get(chunk) != now.chunks.get(chunk)}
    if differing:
        change.issues = issue_changes(_records(old, differing, before), _records(new, differing, after))
    return change


def ref_changes(old: dict[str, str], new: dict[str, str]) -> list[RefChange]:
    """Refs created, moved and deleted, by ref name."""
    changes = []
    for ref in sorted(set(old) | set(new)):
        if ref not in old:
            changes.append(RefChange(ref, "created", None, new[ref]))
        elif ref not in new:
            changes.append(RefChange(ref, "deleted", old[ref], None))
        elif old[ref] != new[ref]:
            changes.append(RefChange(ref, "moved", old[ref], new[ref]))
    return changes


def issue_changes(old: dict[int, dict[str, Any]], new: dict[int, dict[str, Any]]) -> list[IssueChange]:
    """Per number: opened, deleted, closed (merged), reopened, edited; comments, reviews and review comments
    added, removed and edited (by id). Numbers that did not change are left out."""
    changes = []
    for number in sorted(set(old) | set(new)):
        was, now = old.get(number), new.get(number)
        record = now or was
        assert record is not None
        issue = record.get("issue") or record.get("pull") or {}
        kind = "pull" if record.get("pull") or "pull_request" in (record.get("issue") or {}) else "issue"
        change = IssueChange(number=number, kind=kind, title=str(issue.get("title") or ""), changes=[])
        if was is None:
            change.changes.append("opened")
        elif now is None:
            change.changes.append("deleted")
        else:
            change.changes += _state_changes(was, now)
            if any(_field(was, name) != _field(now, name) for name in EDITED_FIELDS):
                change.changes.append("edited")
            change.threads = _thread_changes(was, now)
        if change.changes or change.threads:
            changes.append(change)
    return changes


def _field(record: dict[str, Any], name: str) -> Any:
    issue, pull = record.get("issue") or {}, record.get("pull") or {}
    value = issue.get(name, pull.get(name))
    if name == "labels":
        return sorted(str(label.get("name") if isinstance(label, dict) else label) for label in value or [])
    if name == "assignees":
        return sorted(str((person or {}).get("login")) for person in value or [])
    if name == "milestone":
        return (value or {}).get("number")
    return value


def _state_changes(was: dict[str, Any], now: dict[str, Any]) -> list[str]:
    before, after = _field(was, "state"), _field(now, "state")
    if before == after:
        return []
    if after == "closed":
        return ["merged" if (now.get("pull") or {}).get("merged_at") else "closed"]
    return ["reopened"] if before == "closed" else [f"{before} -> {after}"]


def _thread_changes(was: dict[str, Any], now: dict[str, Any]) -> dict[str, dict[str, int]]:
    threads = {}
    for thread in THREADS:
        before = {item["id"]: item for item in was.get(thread) or []}
        after = {item["id"]: item for item in now.get(thread) or []}
        verbs = {"added": len(set(after) - set(before)), "removed": len(set(before) - set(after)),
                 "edited": sum(1 for key in set(before) & set(after)
                               if any(before[key].get(name) != after[key].get(name) for name in THREAD_FIELDS))}
        verbs = {verb: count for verb, count in verbs.items() if count}
        if verbs:
            threads[thread] = verbs
    return threads
