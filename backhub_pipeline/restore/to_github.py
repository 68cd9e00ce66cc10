"""Restore one repository of a snapshot to GitHub (DESIGN.md section 9).

    restore_to_github     a new repository on GitHub: every branch and tag pushed, its Git LFS objects uploaded, the default
                          branch set, its protections, rulesets, environments and autolinks, labels, milestones, issues, pull requests (as pull requests
                          where both branches were restored, as issues otherwise) with their
                          comments and reviews in order, each noting its original author, time and
                          number; the wiki once its repository exists; resumable
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from assets.bodies import read_records
from backhub_pipeline.restore.issue_markdown import describe_event, login, timeline
from backhub_pipeline.restore.settings_to_github import apply_settings
from backhub_pipeline.restore.snapshot import Progress, RepositorySnapshot, Snapshot, quiet
from backhub_pipeline.restore.to_folder import restore_git
from resources import names
from resources.errors import GitHubError, RemoteNotFoundError, RestoreRefusedError
from resources.git import Git
from resources.github import RESTORE_WRITE_PERMISSIONS, GitHubApp, InstallationClient
from resources.scratch import scratch_dir
from resources.snapshot_store import SnapshotStore

# GitHub refuses issue and comment bodies longer than this many characters.
GITHUB_BODY_LIMIT = 65536
LFS_BATCH_SIZE = 100  # objects per LFS batch request
_MARKER = "backhub-restore"
_ISSUE_MARKER = re.compile(r"<!-- backhub-restore: original #(\d+) -->")
_COMMENT_MARKER = re.compile(r"<!-- backhub-restore: (comment|review|review-comment) (\d+) -->")



@dataclass
class GitHubRestoreResult:
    source: str
    date: str
    repository: str
    created: bool
    refs_pushed: int = 0
    lfs_uploaded: int = 0
    labels_created: int = 0
    milestones_created: int = 0
    issues_created: int = 0
    pulls_created: int = 0
    issues_resumed: int = 0
    wiki_pushed: bool = False
    settings_applied: int = 0
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
    progress: Progress = quiet,
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
    branches: set[str] = set()
    if item.git.unavailable:
        result.notes.append(f"no git data: {item.git.unavailable}")
    else:
        result.refs_pushed = _push(snapshot, git, client, item, destination, progress)
        result.lfs_uploaded = _upload_lfs(snapshot, client, item, destination, result, progress)
        branches = {ref.removeprefix("refs/heads/") for ref in item.git.tips or {} if ref.startswith("refs/heads/")}
        _set_default_branch(client, destination, str(item.summary.get("default_branch") or ""), branches, result)
        settings = snapshot.settings(item)
        if settings is not None:
            result.settings_applied = apply_settings(client, destination, settings, branches, result.notes)
    if item.wiki.state == "populated":
        result.wiki_pushed = _push_wiki(snapshot, git, client, item, destination, result, progress)
    _recreate_labels(client, destination, metadata.get("labels") or [], result)
    milestones = _recreate_milestones(client, destination, metadata.get("milestones") or [], result)
    if item.issues.chunks is not None:
        pulls = branches if client.may_write("pull_requests") else set()
        _recreate_issues(snapshot, client, item, destination, milestones, pulls, result, progress)
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
    tips = item.git.refs
    pushable = {ref: sha for ref, sha in tips.items() if not ref.startswith("refs/pull/")}
    if not pushable:
        return 0
    namespaces = sorted({"/".join(ref.split("/")[:2]) for ref in pushable})
    with scratch_dir("push") as scratch:
        local = scratch / "repo.git"
        progress(f"rebuild {item.full_name} from {len(item.git.links)} bundle(s)")
        restore_git(snapshot, git, item.git, local, item.full_name)
        progress(f"push {len(pushable)} refs to {destination}")
        git.push(local, client.git_url(destination), client.git_environment(),
                 [f"+{space}/*:{space}/*" for space in namespaces if space != "refs/pull"])
    return len(pushable)


def _upload_lfs(snapshot: Snapshot, client: InstallationClient, item: RepositorySnapshot, destination: str,
                result: GitHubRestoreResult, progress: Progress) -> int:
    """Upload the snapshot's Git LFS objects through the batch API's upload operation (after the push,
    so the pointers are there); the objects GitHub already holds are skipped (no ``upload`` action, as
    on a resumed restore). Objects recorded without bytes are named in a note."""
    lfs = item.git.lfs or {}
    kept = sorted((oid, obj) for oid, obj in lfs.items() if obj.blob)
    if len(kept) < len(lfs):
        result.notes.append(f"{len(lfs) - len(kept)} Git LFS object(s) were not in the backup (see its lfs reasons)")
    if not kept:
        return 0
    progress(f"upload up to {len(kept)} Git LFS object(s) to {destination}")
    uploaded = 0
    for start in range(0, len(kept), LFS_BATCH_SIZE):
        chunk = kept[start:start + LFS_BATCH_SIZE]
        answers = {str(a.get("oid")): a for a in client.lfs_batch(destination, "upload",
                                                                  [(oid, obj.size) for oid, obj in chunk])}
        for oid, obj in chunk:
            answer = answers.get(oid) or {}
            if answer.get("error"):
                raise GitHubError(f"upload Git LFS object {oid} to {destination}: GitHub answered "
                                  f"{answer['error'].get('code')}: {answer['error'].get('message')}")
            action = (answer.get("actions") or {}).get("upload")
            if action is None:
                continue  # GitHub has it already
            with scratch_dir("lfs") as scratch:
                path = scratch / "object"
                snapshot.store.copy_blob_to(snapshot.customer, obj.blob, path)
                client.lfs_upload(action, path)
            uploaded += 1
    return uploaded


def _set_default_branch(client: InstallationClient, destination: str, branch: str, branches: set[str],
                        result: GitHubRestoreResult) -> None:
    if not branch:
        return
    if branch not in branches:
        result.notes.append(f"default branch {branch!r} not set: the snapshot holds no such branch")
        return
    client.send_json("PATCH", f"/repos/{destination}", {"default_branch": branch})


def _push_wiki(snapshot: Snapshot, git: Git, client: InstallationClient, item: RepositorySnapshot, destination: str,
               result: GitHubRestoreResult, progress: Progress) -> bool:
    """Push the wiki, if GitHub has made its repository: it does so only when a first page is saved
    in the web interface, and no API creates one. Otherwise say how, and let ``--resume`` push it."""
    with scratch_dir("push") as scratch:
        local = scratch / "wiki.git"
        restore_git(snapshot, git, item.wiki, local, f"{item.full_name} wiki")
        progress(f"push the wiki of {destination}")
        try:
            git.push(local, client.wiki_url(destination), client.git_environment(), ["+refs/*:refs/*"])
        except RemoteNotFoundError:
            result.notes.append(
                f"wiki not pushed: GitHub creates {destination}'s wiki repository only when its first page is "
                "saved; open the repository's Wiki tab, save any first page, then run this restore again with "
                "--resume (the restored wiki replaces that page)")
            return False
    return True


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
             f"{login(issue.get('user') or pull.get('user'))} on {issue.get('created_at') or pull.get('created_at')}"
    if pull:
        header += f", {(pull.get('head') or {}).get('ref')} → {(pull.get('base') or {}).get('ref')}"
        if pull.get("merged_at"):
            header += f", merged {pull['merged_at']}"
    if issue.get("closed_at"):
        header += f", closed {issue['closed_at']}"
    text = f"{header}.*\n\n{issue.get('body') or pull.get('body') or ''}".rstrip()
    return _fit(text + _history(record), f"<!-- {_MARKER}: original #{number} -->")


HISTORY_LINES = 100  # events and commits each, noted in a restored issue's body; all are in a folder restore


def _history(record: dict[str, Any]) -> str:
    """The original's events and commits as text: GitHub has no API to write either."""
    events = record.get("events") or []
    commits = record.get("commits") or []
    parts = []
    if events:
        lines = [f"- {describe_event(e)} on {e.get('created_at')}" for e in events[:HISTORY_LINES]]
        more = f"\n- *({len(events) - HISTORY_LINES} more in a folder restore)*" if len(events) > HISTORY_LINES else ""
        parts.append("**History of the original**\n\n" + "\n".join(lines) + more)
    if commits:
        lines = [f"- `{str(c.get('sha', ''))[:12]}` {_subject(c)}" for c in commits[:HISTORY_LINES]]
        parts.append(f"**Commits of the original** ({len(commits)})\n\n" + "\n".join(lines))
    return "".join(f"\n\n---\n{part}" for part in parts)


