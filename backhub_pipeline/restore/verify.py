"""Verifying snapshots like ``restic check`` (DESIGN.md section 9): manifests and blobs; with
``read_data``, decrypt everything, rebuild every git chain, compare its refs with the recorded tips, fsck.
"""


from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from assets.bodies import (
    Body,
    GitBody,
    GitEntry,
    InventoryBody,
    InventoryEntry,
    IssuesBody,
    IssuesEntry,
    chunk_counts,
    decode_chunk,
    read_body,
)
from assets.partitions import BACKUP_ASSETS
from assets.verification import chain_problems
from backhub_pipeline.restore.snapshot import Progress, quiet
from resources import names
from resources.errors import (
    BackhubError,
    IntegrityError,
)
from resources.git import Git
from resources.snapshot_store import SnapshotStore


@dataclass
class VerifyResult:
    customer: str
    dates: list[str]
    problems: list[str] = field(default_factory=list)
    blobs_checked: int = 0
    bytes_read: int = 0
    chains_restored: int = 0
    # date -> assets never committed: a backup that failed part-way, not damage (its problem is in problems)
    incomplete: dict[str, list[str]] = field(default_factory=dict)
    # "<date> <repository>: <reason>": repositories a snapshot holds no data of, skipped or failed at backup
    not_backed_up: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def damaged(self) -> bool:
        """A problem other than an incomplete snapshot: stored data that fails its checks."""
        return len(self.problems) > len(self.incomplete)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def verify_snapshots(
    store: SnapshotStore,
    git: Git,
    customer: str,
    dates: Iterable[str] | None = None,
    *,
    read_data: bool = False,
    progress: Progress = quiet,
) -> VerifyResult:
    """Check snapshots like ``restic check``: every problem is named (blob, manifest, repository, ref).

    Always: each of the four manifests exists and decrypts under its own path, every blob its body
    names is listed and present, every name it holds is valid. With ``read_data``: every blob is
    decrypted and re-hashed, every git chain is rebuilt in scratch space and its refs compared with
    the recorded tips, then ``git fsck``; every issues chunk parses and matches its recorded counts.
    """
    names.customer(customer)
    listing = store.list_snapshots(customer)
    wanted = sorted(names.date(d) for d in dates) if dates is not None else sorted(listing)
    result = VerifyResult(customer=customer, dates=wanted)
    if not wanted:
        result.problems.append(f"no snapshots of customer {customer} in {store.storage.url}")
    for date in wanted:
        if date not in listing:
            result.problems.append(f"no snapshot of customer {customer} on {date}")
            continue
        progress(f"verify {customer}/{date}{' (reading all data)' if read_data else ''}")
        missing = [asset for asset in BACKUP_ASSETS if asset not in listing[date]]
        if missing:
            result.incomplete[date] = missing
            result.problems.append(f"snapshot {customer}/{date} is incomplete: no committed {', '.join(missing)}")
        report = store.verify(customer, date, read_data=read_data)
        result.problems.extend(report.problems)
        result.blobs_checked += report.blobs_checked
        result.bytes_read += report.bytes_read
        for asset in listing[date]:
            try:
                manifest = store.read_manifest(customer, date, asset)
            except BackhubError:
                continue  # already named by store.verify
            where = f"{customer}/{date}/{asset}"
            try:
                body = read_body(manifest)
            except IntegrityError as exc:
                result.problems.append(str(exc))
                continue
            listed = set(manifest.blobs)
            for bid in body.blobs():
                if bid not in listed:
                    result.problems.append(f"manifest {where}: names blob {bid} in its body but not in its blob list")
            result.problems.extend(_name_problems(where, body))
            result.not_backed_up.extend(_not_backed_up(date, asset, body))
            if read_data and isinstance(body, GitBody):
                _verify_chains(store, git, customer, where, body, result, progress)
            if read_data and isinstance(body, IssuesBody):
                _verify_chunks(store, customer, where, body, result)
    return result


def _entries(body: Body) -> Iterable[InventoryEntry | GitEntry | IssuesEntry]:
    return body.repositories if isinstance(body, InventoryBody) else body.repositories.values()


def _not_backed_up(date: str, asset: str, body: Body) -> list[str]:
    """Repositories this snapshot holds no data of, with the recorded reason: skipped at inventory (named
    once, there), or failed in this asset (the backup's completeness check failed naming them)."""
    if isinstance(body, InventoryBody):
        return [f"{date} {entry.full_name}: {entry.reason}" for entry in body.repositories
                if entry.reason and entry.reason.startswith("skipped")]
    return [f"{date} {entry.full_name} ({asset}): backup failed: {entry.failed}" for entry in body.repositories.values()
            if entry.failed]


def _name_problems(where: str, body: Body) -> list[str]:
    problems = []
    for entry in _entries(body):
        if entry.reason:
            continue  # no data: the name, as GitHub served it, is recorded and never used
        try:
            names.full_name(entry.full_name)
            for ref, sha in (getattr(entry, "tips", None) or {}).items():
                names.ref(ref)
                names.sha(sha)
        except names.InvalidNameError as exc:
            problems.append(f"manifest {where}: {exc}")
    return problems


def _verify_chains(
    store: SnapshotStore,
    git: Git,
    customer: str,
    where: str,
    body: GitBody,
    result: VerifyResult,
    progress: Progress,
) -> None:
    for entry in body.repositories.values():
        if not entry.chain:
            continue
        progress(f"  rebuild {entry.full_name} from {len(entry.chain)} bundle(s) ({where})")
        result.problems.extend(chain_problems(git, store, customer, entry, where))
        result.chains_restored += 1


def _verify_chunks(store: SnapshotStore, customer: str, where: str, body: IssuesBody, result: VerifyResult) -> None:
    size = body.chunk_size
    for entry in body.repositories.values():
        for chunk_id, info in (entry.chunks or {}).items():
            label = f"issues chunk {chunk_id} (blob {info.blob}) of {entry.full_name} ({where})"
            try:
                records = decode_chunk(store.read_blob(customer, info.blob))
            except IntegrityError:
                continue  # named by store.verify
            except (ValueError, KeyError, TypeError) as exc:
                result.problems.append(f"{label}: not JSON Lines of issue records ({type(exc).__name__})")
                continue
            stray = [n for n in records if n // size != int(chunk_id)]
            if stray:
                result.problems.append(f"{label}: holds issue #{stray[0]} outside its number range")
            if chunk_counts(records) != info.counts:
                result.problems.append(f"{label}: counts {chunk_counts(records)} differ from recorded {dict(info.counts)}")
