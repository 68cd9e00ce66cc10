"""Git LFS objects: the files a repository keeps outside git, named in git by pointer files.

After a repository's git data is captured, the pointer files its refs reach (``Git.lfs_pointers``)
name the objects to keep. Only what changed is looked at: the pointers reachable from today's tips but
not yesterday's (``--not``); yesterday's objects are carried forward, unless something reachable
yesterday no longer is (a force-push, a deleted branch), when every pointer is listed again and only
the objects still reached are kept. An unchanged repository does no LFS work at all.

Objects the customer already has (any repository, yesterday or today) are named, not downloaded. The
others are asked for through the LFS batch API, streamed to a private scratch file, checked (sha256 is
the oid, the length the size) and stored as one content-addressed blob. An object GitHub does not have
(a per-object 404) is recorded with its reason, not a failed backup; it is asked for again on the next
day the repository's refs move.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

from assets.bodies import GitEntry, LfsObject
from assets.capture import Capture
from resources.errors import DownloadTooLargeError, GitHubError
from resources.git import Git
from resources.github import InstallationClient
from resources.scratch import scratch_dir

BATCH_SIZE = 100  # objects per batch request (git-lfs asks for at most 100 at a time as well)


class LfsIndex:
    """The customer's stored LFS objects (yesterday's bodies and today's downloads), and today's counts."""

    def __init__(self, previous: Iterable[GitEntry]) -> None:
        self._lock = threading.Lock()
        self._known = {oid: item for entry in previous for oid, item in (entry.lfs or {}).items() if item.blob}
        self.downloaded = 0
        self.downloaded_bytes = 0
        self.missing = 0
        self.batches = 0

    def known(self, oid: str, size: int) -> LfsObject | None:
        with self._lock:
            item = self._known.get(oid)
        return item if item is not None and item.size == size else None

    def add(self, oid: str, item: LfsObject) -> None:
        with self._lock:
            if item.blob:
                self._known[oid] = item
                self.downloaded += 1
                self.downloaded_bytes += item.size
            else:
                self.missing += 1

    def count_batch(self) -> None:
        with self._lock:
            self.batches += 1


def capture_lfs(*, capture: Capture, client: InstallationClient, git: Git, mirror: Path, full_name: str,
                entry: GitEntry, previous: GitEntry | None, index: LfsIndex) -> dict[str, LfsObject] | None:
    """The ``lfs`` mapping of ``entry`` (today's git entry of ``full_name``); None when unknown (no
    mapping yesterday and no mirror to read today)."""
    carried = dict(previous.lfs) if previous is not None and previous.lfs is not None else None
    tips = entry.refs
    if carried is not None and previous is not None and previous.tips == entry.tips:
        _reuse(capture, carried.values())  # nothing moved: no LFS work
        return carried
    if not tips:
        return {}
    if not mirror.is_dir():
        return None
    old_tips = sorted(set(previous.refs.values())) if carried is not None and previous is not None else []
    if old_tips and git.unreachable_since(mirror, old_tips, tips.values()):
        reachable = git.lfs_pointers(mirror, tips.values())
        kept = {oid: item for oid, item in (carried or {}).items() if oid in reachable and item.blob}
    else:
        reachable = git.lfs_pointers(mirror, tips.values(), exclude=old_tips)
        kept = {oid: item for oid, item in (carried or {}).items() if item.blob}
        reachable.update({oid: item.size for oid, item in (carried or {}).items() if not item.blob})  # ask again
    needed: dict[str, int] = {}
    for oid, size in reachable.items():
        if oid in kept:
            continue
        known = index.known(oid, size)
        if known is not None:
            kept[oid] = known
        else:
            needed[oid] = size
    _reuse(capture, kept.values())
    fetched = _fetch(capture, client, full_name, needed, index) if needed else {}
    return dict(sorted({**kept, **fetched}.items()))


def _reuse(capture: Capture, items: Iterable[LfsObject]) -> None:
    for item in items:
        if item.blob:
            capture.reuse(item.blob, item.size)


def _fetch(capture: Capture, client: InstallationClient, full_name: str, needed: Mapping[str, int],
           index: LfsIndex) -> dict[str, LfsObject]:
    objects = sorted(needed.items())
    fetched: dict[str, LfsObject] = {}
    for start in range(0, len(objects), BATCH_SIZE):
        chunk = objects[start:start + BATCH_SIZE]
        index.count_batch()
        try:
            answers = {str(item.get("oid")): item for item in client.lfs_batch(full_name, "download", chunk)}
        except GitHubError as exc:
            if exc.status not in (403, 404, 410, 422):
                raise
            # The batch as a whole refused (LFS disabled, the repository gone since the fetch): the git
            # data stands; each object records why it is not kept, and is asked for again on a later day.
            answers = {oid: {"error": {"code": exc.status, "message": str(exc)}} for oid, _size in chunk}
        for oid, size in chunk:
            answer = answers.get(oid) or {"error": {"code": 404, "message": "not in the batch answer"}}
            action = (answer.get("actions") or {}).get("download")
            if action is None:
                error = answer.get("error") or {}
                code = error.get("code")
                word = "missing" if code == 404 else "failed"
                item = LfsObject(size, reason=f"{word}: GitHub's LFS batch API answered {code}: "
                                              f"{error.get('message') or 'no download offered'}")
            else:
                item = _download(capture, client, action, oid, size)
            index.add(oid, item)
            fetched[oid] = item
    return fetched


def _download(capture: Capture, client: InstallationClient, action: Mapping[str, object], oid: str, size: int
              ) -> LfsObject:
    with scratch_dir("lfs") as scratch:  # 0700, and removed by the next one if this process is killed
        path = scratch / "object"
        try:
            with path.open("wb") as sink:
                client.lfs_download(action, sink, limit=size)
        except DownloadTooLargeError:
            return LfsObject(size, reason=f"failed: GitHub sent more than the pointer's {size} bytes")
        except GitHubError as exc:
            if exc.status not in (403, 404, 410):
                raise
            return LfsObject(size, reason=f"missing: GitHub answered {exc.status} for the object's download")
        digest = hashlib.sha256()
        with path.open("rb") as data:
            while chunk := data.read(1 << 20):
                digest.update(chunk)
        if path.stat().st_size != size or digest.hexdigest() != oid:
            return LfsObject(size, reason="failed: the bytes GitHub sent are not the object the pointer names")
        ref = capture.put_file(path)
        return LfsObject(size, blob=ref.id)