def _subject(commit: dict[str, Any]) -> str:
    message = str((commit.get("commit") or {}).get("message") or "")
    return message.split("\n", 1)[0]


def comment_body(kind: str, item: dict[str, Any]) -> str:
    when = item.get("submitted_at") if kind == "review" else item.get("created_at")
    if kind == "review":
        header = f"*Review by {login(item.get('user'))} on {when}: {str(item.get('state', '')).lower()}.*"
    elif kind == "review-comment":
        place = f"{item.get('path')}:{item.get('line') or item.get('original_line') or '?'}"
        header = f"*Review comment by {login(item.get('user'))} on {when} at `{place}`.*"
    else:
        header = f"*Comment by {login(item.get('user'))} on {when}.*"
    text = f"{header}\n\n{item.get('body') or ''}".rstrip()
    return _fit(text, f"<!-- {_MARKER}: {kind} {int(item['id'])} -->")


def _recreate_issues(snapshot: Snapshot, client: InstallationClient, item: RepositorySnapshot, destination: str,
                     milestones: dict[int, int], branches: set[str], result: GitHubRestoreResult,
                     progress: Progress) -> None:
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
            new = _recreate_pull(client, destination, record, body, branches)
            if new is None:
                new = client.send_json("POST", f"/repos/{destination}/issues", body)
                result.issues_created += 1
            else:
                result.pulls_created += 1
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


def _recreate_pull(client: InstallationClient, destination: str, record: dict[str, Any], body: dict[str, Any],
                   branches: set[str]) -> dict[str, Any] | None:
    """A pull request as a pull request when both its branches were restored and GitHub accepts it
    (it refuses one with no commits between them, say a merged branch); ``None`` means: an issue."""
    pull = record.get("pull") or {}
    head, base = (pull.get("head") or {}).get("ref"), (pull.get("base") or {}).get("ref")
    if not pull or head not in branches or base not in branches or head == base:
        return None
    try:
        new = client.send_json("POST", f"/repos/{destination}/pulls", {
            "title": body["title"], "body": body["body"], "head": head, "base": base,
            "draft": bool(pull.get("draft"))})
    except GitHubError as exc:
        if exc.status == 422:
            return None
        raise
    extra = {key: body[key] for key in ("labels", "milestone") if body.get(key)}
    if extra:  # labels and milestone of a pull request are set through its issue
        client.send_json("PATCH", f"/repos/{destination}/issues/{int(new['number'])}", extra)
    return new
