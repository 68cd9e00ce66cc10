"""The control API under ``/_emulator/`` (no auth, JSON): how tests and the demo steer the emulator.

- ``GET  /_emulator/state``         the truth to compare restores with (see :func:`state`)
- ``GET  /_emulator/info``          the same JSON as the ``--info`` file
- ``POST /_emulator/advance``       ``{"days": N}``: N simulated days of activity, clock moves N days
- ``POST /_emulator/clock``         move the clock only: ``{"now": ISO-8601}``; ``{"offset_days": N}``, the
                                    wall clock plus N days (absolute, the meaning of backhub's
                                    ``BACKHUB_CLOCK_OFFSET_DAYS``, so ``0`` resets); ``{"days": N}``, N days
                                    on from the emulator's current time
- ``POST /_emulator/faults``        ``{"rate": 0.05, "kinds": [...], "force": [...]}`` (see faults.py)
- ``POST /_emulator/rate_limit``    ``{"limit": N, "remaining": N, "window_seconds": S}`` for every
                                    installation's budget (S shortens GitHub's hour, for tests)
- ``POST /_emulator/search``        ``{"incomplete_results": bool, "result_cap": N}``: ``/search/issues``
                                    answers with ``incomplete_results`` forced, or stops at N results
                                    (GitHub stops at 1,000) so tests reach the cap at tiny scale
- ``POST /_emulator/labels/rename`` ``{"full_name", "name", "new_name"}``: rename a label, now; the
                                    issues carrying it show the new name, their ``updated_at`` untouched
- ``POST /_emulator/tokens/expire`` every installation token issued so far stops working now
- ``POST /_emulator/repos/delete``  ``{"full_name": "owner/name"}``
- ``POST /_emulator/repos/rename``  ``{"full_name": "owner/name", "new_name": "..."}``
- ``GET  /_emulator/stats``         requests served since start or the last reset, by kind (see
                                    ``emulator.RequestCounts``); ``POST /_emulator/stats/reset`` zeroes them
                                    and returns the counts it zeroed
- ``POST /_emulator/reset``         back to the freshly seeded world (git and state), limits and faults
- ``POST /_emulator/wiki/create``   ``{"full_name"}``: someone saves the first page of a wiki that was
                                    never created (GitHub makes a wiki's repository only then; no API does)
- ``POST /_emulator/issues/change`` ``{"full_name", "number", "kind"}``: one change, now, for tests:
                                    ``comment`` (a new comment; its issue's ``updated_at`` moves, as
                                    when one is posted through the API), ``edit_comment`` (the issue's
                                    newest comment edited; the issue itself untouched) or ``review``
                                    (a review on the pull request, whose ``updated_at`` moves)
- ``POST /_emulator/installations/create`` ``{"account"}``: the App is installed on an existing account
                                    (all its repositories); ``{"id"}`` of the new installation
- ``POST /_emulator/installations/delete`` ``{"account"}``: the account uninstalls the App; its
                                    tokens stop working, its repositories stay
- ``POST /_emulator/app/hook``      ``{"url", "secret"}``: the App's webhook (webhooks.py); ``url``
                                    null or empty turns deliveries off; answers as ``GET`` does
- ``GET  /_emulator/app/hook``      ``{"url", "secret_configured", "hook_id", "pending", "deliveries"}``
                                    (never the secret)
- ``POST /_emulator/app/hook/faults`` ``{"rate", "kinds", "force"}`` for deliveries: ``drop``,
                                    ``delay``, ``duplicate``, ``reorder`` (see faults.py)
- ``POST /_emulator/app/hook/flush`` ``{"timeout": S}``: wait until every queued delivery was attempted;
                                    ``{"idle": bool}``

Every change made here is also a webhook event, as the same change made on GitHub would be.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from . import activity, shapes
from .emulator import Emulator
from .http import Request, Response
from .seed import APP_PERMISSIONS, build_wiki
from .state import Store, iso, parse_iso, wall_clock


def handle(em: Emulator, req: Request) -> Response:
    route = (req.method, req.path)
    try:
        body = req.json() if req.method == "POST" else {}
    except ValueError:
        return Response.json(400, {"error": "body must be JSON"})
    body = body or {}
    store = em.store
    try:
        if route == ("GET", "/_emulator/state"):
            return Response.json(200, state(store))
        if route == ("GET", "/_emulator/info"):
            return Response.json(200, em.info)
        if route == ("GET", "/_emulator/stats"):
            return Response.json(200, em.counts.take())
        if route == ("POST", "/_emulator/stats/reset"):
            return Response.json(200, em.counts.take(reset=True))
        if route == ("POST", "/_emulator/advance"):
            return Response.json(200, activity.advance(store, int(body.get("days", 1))))
        if route == ("POST", "/_emulator/clock"):
            with store.lock:
                if "now" in body:
                    store.set_now(parse_iso(str(body["now"])))
                elif "offset_days" in body:
                    store.set_now(wall_clock() + timedelta(days=float(body["offset_days"])))
                elif "days" in body:
                    store.set_now(store.now() + timedelta(days=float(body["days"])))
                else:
                    return Response.json(400, {"error": "give one of now, offset_days, days"})
                store.save()
                return Response.json(200, {"now": iso(store.now())})
        if route == ("GET", "/_emulator/app/hook"):
            return Response.json(200, em.hooks.describe())
        if route == ("POST", "/_emulator/app/hook"):
            em.hooks.configure(body.get("url"), body.get("secret"))
            em.info["app_hook"] = {"url": em.hooks.url, "secret_configured": bool(em.hooks.secret)}
            if em.info_path is not None:
                em.write_info()
            return Response.json(200, em.hooks.describe())
        if route == ("POST", "/_emulator/app/hook/faults"):
            em.hook_faults.configure(body.get("rate"), body.get("kinds"), body.get("force"))
            f = em.hook_faults
            return Response.json(200, {"rate": f.rate, "kinds": list(f.kinds), "injected": f.injected})
        if route == ("POST", "/_emulator/app/hook/flush"):
            return Response.json(200, {"idle": em.hooks.wait_idle(float(body.get("timeout", 60)))})
        if route == ("POST", "/_emulator/installations/create"):
            with store.lock:
                account = store.user(str(body.get("account", "")))
                if account is None:
                    return Response.json(404, {"error": "no such account"})
                if any(i["account"].lower() == account["login"].lower() for i in store.db["installations"]):
                    return Response.json(422, {"error": f"the App is already installed on {account['login']}"})
                permissions = dict(APP_PERMISSIONS)
                if account["type"] == "User":
                    permissions.pop("repository_hooks", None)
                inst = {"id": store.next_id("installation"), "account": account["login"], "permissions": permissions,
                        "created_at": iso(store.now())}
                store.db["installations"].append(inst)
                store.save()
                if em.hooks is not None:
                    em.hooks.installation_changed(inst, "created")
                _installations_changed(em)
                return Response.json(201, {"id": inst["id"], "account": inst["account"]})
        if route == ("POST", "/_emulator/installations/delete"):
            with store.lock:
                login = str(body.get("account", "")).lower()
                inst = next((i for i in store.db["installations"] if i["account"].lower() == login), None)
                if inst is None:
                    return Response.json(404, {"error": "the App is not installed on that account"})
                if em.hooks is not None:
                    em.hooks.installation_changed(inst, "deleted")
                store.db["installations"].remove(inst)
                store.save()
                _installations_changed(em)
                return Response.json(200, {"deleted": inst["id"]})
        if route == ("POST", "/_emulator/faults"):
            em.faults.configure(body.get("rate"), body.get("kinds"), body.get("force"))
            return Response.json(200, {"rate": em.faults.rate, "kinds": list(em.faults.kinds), "injected": em.faults.injected})
        if route == ("POST", "/_emulator/rate_limit"):
            limit = body.get("limit")
            remaining = body.get("remaining")
            window = body.get("window_seconds")
            em.limiter.configure(None if limit is None else int(limit), None if remaining is None else int(remaining),
                                 None if window is None else int(window))
            return Response.json(200, {"limit": em.limiter.limit})
        if route == ("POST", "/_emulator/search"):
            return Response.json(200, em.search.configure(body.get("incomplete_results"), body.get("result_cap")))
        if route == ("POST", "/_emulator/labels/rename"):
            with store.lock:
                repo = store.repo_by_name(*str(body.get("full_name", "/")).split("/", 1))
                label = next((lab for lab in repo["labels"] if lab["name"] == body.get("name")), None) if repo else None
                if label is None:
                    return Response.json(404, {"error": "no such label"})
                new_name = str(body["new_name"])
                for issue in repo["issues"]:  # issues name their labels; the rename reaches them, as on GitHub
                    issue["labels"] = [new_name if name == label["name"] else name for name in issue.get("labels", [])]
                label["name"] = new_name
                store.save()
                return Response.json(200, {"id": label["id"], "name": new_name})
        if route == ("POST", "/_emulator/tokens/expire"):
            return Response.json(200, {"expired": em.authority.expire_all()})
        if route == ("POST", "/_emulator/repos/delete"):
            with store.lock:
                repo = store.repo_by_name(*str(body.get("full_name", "/")).split("/", 1))
                if repo is None:
                    return Response.json(404, {"error": "no such repository"})
                store.emit("repository", "deleted", repo, {})
                store.delete_repo(repo)
                store.save()
                return Response.json(200, {"deleted": body["full_name"]})
        if route == ("POST", "/_emulator/repos/rename"):
            with store.lock:
                repo = store.repo_by_name(*str(body.get("full_name", "/")).split("/", 1))
                if repo is None:
                    return Response.json(404, {"error": "no such repository"})
                old = repo["name"]
                store.rename_repo(repo, str(body["new_name"]))
                store.emit("repository", "renamed", repo, {"changes": {"repository": {"name": {"from": old}}}})
                store.save()
                return Response.json(200, {"full_name": store.full_name(repo)})
        if route == ("POST", "/_emulator/wiki/create"):
            with store.lock:
                repo = store.repo_by_name(*str(body.get("full_name", "/")).split("/", 1))
                if repo is None:
                    return Response.json(404, {"error": "no such repository"})
                if store.wiki_state(repo) != "never_created":
                    return Response.json(409, {"error": f"the wiki is {store.wiki_state(repo)}"})
                build_wiki(store, repo, random.Random(repo["id"]), pages=1)
                store.save()
                return Response.json(200, {"wiki": "populated"})
        if route == ("POST", "/_emulator/issues/change"):
            with store.lock:
                repo = store.repo_by_name(*str(body.get("full_name", "/")).split("/", 1))
                issue = next((i for i in repo["issues"] if i["number"] == int(body["number"])), None) if repo else None
                if issue is None:
                    return Response.json(404, {"error": "no such issue"})
                changed = _change_issue(store, repo, issue, str(body.get("kind")))
                store.save()
                return Response.json(200, changed)
        if route == ("POST", "/_emulator/reset"):
            store.reset()
            em.limiter.reset()
            em.limiter.limit = em.default_rate_limit
            em.faults.configure(rate=em.default_faults, kinds=list(em.default_fault_kinds))
            em.faults.forced.clear()
            em.search_limiter.reset()
            em.graphql_limiter.reset()
            em.search.configure(incomplete_results=False, result_cap=1000)
            em.hook_faults.configure(rate=0.0)
            em.hook_faults.forced.clear()
            em.hooks.clear()
            _installations_changed(em)
            return Response.json(200, {"now": iso(store.now())})
    except (ValueError, KeyError, TypeError) as exc:
        return Response.json(400, {"error": f"{type(exc).__name__}: {exc}"})
    return Response.json(404, {"error": f"no control endpoint {req.method} {req.path}"})


def _installations_changed(em: Emulator) -> None:
    """The info file lists the installations: rewrite it as they change."""
    em.info["installations"] = [
        {"id": inst["id"], "account": inst["account"], "type": em.store.user(inst["account"])["type"]}
        for inst in em.store.db["installations"]
    ]
    em.write_info()


def _change_issue(store: Store, repo: dict[str, Any], issue: dict[str, Any], kind: str) -> dict[str, Any]:
    now = iso(store.now())
    if kind == "comment":
        comment = {"id": store.next_id("comment"), "user": "octocat", "body": f"Posted at {now}", "created_at": now,
                   "updated_at": now, "author_association": "CONTRIBUTOR"}
        issue.setdefault("comments", []).append(comment)
        issue["updated_at"] = now
        store.emit("issue_comment", "created", repo, lambda c: {
            "issue": shapes.issue(repo, issue, store, c), "comment": shapes.issue_comment(repo, issue, comment, store, c)},
            sender="octocat")
        return {"comment_id": comment["id"]}
    if kind == "edit_comment" and issue.get("comments"):
        comment = issue["comments"][-1]
        old = comment["body"]
        comment["body"] += f"\n\n(edited at {now})"
        comment["updated_at"] = now
        store.emit("issue_comment", "edited", repo, lambda c: {
            "changes": {"body": {"from": old}},
            "issue": shapes.issue(repo, issue, store, c), "comment": shapes.issue_comment(repo, issue, comment, store, c)},
            sender=comment["user"])
        return {"comment_id": comment["id"]}
    if kind == "review" and issue.get("pull"):
        review = {"id": store.next_id("review"), "user": "octocat", "body": "Looks good", "state": "APPROVED",
                  "submitted_at": now, "commit_id": issue["pull"]["head_sha"]}
        issue["pull"]["reviews"].append(review)
        issue["updated_at"] = now
        store.emit("pull_request_review", "submitted", repo, lambda c: {
            "review": shapes.review(repo, issue, review, store, c),
            "pull_request": shapes.pull(repo, issue, store, c, full=False)}, sender="octocat")
        return {"review_id": review["id"]}
    raise ValueError(f"cannot apply a {kind!r} change to issue {issue['number']}")


def discussions_truth(repo: dict[str, Any]) -> dict[str, Any]:
    """Each discussion by number: what a restore must reproduce (content, by GraphQL node id)."""
    names = {c["slug"]: c["name"] for c in repo.get("discussion_categories", [])}

    def comment(c: dict[str, Any]) -> dict[str, Any]:
        out = {"id": c["id"], "author": c.get("author"), "body": c["body"], "updated_at": c["updated_at"]}
        if "replies" in c:
            out["replies"] = [comment(r) for r in c["replies"]]
        return out

    return {
        str(d["number"]): {
            "title": d["title"], "body": d["body"], "author": d.get("author"), "category": names[d["category"]],
            "answer": d.get("answer"), "closed": d.get("closed", False), "locked": d.get("locked", False),
            "state_reason": d.get("state_reason"), "created_at": d["created_at"], "updated_at": d["updated_at"],
            "comments": [comment(c) for c in d["comments"]],
        }
        for d in repo.get("discussions", [])
    }


def lfs_objects(store: Store, repo: dict[str, Any]) -> dict[str, int]:
    """The repository's Git LFS storage: oid -> size."""
    root = store.repos_dir / f"{repo['id']}.lfs"
    return {path.name: path.stat().st_size for path in sorted(root.glob("??/??/*"))} if root.is_dir() else {}


