"""Restore a snapshot into a folder (DESIGN.md section 9).

    restore_to_directory  DIR/<owner>/<repo>.git (bare, every ref exactly as recorded),
                          DIR/<owner>/<repo>.wiki.git, DIR/<owner>/<repo>/ (metadata and issues/
                          as JSON as GitHub served it, plus Markdown), built beside DIR and renamed
                          into place only when complete
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assets.git_chain import restore_chain
from assets.issues import read_records
from backhub_pipeline.restore.issue_markdown import render_index, render_markdown
from backhub_pipeline.restore.snapshot import Progress, RepositorySnapshot, Snapshot, quiet
from resources import names
from resources.errors import BackhubError, IntegrityError, RestoreRefusedError
from resources.git import Git
from resources.snapshot_store import SnapshotStore

SUMMARY_FILE = "backhub-restore.json"


# -- restore to a directory --------------------------------------------------------------------------


@dataclass
class RestoredRepository:
    full_name: str
    refs: int = 0
    wiki: str = "unknown"
    issues: int = 0
    pull_requests: int = 0
    comments: int = 0
    skipped: str | None = None


@dataclass
class RestoreResult:
    customer: str
    date: str
    target: str
    repositories: list[RestoredRepository] = field(default_factory=list)
    seconds: float = 0.0

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
    progress: Progress = quiet,
) -> RestoreResult:
    """Restore a snapshot (or one repository of it) into ``target``.

    Everything is built in a temporary sibling of ``target`` and renamed into place only once
    complete: a failure leaves nothing at ``target`` (and removes the partial copy). ``target`` must
    not exist or be an empty directory unless ``force``, which replaces it only after success.
    """
    started = time.monotonic()
    target = Path(target).absolute()
    _refuse_existing(target, force)
    snapshot = Snapshot(store, customer, date)
    chosen = [snapshot.repository(repo)] if repo else snapshot.repositories()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.restore-", dir=target.parent))
    result = RestoreResult(customer=snapshot.customer, date=snapshot.date, target=str(target))
    try:
        for index, item in enumerate(chosen, 1):
            progress(f"[{index}/{len(chosen)}] {item.full_name}")
            result.repositories.append(_restore_repository(snapshot, git, item, staging))
        result.seconds = round(time.monotonic() - started, 3)
        summary = {"format": "backhub-restore", "version": 1, **result.as_dict()}
        (staging / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        _move_into_place(staging, target, force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _refuse_existing(target: Path, force: bool) -> None:
    if force or not (target.exists() or target.is_symlink()):
        return
    if target.is_dir() and not target.is_symlink() and not any(target.iterdir()):
        return
    raise RestoreRefusedError(f"restore into {target}: it already exists and is not empty (use --force to replace it)")


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
    owner, name = names.full_name(item.full_name)
    restored = RestoredRepository(full_name=item.full_name)
    if "reason" in item.summary:
        restored.skipped = item.summary["reason"]
        return restored
    if "reason" in item.git:
        restored.skipped = item.git["reason"]
    else:
        bare = root / owner / f"{name}.git"
        refs = restore_git(snapshot, git, item.git, bare, f"{item.full_name}")
        default = item.summary.get("default_branch")
        if default and f"refs/heads/{default}" in refs:
            git.set_head(bare, f"refs/heads/{default}")
        restored.refs = len(refs)
    restored.wiki = item.wiki.get("state", "unknown")
    if item.wiki.get("chain") or item.wiki.get("state") == "populated":
        restore_git(snapshot, git, item.wiki, root / owner / f"{name}.wiki.git", f"{item.full_name} wiki")
    folder = root / owner / name
    folder.mkdir(parents=True, exist_ok=True)
    for key, value in snapshot.metadata(item).items():
        if re.fullmatch(r"[a-z_]+", key):
            _write_json(folder / f"{key}.json", value)
    if "chunks" in item.issues:
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
    return restored


def restore_git(snapshot: Snapshot, git: Git, entry: dict[str, Any], into: Path, what: str) -> dict[str, str]:
    into.parent.mkdir(parents=True, exist_ok=True)
    try:
        refs = restore_chain(git, snapshot.store, snapshot.customer, entry, into)
    except BackhubError as exc:
        try:  # name the repository and the snapshot, keeping the error's kind (retryable or not)
            named = type(exc)(f"restore git data of {what} from {snapshot.customer}/{snapshot.date}: {exc}")
        except TypeError:
            raise exc from None
        raise named from exc
    if refs != (entry.get("tips") or {}):
        raise IntegrityError(f"restore git data of {what}: the restored refs differ from the recorded tips")
    return refs


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
