"""GitHub's JSON objects (REST 2022-11-28), built from the emulator's records.

Every object carries every property GitHub's OpenAPI description marks required, with GitHub's types
and nulls, and every URL is built from the base the request came in on (scheme, host, port, and the
``/api/v3`` prefix when used), so clients that follow ``url`` fields stay on the emulator.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from .events import pull_stats

APP_SLUG = "backhub-emulator"
DOCS = "https://docs.github.com/rest"


@dataclass(frozen=True)
class Urls:
    """``api``: REST base (maybe ending in /api/v3); ``web``: where html_url and git URLs point."""

    api: str
    web: str

    @property
    def host(self) -> str:
        return self.web.split("://", 1)[1]


def node_id(kind: str, ident: int) -> str:
    return base64.b64encode(f"0{len(kind)}:{kind}{ident}".encode()).decode().rstrip("=")


def user(u: dict[str, Any], c: Urls) -> dict[str, Any]:
    login, uid = u["login"], u["id"]
    api = f"{c.api}/users/{login}"
    return {
        "login": login,
        "id": uid,
        "node_id": node_id("User" if u["type"] == "User" else "Organization", uid),
        "avatar_url": f"{c.web}/_avatars/{uid}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{c.web}/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": u["type"],
        "user_view_type": "public",
        "site_admin": False,
    }


def user_full(u: dict[str, Any], c: Urls) -> dict[str, Any]:
    """The /users/{login} and /orgs/{org} objects, trimmed to what clients read."""
    out = user(u, c)
    out.update(
        name=u.get("name"),
        company=None,
        blog="",
        location=None,
        email=None,
        hireable=None,
        bio=None,
        twitter_username=None,
        public_repos=0,
        public_gists=0,
        followers=0,
        following=0,
        created_at=u.get("created_at", "2015-01-01T00:00:00Z"),
        updated_at=u.get("created_at", "2015-01-01T00:00:00Z"),
    )
    if u["type"] == "Organization":
        org = f"{c.api}/orgs/{u['login']}"
        out.update(
            url=org,
            repos_url=f"{org}/repos",
            events_url=f"{org}/events",
            hooks_url=f"{org}/hooks",
            issues_url=f"{org}/issues",
            members_url=f"{org}/members{{/member}}",
            public_members_url=f"{org}/public_members{{/member}}",
            description=u.get("description", ""),
        )
    return out


LICENSES = {
    "mit": ("MIT License", "MIT"),
    "apache-2.0": ("Apache License 2.0", "Apache-2.0"),
    "gpl-3.0": ("GNU General Public License v3.0", "GPL-3.0"),
}


def license_simple(key: str | None, c: Urls) -> dict[str, Any] | None:
    if not key:
        return None
    name, spdx = LICENSES[key]
    return {
        "key": key,
        "name": name,
        "spdx_id": spdx,
        "url": f"{c.api}/licenses/{key}",
        "node_id": node_id("License", sum(key.encode())),
    }


def repo(
    r: dict[str, Any],
    store: Any,
    c: Urls,
    *,
    full: bool = False,
    permissions: dict[str, bool] | None = None,
) -> dict[str, Any]:
    owner = store.user(r["owner"])
    full_name = f"{owner['login']}/{r['name']}"
    api = f"{c.api}/repos/{full_name}"
    html = f"{c.web}/{full_name}"
    open_issues = sum(1 for i in r["issues"] if i["state"] == "open")
    out: dict[str, Any] = {
        "id": r["id"],
        "node_id": node_id("Repository", r["id"]),
        "name": r["name"],
        "full_name": full_name,
        "private": r["private"],
        "owner": user(owner, c),
        "html_url": html,
        "description": r.get("description"),
        "fork": r.get("fork", False),
        "url": api,
        "forks_url": f"{api}/forks",
        "keys_url": f"{api}/keys{{/key_id}}",
        "collaborators_url": f"{api}/collaborators{{/collaborator}}",
        "teams_url": f"{api}/teams",
        "hooks_url": f"{api}/hooks",
        "issue_events_url": f"{api}/issues/events{{/number}}",
        "events_url": f"{api}/events",
        "assignees_url": f"{api}/assignees{{/user}}",
        "branches_url": f"{api}/branches{{/branch}}",
        "tags_url": f"{api}/tags",
        "blobs_url": f"{api}/git/blobs{{/sha}}",
        "git_tags_url": f"{api}/git/tags{{/sha}}",
        "git_refs_url": f"{api}/git/refs{{/sha}}",
        "trees_url": f"{api}/git/trees{{/sha}}",
        "statuses_url": f"{api}/statuses/{{sha}}",
        "languages_url": f"{api}/languages",
        "stargazers_url": f"{api}/stargazers",
        "contributors_url": f"{api}/contributors",
        "subscribers_url": f"{api}/subscribers",
        "subscription_url": f"{api}/subscription",
        "commits_url": f"{api}/commits{{/sha}}",
        "git_commits_url": f"{api}/git/commits{{/sha}}",
        "comments_url": f"{api}/comments{{/number}}",
        "issue_comment_url": f"{api}/issues/comments{{/number}}",
        "contents_url": f"{api}/contents/{{+path}}",
        "compare_url": f"{api}/compare/{{base}}...{{head}}",
        "merges_url": f"{api}/merges",
        "archive_url": f"{api}/{{archive_format}}{{/ref}}",
        "downloads_url": f"{api}/downloads",
        "issues_url": f"{api}/issues{{/number}}",
        "pulls_url": f"{api}/pulls{{/number}}",
        "milestones_url": f"{api}/milestones{{/number}}",
        "notifications_url": f"{api}/notifications{{?since,all,participating}}",
        "labels_url": f"{api}/labels{{/name}}",
        "releases_url": f"{api}/releases{{/id}}",
        "deployments_url": f"{api}/deployments",
        "created_at": r["created_at"],
        "updated_at": r["updated_at"],
        "pushed_at": r.get("pushed_at"),
        "git_url": f"git://{c.host}/{full_name}.git",
        "ssh_url": f"git@{c.host.split(':')[0]}:{full_name}.git",
        "clone_url": f"{html}.git",
        "svn_url": html,
        "homepage": r.get("homepage"),
        "mirror_url": None,
        "size": r.get("size", 0),
        "stargazers_count": r.get("stars", 0),
        "watchers_count": r.get("stars", 0),
        "language": r.get("language"),
        "has_issues": r.get("has_issues", True),
        "has_projects": True,
        "has_downloads": True,
        "has_wiki": r.get("has_wiki", True),
        "has_pages": False,
        "has_discussions": r.get("has_discussions", False),
        "forks_count": r.get("forks", 0),
        "archived": r.get("archived", False),
        "disabled": False,
        "open_issues_count": open_issues,
        "license": license_simple(r.get("license"), c),
        "allow_forking": True,
        "is_template": False,
        "web_commit_signoff_required": False,
        "topics": list(r.get("topics", [])),
        "visibility": "private" if r["private"] else "public",
        "forks": r.get("forks", 0),
        "open_issues": open_issues,
        "watchers": r.get("stars", 0),
        "default_branch": r.get("default_branch", "main"),
    }
    if permissions is not None:
        out["permissions"] = permissions
    if full:
        out.update(
            allow_squash_merge=True,
            allow_merge_commit=True,
            allow_rebase_merge=True,
            allow_auto_merge=False,
            delete_branch_on_merge=False,
            allow_update_branch=False,
            use_squash_pr_title_as_default=False,
            squash_merge_commit_title="COMMIT_OR_PR_TITLE",
            squash_merge_commit_message="COMMIT_MESSAGES",
            merge_commit_title="MERGE_MESSAGE",
            merge_commit_message="PR_TITLE",
            temp_clone_token=None,
            network_count=r.get("forks", 0),
            subscribers_count=1,
        )
        if owner["type"] == "Organization":
            out["organization"] = user(owner, c)
        parent = store.repo_by_id(r["parent"]) if r.get("parent") else None
        if parent is not None:
            out["parent"] = repo(parent, store, c)
            out["source"] = repo(parent, store, c)
    return out


def reactions(url: str) -> dict[str, Any]:
    return {
        "url": f"{url}/reactions",
        "total_count": 0,
        "+1": 0,
        "-1": 0,
        "laugh": 0,
        "hooray": 0,
        "confused": 0,
        "heart": 0,
        "rocket": 0,
        "eyes": 0,
    }


def label(r: dict[str, Any], lab: dict[str, Any], store: Any, c: Urls) -> dict[str, Any]:
    from urllib.parse import quote

    return {
        "id": lab["id"],
        "node_id": node_id("Label", lab["id"]),
        "url": f"{c.api}/repos/{store.full_name(r)}/labels/{quote(lab['name'], safe='')}",
        "name": lab["name"],
        "color": lab["color"],
        "default": lab.get("default", False),
        "description": lab.get("description"),
    }


def milestone(r: dict[str, Any], m: dict[str, Any], store: Any, c: Urls) -> dict[str, Any]:
    full_name = store.full_name(r)
    api = f"{c.api}/repos/{full_name}/milestones/{m['number']}"
    issues = [i for i in r["issues"] if i.get("milestone") == m["number"]]
    creator = store.user(m["creator"]) if m.get("creator") else None
    return {
        "url": api,
        "html_url": f"{c.web}/{full_name}/milestone/{m['number']}",
        "labels_url": f"{api}/labels",
        "id": m["id"],
        "node_id": node_id("Milestone", m["id"]),
        "number": m["number"],
        "state": m["state"],
        "title": m["title"],
        "description": m.get("description"),
        "creator": user(creator, c) if creator else None,
        "open_issues": sum(1 for i in issues if i["state"] == "open"),
        "closed_issues": sum(1 for i in issues if i["state"] == "closed"),
        "created_at": m["created_at"],
        "updated_at": m["updated_at"],
        "closed_at": m.get("closed_at"),
        "due_on": m.get("due_on"),
    }


def _labels_of(r: dict[str, Any], i: dict[str, Any], store: Any, c: Urls) -> list[dict[str, Any]]:
    by_name = {lab["name"]: lab for lab in r["labels"]}
    return [label(r, by_name[n], store, c) for n in i.get("labels", []) if n in by_name]


def _milestone_of(r: dict[str, Any], i: dict[str, Any], store: Any, c: Urls) -> dict[str, Any] | None:
    if i.get("milestone") is None:
        return None
    for m in r["milestones"]:
        if m["number"] == i["milestone"]:
            return milestone(r, m, store, c)
    return None


def _user_or_ghost(store: Any, login: str | None, c: Urls) -> dict[str, Any] | None:
    if login is None:
        return None
    u = store.user(login) or store.user("ghost")
    return user(u, c)


def issue(r: dict[str, Any], i: dict[str, Any], store: Any, c: Urls) -> dict[str, Any]:
    full_name = store.full_name(r)
    api = f"{c.api}/repos/{full_name}/issues/{i['number']}"
    pull = i.get("pull")
    kind = "pull" if pull else "issues"
    assignees = [_user_or_ghost(store, a, c) for a in i.get("assignees", [])]
    out: dict[str, Any] = {
        "id": i["id"],
        "node_id": node_id("PullRequest" if pull else "Issue", i["id"]),
        "url": api,
        "repository_url": f"{c.api}/repos/{full_name}",
        "labels_url": f"{api}/labels{{/name}}",
        "comments_url": f"{api}/comments",
        "events_url": f"{api}/events",
        "html_url": f"{c.web}/{full_name}/{kind}/{i['number']}",
        "number": i["number"],
        "title": i["title"],
        "user": _user_or_ghost(store, i["user"], c),
        "labels": _labels_of(r, i, store, c),
        "state": i["state"],
        "locked": i.get("locked", False),
        "assignee": assignees[0] if assignees else None,
        "assignees": assignees,
        "milestone": _milestone_of(r, i, store, c),
        "comments": len(i.get("comments", [])),
        "created_at": i["created_at"],
        "updated_at": i["updated_at"],
        "closed_at": i.get("closed_at"),
        "author_association": i.get("author_association", "MEMBER"),
        "active_lock_reason": i.get("lock_reason"),
        "body": i.get("body"),
        "closed_by": _user_or_ghost(store, i.get("closed_by"), c),
        "reactions": reactions(api),
        "timeline_url": f"{api}/timeline",
        "performed_via_github_app": None,
        "state_reason": i.get("state_reason"),
    }
    if pull:
        out["draft"] = pull.get("draft", False)
        pr_api = f"{c.api}/repos/{full_name}/pulls/{i['number']}"
        html = f"{c.web}/{full_name}/pull/{i['number']}"
        out["pull_request"] = {
            "url": pr_api,
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "merged_at": pull.get("merged_at"),
        }
    return out


def issue_comment(r: dict[str, Any], i: dict[str, Any], cm: dict[str, Any], store: Any, c: Urls) -> dict[str, Any]:
    full_name = store.full_name(r)
    api = f"{c.api}/repos/{full_name}/issues/comments/{cm['id']}"
    kind = "pull" if i.get("pull") else "issues"
    return {
        "url": api,
        "html_url": f"{c.web}/{full_name}/{kind}/{i['number']}#issuecomment-{cm['id']}",
        "issue_url": f"{c.api}/repos/{full_name}/issues/{i['number']}",
        "id": cm["id"],
        "node_id": node_id("IssueComment", cm["id"]),
        "user": _user_or_ghost(store, cm["user"], c),
        "created_at": cm["created_at"],
        "updated_at": cm["updated_at"],
        "author_association": cm.get("author_association", "MEMBER"),
        "body": cm["body"],
        "reactions": reactions(api),
        "performed_via_github_app": None,
    }


def _branch(r: dict[str, Any], ref: str, sha: str, store: Any, c: Urls) -> dict[str, Any]:
    owner = store.user(r["owner"])
    return {
        "label": f"{owner['login']}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": user(owner, c),
        "repo": repo(r, store, c),
    }


def pull(r: dict[str, Any], i: dict[str, Any], store: Any, c: Urls, *, full: bool) -> dict[str, Any]:
    p = i["pull"]
    full_name = store.full_name(r)
    api = f"{c.api}/repos/{full_name}/pulls/{i['number']}"
    html = f"{c.web}/{full_name}/pull/{i['number']}"
    issue_api = f"{c.api}/repos/{full_name}/issues/{i['number']}"
    statuses = f"{c.api}/repos/{full_name}/statuses/{p['head_sha']}"
    assignees = [_user_or_ghost(store, a, c) for a in i.get("assignees", [])]
    out: dict[str, Any] = {
        "url": api,
        "id": p["id"],
        "node_id": node_id("PullRequest", p["id"]),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue_api,
        "number": i["number"],
        "state": i["state"],
        "locked": i.get("locked", False),
        "title": i["title"],
        "user": _user_or_ghost(store, i["user"], c),
        "body": i.get("body"),
        "created_at": i["created_at"],
        "updated_at": i["updated_at"],
        "closed_at": i.get("closed_at"),
        "merged_at": p.get("merged_at"),
        "merge_commit_sha": p.get("merge_commit_sha"),
        "assignee": assignees[0] if assignees else None,
        "assignees": assignees,
        "requested_reviewers": [],
        "requested_teams": [],
        "labels": _labels_of(r, i, store, c),
        "milestone": _milestone_of(r, i, store, c),
        "draft": p.get("draft", False),
        "commits_url": f"{api}/commits",
        "review_comments_url": f"{api}/comments",
        "review_comment_url": f"{c.api}/repos/{full_name}/pulls/comments{{/number}}",
        "comments_url": f"{issue_api}/comments",
        "statuses_url": statuses,
        "head": _branch(r, p["head_ref"], p["head_sha"], store, c),
        "base": _branch(r, p["base_ref"], p["base_sha"], store, c),
        "_links": {
            "self": {"href": api},
            "html": {"href": html},
            "issue": {"href": issue_api},
            "comments": {"href": f"{issue_api}/comments"},
            "review_comments": {"href": f"{api}/comments"},
            "review_comment": {"href": f"{c.api}/repos/{full_name}/pulls/comments{{/number}}"},
            "commits": {"href": f"{api}/commits"},
            "statuses": {"href": statuses},
        },
        "author_association": i.get("author_association", "MEMBER"),
        "auto_merge": None,
        "active_lock_reason": i.get("lock_reason"),
    }
    if full:
        merged = bool(p.get("merged_at"))
        out.update(
            merged=merged,
            mergeable=None if i["state"] == "closed" else True,
            rebaseable=None if i["state"] == "closed" else True,
            mergeable_state="unknown" if i["state"] == "closed" else "clean",
            merged_by=_user_or_ghost(store, p.get("merged_by"), c) if merged else None,
            comments=len(i.get("comments", [])),
            review_comments=len(p.get("review_comments", [])),
            maintainer_can_modify=False,
            **pull_stats(store.git_dir(r), p),
        )
    return out


def issue_event(r: dict[str, Any], i: dict[str, Any], ev: dict[str, Any], store: Any, c: Urls, *,
                with_issue: bool) -> dict[str, Any]:
    """An issue event as "List issue events" serves it; ``with_issue`` adds the ``issue`` object, as the
    repository-wide list and "Get an issue event" do."""
    full_name = store.full_name(r)
    sha = ev.get("commit_id")
    out: dict[str, Any] = {
        "id": ev["id"],
        "node_id": node_id("IssueEvent", ev["id"]),
        "url": f"{c.api}/repos/{full_name}/issues/events/{ev['id']}",
        "actor": _user_or_ghost(store, ev["actor"], c),
        "event": ev["event"],
        "commit_id": sha,
        "commit_url": f"{c.api}/repos/{full_name}/commits/{sha}" if sha else None,
        "created_at": ev["created_at"],
        "performed_via_github_app": app(store.db, store, c) if ev["actor"] == store.db["app"]["bot"] else None,
    }
    if "label" in ev:
        out["label"] = dict(ev["label"])
    if "assignee" in ev:
        out["assignee"] = _user_or_ghost(store, ev["assignee"], c)
        out["assigner"] = _user_or_ghost(store, ev["assigner"], c)
    if "milestone" in ev:
        out["milestone"] = dict(ev["milestone"])
    if "rename" in ev:
        out["rename"] = dict(ev["rename"])
    if ev["event"] == "locked":
        out["lock_reason"] = ev.get("lock_reason")
    if with_issue:
        out["issue"] = issue(r, i, store, c)
    return out


def _git_person(person: tuple[str, str, str]) -> dict[str, str]:
    name, email, when = person
    return {"name": name, "email": email, "date": when.replace("+00:00", "Z")}


def _account_of(store: Any, email: str, c: Urls) -> dict[str, Any] | None:
    login, _, host = email.partition("@")
    u = store.user(login) if host == "users.noreply.emulator.test" else None
    return user(u, c) if u else None


def pull_commit(r: dict[str, Any], cm: dict[str, Any], store: Any, c: Urls) -> dict[str, Any]:
    """One item of "List commits on a pull request"."""
    full_name = store.full_name(r)
    api = f"{c.api}/repos/{full_name}"
    return {
        "url": f"{api}/commits/{cm['sha']}",
        "sha": cm["sha"],
        "node_id": node_id("Commit", int(cm["sha"][:12], 16)),
        "html_url": f"{c.web}/{full_name}/commit/{cm['sha']}",
        "comments_url": f"{api}/commits/{cm['sha']}/comments",
        "commit": {
            "url": f"{api}/git/commits/{cm['sha']}",
            "author": _git_person(cm["author"]),
            "committer": _git_person(cm["committer"]),
            "message": cm["message"],
            "tree": {"sha": cm["tree"], "url": f"{api}/git/trees/{cm['tree']}"},
            "comment_count": 0,
            "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None,
                             "verified_at": None},
        },
        "author": _account_of(store, cm["author"][1], c),
        "committer": _account_of(store, cm["committer"][1], c),
        "parents": [{"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{c.web}/{full_name}/commit/{p}"}
                    for p in cm["parents"]],
    }


def review(r: dict[str, Any], i: dict[str, Any], rv: dict[str, Any], store: Any, c: Urls) -> dict[str, Any]:
    full_name = store.full_name(r)
    html = f"{c.web}/{full_name}/pull/{i['number']}#pullrequestreview-{rv['id']}"
    pr_api = f"{c.api}/repos/{full_name}/pulls/{i['number']}"
    return {
        "id": rv["id"],
        "node_id": node_id("PullRequestReview", rv["id"]),
        "user": _user_or_ghost(store, rv["user"], c),
        "body": rv["body"],
        "state": rv["state"],
        "html_url": html,
        "pull_request_url": pr_api,
        "author_association": rv.get("author_association", "MEMBER"),
        "_links": {"html": {"href": html}, "pull_request": {"href": pr_api}},
        "submitted_at": rv["submitted_at"],
        "commit_id": rv["commit_id"],
    }


def review_comment(
    r: dict[str, Any], i: dict[str, Any], rc: dict[str, Any], store: Any, c: Urls
) -> dict[str, Any]:
    full_name = store.full_name(r)
    api = f"{c.api}/repos/{full_name}/pulls/comments/{rc['id']}"
    html = f"{c.web}/{full_name}/pull/{i['number']}#discussion_r{rc['id']}"
    pr_api = f"{c.api}/repos/{full_name}/pulls/{i['number']}"
    out = {
        "url": api,
        "pull_request_review_id": rc.get("review_id"),
        "id": rc["id"],
        "node_id": node_id("PullRequestReviewComment", rc["id"]),
        "diff_hunk": rc["diff_hunk"],
        "path": rc["path"],
        "position": rc.get("line", 1),
        "original_position": rc.get("line", 1),
        "commit_id": rc["commit_id"],
        "original_commit_id": rc["commit_id"],
        "user": _user_or_ghost(store, rc["user"], c),
        "body": rc["body"],
        "created_at": rc["created_at"],
        "updated_at": rc["updated_at"],
        "html_url": html,
        "pull_request_url": pr_api,
        "author_association": rc.get("author_association", "MEMBER"),
        "_links": {"self": {"href": api}, "html": {"href": html}, "pull_request": {"href": pr_api}},
        "reactions": reactions(api),
        "start_line": None,
        "original_start_line": None,
        "start_side": None,
        "line": rc.get("line", 1),
        "original_line": rc.get("line", 1),
        "side": "RIGHT",
        "subject_type": "line",
    }
    if rc.get("in_reply_to_id"):
        out["in_reply_to_id"] = rc["in_reply_to_id"]
    return out


def asset(r: dict[str, Any], rel: dict[str, Any], a: dict[str, Any], store: Any, c: Urls) -> dict[str, Any]:
    from urllib.parse import quote

    full_name = store.full_name(r)
    return {
        "url": f"{c.api}/repos/{full_name}/releases/assets/{a['id']}",
        "browser_download_url": f"{c.web}/{full_name}/releases/download/{quote(rel['tag_name'])}/{quote(a['name'])}",
        "id": a["id"],
        "node_id": node_id("ReleaseAsset", a["id"]),
        "name": a["name"],
        "label": a.get("label"),
        "state": "uploaded",
        "content_type": a["content_type"],
        "size": a["size"],
        "digest": f"sha256:{a['sha256']}",
        "download_count": a.get("download_count", 0),
        "created_at": a["created_at"],
        "updated_at": a["created_at"],
        "uploader": _user_or_ghost(store, a.get("uploader"), c),
    }


def release(r: dict[str, Any], rel: dict[str, Any], store: Any, c: Urls) -> dict[str, Any]:
    from urllib.parse import quote

    full_name = store.full_name(r)
    api = f"{c.api}/repos/{full_name}/releases/{rel['id']}"
    return {
        "url": api,
        "assets_url": f"{api}/assets",
        "upload_url": f"{c.web}/_uploads/repos/{full_name}/releases/{rel['id']}/assets{{?name,label}}",
        "html_url": f"{c.web}/{full_name}/releases/tag/{quote(rel['tag_name'])}",
        "id": rel["id"],
        "author": _user_or_ghost(store, rel["author"], c),
        "node_id": node_id("Release", rel["id"]),
        "tag_name": rel["tag_name"],
        "target_commitish": rel.get("target_commitish", "main"),
        "name": rel.get("name"),
        "draft": rel.get("draft", False),
        "immutable": False,
        "prerelease": rel.get("prerelease", False),
        "created_at": rel["created_at"],
        "updated_at": rel["created_at"],
        "published_at": rel.get("published_at", rel["created_at"]),
        "assets": [asset(r, rel, a, store, c) for a in rel.get("assets", [])],
        "tarball_url": f"{c.api}/repos/{full_name}/tarball/{quote(rel['tag_name'])}",
        "zipball_url": f"{c.api}/repos/{full_name}/zipball/{quote(rel['tag_name'])}",
        "body": rel.get("body"),
        "reactions": reactions(api),
    }


ROLE_PERMISSIONS = {
    "admin": {"pull": True, "triage": True, "push": True, "maintain": True, "admin": True},
    "maintain": {"pull": True, "triage": True, "push": True, "maintain": True, "admin": False},
    "write": {"pull": True, "triage": True, "push": True, "maintain": False, "admin": False},
    "triage": {"pull": True, "triage": True, "push": False, "maintain": False, "admin": False},
    "read": {"pull": True, "triage": False, "push": False, "maintain": False, "admin": False},
}


def collaborator(u: dict[str, Any], role: str, c: Urls) -> dict[str, Any]:
    out = user(u, c)
    out["permissions"] = dict(ROLE_PERMISSIONS[role])
    out["role_name"] = role
    return out


def hook(r: dict[str, Any], h: dict[str, Any], store: Any, c: Urls) -> dict[str, Any]:
    api = f"{c.api}/repos/{store.full_name(r)}/hooks/{h['id']}"
    return {
        "type": "Repository",
        "id": h["id"],
        "name": "web",
        "active": h.get("active", True),
        "events": list(h.get("events", ["push"])),
        "config": {"content_type": "json", "insecure_ssl": "0", "url": f"{c.web}{h['path']}"},
        "updated_at": h["created_at"],
        "created_at": h["created_at"],
        "url": api,
        "test_url": f"{api}/test",
        "ping_url": f"{api}/pings",
        "deliveries_url": f"{api}/deliveries",
        "last_response": {"code": None, "status": "unused", "message": None},
    }


def app(db: dict[str, Any], store: Any, c: Urls) -> dict[str, Any]:
    a = db["app"]
    owner = store.user(a["owner"])
    return {
        "id": a["id"],
        "slug": APP_SLUG,
        "node_id": node_id("Integration", a["id"]),
        "client_id": a["client_id"],
        "owner": user(owner, c),
        "name": a["name"],
        "description": a["description"],
        "external_url": f"{c.web}/_emulator",
        "html_url": f"{c.web}/apps/{APP_SLUG}",
        "created_at": a["created_at"],
        "updated_at": a["created_at"],
        "permissions": dict(a["permissions"]),
        "events": [],
        "installations_count": len(db["installations"]),
    }


def installation(inst: dict[str, Any], db: dict[str, Any], store: Any, c: Urls) -> dict[str, Any]:
    account = store.user(inst["account"])
    # GitHub's description of GET /app/installations says the account is a simple user *and* an
    # enterprise (allOf), so it carries both sets of required properties.
    account_json = user(account, c)
    account_json.update(
        name=account.get("name") or account["login"],
        slug=account["login"],
        website_url=None,
        created_at=inst["created_at"],
        updated_at=inst["created_at"],
    )
    return {
        "id": inst["id"],
        "client_id": db["app"]["client_id"],
        "account": account_json,
        "repository_selection": "all",
        "access_tokens_url": f"{c.api}/app/installations/{inst['id']}/access_tokens",
        "repositories_url": f"{c.api}/installation/repositories",
        "html_url": (
            f"{c.web}/organizations/{account['login']}/settings/installations/{inst['id']}"
            if account["type"] == "Organization"
            else f"{c.web}/settings/installations/{inst['id']}"
        ),
        "app_id": db["app"]["id"],
        "app_slug": APP_SLUG,
        "target_id": account["id"],
        "target_type": account["type"],
        "permissions": dict(inst["permissions"]),
        "events": [],
        "created_at": inst["created_at"],
        "updated_at": inst["created_at"],
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": None,
    }


def etag(body: bytes, vary: str = "") -> str:
    return 'W/"' + hashlib.sha256(vary.encode() + b"\0" + body).hexdigest()[:40] + '"'
