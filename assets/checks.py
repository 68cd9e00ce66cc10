"""Checks that prove what one day's snapshot wrote is trustworthy (DESIGN.md section 4), as predicates.

They run inside the snapshot step (``assets/snapshot.py``) right after the capture, and cost what that
day wrote (``assets/verification.py`` says why that is enough); the deep verification job re-reads
every chain and blob on a weekly rotation.

- ``blobs_decrypt`` (blocking, every asset): the manifest decrypts, every blob it names exists, and
  every blob the asset's previous manifest did not name decrypts under the customer's key and hashes
  to its id.
- ``git_data_restores`` (blocking, repositories and wikis): each bundle written that day takes the chain
  to the recorded tips: an increment is proven against the capture's mirror, anything else is
  restored into a scratch repository whose refs must equal the recorded tips and which passes ``git fsck``;
  each Git LFS object new to a repository's entry that day decrypts to bytes whose sha256 is its oid.
- ``covers_inventory`` (repositories, issues, wikis): every repository in the inventory has an entry,
  with data or an explicit recorded reason.
- ``issue_table_is_valid`` (issues): the Great Expectations suite on the issue chunks written that day.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

from assets.bodies import GitBody, GitEntry, InventoryBody, IssuesBody, IssuesEntry, decode_chunk
from assets.issue_expectations import table_row, validate_records
from assets.partitions import SnapshotKey
from assets.verification import (
    chain_problems,
    increment_proven,
    lfs_problems_since,
    previous_manifest,
    read_blobs,
    unchanged_since,
    written_that_day,
)
from resources.errors import IntegrityError, SnapshotNotFoundError
from resources.git import Git
from resources.snapshot_store import Manifest, SnapshotStore

ERROR = dg.AssetCheckSeverity.ERROR


@dataclass(frozen=True)
class SnapshotCheck:
    """One check of one asset: its spec for the definitions, and how it is evaluated."""

    spec: dg.AssetCheckSpec
    evaluate: Callable[[SnapshotStore, Git, SnapshotKey, str], tuple[bool, str | None, dict[str, Any]]]

    @property
    def asset(self) -> str:
        return self.spec.asset_key.to_user_string()

    def __call__(self, store: SnapshotStore, git: Git, key: SnapshotKey) -> dg.AssetCheckResult:
        try:
            passed, description, metadata = self.evaluate(store, git, key, self.asset)
        except (SnapshotNotFoundError, IntegrityError) as exc:
            passed, description, metadata = False, f"{type(exc).__name__}: {exc}", {}
        return dg.AssetCheckResult(asset_key=self.spec.asset_key, check_name=self.spec.name, passed=passed,
                                   severity=ERROR, description=description, metadata=metadata)


def _problems(problems: list[str]) -> dict[str, Any]:
    return {"problems": dg.MetadataValue.md("\n".join(f"- {problem}" for problem in problems[:50]))} if problems else {}


def _verdict(problems: list[str], metadata: dict[str, Any]) -> tuple[bool, str | None, dict[str, Any]]:
    description = None if not problems else f"{len(problems)} problem(s); first: {problems[0]}"
    return not problems, description, {**metadata, **_problems(problems)}


def blobs_decrypt(store: SnapshotStore, git: Git, key: SnapshotKey, asset: str) -> tuple[bool, str | None, dict[str, Any]]:
    """Every blob the manifest names exists; each one written that day decrypts and hashes to its id."""
    manifest = store.read_manifest(key.customer, key.date, asset)
    present = store.verify(key.customer, key.date, read_data=False, assets=[asset])  # one listing, not a read each
    written = written_that_day(manifest, previous_manifest(store, manifest))
    problems, read = read_blobs(store, manifest, written)
    return _verdict([*present.problems, *problems], {
        "blobs_checked": len(manifest.blobs), "blobs_read": len(written), "bytes_read": read})


def git_data_restores(store: SnapshotStore, git: Git, key: SnapshotKey, asset: str) -> tuple[bool, str | None, dict[str, Any]]:
    """Each bundle written that day takes the chain to the recorded tips (restores and passes git fsck), and
    each Git LFS object new to the entry that day is the object its oid names."""
    manifest = store.read_manifest(key.customer, key.date, asset)
    previous = previous_manifest(store, manifest)
    previous_entries = _previous_entries(previous)
    where = f"{key.customer}/{key.date}/{asset}"
    problems: list[str] = []
    counts = {"chains_reused": 0, "increments_proven": 0, "chains_restored": 0, "lfs_objects_checked": 0}
    for repo_id, entry in GitBody.of(manifest).repositories.items():
        before = previous_entries.get(repo_id)
        lfs_problems, checked = lfs_problems_since(store, key.customer, entry, before, where)
        problems.extend(lfs_problems)
        counts["lfs_objects_checked"] += checked
        if not entry.chain:
            continue
        if unchanged_since(entry, before):
            counts["chains_reused"] += 1
            continue
        mirror = git.mirror_path(key.customer, entry.full_name, wiki=asset == "wikis")
        if increment_proven(git, store, key.customer, entry, before, mirror):
            counts["increments_proven"] += 1
            continue
        problems.extend(chain_problems(git, store, key.customer, entry, where))
        counts["chains_restored"] += 1
    return _verdict(problems, counts)


def _previous_entries(previous: Manifest | None) -> Mapping[str, GitEntry]:
    """The previous day's entries; an unreadable body only makes the check restore more."""
    try:
        return GitBody.of(previous).repositories if previous else {}
    except IntegrityError:
        return {}


