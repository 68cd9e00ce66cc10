"""Restore and verify snapshots (DESIGN.md section 9).

    list_snapshots        each snapshot of a customer: assets, repositories, logical and stored bytes
    verify_snapshots      like ``restic check``: manifests, blobs (``read_data``: decrypt everything,
                          rebuild every git chain and compare its refs with the recorded tips + fsck)
    restore_to_directory  DIR/<owner>/<repo>.git (bare, every ref exactly as recorded),
                          DIR/<owner>/<repo>.wiki.git, DIR/<owner>/<repo>/ (metadata and issues/
                          as JSON as GitHub served it, plus Markdown), built beside DIR and renamed
                          into place only when complete
    restore_to_github     a new repository on GitHub: every branch and tag pushed, labels,
                          milestones, issues and pull requests (as issues) with their comments,
                          each noting its original author, time and number; resumable

Snapshots are read only through ``SnapshotStore`` (the code that wrote them) and the assets' own
readers; every name a manifest holds is validated (``resources.names``) before it becomes part of a
path, a URL or a git command line.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assets.git_chain import restore_chain
from assets.issues import chunk_counts, decode_chunk, read_records
from resources import names
from resources.errors import (
    BackhubError,
    GitHubError,
    IntegrityError,
    RestoreRefusedError,  # noqa: F401 - re-exported
    SnapshotNotFoundError,
)
from resources.git import Git
from resources.github import RESTORE_WRITE_PERMISSIONS, GitHubApp, InstallationClient
from resources.snapshot_store import SnapshotStore

SNAPSHOT_ASSETS = ("inventory", "repositories", "issues", "wikis")
SUMMARY_FILE = "backhub-restore.json"
# GitHub refuses issue and comment bodies longer than this many characters.
GITHUB_BODY_LIMIT = 65536
_MARKER = "backhub-restore"
_ISSUE_MARKER = re.compile(r"<!-- backhub-restore: original #(\d+) -->")
_COMMENT_MARKER = re.compile(r"<!-- backhub-restore: (comment|review|review-comment) (\d+) -->")

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    return None


# -- reading one snapshot ----------------------------------------------------------------------------


@dataclass
class RepositorySnapshot:
    """One repository as a snapshot recorded it, across the four assets (entries keyed by repo id)."""

    id: str
    full_name: str
    summary: dict[str, Any]  # the inventory entry
    git: dict[str, Any]  # the repositories entry
    wiki: dict[str, Any]  # the wikis entry
    issues: dict[str, Any]  # the issues entry

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
        missing = [asset for asset in SNAPSHOT_ASSETS if asset not in present]
        if missing:
            raise SnapshotNotFoundError(
                f"snapshot {customer}/{date} is incomplete: no committed {', '.join(missing)} "
                "(the backup of that day failed part-way; restore another date)"
            )
        self.manifests = {asset: store.read_manifest(customer, date, asset) for asset in SNAPSHOT_ASSETS}

    def repositories(self) -> list[RepositorySnapshot]:
        bodies = {asset: self.manifests[asset].body for asset in SNAPSHOT_ASSETS}
        result = []
        for summary in bodies["inventory"].get("repositories", []):
            key = str(summary["id"])
            full_name = summary["full_name"]
            names.full_name(full_name)
            result.append(
                RepositorySnapshot(
                    id=key,
                    full_name=full_name,
                    summary=summary,
                    git=bodies["repositories"]["repositories"].get(key, {"reason": "not in the git data"}),
                    wiki=bodies["wikis"]["repositories"].get(key, {"state": "unknown"}),
                    issues=bodies["issues"]["repositories"].get(key, {"reason": "not in the issues"}),
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
        if "blob" not in repo.summary:
            return {}
        return json.loads(self.store.read_blob(self.customer, repo.summary["blob"]))


def body_blobs(asset: str, body: dict[str, Any]) -> dict[str, int]:
    """Blob id -> plaintext size of every blob an asset's manifest body names."""
    found: dict[str, int] = {}
    if asset == "inventory":
        for entry in body.get("repositories", []):
            if "blob" in entry:
                found[entry["blob"]] = int(entry.get("blob_size", 0))
    elif asset in ("repositories", "wikis"):
        for entry in body.get("repositories", {}).values():
            for link in entry.get("chain") or []:
                found[link["blob"]] = int(link.get("size", 0))
    elif asset == "issues":
        for entry in body.get("repositories", {}).values():
            for chunk in (entry.get("chunks") or {}).values():
                found[chunk["blob"]] = int(chunk.get("size", 0))
    return found


