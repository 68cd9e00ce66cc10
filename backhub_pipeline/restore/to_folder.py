"""Restore a snapshot into a folder (DESIGN.md section 9).

    restore_to_directory  DIR/<owner>/<repo>.git (bare, every ref exactly as recorded) and
                          DIR/<owner>/<repo>/ holding wiki.git (the wiki, bare), <key>.json (metadata
                          as GitHub served it) and issues/ (JSON as GitHub served it, plus Markdown);
                          built beside DIR and renamed into place only when complete

The layout cannot collide: a repository name never ends in ``.git`` (``resources.names``), so every
``<repo>.git`` is the one repository's and every ``<repo>/`` folder is another's, and what a folder
holds has fixed names. (The wiki used to be ``DIR/<owner>/<repo>.wiki.git``, which is also where the
repository ``<repo>.wiki`` went.) A repository the backup skipped (a name backhub refuses) or failed
to capture is listed in the summary with its reason and restores nothing; the others restore.

A restore writes plaintext and may replace a folder, so it refuses any target that is, holds or lies
inside backhub's own state (store, keyring, audit log, git cache, Dagster home), and ``force`` replaces
only a folder an earlier restore made (it carries ``backhub-restore.json``). A restore killed mid-way
leaves its staging folder ``.<DIR>.restore-*`` beside DIR; the next restore into DIR removes it.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assets.bodies import GitEntry, read_records
from assets.git_chain import restore_chain
from backhub_pipeline.restore.issue_markdown import render_discussion, render_index, render_markdown
from backhub_pipeline.restore.snapshot import Progress, RepositorySnapshot, Snapshot, quiet
from resources import names
from resources.errors import BackhubError, IntegrityError, RestoreRefusedError
from resources.git import Git
from resources.snapshot_store import SnapshotStore

SUMMARY_FILE = "backhub-restore.json"  # also the marker: a folder holding it was made by a restore
STAGING_OWNER = ".backhub-restore-pid"  # in a staging folder: the process building it
WIKI = "wiki.git"  # a wiki's bare repository, inside its repository's folder


# -- restore to a directory --------------------------------------------------------------------------


@dataclass
class RestoredRepository:
    full_name: str
    refs: int = 0
    lfs_objects: int = 0
    lfs_missing: int = 0
    wiki: str = "unknown"
    issues: int = 0
    pull_requests: int = 0
    comments: int = 0
    discussions: int = 0
    skipped: str | None = None


@dataclass
class RestoreResult:
    customer: str
    date: str
    target: str
    repositories: list[RestoredRepository] = field(default_factory=list)
    seconds: float = 0.0
    leftovers_removed: list[str] = field(default_factory=list)  # staging of restores that were killed

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def restore_to_directory(
    store: SnapshotStore,
    git: Git,
    customer: str,
    date: str,
    target: os.PathLike[str] | str,
    *,
    repo: str | None = None,
    force: bool = False,
    protected: dict[str, Path] | None = None,
    progress: Progress = quiet,
) -> RestoreResult:
    """Restore a snapshot (or one repository of it) into ``target``.

    Everything is built in a temporary sibling of ``target`` and renamed into place only once
    complete: a failure leaves nothing at ``target`` (and removes the partial copy). ``target`` must
    not exist or be an empty directory unless ``force``, which replaces it only after success and only
    if an earlier restore made it. ``protected`` (variable -> path, ``Settings.local_paths``) are never
    the target, inside it, or around it.
    """
    started = time.monotonic()
    target = Path(target).absolute()
    check_target(target, force=force, protected=protected or {})
    snapshot = Snapshot(store, customer, date)
    chosen = [snapshot.repository(repo)] if repo else snapshot.repositories()
    target.parent.mkdir(parents=True, exist_ok=True)
    result = RestoreResult(customer=snapshot.customer, date=snapshot.date, target=str(target))
    result.leftovers_removed = [str(leftover) for leftover in remove_leftovers(target)]
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.restore-", dir=target.parent))
    (staging / STAGING_OWNER).write_text(f"{os.getpid()}\n")
    try:
        for index, item in enumerate(chosen, 1):
            progress(f"[{index}/{len(chosen)}] {item.full_name}")
            result.repositories.append(_restore_repository(snapshot, git, item, staging))
        result.seconds = round(time.monotonic() - started, 3)
        summary = {"format": "backhub-restore", "version": 1, **result.as_dict()}
        (staging / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        (staging / STAGING_OWNER).unlink()
        _move_into_place(staging, target, force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    result.seconds = round(time.monotonic() - started, 3)
    return result


def check_target(target: Path, *, force: bool, protected: dict[str, Path]) -> None:
    """RestoreRefusedError unless a restore may write ``target``: before anything is read or recorded."""
    refuse_protected(target, protected)
    _refuse_existing(target, force)


def refuse_protected(target: Path, protected: dict[str, Path]) -> None:
    """RestoreRefusedError when ``target`` (symlinks resolved) is, holds or lies inside a protected path."""
    real = target.resolve()
    held = {variable: path.resolve() for variable, path in protected.items()}
    # Name the closest: the one it is, else the deepest one it lies inside, else one it holds.
    deepest_first = sorted(held.items(), key=lambda item: -len(item[1].parts))
    for relation, test in (("is", real.__eq__), ("lies inside", real.is_relative_to),
                           ("holds", lambda path: path.is_relative_to(real))):
        for variable, path in deepest_first:
            if test(path):
                raise RestoreRefusedError(f"restore into {target}: refused, it {relation} backhub's own data "
                                          f"({variable}={protected[variable]}); choose a folder outside it")


def _refuse_existing(target: Path, force: bool) -> None:
    if not (target.exists() or target.is_symlink()):
        return
    if target.is_dir() and not target.is_symlink() and not any(target.iterdir()):
        return
    if not force:
        raise RestoreRefusedError(f"restore into {target}: it already exists and is not empty (use --force to replace "
                                  "an earlier restore, or choose another folder)")
    if target.is_symlink() or not target.is_dir() or not (target / SUMMARY_FILE).is_file():
        raise RestoreRefusedError(f"restore into {target}: --force replaces only a folder an earlier restore made "
                                  f"(it holds {SUMMARY_FILE}), and this one does not; choose another folder")


def remove_leftovers(target: Path) -> list[Path]:
    """Remove the staging folders of restores into ``target`` whose process is gone (killed mid-way)."""
    removed = []
    for candidate in sorted(target.parent.glob(f".{glob.escape(target.name)}.restore-*")):
        owner = candidate / STAGING_OWNER
        if candidate.is_symlink() or not candidate.is_dir() or not owner.is_file():
            continue
        try:
            pid = int(owner.read_text().strip())
        except ValueError:
            pid = 0
        if pid and _alive(pid):
            continue  # another restore into the same folder is running now
        shutil.rmtree(candidate)
        removed.append(candidate)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _move_into_place(staging: Path, target: Path, force: bool) -> None:
    old = None
    if target.is_dir() and not target.is_symlink() and not any(target.iterdir()):
        target.rmdir()
    elif target.exists() or target.is_symlink():
        if not force:
            raise RestoreRefusedError(f"restore into {target}: it appeared while restoring; nothing was replaced")
        old = target.parent / f".{target.name}.replaced-{os.getpid()}-{time.monotonic_ns()}"
        target.rename(old)
    staging.rename(target)
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        else:
            old.unlink()


def _restore_repository(snapshot: Snapshot, git: Git, item: RepositorySnapshot, root: Path) -> RestoredRepository:
    restored = RestoredRepository(full_name=item.full_name)
    if item.summary.reason:  # skipped at backup (a name backhub refuses, say): nothing of it is stored
        restored.skipped = item.summary.reason
        return restored
    owner, name = names.full_name(item.full_name)
    folder = root / owner / name
    if item.git.unavailable:
        restored.skipped = item.git.unavailable
    else:
        bare = root / owner / f"{name}.git"
        refs = restore_git(snapshot, git, item.git, bare, f"{item.full_name}")
        default = item.summary.get("default_branch")
        if default and f"refs/heads/{default}" in refs:
            git.set_head(bare, f"refs/heads/{default}")
        restored.refs = len(refs)
        restored.lfs_objects, restored.lfs_missing = restore_lfs(snapshot, item.git, bare)
    restored.wiki = item.wiki.state or ("failed" if item.wiki.failed else "unknown")
    if item.wiki.chain or item.wiki.state == "populated":
        restore_git(snapshot, git, item.wiki, folder / WIKI, f"{item.full_name} wiki")
    folder.mkdir(parents=True, exist_ok=True)
    for key, value in snapshot.metadata(item).items():
        if re.fullmatch(r"[a-z_]+", key):
            _write_json(folder / f"{key}.json", value)
    settings = snapshot.settings(item)
    if settings is not None:
        _write_json(folder / "settings.json", settings)
    for asset in item.summary.release_assets or ():
        if asset.blob:
            target = folder / "releases" / _path_part(asset.tag, f"release-{asset.release_id}") \
                / _path_part(asset.name, f"asset-{asset.id}")
            target.parent.mkdir(parents=True, exist_ok=True)
            snapshot.store.copy_blob_to(snapshot.customer, asset.blob, target)
    if item.issues.chunks is not None:
        issues_dir = folder / "issues"
        issues_dir.mkdir()
        index = []
        for record in read_records(snapshot.store, snapshot.customer, item.issues):
            number = int(record["number"])
            _write_json(issues_dir / f"{number}.json", record)
            (issues_dir / f"{number}.md").write_text(render_markdown(item.full_name, record), encoding="utf-8")
            issue = record.get("issue") or {}
            is_pull = "pull" in record or "pull_request" in issue
            restored.pull_requests += is_pull
            restored.issues += not is_pull
            restored.comments += len(record.get("comments", [])) + len(record.get("review_comments", []))
            index.append((number, is_pull, issue))
        (issues_dir / "README.md").write_text(render_index(item.full_name, snapshot.date, index), encoding="utf-8")
    part = item.issues.discussions
    if part is not None and part.chunks is not None:
        discussions_dir = folder / "discussions"
        discussions_dir.mkdir()
        for record in read_records(snapshot.store, snapshot.customer, part):
            number = int(record["number"])
            _write_json(discussions_dir / f"{number}.json", record)
            (discussions_dir / f"{number}.md").write_text(render_discussion(item.full_name, record), encoding="utf-8")
            restored.discussions += 1
    return restored


def restore_lfs(snapshot: Snapshot, entry: GitEntry, bare: Path) -> tuple[int, int]:
    """Write each kept Git LFS object of ``entry`` where ``git lfs`` looks in the bare repository ``bare``
    (``lfs/objects/<oid[0:2]>/<oid[2:4]>/<oid>``); (objects written, objects recorded without bytes)."""
    written = missing = 0
    for oid, item in sorted((entry.lfs or {}).items()):
        if not item.blob:
            missing += 1
            continue
        target = lfs_object_path(bare, oid)
        target.parent.mkdir(parents=True, exist_ok=True)
        snapshot.store.copy_blob_to(snapshot.customer, item.blob, target)
        written += 1
    return written, missing


def lfs_object_path(bare: Path, oid: str) -> Path:
    oid = names.lfs_oid(oid)
    return bare / "lfs" / "objects" / oid[0:2] / oid[2:4] / oid


def restore_git(snapshot: Snapshot, git: Git, entry: GitEntry, into: Path, what: str) -> dict[str, str]:
    into.parent.mkdir(parents=True, exist_ok=True)
    try:
        refs = restore_chain(git, snapshot.store, snapshot.customer, entry, into)
    except BackhubError as exc:
        try:  # name the repository and the snapshot, keeping the error's kind (retryable or not)
            named = type(exc)(f"restore git data of {what} from {snapshot.customer}/{snapshot.date}: {exc}")
        except TypeError:
            raise exc from None
        raise named from exc
    if refs != entry.refs:
        raise IntegrityError(f"restore git data of {what}: the restored refs differ from the recorded tips")
    return refs


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _path_part(name: Any, fallback: str) -> str:
    """A tag or asset name as one folder or file name: "/" kept as %2F; ".", ".." or empty fall back."""
    text = str(name or "").replace("%", "%25").replace("/", "%2F").replace("\\", "%5C").replace("\0", "")
    return fallback if text in ("", ".", "..") else text
