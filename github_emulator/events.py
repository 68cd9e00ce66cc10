"""Issue events and the git facts of pull requests: what GitHub records when an issue changes.

Each issue keeps ``events``, oldest first, as ``{id, event, actor, created_at}`` plus what the type
carries (GitHub's "Issue event types"): ``label`` ``{name, color}`` (labeled, unlabeled), ``assignee``
and ``assigner`` logins (assigned, unassigned), ``milestone`` ``{title}`` (milestoned, demilestoned),
``rename`` ``{from, to}`` (renamed), ``commit_id`` (referenced, merged), ``lock_reason`` (locked).
The seed, the daily activity and the write API all record them here, so the three agree.

A pull request's commit list and its ``commits``/``additions``/``deletions``/``changed_files`` come
from the bare repository: ``git rev-list base..head`` and ``git diff --numstat base...head``.
"""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

PR_COMMITS_LIMIT = 250  # "List commits on a pull request" lists at most 250


def add_event(store: Any, issue: dict[str, Any], event: str, actor: str, when: str, **extra: Any) -> dict[str, Any]:
    record = {"id": store.next_id("event"), "event": event, "actor": actor, "created_at": when, **extra}
    issue.setdefault("events", []).append(record)
    return record


def _label(repo: dict[str, Any], name: str) -> dict[str, str]:
    color = next((lab["color"] for lab in repo["labels"] if lab["name"] == name), "ededed")
    return {"name": name, "color": color}


def _milestone_title(repo: dict[str, Any], number: int | None) -> str:
    return next((m["title"] for m in repo["milestones"] if m["number"] == number), str(number))


def fields(issue: dict[str, Any]) -> dict[str, Any]:
    """What the event-recording compares before and after a change."""
    return {"labels": list(issue.get("labels", [])), "assignees": list(issue.get("assignees", [])),
            "milestone": issue.get("milestone"), "title": issue.get("title"), "state": issue.get("state"),
            "locked": issue.get("locked", False)}


def record_changes(store: Any, repo: dict[str, Any], issue: dict[str, Any], before: dict[str, Any], actor: str,
                   when: str, *, created: bool = False) -> None:
    """The events GitHub records for the difference between ``before`` and the issue now."""
    if not created and before["title"] != issue.get("title"):
        add_event(store, issue, "renamed", actor, when, rename={"from": before["title"], "to": issue.get("title")})
    for name in issue.get("labels", []):
        if name not in before["labels"]:
            add_event(store, issue, "labeled", actor, when, label=_label(repo, name))
    for name in before["labels"]:
        if name not in issue.get("labels", []):
            add_event(store, issue, "unlabeled", actor, when, label=_label(repo, name))
    for login in issue.get("assignees", []):
        if login not in before["assignees"]:
            add_event(store, issue, "assigned", actor, when, assignee=login, assigner=actor)
    for login in before["assignees"]:
        if login not in issue.get("assignees", []):
            add_event(store, issue, "unassigned", actor, when, assignee=login, assigner=actor)
    if before["milestone"] != issue.get("milestone"):
        if before["milestone"] is not None:
            add_event(store, issue, "demilestoned", actor, when,
                      milestone={"title": _milestone_title(repo, before["milestone"])})
        if issue.get("milestone") is not None:
            add_event(store, issue, "milestoned", actor, when,
                      milestone={"title": _milestone_title(repo, issue["milestone"])})
    if not created and before["state"] != issue.get("state"):
        add_event(store, issue, "closed" if issue.get("state") == "closed" else "reopened", actor, when)
    if before["locked"] != issue.get("locked", False):
        if issue.get("locked"):
            add_event(store, issue, "locked", actor, when, lock_reason=issue.get("lock_reason"))
        else:
            add_event(store, issue, "unlocked", actor, when)


# ---- pull requests from git ----------------------------------------------------------------------
@lru_cache(maxsize=4096)
def _commit_shas(git_dir: str, base: str, head: str) -> tuple[str, ...]:
    out = subprocess.run(["git", f"--git-dir={git_dir}", "rev-list", "--reverse", "--topo-order", f"{base}..{head}", "--"],
                         capture_output=True, text=True)
    return tuple(out.stdout.split()) if out.returncode == 0 else ()


@lru_cache(maxsize=4096)
def _diff_stats(git_dir: str, base: str, head: str) -> tuple[int, int, int]:
    out = subprocess.run(["git", f"--git-dir={git_dir}", "diff", "--numstat", "-z", f"{base}...{head}", "--"],
                         capture_output=True)
    if out.returncode != 0:
        return (0, 0, 0)
    additions = deletions = files = 0
    parts = out.stdout.split(b"\0")
    k = 0
    while k < len(parts):
        line = parts[k]
        k += 1
        if not line:
            continue
        added, deleted, path = line.split(b"\t", 2)
        if not path:  # a rename: the old and new paths follow as two more fields
            k += 2
        files += 1
        additions += int(added) if added != b"-" else 0
        deletions += int(deleted) if deleted != b"-" else 0
    return (additions, deletions, files)


def pull_stats(git_dir: Path, pull: dict[str, Any]) -> dict[str, int]:
    """``commits``, ``additions``, ``deletions``, ``changed_files`` of a pull request, from git."""
    if not pull.get("head_sha") or not pull.get("base_sha"):
        return {"commits": 0, "additions": 0, "deletions": 0, "changed_files": 0}
    additions, deletions, files = _diff_stats(str(git_dir), pull["base_sha"], pull["head_sha"])
    return {"commits": len(_commit_shas(str(git_dir), pull["base_sha"], pull["head_sha"])),
            "additions": additions, "deletions": deletions, "changed_files": files}


_FORMAT = "%H%x00%P%x00%T%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B%x00%x01"


@lru_cache(maxsize=1024)
def _commit_details(git_dir: str, shas: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    if not shas:
        return ()
    out = subprocess.run(["git", f"--git-dir={git_dir}", "show", "-s", f"--format={_FORMAT}", "--no-walk=unsorted",
                          *shas, "--"], check=True, capture_output=True).stdout
    found = {}
    for chunk in out.split(b"\x01"):
        fields_ = chunk.lstrip(b"\n").split(b"\0")
        if len(fields_) < 10:
            continue
        sha, parents, tree, an, ae, ad, cn, ce, cd, message = (f.decode("utf-8", "replace") for f in fields_[:10])
        found[sha] = {"sha": sha, "parents": parents.split(), "tree": tree, "author": (an, ae, ad),
                      "committer": (cn, ce, cd), "message": message.rstrip("\n")}
    return tuple(found[sha] for sha in shas if sha in found)


def pull_commits(git_dir: Path, pull: dict[str, Any]) -> list[dict[str, Any]]:
    """The pull request's commits oldest first (``git rev-list base..head``), at most 250."""
    if not pull.get("head_sha") or not pull.get("base_sha"):
        return []
    shas = _commit_shas(str(git_dir), pull["base_sha"], pull["head_sha"])[:PR_COMMITS_LIMIT]
    return list(_commit_details(str(git_dir), shas))