# -- listing -----------------------------------------------------------------------------------------


@dataclass
class SnapshotListing:
    customer: str
    date: str
    assets: list[str]
    repositories: int
    logical_bytes: int  # plaintext bytes the snapshot restores from (its blobs, each once)
    stored_bytes: int  # bytes at rest of the blobs it names
    added_bytes: int  # bytes at rest of blobs no earlier snapshot named (what that day cost)
    checks: str = "unknown"
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def stored_sizes(store: SnapshotStore, customer: str) -> dict[str, int]:
    """Blob id -> bytes at rest, by one listing of the customer's blobs (docs/format.md section 2)."""
    prefix = f"customers/{names.customer(customer)}/blobs/"
    return {info.key.rsplit("/", 1)[-1]: info.size for info in store.storage.list(prefix)}


def list_snapshots(
    store: SnapshotStore, customer: str, *, check_status: Callable[[str], str] | None = None
) -> list[SnapshotListing]:
    """Every snapshot of ``customer``, oldest first. A manifest that cannot be read is reported."""
    names.customer(customer)
    sizes = stored_sizes(store, customer)
    seen: set[str] = set()
    listings = []
    for date, assets in store.list_snapshots(customer).items():
        blobs: dict[str, int] = {}
        repositories = 0
        problem = None
        for asset in assets:
            try:
                manifest = store.read_manifest(customer, date, asset)
            except BackhubError as exc:
                problem = problem or str(exc)
                continue
            blobs.update(body_blobs(asset, manifest.body))
            blobs.update({bid: blobs.get(bid, 0) for bid in manifest.blobs})
            if asset == "inventory":
                repositories = len(manifest.body.get("repositories", []))
        added = sum(sizes.get(bid, 0) for bid in blobs if bid not in seen)
        seen.update(blobs)
        listings.append(
            SnapshotListing(
                customer=customer,
                date=date,
                assets=list(assets),
                repositories=repositories,
                logical_bytes=sum(blobs.values()),
                stored_bytes=sum(sizes.get(bid, 0) for bid in blobs),
                added_bytes=added,
                checks=check_status(date) if check_status else "unknown",
                problem=problem,
            )
        )
    return listings


# -- verify ------------------------------------------------------------------------------------------