def covers_inventory(store: SnapshotStore, git: Git, key: SnapshotKey, asset: str) -> tuple[bool, str | None, dict[str, Any]]:
    """Every repository in the inventory has an entry, with data or an explicit recorded reason; a repository
    whose capture failed (``failed`` in its entry) fails the check, named with its error."""
    listing = InventoryBody.of(store.read_manifest(key.customer, key.date, "inventory")).repositories
    manifest = store.read_manifest(key.customer, key.date, asset)
    entries: Mapping[str, GitEntry | IssuesEntry] = (
        IssuesBody.of(manifest) if asset == "issues" else GitBody.of(manifest)).repositories
    problems = []
    for repo in listing:
        entry = entries.get(repo.key)
        if entry is None:
            problems.append(f"{repo.full_name}: missing")
        elif entry.failed:
            problems.append(f"{repo.full_name}: not backed up, {entry.failed}")
        elif not entry.has_data and not entry.reason:
            problems.append(f"{repo.full_name}: no data and no recorded reason")
    reasons = sum(1 for entry in entries.values() if entry.reason)
    return not problems, problems[0] if problems else None, {
        "repositories": len(listing), "with_recorded_reason": reasons, **_problems(problems)}


def issue_table_is_valid(store: SnapshotStore, git: Git, key: SnapshotKey, asset: str) -> tuple[bool, str | None, dict[str, Any]]:
    """Unique numbers per repository, non-null ids, valid states, created <= updated, comments all stored,
    over the chunks written that day (an unchanged chunk is the blob that passed on its own day)."""
    manifest = store.read_manifest(key.customer, key.date, asset)
    written = set(written_that_day(manifest, previous_manifest(store, manifest)))
    body = IssuesBody.of(manifest)
    size = body.chunk_size
    rows: list[dict[str, Any]] = []  # one small row per record: the records are not kept
    strays: list[str] = []
    chunks = 0
    for entry in body.repositories.values():
        for chunk_id, info in (entry.chunks or {}).items():
            if info.blob not in written:
                continue
            chunks += 1
            for number, record in sorted(decode_chunk(store.read_blob(key.customer, info.blob)).items()):
                if number // size != int(chunk_id):  # numbers are unique across chunks only if each is in its own
                    strays.append(f"{entry.full_name}#{number} stored in chunk {chunk_id}")
                rows.append(table_row(entry.full_name, record))
    outcomes = validate_records(rows)
    failed = [f"{o.expectation}: {o.unexpected_count} unexpected, e.g. {o.examples[:2]}" for o in outcomes if not o.success]
    if strays:
        failed.append(f"issue outside its chunk's number range: {len(strays)}, e.g. {strays[:2]}")
    return not failed, "; ".join(failed) or None, {
        "chunks_validated": chunks, "rows_validated": len(rows),
        **{outcome.expectation: outcome.success for outcome in outcomes}}


def _check(asset: str, name: str, evaluate: Callable[..., Any], *, blocking: bool = False,
           additional_deps: tuple[str, ...] = ()) -> SnapshotCheck:
    description = (evaluate.__doc__ or "").strip().split("\n\n")[0] or None
    return SnapshotCheck(dg.AssetCheckSpec(name, asset=asset, blocking=blocking, description=description,
                                           additional_deps=list(additional_deps)), evaluate)


SNAPSHOT_CHECKS = [
    *(_check(asset, "blobs_decrypt", blobs_decrypt, blocking=True)
      for asset in ("inventory", "repositories", "issues", "wikis")),
    *(_check(asset, "git_data_restores", git_data_restores, blocking=True) for asset in ("repositories", "wikis")),
    *(_check(asset, "covers_inventory", covers_inventory, additional_deps=("inventory",))
      for asset in ("repositories", "wikis", "issues")),
    _check("issues", "issue_table_is_valid", issue_table_is_valid),
]


def checks_of(asset: str) -> list[SnapshotCheck]:
    return [check for check in SNAPSHOT_CHECKS if check.asset == asset]

