"""Proving a snapshot's data is intact: what one day wrote (the daily checks) and whole chains (deep).

The daily checks cost what that day wrote: a blob the asset's previous manifest already named was read
back when that day was checked, so it is only checked to exist; a new incremental bundle is checked
against the mirror the capture just used instead of rebuilding its whole chain. Everything else (a full
bundle, a re-cut chain, refs that moved without a new bundle, a cold mirror) is restored in full. The
deep verification job (``backhub_pipeline/deep_verification.py``) restores every chain and reads every
blob on a weekly rotation, which catches what happens to old blobs after their day was checked.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from assets.bodies import GitEntry
from assets.git_chain import download_chain, restore_chain
from resources.errors import BackhubError, IntegrityError
from resources.git import Git
from resources.scratch import scratch_dir
from resources.snapshot_store import Manifest, SnapshotStore

READ_SIZE = 1024 * 1024


def previous_manifest(store: SnapshotStore, manifest: Manifest) -> Manifest | None:
    """The asset's latest manifest before this one; None when there is none or it cannot be read
    (then everything counts as written that day, which only makes the check read more)."""
    try:
        return store.latest_manifest_before(manifest.customer, manifest.date, manifest.asset)
    except BackhubError:
        return None


def written_that_day(manifest: Manifest, previous: Manifest | None) -> list[str]:
    """The blobs the previous manifest did not name: every blob stored that day is among them."""
    earlier = set(previous.blobs) if previous else set()
    return [bid for bid in manifest.blobs if bid not in earlier]


def read_blobs(store: SnapshotStore, manifest: Manifest, blob_ids: list[str]) -> tuple[list[str], int]:
    """Decrypt and re-hash each blob to its end (the store checks both); problems and bytes read."""
    where = f"{manifest.customer}/{manifest.date}/{manifest.asset}"
    problems: list[str] = []
    read = 0
    for bid in blob_ids:
        try:
            with store.open_blob(manifest.customer, bid) as f:
                while chunk := f.read(READ_SIZE):
                    read += len(chunk)
        except IntegrityError as exc:
            problems.append(f"{exc} (named by {where})")
    return problems, read


def chain_problems(git: Git, store: SnapshotStore, customer: str, entry: GitEntry, where: str) -> list[str]:
    """Restore the entry's whole chain into scratch space, compare its refs with the recorded tips, and
    ``git fsck`` it. The one whole-chain check: the daily checks fall back to it, the deep one runs it."""
    full_name = entry.full_name
    with scratch_dir("verify") as scratch:
        target = scratch / "repo.git"
        try:
            refs = restore_chain(git, store, customer, entry, target)
            git.fsck(target)
        except BackhubError as exc:
            return [f"git data of {full_name} ({where}): {exc}"]
    tips = entry.refs
    return [
        f"git data of {full_name} ({where}): ref {ref} restores to {refs.get(ref) or 'nothing'}, "
        f"recorded {tips.get(ref) or 'nothing'}"
        for ref in sorted(set(tips) | set(refs))
        if tips.get(ref) != refs.get(ref)
    ]


def increment_proven(git: Git, store: SnapshotStore, customer: str, entry: GitEntry,
                     previous: GitEntry | None, mirror: Path) -> bool:
    """True when the entry is yesterday's chain plus one bundle written that day, and that bundle is
    proven to take yesterday's recorded tips to today's against the mirror (``Git.check_increment``).
    Yesterday's chain was proven to restore to yesterday's tips when that day was checked. False means
    "not proven this way" (not an increment, cold mirror, or a problem): the caller restores it all."""
    chain = entry.links
    if not previous or not mirror.exists() or len(chain) < 2 or chain[-1].kind != "incremental":
        return False
    if chain[:-1] != previous.links or not previous.tips:
        return False
    with scratch_dir("increment") as scratch:
        try:
            [bundle] = download_chain(store, customer, chain[-1:], scratch)
            git.check_increment(mirror, bundle, previous.refs.values(), entry.refs.values())
        except BackhubError:
            return False
    return True


def lfs_problems_since(store: SnapshotStore, customer: str, entry: GitEntry, previous: GitEntry | None, where: str
                       ) -> tuple[list[str], int]:
    """Each Git LFS object of ``entry`` that ``previous`` did not name with the same blob decrypts to
    ``size`` bytes whose sha256 is its oid (yesterday's were checked that day); (problems, objects read)."""
    earlier = {oid: item.blob for oid, item in (previous.lfs or {}).items()} if previous is not None else {}
    problems: list[str] = []
    checked = 0
    for oid, item in sorted((entry.lfs or {}).items()):
        if not item.blob or earlier.get(oid) == item.blob:
            continue
        checked += 1
        digest, size = hashlib.sha256(), 0
        try:
            with store.open_blob(customer, item.blob) as f:
                while chunk := f.read(READ_SIZE):
                    digest.update(chunk)
                    size += len(chunk)
        except BackhubError as exc:
            problems.append(f"Git LFS object {oid} of {entry.full_name} ({where}): {exc}")
            continue
        if digest.hexdigest() != oid or size != item.size:
            problems.append(f"Git LFS object {oid} of {entry.full_name} ({where}): blob {item.blob[:12]} holds "
                            f"{size} bytes with sha256 {digest.hexdigest()[:12]}, not the object")
    return problems, checked


def unchanged_since(entry: GitEntry, previous: GitEntry | None) -> bool:
    """The same chain and the same tips as the previous snapshot: proven when that day was checked."""
    return previous is not None and entry.chain == previous.chain and entry.tips == previous.tips