@dataclass
class VerifyResult:
    customer: str
    dates: list[str]
    problems: list[str] = field(default_factory=list)
    blobs_checked: int = 0
    bytes_read: int = 0
    chains_restored: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def verify_snapshots(
    store: SnapshotStore,
    git: Git,
    customer: str,
    dates: Iterable[str] | None = None,
    *,
    read_data: bool = False,
    progress: Progress = _quiet,
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
        missing = [asset for asset in SNAPSHOT_ASSETS if asset not in listing[date]]
        if missing:
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
            listed = set(manifest.blobs)
            for bid in body_blobs(asset, manifest.body):
                if bid not in listed:
                    result.problems.append(f"manifest {where}: names blob {bid} in its body but not in its blob list")
            result.problems.extend(_name_problems(where, asset, manifest.body))
            if read_data and asset in ("repositories", "wikis"):
                _verify_chains(store, git, customer, where, manifest.body, result, progress)
            if read_data and asset == "issues":
                _verify_chunks(store, customer, where, manifest.body, result)
    return result


def _name_problems(where: str, asset: str, body: dict[str, Any]) -> list[str]:
    problems = []
    entries = body.get("repositories", [])
    for entry in entries if isinstance(entries, list) else entries.values():
        try:
            names.full_name(entry.get("full_name"))
            for ref, sha in (entry.get("tips") or {}).items():
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
    body: dict[str, Any],
    result: VerifyResult,
    progress: Progress,
) -> None:
    for entry in body.get("repositories", {}).values():
        if not entry.get("chain"):
            continue
        full_name = entry.get("full_name", "?")
        progress(f"  rebuild {full_name} from {len(entry['chain'])} bundle(s) ({where})")
        with tempfile.TemporaryDirectory(prefix="backhub-verify-") as scratch:
            target = Path(scratch) / "repo.git"
            try:
                refs = restore_chain(git, store, customer, entry, target)
                git.fsck(target)
            except BackhubError as exc:
                result.problems.append(f"git data of {full_name} ({where}): {exc}")
                continue
        result.chains_restored += 1
        tips = entry.get("tips") or {}
        for ref in sorted(set(tips) | set(refs)):
            if tips.get(ref) != refs.get(ref):
                result.problems.append(
                    f"git data of {full_name} ({where}): ref {ref} restores to {refs.get(ref) or 'nothing'}, "
                    f"recorded {tips.get(ref) or 'nothing'}"
                )


def _verify_chunks(store: SnapshotStore, customer: str, where: str, body: dict[str, Any], result: VerifyResult) -> None:
    size = int(body.get("chunk_size") or 100)
    for entry in body.get("repositories", {}).values():
        for chunk_id, info in (entry.get("chunks") or {}).items():
            label = f"issues chunk {chunk_id} (blob {info['blob']}) of {entry.get('full_name', '?')} ({where})"
            try:
                records = decode_chunk(store.read_blob(customer, info["blob"]))
            except IntegrityError:
                continue  # named by store.verify
            except (ValueError, KeyError, TypeError) as exc:
                result.problems.append(f"{label}: not JSON Lines of issue records ({type(exc).__name__})")
                continue
            stray = [n for n in records if n // size != int(chunk_id)]
            if stray:
                result.problems.append(f"{label}: holds issue #{stray[0]} outside its number range")
            if chunk_counts(records) != info.get("counts"):
                result.problems.append(f"{label}: counts {chunk_counts(records)} differ from recorded {info.get('counts')}")


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
    progress: Progress = _quiet,
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
        refs = _restore_git(snapshot, git, item.git, bare, f"{item.full_name}")
        default = item.summary.get("default_branch")
        if default and f"refs/heads/{default}" in refs:
            git.set_head(bare, f"refs/heads/{default}")
        restored.refs = len(refs)
    restored.wiki = item.wiki.get("state", "unknown")
    if item.wiki.get("chain") or item.wiki.get("state") == "populated":
        _restore_git(snapshot, git, item.wiki, root / owner / f"{name}.wiki.git", f"{item.full_name} wiki")
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
        (issues_dir / "README.md").write_text(_render_index(item.full_name, snapshot.date, index), encoding="utf-8")
    return restored


def _restore_git(snapshot: Snapshot, git: Git, entry: dict[str, Any], into: Path, what: str) -> dict[str, str]:
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


# -- Markdown ----------------------------------------------------------------------------------------


def _login(obj: dict[str, Any] | None) -> str:
    login = (obj or {}).get("login")
    return f"@{login}" if login else "(unknown)"


def _quote(text: str | None) -> str:
    text = (text or "").strip()
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines()) if text else "> *(no text)*"


