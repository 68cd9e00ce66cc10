"""Git data as a chain of bundles: a full bundle, then daily increments (DESIGN.md section 5).

A chain entry in a manifest records the ref tips at capture time and the ordered bundles that rebuild
them. Restore unbundles the chain in order and then sets every ref to the recorded tip, so refs that
moved backwards or were deleted without new objects are still reproduced exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from pathlib import Path

from assets.bodies import ChainLink, GitEntry
from assets.capture import Capture
from assets.policy import BackupPolicy
from resources.errors import BackhubError
from resources.git import Git
from resources.scratch import scratch_dir
from resources.snapshot_store import SnapshotStore


def download_chain(store: SnapshotStore, customer: str, chain: Iterable[ChainLink], into: Path) -> list[Path]:
    """Decrypt a chain's bundles to files, in order."""
    paths = []
    for index, link in enumerate(chain):
        path = into / f"{index:04d}.bundle"
        store.copy_blob_to(customer, link.blob, path)
        paths.append(path)
    return paths


def _needs_recut(git: Git, mirror: Path, previous: GitEntry, tips: dict[str, str], capture: Capture,
                 policy: BackupPolicy) -> str | None:
    chain = previous.links
    if not chain:
        return "no previous chain"
    if len(chain) >= policy.max_chain_length:
        return f"chain has {len(chain)} bundles"
    base_age = dt.date.fromisoformat(capture.date) - dt.date.fromisoformat(chain[0].date)
    if base_age.days >= policy.chain_recut_days:
        old_tips = set(previous.refs.values())
        try:
            if git.unreachable_since(mirror, old_tips, set(tips.values())):
                return f"history rewritten and base is {base_age.days} days old"
        except BackhubError:  # old tips gone from the cache: cannot prove the chain still applies
            return "previous tips missing from the mirror"
    return None


def _unchanged_since(git: Git, url: str, credentials: Callable[[], dict[str, str]], previous: GitEntry,
                     capture: Capture, full_name: str) -> GitEntry | None:
    """Yesterday's entry again when the remote's refs are exactly its tips (one ref advertisement);
    None when anything moved or there is no usable previous entry."""
    tips = previous.tips
    chain = previous.links
    if tips is None or (tips and not chain):
        return None
    if git.ls_remote(url, credentials) != tips:
        return None
    _reuse(capture, chain)
    return GitEntry(full_name, tips=dict(tips), chain=chain, bundle="unchanged" if tips else "empty", fetched=False)


def _reuse(capture: Capture, chain: Iterable[ChainLink]) -> None:
    for link in chain:
        capture.reuse(link.blob, link.size)


def snapshot_git(
    *,
    git: Git,
    capture: Capture,
    policy: BackupPolicy,
    mirror: Path,
    url: str,
    credentials: Callable[[], dict[str, str]],
    previous: GitEntry | None,
    full_name: str,
) -> GitEntry:
    """Fetch one repository (or wiki) into its mirror and extend or re-cut its bundle chain.

    Returns the manifest entry: ``tips``, ``chain`` (ordered links) and
    ``bundle`` (what happened today: ``full``, ``incremental``, ``unchanged`` or ``empty``). When the
    remote's refs equal the previous snapshot's tips, nothing is fetched, bundled or stored (and a cold
    mirror stays cold): the entry names yesterday's chain and says ``fetched: false``.
    """
    previous = previous or GitEntry(full_name)
    unchanged = _unchanged_since(git, url, credentials, previous, capture, full_name)
    if unchanged is not None:
        return unchanged
    with scratch_dir("git") as scratch:
        if not mirror.exists() and previous.links:
            # Cold cache: rebuild the mirror from yesterday's bundles so today's fetch is incremental.
            bundles = download_chain(capture.store, capture.customer, previous.links, scratch)
            git.seed_mirror(mirror, bundles, previous.refs)
            for bundle in bundles:
                bundle.unlink()
        tips = git.fetch_mirror(mirror, url, credentials)
        if not tips:
            return GitEntry(full_name, tips={}, chain=(), bundle="empty")
        chain = list(previous.links)
        if chain and tips == previous.tips:
            _reuse(capture, chain)
            return GitEntry(full_name, tips=tips, chain=tuple(chain), bundle="unchanged")
        reason = _needs_recut(git, mirror, previous, tips, capture, policy)
        out = scratch / "today.bundle"
        info = None
        if reason is None:
            try:
                info = git.create_bundle(mirror, out, exclude=sorted(set(previous.refs.values())))
                kind = "incremental"
            except BackhubError as exc:  # e.g. yesterday's tips are not in this mirror: start afresh
                reason = f"incremental bundle impossible: {exc}"
        if reason is not None:
            chain = []
            info = git.create_bundle(mirror, out)
            kind = "full"
        _reuse(capture, chain)
        if info is None:  # refs moved or vanished without new objects: the recorded tips carry it
            return GitEntry(full_name, tips=tips, chain=tuple(chain), bundle="unchanged")
        ref = capture.put_file(info.path)
        chain.append(ChainLink(blob=ref.id, size=ref.size, kind=kind, date=capture.date))
        return GitEntry(full_name, tips=tips, chain=tuple(chain), bundle=kind,
                        recut_reason=reason if reason is not None and previous.links else None)


def restore_chain(git: Git, store: SnapshotStore, customer: str, entry: GitEntry, into: Path) -> dict[str, str]:
    """Rebuild a bare repository at ``into`` from a manifest entry; returns the refs it now has."""
    with scratch_dir("restore") as scratch:
        bundles = download_chain(store, customer, entry.links, scratch)
        return git.restore_chain(bundles, into, entry.refs)