def state(store: Store) -> dict[str, Any]:
    """Per account and repository: ids, refs, wiki state, issues with their counts, labels, milestones,
    Git LFS objects stored."""
    with store.lock:
        db = store.db
        accounts: dict[str, Any] = {}
        for inst in db["installations"]:
            login = inst["account"]
            accounts[login] = {
                "type": store.user(login)["type"],
                "installation_id": inst["id"],
                "repositories": {},
            }
        for repo in sorted(db["repos"].values(), key=lambda r: r["id"]):
            entry = accounts.setdefault(repo["owner"], {"type": "User", "installation_id": None, "repositories": {}})
            wiki_state = store.wiki_state(repo)
            entry["repositories"][repo["name"]] = {
                "full_name": store.full_name(repo),
                "id": repo["id"],
                "private": repo["private"],
                "archived": repo.get("archived", False),
                "fork": repo.get("fork", False),
                "default_branch": repo.get("default_branch", "main"),
                "refs": Store.read_refs(store.git_dir(repo)),
                "wiki": {
                    "state": wiki_state,
                    "refs": Store.read_refs(store.wiki_dir(repo)) if wiki_state == "populated" else {},
                },
                "issues": {
                    str(i["number"]): {
                        "pull_request": bool(i.get("pull")),
                        "state": i["state"],
                        "updated_at": i["updated_at"],
                        "comments": len(i.get("comments", [])),
                        "reviews": len(i["pull"].get("reviews", [])) if i.get("pull") else 0,
                        "review_comments": len(i["pull"].get("review_comments", [])) if i.get("pull") else 0,
                    }
                    for i in repo["issues"]
                },
                "labels": sorted(lab["name"] for lab in repo["labels"]),
                "milestones": sorted(m["number"] for m in repo["milestones"]),
                "releases": sorted(rel["tag_name"] for rel in repo.get("releases", [])),
                **({"discussions": discussions_truth(repo)} if repo.get("has_discussions") else {}),
                "lfs": lfs_objects(store, repo),
            }
        return {
            "now": iso(store.now()),
            "seed": db["seed"],
            "scale": db["scale"],
            "days_advanced": db.get("days_advanced", 0),
            "accounts": accounts,
            "renamed": {k: store.full_name(store.repo_by_id(v)) for k, v in db.get("renamed", {}).items() if store.repo_by_id(v)},
            "deleted": list(db.get("deleted", [])),
        }