def timeline(record: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Comments, reviews and review comments in time order: (kind, time, GitHub object)."""
    items = [("comment", c.get("created_at") or "", c) for c in record.get("comments", [])]
    items += [("review", r.get("submitted_at") or "", r) for r in record.get("reviews", [])]
    items += [("review-comment", c.get("created_at") or "", c) for c in record.get("review_comments", [])]
    return sorted(items, key=lambda item: (item[1], item[2].get("id", 0)))


def render_markdown(full_name: str, record: dict[str, Any]) -> str:
    """A readable page for one issue or pull request with its comments, reviews and review comments."""
    issue = record.get("issue") or {}
    pull = record.get("pull") or {}
    number = record["number"]
    kind = "Pull request" if pull or "pull_request" in issue else "Issue"
    lines = [f"# {kind} #{number}: {issue.get('title') or pull.get('title') or ''}", ""]
    state = issue.get("state") or pull.get("state") or "unknown"
    if pull.get("merged_at"):
        state = f"merged {pull['merged_at']}"
    lines.append(f"- Repository: {full_name}")
    lines.append(f"- Opened by {_login(issue.get('user') or pull.get('user'))} on {issue.get('created_at') or pull.get('created_at')}")
    lines.append(f"- State: {state}" + (f" (closed {issue['closed_at']})" if issue.get("closed_at") else ""))
    if pull:
        lines.append(f"- Branches: {(pull.get('head') or {}).get('ref')} → {(pull.get('base') or {}).get('ref')}")
    labels = [label.get("name") for label in issue.get("labels") or [] if isinstance(label, dict)]
    if labels:
        lines.append(f"- Labels: {', '.join(labels)}")
    if issue.get("milestone"):
        lines.append(f"- Milestone: {issue['milestone'].get('title')}")
    if issue.get("html_url"):
        lines.append(f"- Original: {issue['html_url']}")
    lines += ["", (issue.get("body") or pull.get("body") or "*(no description)*").strip(), ""]
    for kind_name, when, item in timeline(record):
        if kind_name == "comment":
            lines.append(f"### Comment by {_login(item.get('user'))} on {when}")
        elif kind_name == "review":
            lines.append(f"### Review by {_login(item.get('user'))} on {when}: {item.get('state', '').lower()}")
        else:
            place = f"{item.get('path')}:{item.get('line') or item.get('original_line') or '?'}"
            lines.append(f"### Review comment by {_login(item.get('user'))} on {when} at `{place}`")
        lines += ["", _quote(item.get("body")), ""]
    return "\n".join(lines).rstrip() + "\n"


def _render_index(full_name: str, date: str, index: list[tuple[int, bool, dict[str, Any]]]) -> str:
    lines = [f"# Issues and pull requests of {full_name}, snapshot {date}", "", "| # | kind | state | title |",
             "|---:|---|---|---|"]
    for number, is_pull, issue in index:
        title = (issue.get("title") or "").replace("|", "\\|")
        lines.append(f"| [{number}]({number}.md) | {'pull' if is_pull else 'issue'} | {issue.get('state', '')} | {title} |")
    return "\n".join(lines) + "\n"


# -- restore to GitHub -------------------------------------------------------------------------------


@dataclass
class GitHubRestoreResult:
    source: str
    date: str
    repository: str
    created: bool
    refs_pushed: int = 0
    labels_created: int = 0
    milestones_created: int = 0
    issues_created: int = 0
    issues_resumed: int = 0
    comments_created: int = 0
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def restore_to_github(
    store: SnapshotStore,
    git: Git,
    app: GitHubApp,
    customer: str,
    date: str,
    full_name: str,
    *,
    new_name: str | None = None,
    resume: bool = False,
    progress: Progress = _quiet,
) -> GitHubRestoreResult:
    """Recreate one repository of a snapshot as a new repository of the same owner on GitHub.

    Order: create the repository, push every branch, tag and note (``refs/pull/*`` are GitHub's own
    and cannot be pushed), labels, milestones, then issues and pull requests as issues in number
    order, each with its comments, reviews and review comments as comments. Every body carries a
    hidden marker with the original number or id, so ``resume`` continues an interrupted restore
    without duplicating anything. An existing repository is refused unless ``resume``.
    """
    started = time.monotonic()
    snapshot = Snapshot(store, customer, date)
    item = snapshot.repository(full_name)
    owner = item.owner
    name = names.repository(new_name) if new_name else item.name
    destination = f"{owner}/{name}"
    client = app.installation_for(owner, write=RESTORE_WRITE_PERMISSIONS)
    metadata = snapshot.metadata(item)
    existing = client.repository(destination)
    if existing is not None and str(existing.get("full_name", "")).lower() != destination.lower():
        existing = None  # the name answered with a redirect to a renamed repository: the name is free
    if existing is not None and not resume:
        raise RestoreRefusedError(
            f"restore {item.full_name} to GitHub: {destination} already exists; choose a new name with --as, "
            "or pass --resume to continue an interrupted restore into it"
        )
    result = GitHubRestoreResult(source=item.full_name, date=snapshot.date, repository=destination,
                                 created=existing is None)
    if existing is None:
        progress(f"create {destination}")
        _create_repository(client, owner, name, item, metadata, snapshot.date)
    if "reason" in item.git:
        result.notes.append(f"no git data: {item.git['reason']}")
    else:
        result.refs_pushed = _push(snapshot, git, client, item, destination, progress)
    if item.wiki.get("state") == "populated":
        result.notes.append("wiki not pushed: GitHub creates a wiki's repository only when its first page is "
                            "saved; push DIR/<owner>/<repo>.wiki.git from a folder restore after that")
    _recreate_labels(client, destination, metadata.get("labels") or [], result)
    milestones = _recreate_milestones(client, destination, metadata.get("milestones") or [], result)
    if "chunks" in item.issues:
        _recreate_issues(snapshot, client, item, destination, milestones, result, progress)
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _create_repository(client: InstallationClient, owner: str, name: str, item: RepositorySnapshot,
                       metadata: dict[str, Any], date: str) -> None:
    original = metadata.get("repository") or {}
    body = {
        "name": name,
        "description": original.get("description") or f"Restored from {item.full_name} ({date})",
        "homepage": original.get("homepage") or None,
        "private": bool(item.summary.get("private", True)),
        "has_issues": True,
        "has_wiki": bool(item.summary.get("has_wiki", False)),
        "auto_init": False,
    }
    path = "/orgs/" + owner + "/repos" if client.installation.account_type == "Organization" else "/user/repos"
    created = client.send_json("POST", path, body)
    if str(created.get("full_name", "")).lower() != f"{owner}/{name}".lower():
        raise GitHubError(f"create {owner}/{name}: GitHub created {created.get('full_name')!r} instead")


def _push(snapshot: Snapshot, git: Git, client: InstallationClient, item: RepositorySnapshot, destination: str,
          progress: Progress) -> int:
    tips = item.git.get("tips") or {}
    pushable = {ref: sha for ref, sha in tips.items() if not ref.startswith("refs/pull/")}
    if not pushable:
        return 0
    namespaces = sorted({"/".join(ref.split("/")[:2]) for ref in pushable})
    with tempfile.TemporaryDirectory(prefix="backhub-push-") as scratch:
        local = Path(scratch) / "repo.git"
        progress(f"rebuild {item.full_name} from {len(item.git.get('chain') or [])} bundle(s)")
        _restore_git(snapshot, git, item.git, local, item.full_name)
        progress(f"push {len(pushable)} refs to {destination}")
        git.push(local, client.git_url(destination), client.git_environment(),
                 [f"+{space}/*:{space}/*" for space in namespaces if space != "refs/pull"])
    return len(pushable)


def _recreate_labels(client: InstallationClient, destination: str, labels: list[dict[str, Any]],
                     result: GitHubRestoreResult) -> None:
    have = {label["name"].lower() for label in client.labels(destination)}
    for label in labels:
        if label["name"].lower() in have:
            continue
        client.send_json("POST", f"/repos/{destination}/labels", {
            "name": label["name"], "color": label.get("color") or "ededed", "description": label.get("description")})
        have.add(label["name"].lower())
        result.labels_created += 1


def _recreate_milestones(client: InstallationClient, destination: str, milestones: list[dict[str, Any]],
                         result: GitHubRestoreResult) -> dict[int, int]:
    """Create missing milestones (matched by title); original number -> new number."""
    have = {m["title"]: m["number"] for m in client.milestones(destination)}
    mapping = {}
    for milestone in sorted(milestones, key=lambda m: m["number"]):
        if milestone["title"] not in have:
            created = client.send_json("POST", f"/repos/{destination}/milestones", {
                "title": milestone["title"], "state": milestone.get("state", "open"),
                "description": milestone.get("description"), "due_on": milestone.get("due_on")})
            have[milestone["title"]] = created["number"]
            result.milestones_created += 1
        mapping[milestone["number"]] = have[milestone["title"]]
    return mapping


def _fit(text: str, marker: str) -> str:
    room = GITHUB_BODY_LIMIT - len(marker) - 200
    if len(text) > room:
        text = text[:room] + "\n\n*(truncated by backhub to fit GitHub's limit; the full text is in a folder restore)*"
    return f"{text}\n\n{marker}"


def issue_body(record: dict[str, Any], source: str, date: str) -> str:
    issue = record.get("issue") or {}
    pull = record.get("pull") or {}
    number = record["number"]
    kind = "pull request" if pull or "pull_request" in issue else "issue"
    header = f"*Restored by backhub from {source} (snapshot {date}): originally {kind} #{number} by " \
             f"{_login(issue.get('user') or pull.get('user'))} on {issue.get('created_at') or pull.get('created_at')}"
    if pull:
        header += f", {(pull.get('head') or {}).get('ref')} → {(pull.get('base') or {}).get('ref')}"
        if pull.get("merged_at"):
            header += f", merged {pull['merged_at']}"
    if issue.get("closed_at"):
        header += f", closed {issue['closed_at']}"
    text = f"{header}.*\n\n{issue.get('body') or pull.get('body') or ''}".rstrip()
    return _fit(text, f"<!-- {_MARKER}: original #{number} -->")


def comment_body(kind: str, item: dict[str, Any]) -> str:
    when = item.get("submitted_at") if kind == "review" else item.get("created_at")
    if kind == "review":
        header = f"*Review by {_login(item.get('user'))} on {when}: {str(item.get('state', '')).lower()}.*"
    elif kind == "review-comment":
        place = f"{item.get('path')}:{item.get('line') or item.get('original_line') or '?'}"
        header = f"*Review comment by {_login(item.get('user'))} on {when} at `{place}`.*"
    else:
        header = f"*Comment by {_login(item.get('user'))} on {when}.*"
    text = f"{header}\n\n{item.get('body') or ''}".rstrip()
    return _fit(text, f"<!-- {_MARKER}: {kind} {int(item['id'])} -->")


def _recreate_issues(snapshot: Snapshot, client: InstallationClient, item: RepositorySnapshot, destination: str,
                     milestones: dict[int, int], result: GitHubRestoreResult, progress: Progress) -> None:
    restored: dict[int, dict[str, Any]] = {}
    for issue in client.issues(destination):
        match = _ISSUE_MARKER.search(issue.get("body") or "")
        if match and int(match.group(1)) not in restored:
            restored[int(match.group(1))] = issue
    records = list(read_records(snapshot.store, snapshot.customer, item.issues))
    for index, record in enumerate(records, 1):
        number = int(record["number"])
        original = record.get("issue") or record.get("pull") or {}
        if index % 25 == 0 or index == len(records):
            progress(f"issues of {destination}: {index}/{len(records)}")
        done: set[tuple[str, int]] = set()
        if number in restored:
            new = restored[number]
            result.issues_resumed += 1
            for comment in client.paginate(f"/repos/{destination}/issues/{int(new['number'])}/comments"):
                found = _COMMENT_MARKER.search(comment.get("body") or "")
                if found:
                    done.add((found.group(1), int(found.group(2))))
        else:
            body: dict[str, Any] = {
                "title": original.get("title") or f"#{number}",
                "body": issue_body(record, item.full_name, snapshot.date),
                "labels": [label["name"] for label in original.get("labels") or [] if isinstance(label, dict)],
            }
            milestone = (original.get("milestone") or {}).get("number")
            if milestone in milestones:
                body["milestone"] = milestones[milestone]
            new = client.send_json("POST", f"/repos/{destination}/issues", body)
            result.issues_created += 1
        for kind, _when, entry in timeline(record):
            if (kind, int(entry["id"])) in done:
                continue
            if kind == "review" and not (entry.get("body") or entry.get("state")):
                continue
            client.send_json("POST", f"/repos/{destination}/issues/{int(new['number'])}/comments",
                             {"body": comment_body(kind, entry)})
            result.comments_created += 1
        if original.get("state") == "closed" and new.get("state") != "closed":
            client.send_json("PATCH", f"/repos/{destination}/issues/{int(new['number'])}",
                             {"state": "closed", "state_reason": original.get("state_reason") or "completed"})


# -- audit -------------------------------------------------------------------------------------------


def audit(log: Any, *, actor: str, action: str, customer: str, snapshot: str | None, outcome: str,
          details: dict[str, Any]) -> None:
    """Append one record to the audit log when one is configured (``log`` is an ``AuditLog`` or None)."""
    if log is None:
        return
    log.append(actor=actor, action=action, customer=customer, snapshot=snapshot, outcome=outcome, details=details)


@contextlib.contextmanager
def audited(log: Any, *, actor: str, action: str, customer: str, snapshot: str | None,
            details: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Audit the enclosed operation: ``ok`` with the details it adds, or ``failed`` with the error."""
    extra: dict[str, Any] = {}
    try:
        yield extra
    except BaseException as exc:
        audit(log, actor=actor, action=action, customer=customer, snapshot=snapshot, outcome="failed",
              details={**details, **extra, "error": f"{type(exc).__name__}: {exc}"[:2000]})
        raise
    audit(log, actor=actor, action=action, customer=customer, snapshot=snapshot,
          outcome=extra.pop("outcome", "ok"), details={**details, **extra})


# -- clients from the one set of settings ------------------------------------------------------------


@dataclass
class Clients:
    """What restore and verify talk to, built from ``Settings`` at run time (never at import)."""

    store: SnapshotStore
    git: Git
    audit_log: Any  # resources.audit.AuditLog
    settings: Any  # backhub_pipeline.settings.Settings

    @classmethod
    def from_settings(cls, settings: Any) -> Clients:
        from resources.audit import AuditLog
        from resources.snapshot_store import SnapshotStoreResource

        store = SnapshotStoreResource(store_url=settings.store_url, keyring_url=settings.keyring_url,
                                      master_key_uri=settings.master_key_uri,
                                      s3_endpoint_url=settings.s3_endpoint_url).get_client()
        audit_log = AuditLog.from_url(settings.audit_url, s3_endpoint_url=settings.s3_endpoint_url) \
            if settings.audit_url else None
        return cls(store=store, git=Git(Path(settings.git_cache_dir)), audit_log=audit_log, settings=settings)

    def github(self) -> GitHubApp:
        from resources.github import GitHubAppResource

        self.settings.require_github()
        return GitHubAppResource(api_url=self.settings.github_api_url, app_id=self.settings.github_app_id,
                                 private_key_path=self.settings.github_app_private_key_path,
                                 ca_bundle=self.settings.ca_bundle).get_client()
