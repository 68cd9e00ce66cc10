"""Git data as a chain of bundles: a full bundle, then daily increments (DESIGN.md section 5).

A chain entry in a manifest records the ref tips at capture time and the ordered bundles that rebuild
them. Restore unbundles the chain in order and then sets every ref to the recorded tip, so refs that
moved backwards or were deleted without new objects are still reproduced exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assets.capture import Capture
from assets.policy import BackupPolicy
from resources.errors import BackhubError
from resources.git import Git
from resources.scratch import scratch_dir
from resources.snapshot_store import SnapshotStore


def download_chain(store: SnapshotStore, customer: str, chain: list[dict[str, Any]], into: Path) -> list[Path]:
    """Decrypt a chain's bundles to files, in order."""
    paths = []
    for index, link in enumerate(chain):
        path = into / f"{index:04d}.bundle"
        store.copy_blob_to(customer, link["blob"], path)
        paths.append(path)
    return paths


def _needs_recut(git: Git, mirror: Path, previous: dict[str, Any], tips: dict[str, str], capture: Capture,
                 policy: BackupPolicy) -> str | None:
    chain = previous.get("chain") or []
    if not chain:
        return "no previous chain"
    if len(chain) >= policy.max_chain_length:
        return f"chain has {len(chain)} bundles"
    base_age = dt.date.fromisoformat(capture.date) - dt.date.fromisoformat(chain[0]["date"])
    if base_age.days >= policy.chain_recut_days:
        old_tips = set(previous.get("tips", {}).values())
        try:
            if git.unreachable_since(mirror, old_tips, set(tips.values())):
                return f"history rewritten and base is {base_age.days} days old"
        except BackhubError:  # old tips gone from the cache: cannot prove the chain still applies
            return "previous tips missing from the mirror"
    return None


def _unchanged_since(git: Git, url: str, credentials: Callable[[], dict[str, str]], previous: dict[str, Any],
                     capture: Capture) -> dict[str, Any] | None:
    """Yesterday's entry again when the remote's refs are exactly its tips (one ref advertisement);
    None when anything moved or there is no usable previous entry."""
    tips = previous.get("tips")
    chain = list(previous.get("chain") or [])
    if tips is None or (tips and not chain):
        return None
    if git.ls_remote(url, credentials) != tips:
        return None
    for link in chain:
        capture.reuse(link["blob"], link["size"])
    return {"tips": dict(tips), "chain": chain, "bundle": "unchanged" if tips else "empty", "fetched": False}


def snapshot_git(
    *,
    git: Git,
    capture: Capture,
    policy: BackupPolicy,
    mirror: Path,
    url: str,
    credentials: Callable[[], dict[str, str]],
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    """Fetch one repository (or wiki) into its mirror and extend or re-cut its bundle chain.

    Returns the manifest entry: ``tips``, ``chain`` (ordered ``{blob, size, kind, date}``) and
    ``bundle`` (what happened today: ``full``, ``incremental``, ``unchanged`` or ``empty``). When the
    remote's refs equal the previous snapshot's tips, nothing is fetched, bundled or stored (and a cold
    mirror stays cold): the entry names yesterday's chain and says ``fetched: false``.
    """
    previous = previous or {}
    unchanged = _unchanged_since(git, url, credentials, previous, capture)
    if unchanged is not None:
        return unchanged
    with scratch_dir("git") as scratch:
        if not mirror.exists() and previous.get("chain"):
            # Cold cache: rebuild the mirror from yesterday's bundles so today's fetch is incremental.
            bundles = download_chain(capture.store, capture.customer, previous["chain"], scratch)
            git.seed_mirror(mirror, bundles, previous.get("tips", {}))
            for bundle in bundles:
                bundle.unlink()
        tips = git.fetch_mirror(mirror, url, credentials)
        if not tips:
            return {"tips": {}, "chain": [], "bundle": "empty"}
        chain: list[dict[str, Any]] = list(previous.get("chain") or [])
        if chain and tips == previous.get("tips"):
            for link in chain:
                capture.reuse(link["blob"], link["size"])
            return {"tips": tips, "chain": chain, "bundle": "unchanged"}
        reason = _needs_recut(git, mirror, previous, tips, capture, policy)
        out = scratch / "today.bundle"
        info = None
        if reason is None:
            try:
                info = git.create_bundle(mirror, out, exclude=sorted(set(previous["tips"].values())))
                kind = "incremental"
            except BackhubError as exc:  # e.g. yesterday's tips are not in this mirror: start afresh
                reason = f"incremental bundle impossible: {exc}"
        if reason is not None:
            chain = []
            info = git.create_bundle(mirror, out)
            kind = "full"
        for link in chain:
            capture.reuse(link["blob"], link["size"])
        if info is None:  # refs moved or vanished without new objects: the recorded tips carry it
            return {"tips": tips, "chain": chain, "bundle": "unchanged"}
        ref = capture.put_file(info.path)
        chain.append({"blob": ref.id, "size": ref.size, "kind": kind, "date": capture.date})
        entry: dict[str, Any] = {"tips": tips, "chain": chain, "bundle": kind}
        if reason is not None and previous.get("chain"):
            entry["recut_reason"] = reason
        return entry


def restore_chain(git: Git, store: SnapshotStore, customer: str, entry: dict[str, Any], into: Path) -> dict[str, str]:
    """Rebuild a bare repository at ``into`` from a manifest entry; returns the refs it now has."""
    with scratch_dir("restore") as scratch:
        bundles = download_chain(store, customer, entry.get("chain") or [], scratch)
        return git.restore_chain(bundles, into, entry.get("tips") or {})
