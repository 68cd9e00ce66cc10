"""GitHub's REST endpoints: routing, scoping to the caller's installation, pagination, reads and writes.

Repository routes answer both at ``/repos/{owner}/{repo}/...`` and ``/repositories/{id}/...``; list
responses link later pages through the ``/repositories/{id}`` form, as GitHub does. A renamed
repository answers 301 to its ``/repositories/{id}`` URL; a repository outside the token's
installation (or its ``repositories`` selection) is 404, exactly like one that does not exist.
"""

from __future__ import annotations

import math
import re
import subprocess
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from . import events, repo_settings, search, shapes, webhooks
from .auth import narrow_permissions
from .emulator import Emulator
from .http import Request, Response
from .state import iso

NOT_FOUND_DOCS = "https://docs.github.com/rest"
NOT_ACCESSIBLE = "Resource not accessible by integration"
NAME_OK = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def not_found() -> Response:
    return Response.error(404, "Not Found")


def forbidden(message: str = NOT_ACCESSIBLE) -> Response:
    return Response.error(403, message)


def unprocessable(message: str, errors: list[dict[str, Any]] | None = None) -> Response:
    extra = {"errors": errors} if errors is not None else {}
    return Response.error(422, message, **extra)


def ok(payload: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response.json(status, payload, headers)


# ---- pagination ------------------------------------------------------------------------------------
def _int_arg(req: Request, name: str, default: int) -> int:
    try:
        return int(req.arg(name) or default)
    except ValueError:
        return default


def paginate(
    req: Request,
    items: list[Any],
    serialize: Callable[[Any], Any],
    link_path: str,
    wrap: Callable[[list[Any]], Any] | None = None,
) -> Response:
    """One page of ``items`` with GitHub's Link header (prev, next, last, first; none on a single page)."""
    per_page = max(1, min(100, _int_arg(req, "per_page", 30)))
    page = max(1, _int_arg(req, "page", 1))
    last = max(1, math.ceil(len(items) / per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    body = [serialize(x) for x in chunk]

    def link(number: int, rel: str) -> str:
        params = [(k, v) for k, v in req.query if k != "page"] + [("page", str(number))]
        return f'<{req.urls.api}{link_path}?{urlencode(params, quote_via=quote, safe=",:*")}>; rel="{rel}"'

    links = []
    if page > 1:
        links.append(link(min(page - 1, last), "prev"))
    if page < last:
        links.append(link(page + 1, "next"))
        links.append(link(last, "last"))
    if page > 1:
        links.append(link(1, "first"))
    headers = [("Link", ", ".join(links))] if links else []
    return ok(wrap(body) if wrap else body, headers=headers)


def _since(req: Request) -> str | None:
    since = req.arg("since")
    if not since:
        return None
    from .state import parse_iso

    try:
        return iso(parse_iso(since))
    except ValueError:
        return None


# ---- the route table -------------------------------------------------------------------------------
def route(em: Emulator, req: Request) -> Response:
    with em.store.lock:
        for method, pattern, handler in TOP_ROUTES:
            if method != req.method and not (method == "GET" and req.method == "HEAD"):
                continue
            match = pattern.fullmatch(req.path)
            if match:
                return handler(em, req, **match.groupdict())
        match = REPO_PATH.fullmatch(req.path)
        if match:
            return repo_route(em, req, match)
        return not_found()


REPO_PATH = re.compile(r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)(?P<rest>/.*)?|/repositories/(?P<rid>\d+)(?P<rest2>/.*)?")


def resolve_repo(em: Emulator, req: Request, match: re.Match[str]) -> tuple[dict[str, Any] | None, str, Response | None]:
    store = em.store
    rest = match["rest"] if match["owner"] else match["rest2"]
    rest = rest or ""
    if match["rid"]:
        repo = store.repo_by_id(match["rid"])
    else:
        repo = store.repo_by_name(match["owner"], match["name"])
        if repo is None:
            moved = store.renamed_to(match["owner"], match["name"])
            if moved is not None and visible(req, moved):
                query = f"?{urlencode(req.query)}" if req.query else ""
                location = f"{req.urls.api}/repositories/{moved['id']}{rest}{query}"
                resp = Response.json(
                    301,
                    {"message": "Moved Permanently", "url": location, "documentation_url": NOT_FOUND_DOCS},
                    [("Location", location)],
                )
                return None, rest, resp
    if repo is None or not visible(req, repo):
        return None, rest, not_found()
    return repo, rest, None


def visible(req: Request, repo: dict[str, Any]) -> bool:
    p = req.principal
    if p.kind == "installation":
        if repo["owner"].lower() != (p.account or "").lower():
            return not repo["private"] and req.method == "GET"  # others' public repositories: read only
        return p.repository_ids is None or repo["id"] in p.repository_ids
    if p.kind == "app":
        return True  # only /installation is routed for Apps; see repo_route
    return not repo["private"]


def repo_route(em: Emulator, req: Request, match: re.Match[str]) -> Response:
    repo, rest, early = resolve_repo(em, req, match)
    if early is not None:
        return early
    assert repo is not None
    if req.principal.kind == "app":
        if rest == "/installation" and req.method == "GET":
            return installation_for(em, req, repo["owner"])
        return forbidden()
    for method, pattern, permission, handler in REPO_ROUTES:
        if method != req.method and not (method == "GET" and req.method == "HEAD"):
            continue
        sub = pattern.fullmatch(rest)
        if sub is None:
            continue
        level = "read" if method == "GET" else "write"
        if req.principal.kind == "installation" and not req.principal.can(permission, level):
            return forbidden()
        if req.principal.kind == "anonymous" and method != "GET":
            return Response.error(401, "Requires authentication")
        return handler(em, req, repo, **sub.groupdict())
    return not_found()


# ---- App endpoints (JWT) ---------------------------------------------------------------------------
def _require_app(req: Request) -> Response | None:
    if req.principal.kind == "anonymous":
        return Response.error(401, "A JSON web token could not be decoded")
    if req.principal.kind != "app":
        return forbidden()
    return None


def get_app(em: Emulator, req: Request) -> Response:
    if req.principal.kind == "anonymous":
        return Response.error(401, "A JSON web token could not be decoded")
    return ok(shapes.app(em.store.db, em.store, req.urls))


def list_installations(em: Emulator, req: Request) -> Response:
    denied = _require_app(req)
    if denied:
        return denied
    db = em.store.db
    return paginate(
        req, db["installations"], lambda i: shapes.installation(i, db, em.store, req.urls), "/app/installations"
    )


DELIVERY_CURSOR = re.compile(r"v1_(\d+)")


def list_deliveries(em: Emulator, req: Request) -> Response:
    """``GET /app/hook/deliveries``: newest first; ``cursor`` names the first delivery of a page, and
    ``Link: <...&cursor=v1_ID>; rel="next"`` the next page's, as GitHub paginates this list."""
    denied = _require_app(req)
    if denied:
        return denied
    status = req.arg("status")
    if status not in (None, "success", "failure"):
        return unprocessable("Validation Failed", [{"resource": "Delivery", "code": "invalid", "field": "status"}])
    per_page = max(1, min(100, _int_arg(req, "per_page", 30)))
    items = em.hooks.listed(status)
    cursor = req.arg("cursor")
    if cursor:
        match = DELIVERY_CURSOR.fullmatch(cursor)
        if match is None:
            return Response.error(400, "Invalid cursor")
        start = int(match[1])
        items = [d for d in items if d["id"] <= start]
    page, rest = items[:per_page], items[per_page:]
    headers = []
    if rest:
        params = [(k, v) for k, v in req.query if k != "cursor"] + [("cursor", f"v1_{rest[0]['id']}")]
        url = f"{req.urls.api}/app/hook/deliveries?{urlencode(params, quote_via=quote, safe=',:*')}"
        headers.append(("Link", f'<{url}>; rel="next"'))
    return ok([webhooks.delivery_item(d) for d in page], headers=headers)


def get_delivery(em: Emulator, req: Request, did: str) -> Response:
    denied = _require_app(req)
    if denied:
        return denied
    delivery = em.hooks.get(int(did))
    return ok(webhooks.delivery_full(delivery)) if delivery is not None else not_found()


def redeliver(em: Emulator, req: Request, did: str) -> Response:
    denied = _require_app(req)
    if denied:
        return denied
    delivery = em.hooks.get(int(did))
    if delivery is None:
        return not_found()
    em.hooks.redeliver(delivery)
    return ok({}, 202)


def _installation(em: Emulator, iid: str) -> dict[str, Any] | None:
    return em.installations().get(int(iid))


def get_installation(em: Emulator, req: Request, iid: str) -> Response:
    denied = _require_app(req)
    if denied:
        return denied
    inst = _installation(em, iid)
    if inst is None:
        return not_found()
    return ok(shapes.installation(inst, em.store.db, em.store, req.urls))


def installation_for(em: Emulator, req: Request, account: str) -> Response:
    denied = _require_app(req)
    if denied:
        return denied
    for inst in em.store.db["installations"]:
        if inst["account"].lower() == account.lower():
            return ok(shapes.installation(inst, em.store.db, em.store, req.urls))
    return not_found()


def create_token(em: Emulator, req: Request, iid: str) -> Response:
    denied = _require_app(req)
    if denied:
        return denied
    inst = _installation(em, iid)
    if inst is None:
        return not_found()
    body = req.json() or {}
    permissions = narrow_permissions(inst["permissions"], body.get("permissions"))
    if permissions is None:
        return unprocessable("The permissions requested are not granted to this installation.")
    owned = em.store.repos_of(inst["account"])
    selected: list[dict[str, Any]] | None = None
    if body.get("repositories") or body.get("repository_ids"):
        by_name = {r["name"].lower(): r for r in owned}
        by_id = {r["id"]: r for r in owned}
        selected = []
        for name in body.get("repositories") or []:
            if str(name).lower() not in by_name:
                return unprocessable(
                    "There is at least one repository that does not exist or is not accessible to the parent installation."
                )
            selected.append(by_name[str(name).lower()])
        for rid in body.get("repository_ids") or []:
            if rid not in by_id:
                return unprocessable(
                    "There is at least one repository that does not exist or is not accessible to the parent installation."
                )
            selected.append(by_id[rid])
    ids = frozenset(r["id"] for r in selected) if selected is not None else None
    token, expires = em.authority.mint(inst["id"], permissions, ids)
    from datetime import UTC, datetime

    payload: dict[str, Any] = {
        "token": token,
        "expires_at": iso(datetime.fromtimestamp(expires, UTC)),
        "permissions": permissions,
        "repository_selection": "selected" if selected is not None else "all",
    }
    if selected is not None:
        payload["repositories"] = [shapes.repo(r, em.store, req.urls) for r in selected]
    return ok(payload, 201)


# ---- accounts and repository lists -----------------------------------------------------------------
def _repo_permissions(req: Request) -> dict[str, bool] | None:
    p = req.principal
    if p.kind != "installation":
        return None
    return {
        "admin": p.can("administration", "write"),
        "maintain": p.can("administration", "write"),
        "push": p.can("contents", "write"),
        "triage": p.can("issues", "write"),
        "pull": True,
    }


def installation_repos(em: Emulator, req: Request) -> Response:
    p = req.principal
    if p.kind != "installation":
        return forbidden("You must authenticate with an installation access token in order to list repositories for an installation.")
    repos = [r for r in em.store.repos_of(p.account or "") if visible(req, r)]
    perms = _repo_permissions(req)
    return paginate(
        req,
        repos,
        lambda r: shapes.repo(r, em.store, req.urls, permissions=perms),
        "/installation/repositories",
        wrap=lambda body: {
            "total_count": len(repos),
            "repository_selection": "selected" if p.repository_ids is not None else "all",
            "repositories": body,
        },
    )


def _account(em: Emulator, login: str | None = None, uid: str | None = None) -> dict[str, Any] | None:
    if uid is not None:
        for u in em.store.db["users"].values():
            if str(u["id"]) == uid:
                return u
        return None
    return em.store.user(login or "")


def _account_repos(em: Emulator, req: Request, account: dict[str, Any], link_path: str) -> Response:
    repos = [r for r in em.store.repos_of(account["login"]) if visible(req, r)]
    kind = req.arg("type", "all")
    if kind in ("public", "private"):
        repos = [r for r in repos if r["private"] == (kind == "private")]
    elif kind == "forks":
        repos = [r for r in repos if r.get("fork")]
    elif kind == "sources":
        repos = [r for r in repos if not r.get("fork")]
    sort = req.arg("sort", "full_name" if account["type"] == "User" else "created")
    key = {
        "full_name": lambda r: r["name"].lower(),
        "created": lambda r: (r["created_at"], r["id"]),
        "updated": lambda r: (r["updated_at"], r["id"]),
        "pushed": lambda r: (r.get("pushed_at") or "", r["id"]),
    }.get(sort or "", lambda r: r["name"].lower())
    direction = req.arg("direction", "asc" if sort == "full_name" else "desc")
    repos.sort(key=key, reverse=direction == "desc")
    perms = _repo_permissions(req)
    return paginate(req, repos, lambda r: shapes.repo(r, em.store, req.urls, permissions=perms), link_path)


def org_repos(em: Emulator, req: Request, org: str | None = None, oid: str | None = None) -> Response:
    account = _account(em, org, oid)
    if account is None or account["type"] != "Organization":
        return not_found()
    return _account_repos(em, req, account, f"/organizations/{account['id']}/repos")


def user_repos(em: Emulator, req: Request, user: str | None = None, uid: str | None = None) -> Response:
    account = _account(em, user, uid)
    if account is None:
        return not_found()
    return _account_repos(em, req, account, f"/user/{account['id']}/repos")


def get_org(em: Emulator, req: Request, org: str) -> Response:
    account = em.store.user(org)
    if account is None or account["type"] != "Organization":
        return not_found()
    return ok(shapes.user_full(account, req.urls))


def authenticated_user(em: Emulator, req: Request) -> Response:
    """``GET /user`` is a user's own endpoint: an App or an installation token is refused with 403,
    as GitHub does ("Resource not accessible by integration"), not 404."""
    if req.principal.kind == "anonymous":
        return Response.error(401, "Requires authentication")
    return forbidden()


def get_user(em: Emulator, req: Request, user: str) -> Response:
    account = em.store.user(user)
    if account is None:
        return not_found()
    return ok(shapes.user_full(account, req.urls))


def _create_repo(em: Emulator, req: Request, owner: dict[str, Any]) -> Response:
    body = req.json() or {}
    name = str(body.get("name") or "")
    if not name:
        return unprocessable("Repository creation failed.", [{"resource": "Repository", "code": "missing_field", "field": "name"}])
    name = re.sub(r"[^A-Za-z0-9._-]", "-", name)[:100]
    if name in (".", "..") or not NAME_OK.match(name):
        return unprocessable("Repository creation failed.", [{"resource": "Repository", "code": "custom", "field": "name", "message": "name is invalid"}])
    if em.store.repo_by_name(owner["login"], name) is not None:
        return unprocessable(
            "Repository creation failed.",
            [{"resource": "Repository", "code": "custom", "field": "name", "message": "name already exists on this account"}],
        )
    from .seed import new_repo_record

    now = iso(em.store.now())
    repo = new_repo_record(
        em.store,
        owner["login"],
        name,
        created_at=now,
        description=body.get("description"),
        private=bool(body.get("private", body.get("visibility", "public") != "public")),
        has_wiki=bool(body.get("has_wiki", True)),
        has_issues=bool(body.get("has_issues", True)),
        homepage=body.get("homepage"),
    )
    em.store.add_repo(repo)
    em.store.emit("repository", "created", repo, {})
    subprocess.run(
        ["git", "init", "--quiet", "--bare", "--initial-branch=main", "--", str(em.store.git_dir(repo))], check=True
    )
    em.store.save()
    payload = shapes.repo(repo, em.store, req.urls, full=True, permissions=_repo_permissions(req))
    return ok(payload, 201, [("Location", payload["url"])])


def create_org_repo(em: Emulator, req: Request, org: str) -> Response:
    account = em.store.user(org)
    if account is None or account["type"] != "Organization":
        return not_found()
    p = req.principal
    if p.kind != "installation" or (p.account or "").lower() != account["login"].lower():
        return not_found() if p.kind == "installation" else Response.error(401, "Requires authentication")
    if not p.can("administration", "write"):
        return forbidden()
    return _create_repo(em, req, account)


def create_user_repo(em: Emulator, req: Request) -> Response:
    p = req.principal
    if p.kind != "installation":
        return Response.error(401, "Requires authentication")
    account = em.store.user(p.account or "")
    if account is None or account["type"] != "User" or not p.can("administration", "write"):
        return forbidden()
    return _create_repo(em, req, account)


def search_issues(em: Emulator, req: Request) -> Response:
    if req.principal.kind == "app":
        return forbidden()
    return search.search_issues(em, req, visible, paginate)


def rate_limit(em: Emulator, req: Request) -> Response:
    bucket = em.limiter.peek(req.principal.bucket)
    core = {"limit": bucket.limit, "used": bucket.used, "remaining": bucket.remaining, "reset": bucket.reset}
    found = em.search_limiter.peek(req.principal.bucket)
    other = {"limit": found.limit, "used": found.used, "remaining": found.remaining, "reset": found.reset}
    return ok(
        {
            "resources": {
                "core": core,
                "search": dict(other),
                "graphql": {"limit": bucket.limit, "used": 0, "remaining": bucket.limit, "reset": bucket.reset},
                "integration_manifest": {"limit": 5000, "used": 0, "remaining": 5000, "reset": bucket.reset},
                "code_search": {"limit": 10, "used": 0, "remaining": 10, "reset": bucket.reset},
            },
            "rate": core,
        }
    )


def root(em: Emulator, req: Request) -> Response:
    api = req.urls.api
    return ok(
        {
            "current_user_url": f"{api}/user",
            "repository_url": f"{api}/repos/{{owner}}/{{repo}}",
            "organization_repositories_url": f"{api}/orgs/{{org}}/repos{{?type,page,per_page,sort}}",
            "rate_limit_url": f"{api}/rate_limit",
        }
    )


# ---- one repository ---------------------------------------------------------------------------------
def get_repo(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    return ok(shapes.repo(repo, em.store, req.urls, full=True, permissions=_repo_permissions(req)))


def _branch_sha(em: Emulator, repo: dict[str, Any], branch: str) -> str | None:
    found = subprocess.run(["git", f"--git-dir={em.store.git_dir(repo)}", "rev-parse", "--verify", "--quiet",
                            f"refs/heads/{branch}^{{commit}}"], capture_output=True, text=True)
    return found.stdout.strip() if found.returncode == 0 else None


# Fields of "Update a repository" the emulator keeps; others are accepted and ignored, as GitHub
# ignores what an App may not change.
_UPDATABLE = ("description", "homepage", "private", "has_issues", "has_wiki", "has_projects", "archived")


def update_repo(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    """``PATCH /repos/{owner}/{repo}``: a ``default_branch`` must name an existing branch (422 otherwise,
    as on GitHub); the bare repository's ``HEAD`` follows it, so clones check that branch out."""
    body = req.json() or {}
    branch = body.get("default_branch")
    if branch is not None:
        if not isinstance(branch, str) or _branch_sha(em, repo, branch) is None:
            return unprocessable("Validation Failed", [{"resource": "Repository", "code": "invalid",
                                                        "field": "default_branch"}])
        subprocess.run(["git", f"--git-dir={em.store.git_dir(repo)}", "symbolic-ref", "HEAD", f"refs/heads/{branch}"],
                       check=True, capture_output=True)
        repo["default_branch"] = branch
    for key in _UPDATABLE:
        if key in body:
            repo[key] = body[key]
    repo["updated_at"] = iso(em.store.now())
    em.store.save()
    return ok(shapes.repo(repo, em.store, req.urls, full=True, permissions=_repo_permissions(req)))


# ---- branches, protections and settings (see repo_settings.py) ----------------------------------------
def list_branches(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    """``GET /repos/{o}/{r}/branches``, ``protected=true`` keeping only protected branches."""
    heads = sorted((ref.removeprefix("refs/heads/"), sha) for ref, sha in em.store.read_refs(em.store.git_dir(repo)).items()
                   if ref.startswith("refs/heads/"))
    protections = repo.get("protections", {})
    wanted = req.arg("protected")
    if wanted is not None:
        heads = [(name, sha) for name, sha in heads if (name in protections) == (wanted.lower() == "true")]
    full_name = em.store.full_name(repo)

    def branch(item: tuple[str, str]) -> dict[str, Any]:
        name, sha = item
        url = f"{req.urls.api}/repos/{full_name}/branches/{quote(name, safe='')}/protection"
        return {"name": name, "commit": {"sha": sha, "url": f"{req.urls.api}/repos/{full_name}/commits/{sha}"},
                "protected": name in protections, "protection_url": url}

    return paginate(req, heads, branch, f"/repositories/{repo['id']}/branches")


def get_protection(em: Emulator, req: Request, repo: dict[str, Any], branch: str) -> Response:
    protection = repo.get("protections", {}).get(branch)  # the path arrives decoded; a branch may hold "/"
    if protection is None:
        return Response.error(404, repo_settings.NOT_PROTECTED)
    return ok(repo_settings.protection_shape(em.store.full_name(repo), branch, protection, req.urls))


def put_protection(em: Emulator, req: Request, repo: dict[str, Any], branch: str) -> Response:
    name = branch
    if _branch_sha(em, repo, name) is None:
        return Response.error(404, "Branch not found")
    protection = repo_settings.protection_from_input(req.json() or {})
    if isinstance(protection, str):
        return unprocessable(protection)
    repo.setdefault("protections", {})[name] = protection
    em.store.save()
    return ok(repo_settings.protection_shape(em.store.full_name(repo), name, protection, req.urls))


def list_rulesets(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    full_name = em.store.full_name(repo)
    return paginate(req, repo.get("rulesets", []),
                    lambda rs: repo_settings.ruleset_shape(full_name, repo, rs, req.urls, full=False),
                    f"/repositories/{repo['id']}/rulesets")


def get_ruleset(em: Emulator, req: Request, repo: dict[str, Any], rid: str) -> Response:
    found = next((rs for rs in repo.get("rulesets", []) if rs["id"] == int(rid)), None)
    if found is None:
        return not_found()
    return ok(repo_settings.ruleset_shape(em.store.full_name(repo), repo, found, req.urls, full=True))


def create_ruleset(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    body = req.json() or {}
    if not body.get("name") or body.get("enforcement") not in ("disabled", "active", "evaluate"):
        return unprocessable("Invalid request.\n\nNo subschema in \"anyOf\" matched.")
    if any(rs["name"] == body["name"] for rs in repo.get("rulesets", [])):
        return unprocessable("Validation Failed", [{"resource": "Ruleset", "code": "custom",
                                                    "message": "Name must be unique"}])
    now = iso(em.store.now())
    ruleset = {"id": em.store.next_id("ruleset"), "name": str(body["name"]), "target": body.get("target", "branch"),
               "enforcement": body["enforcement"], "conditions": body.get("conditions") or {},
               "rules": list(body.get("rules") or []), "bypass_actors": list(body.get("bypass_actors") or []),
               "created_at": now, "updated_at": now}
    repo.setdefault("rulesets", []).append(ruleset)
    em.store.save()
    return ok(repo_settings.ruleset_shape(em.store.full_name(repo), repo, ruleset, req.urls, full=True), 201)


def list_environments(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    full_name = em.store.full_name(repo)
    envs = repo.get("environments", [])
    return paginate(req, envs, lambda env: repo_settings.environment_shape(full_name, env, em.store, req.urls),
                    f"/repositories/{repo['id']}/environments",
                    wrap=lambda page: {"total_count": len(envs), "environments": page})


def put_environment(em: Emulator, req: Request, repo: dict[str, Any], name: str) -> Response:
    """``PUT /repos/{o}/{r}/environments/{name}``: create or update; reviewers are ``{"type", "id"}``."""
    body = req.json() or {}
    reviewers = []
    for reviewer in body.get("reviewers") or []:
        account = em.store.user_by_id(int(reviewer.get("id", 0))) if reviewer.get("type") == "User" else None
        if account is None:
            return unprocessable("Validation Failed", [{"resource": "Environment", "code": "invalid", "field": "reviewers"}])
        reviewers.append(account["login"])
    now = iso(em.store.now())
    envs = repo.setdefault("environments", [])
    env = next((e for e in envs if e["name"] == name), None)
    if env is None:
        env = {"id": em.store.next_id("environment"), "name": name, "created_at": now}
        envs.append(env)
    env.update(updated_at=now, wait_timer=int(body.get("wait_timer") or 0), reviewers=reviewers,
               prevent_self_review=bool(body.get("prevent_self_review", False)),
               deployment_branch_policy=body.get("deployment_branch_policy"),
               can_admins_bypass=bool(body.get("can_admins_bypass", True)))
    em.store.save()
    return ok(repo_settings.environment_shape(em.store.full_name(repo), env, em.store, req.urls))


def list_autolinks(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    return ok([repo_settings.autolink_shape(link) for link in repo.get("autolinks", [])])


def create_autolink(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    body = req.json() or {}
    prefix, template = body.get("key_prefix"), body.get("url_template")
    if not prefix or not template or "<num>" not in str(template):
        return unprocessable("Validation Failed", [{"resource": "KeyLink", "code": "invalid", "field": "url_template"}])
    links = repo.setdefault("autolinks", [])
    if any(link["key_prefix"].lower() == str(prefix).lower() for link in links):
        return unprocessable("Validation Failed", [{"resource": "KeyLink", "code": "already_exists", "field": "key_prefix"}])
    link = {"id": em.store.next_id("autolink"), "key_prefix": str(prefix), "url_template": str(template),
            "is_alphanumeric": bool(body.get("is_alphanumeric", True))}
    links.append(link)
    em.store.save()
    location = f"{req.urls.api}/repos/{em.store.full_name(repo)}/autolinks/{link['id']}"
    return ok(repo_settings.autolink_shape(link), 201, [("Location", location)])


def topics(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    return ok({"names": list(repo.get("topics", []))})


def list_collaborators(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    people = [(em.store.user(c["login"]), c["role"]) for c in repo.get("collaborators", [])]
    people = [(u, role) for u, role in people if u is not None]
    return paginate(
        req, people, lambda pr: shapes.collaborator(pr[0], pr[1], req.urls), f"/repositories/{repo['id']}/collaborators"
    )


def list_hooks(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    return paginate(
        req, repo.get("hooks", []), lambda h: shapes.hook(repo, h, em.store, req.urls), f"/repositories/{repo['id']}/hooks"
    )


def list_labels(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    return paginate(
        req, repo["labels"], lambda lab: shapes.label(repo, lab, em.store, req.urls), f"/repositories/{repo['id']}/labels"
    )


def get_label(em: Emulator, req: Request, repo: dict[str, Any], name: str) -> Response:
    for lab in repo["labels"]:
        if lab["name"].lower() == name.lower():
            return ok(shapes.label(repo, lab, em.store, req.urls))
    return not_found()


def create_label(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    body = req.json() or {}
    name = body.get("name")
    if not name:
        return unprocessable("Validation Failed", [{"resource": "Label", "code": "missing_field", "field": "name"}])
    if any(lab["name"].lower() == str(name).lower() for lab in repo["labels"]):
        return unprocessable("Validation Failed", [{"resource": "Label", "code": "already_exists", "field": "name"}])
    color = str(body.get("color") or "ededed").lstrip("#").lower()
    if not re.fullmatch(r"[0-9a-f]{6}", color):
        return unprocessable("Validation Failed", [{"resource": "Label", "code": "invalid", "field": "color"}])
    lab = {"id": em.store.next_id("label"), "name": str(name), "color": color, "description": body.get("description"), "default": False}
    repo["labels"].append(lab)
    em.store.emit("label", "created", repo, lambda c: {"label": shapes.label(repo, lab, em.store, c)})
    em.store.save()
    payload = shapes.label(repo, lab, em.store, req.urls)
    return ok(payload, 201, [("Location", payload["url"])])


def list_milestones(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    state = req.arg("state", "open")
    items = [m for m in repo["milestones"] if state == "all" or m["state"] == state]
    sort = req.arg("sort", "due_on")
    direction = req.arg("direction", "asc")
    if sort == "completeness":
        def key(m: dict[str, Any]) -> Any:
            issues = [i for i in repo["issues"] if i.get("milestone") == m["number"]]
            closed = sum(1 for i in issues if i["state"] == "closed")
            return (closed / len(issues) if issues else 0.0, m["number"])
    else:
        def key(m: dict[str, Any]) -> Any:
            return (m.get("due_on") is None, m.get("due_on") or "", m["number"])
    items.sort(key=key, reverse=direction == "desc")
    return paginate(
        req, items, lambda m: shapes.milestone(repo, m, em.store, req.urls), f"/repositories/{repo['id']}/milestones"
    )


def get_milestone(em: Emulator, req: Request, repo: dict[str, Any], number: str) -> Response:
    for m in repo["milestones"]:
        if m["number"] == int(number):
            return ok(shapes.milestone(repo, m, em.store, req.urls))
    return not_found()


def create_milestone(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    body = req.json() or {}
    title = body.get("title")
    if not title:
        return unprocessable("Validation Failed", [{"resource": "Milestone", "code": "missing_field", "field": "title"}])
    if any(m["title"] == title for m in repo["milestones"]):
        return unprocessable("Validation Failed", [{"resource": "Milestone", "code": "already_exists", "field": "title"}])
    now = iso(em.store.now())
    state = body.get("state", "open")
    m = {
        "id": em.store.next_id("milestone"),
        "number": max([x["number"] for x in repo["milestones"]], default=0) + 1,
        "title": str(title),
        "description": body.get("description"),
        "state": state if state in ("open", "closed") else "open",
        "creator": _actor(em, req),
        "created_at": now,
        "updated_at": now,
        "closed_at": now if state == "closed" else None,
        "due_on": body.get("due_on"),
    }
    repo["milestones"].append(m)
    em.store.emit("milestone", "created", repo, lambda c: {"milestone": shapes.milestone(repo, m, em.store, c)})
    em.store.save()
    payload = shapes.milestone(repo, m, em.store, req.urls)
    return ok(payload, 201, [("Location", payload["url"])])


def _actor(em: Emulator, req: Request) -> str:
    """Writes through an installation token are made by the App's bot user."""
    return em.store.db["app"]["bot"]


# ---- issues ----------------------------------------------------------------------------------------
def find_issue(repo: dict[str, Any], number: int) -> dict[str, Any] | None:
    issues = repo["issues"]
    if 0 < number <= len(issues) and issues[number - 1]["number"] == number:
        return issues[number - 1]
    for i in issues:
        if i["number"] == number:
            return i
    return None


def list_issues(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    state = req.arg("state", "open")
    items = [i for i in repo["issues"] if state == "all" or i["state"] == state]
    labels = [x.strip().lower() for x in (req.arg("labels") or "").split(",") if x.strip()]
    if labels:
        items = [i for i in items if set(labels) <= {n.lower() for n in i.get("labels", [])}]
    since = _since(req)
    if since:
        items = [i for i in items if i["updated_at"] >= since]
    milestone = req.arg("milestone")
    if milestone == "none":
        items = [i for i in items if i.get("milestone") is None]
    elif milestone == "*":
        items = [i for i in items if i.get("milestone") is not None]
    elif milestone and milestone.isdigit():
        items = [i for i in items if i.get("milestone") == int(milestone)]
    creator = req.arg("creator")
    if creator:
        items = [i for i in items if i["user"].lower() == creator.lower()]
    assignee = req.arg("assignee")
    if assignee == "none":
        items = [i for i in items if not i.get("assignees")]
    elif assignee == "*":
        items = [i for i in items if i.get("assignees")]
    elif assignee:
        items = [i for i in items if assignee.lower() in [a.lower() for a in i.get("assignees", [])]]
    sort = req.arg("sort", "created")
    key = {
        "created": lambda i: (i["created_at"], i["number"]),
        "updated": lambda i: (i["updated_at"], i["number"]),
        "comments": lambda i: (len(i.get("comments", [])), i["number"]),
    }.get(sort or "created", lambda i: (i["created_at"], i["number"]))
    items.sort(key=key, reverse=req.arg("direction", "desc") != "asc")
    return paginate(req, items, lambda i: shapes.issue(repo, i, em.store, req.urls), f"/repositories/{repo['id']}/issues")


def get_issue(em: Emulator, req: Request, repo: dict[str, Any], number: str) -> Response:
    issue = find_issue(repo, int(number))
    if issue is None:
        return not_found()
    return ok(shapes.issue(repo, issue, em.store, req.urls))


def _ensure_labels(em: Emulator, repo: dict[str, Any], names: list[Any]) -> list[str]:
    known = {lab["name"].lower(): lab["name"] for lab in repo["labels"]}
    out = []
    for raw in names:
        name = raw.get("name") if isinstance(raw, dict) else str(raw)
        if not name:
            continue
        if name.lower() not in known:
            repo["labels"].append({"id": em.store.next_id("label"), "name": name, "color": "ededed", "description": None, "default": False})
            known[name.lower()] = name
        out.append(known[name.lower()])
    return out


def _apply_issue_fields(em: Emulator, repo: dict[str, Any], issue: dict[str, Any], body: dict[str, Any]) -> Response | None:
    if "milestone" in body:
        m = body["milestone"]
        if m is not None and not any(x["number"] == m for x in repo["milestones"]):
            return unprocessable("Validation Failed", [{"value": m, "resource": "Issue", "field": "milestone", "code": "invalid"}])
        issue["milestone"] = m
    if "labels" in body and body["labels"] is not None:
        issue["labels"] = _ensure_labels(em, repo, list(body["labels"]))
    if "assignees" in body and body["assignees"] is not None:
        issue["assignees"] = [a for a in body["assignees"] if em.store.user(str(a))]
    elif body.get("assignee"):
        issue["assignees"] = [body["assignee"]] if em.store.user(str(body["assignee"])) else []
    for field in ("title", "body"):
        if field in body and body[field] is not None:
            issue[field] = str(body[field])
    return None


def create_issue(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    if not repo.get("has_issues", True):
        return Response.error(410, "Issues are disabled for this repo")
    if repo.get("archived"):
        return forbidden("Repository was archived so is read-only.")
    body = req.json() or {}
    if not body.get("title"):
        return unprocessable("Invalid request.\n\n\"title\" wasn't supplied.")
    now = iso(em.store.now())
    issue: dict[str, Any] = {
        "id": em.store.next_id("issue"),
        "number": next_number(repo),
        "title": "",
        "body": None,
        "user": _actor(em, req),
        "state": "open",
        "state_reason": None,
        "locked": False,
        "labels": [],
        "milestone": None,
        "assignees": [],
        "created_at": now,
        "updated_at": now,
        "closed_at": None,
        "comments": [],
        "author_association": "NONE",
    }
    before = events.fields(issue)
    bad = _apply_issue_fields(em, repo, issue, body)
    if bad:
        return bad
    events.record_changes(em.store, repo, issue, before, _actor(em, req), now, created=True)
    repo["issues"].append(issue)
    repo["updated_at"] = now
    _issue_event(em, repo, issue, "opened")
    em.store.save()
    payload = shapes.issue(repo, issue, em.store, req.urls)
    return ok(payload, 201, [("Location", payload["url"])])


def _issue_event(em: Emulator, repo: dict[str, Any], issue: dict[str, Any], action: str,
                 changes: dict[str, Any] | None = None) -> None:
    store = em.store
    extra = {"changes": changes} if changes else {}
    if issue.get("pull"):
        store.emit("pull_request", action, repo, lambda c: {
            "number": issue["number"], **extra, "pull_request": shapes.pull(repo, issue, store, c, full=True)})
    else:
        store.emit("issues", action, repo, lambda c: {**extra, "issue": shapes.issue(repo, issue, store, c)})


def next_number(repo: dict[str, Any]) -> int:
    repo["next_number"] = repo.get("next_number", len(repo["issues"]) + 1)
    number = repo["next_number"]
    repo["next_number"] += 1
    return number


def update_issue(em: Emulator, req: Request, repo: dict[str, Any], number: str) -> Response:
    issue = find_issue(repo, int(number))
    if issue is None:
        return not_found()
    body = req.json() or {}
    old = {"title": issue.get("title"), "body": issue.get("body")}
    before = events.fields(issue)
    bad = _apply_issue_fields(em, repo, issue, body)
    if bad:
        return bad
    now = iso(em.store.now())
    state = body.get("state")
    if state in ("open", "closed") and state != issue["state"]:
        action = "closed" if state == "closed" else "reopened"
        changes = None
    else:  # GitHub sends "edited" only when the title or body changed
        changes = {k: {"from": v or ""} for k, v in old.items() if issue.get(k) != v}
        action = "edited" if changes else ""
    if state in ("open", "closed") and state != issue["state"]:
        issue["state"] = state
        issue["closed_at"] = now if state == "closed" else None
        issue["closed_by"] = _actor(em, req) if state == "closed" else None
        issue["state_reason"] = body.get("state_reason") or ("completed" if state == "closed" else "reopened")
    elif body.get("state_reason"):
        issue["state_reason"] = body["state_reason"]
    events.record_changes(em.store, repo, issue, before, _actor(em, req), now)
    issue["updated_at"] = now
    if action:
        _issue_event(em, repo, issue, action, changes)
    em.store.save()
    return ok(shapes.issue(repo, issue, em.store, req.urls))


def _all_comments(repo: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(i, c) for i in repo["issues"] for c in i.get("comments", [])]


def repo_issue_comments(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    pairs = _all_comments(repo)
    since = _since(req)
    if since:
        pairs = [(i, c) for i, c in pairs if c["updated_at"] >= since]
    sort = req.arg("sort")
    if sort == "updated":
        pairs.sort(key=lambda p: (p[1]["updated_at"], p[1]["id"]), reverse=req.arg("direction", "desc") == "desc")
    else:
        pairs.sort(key=lambda p: (p[1]["created_at"], p[1]["id"]), reverse=bool(sort) and req.arg("direction", "desc") == "desc")
    return paginate(
        req,
        pairs,
        lambda p: shapes.issue_comment(repo, p[0], p[1], em.store, req.urls),
        f"/repositories/{repo['id']}/issues/comments",
    )


def get_issue_comment(em: Emulator, req: Request, repo: dict[str, Any], cid: str) -> Response:
    for i, c in _all_comments(repo):
        if c["id"] == int(cid):
            return ok(shapes.issue_comment(repo, i, c, em.store, req.urls))
    return not_found()


def issue_comments(em: Emulator, req: Request, repo: dict[str, Any], number: str) -> Response:
    issue = find_issue(repo, int(number))
    if issue is None:
        return not_found()
    items = sorted(issue.get("comments", []), key=lambda c: (c["created_at"], c["id"]))
    since = _since(req)
    if since:
        items = [c for c in items if c["updated_at"] >= since]
    return paginate(
        req,
        items,
        lambda c: shapes.issue_comment(repo, issue, c, em.store, req.urls),
        f"/repositories/{repo['id']}/issues/{issue['number']}/comments",
    )


def create_issue_comment(em: Emulator, req: Request, repo: dict[str, Any], number: str) -> Response:
    issue = find_issue(repo, int(number))
    if issue is None:
        return not_found()
    if issue.get("locked"):
        return forbidden("Unable to create comment because issue is locked.")
    body = req.json() or {}
    if not body.get("body"):
        return unprocessable("Invalid request.\n\n\"body\" wasn't supplied.")
    now = iso(em.store.now())
    comment = {"id": em.store.next_id("comment"), "user": _actor(em, req), "body": str(body["body"]), "created_at": now, "updated_at": now, "author_association": "NONE"}
    issue.setdefault("comments", []).append(comment)
    issue["updated_at"] = now
    em.store.emit("issue_comment", "created", repo, lambda c: {
        "issue": shapes.issue(repo, issue, em.store, c), "comment": shapes.issue_comment(repo, issue, comment, em.store, c)})
    em.store.save()
    payload = shapes.issue_comment(repo, issue, comment, em.store, req.urls)
    return ok(payload, 201, [("Location", payload["url"])])


# ---- pull requests ---------------------------------------------------------------------------------
def list_pulls(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    state = req.arg("state", "open")
    items = [i for i in repo["issues"] if i.get("pull") and (state == "all" or i["state"] == state)]
    base, head = req.arg("base"), req.arg("head")
    if base:
        items = [i for i in items if i["pull"]["base_ref"] == base]
    if head:
        items = [i for i in items if i["pull"]["head_ref"] == head.split(":")[-1]]
    sort = req.arg("sort", "created")
    key = {
        "updated": lambda i: (i["updated_at"], i["number"]),
        "popularity": lambda i: (len(i.get("comments", [])), i["number"]),
        "long-running": lambda i: (i["created_at"], i["number"]),
    }.get(sort or "created", lambda i: (i["created_at"], i["number"]))
    default_dir = "desc" if sort in (None, "created") else "asc"
    items.sort(key=key, reverse=req.arg("direction", default_dir) == "desc")
    return paginate(
        req, items, lambda i: shapes.pull(repo, i, em.store, req.urls, full=False), f"/repositories/{repo['id']}/pulls"
    )


def create_pull(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    """``POST /repos/{owner}/{repo}/pulls``: head and base must be branches of this repository with
    commits between them, else 422 "Validation Failed", as GitHub answers."""
    if repo.get("archived"):
        return forbidden("Repository was archived so is read-only.")
    body = req.json() or {}
    title, head, base = body.get("title"), body.get("head"), body.get("base")
    if not title or not isinstance(head, str) or not isinstance(base, str):
        return unprocessable("Validation Failed", [{"resource": "PullRequest", "code": "missing_field",
                                                    "field": field} for field in ("title", "head", "base")
                                                   if not body.get(field)])
    head = head.split(":", 1)[-1]
    head_sha, base_sha = _branch_sha(em, repo, head), _branch_sha(em, repo, base)
    errors = [{"resource": "PullRequest", "code": "invalid", "field": field}
              for field, sha in (("head", head_sha), ("base", base_sha)) if sha is None]
    if errors:
        return unprocessable("Validation Failed", errors)
    ahead = subprocess.run(["git", f"--git-dir={em.store.git_dir(repo)}", "rev-list", "--count", f"{base_sha}..{head_sha}"],
                           check=True, capture_output=True, text=True).stdout.strip()
    if ahead == "0":
        return unprocessable("Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                                    "message": f"No commits between {base} and {head}"}])
    if any(i.get("pull") and i["state"] == "open" and i["pull"]["head_ref"] == head and i["pull"]["base_ref"] == base
           for i in repo["issues"]):
        return unprocessable("Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                                    "message": f"A pull request already exists for {repo['owner']}:{head}."}])
    now = iso(em.store.now())
    issue: dict[str, Any] = {
        "id": em.store.next_id("issue"), "number": next_number(repo), "title": str(title),
        "body": body.get("body"), "user": _actor(em, req), "state": "open", "state_reason": None,
        "locked": False, "labels": [], "milestone": None, "assignees": [], "created_at": now,
        "updated_at": now, "closed_at": None, "comments": [], "author_association": "NONE",
        "pull": {"id": em.store.next_id("issue"), "head_ref": head, "base_ref": base, "head_sha": head_sha,
                 "base_sha": base_sha, "merged_at": None, "merged_by": None, "merge_commit_sha": None,
                 "draft": bool(body.get("draft", False)), "reviews": [], "review_comments": []},
    }
    repo["issues"].append(issue)
    repo["updated_at"] = now
    em.store.save()
    payload = shapes.pull(repo, issue, em.store, req.urls, full=True)
    return ok(payload, 201, [("Location", payload["url"])])


def create_ref(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    """``POST /repos/{owner}/{repo}/git/refs``: a fully qualified ``ref`` at an existing commit; 422
    when the name is taken or the sha unknown, as on GitHub."""
    body = req.json() or {}
    ref, sha = body.get("ref"), body.get("sha")
    git_dir = em.store.git_dir(repo)
    valid = isinstance(ref, str) and ref.startswith("refs/") and ref.count("/") >= 2 and isinstance(sha, str) \
        and subprocess.run(["git", "check-ref-format", ref], capture_output=True).returncode == 0
    if not valid:
        return unprocessable("Reference name is invalid" if isinstance(sha, str) else "Invalid request.")
    if subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "-e", f"{sha}^{{commit}}"],
                      capture_output=True).returncode != 0:
        return unprocessable("Object does not exist")
    made = subprocess.run(["git", f"--git-dir={git_dir}", "update-ref", ref, sha, ""], capture_output=True)
    if made.returncode != 0:
        return unprocessable("Reference already exists")
    repo["pushed_at"] = repo["updated_at"] = iso(em.store.now())
    em.store.save()
    url = f"{req.urls.api}/repos/{em.store.full_name(repo)}/git/{ref}"
    payload = {"ref": ref, "node_id": shapes.node_id("Ref", f"{repo['id']}:{ref}"), "url": url,
               "object": {"type": "commit", "sha": sha, "url": f"{req.urls.api}/repos/{em.store.full_name(repo)}/git/commits/{sha}"}}
    return ok(payload, 201, [("Location", url)])


def _find_pull(repo: dict[str, Any], number: str) -> dict[str, Any] | None:
    issue = find_issue(repo, int(number))
    return issue if issue is not None and issue.get("pull") else None


def get_pull(em: Emulator, req: Request, repo: dict[str, Any], number: str) -> Response:
    issue = _find_pull(repo, number)
    if issue is None:
        return not_found()
    return ok(shapes.pull(repo, issue, em.store, req.urls, full=True))


def list_reviews(em: Emulator, req: Request, repo: dict[str, Any], number: str) -> Response:
    issue = _find_pull(repo, number)
    if issue is None:
        return not_found()
    return paginate(
        req,
        issue["pull"].get("reviews", []),
        lambda rv: shapes.review(repo, issue, rv, em.store, req.urls),
        f"/repositories/{repo['id']}/pulls/{issue['number']}/reviews",
    )


def pull_review_comments(em: Emulator, req: Request, repo: dict[str, Any], number: str) -> Response:
    issue = _find_pull(repo, number)
    if issue is None:
        return not_found()
    items = list(issue["pull"].get("review_comments", []))
    since = _since(req)
    if since:
        items = [c for c in items if c["updated_at"] >= since]
    return paginate(
        req,
        items,
        lambda rc: shapes.review_comment(repo, issue, rc, em.store, req.urls),
        f"/repositories/{repo['id']}/pulls/{issue['number']}/comments",
    )


def repo_review_comments(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    pairs = [(i, rc) for i in repo["issues"] if i.get("pull") for rc in i["pull"].get("review_comments", [])]
    since = _since(req)
    if since:
        pairs = [(i, c) for i, c in pairs if c["updated_at"] >= since]
    sort = req.arg("sort", "created")
    field = "updated_at" if sort == "updated" else "created_at"
    pairs.sort(key=lambda p: (p[1][field], p[1]["id"]), reverse=req.arg("direction", "asc") == "desc")
    return paginate(
        req,
        pairs,
        lambda p: shapes.review_comment(repo, p[0], p[1], em.store, req.urls),
        f"/repositories/{repo['id']}/pulls/comments",
    )


def pull_commits(em: Emulator, req: Request, repo: dict[str, Any], number: str) -> Response:
    """``GET /repos/{owner}/{repo}/pulls/{n}/commits``: ``git rev-list base..head``, oldest first, at
    most 250 (as GitHub documents)."""
    issue = _find_pull(repo, number)
    if issue is None:
        return not_found()
    return paginate(
        req,
        events.pull_commits(em.store.git_dir(repo), issue["pull"]),
        lambda cm: shapes.pull_commit(repo, cm, em.store, req.urls),
        f"/repositories/{repo['id']}/pulls/{issue['number']}/commits",
    )


# ---- issue events ----------------------------------------------------------------------------------
def _all_events(repo: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(i, ev) for i in repo["issues"] for ev in i.get("events", [])]


def repo_issue_events(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    """``GET /repos/{owner}/{repo}/issues/events``: every issue's events, newest first. GitHub's
    reference documents only ``per_page`` and ``page`` (no ``since``, no ``sort``) and states no order;
    github.com serves the newest first, and so does the emulator."""
    pairs = sorted(_all_events(repo), key=lambda p: (p[1]["created_at"], p[1]["id"]), reverse=True)
    return paginate(
        req,
        pairs,
        lambda p: shapes.issue_event(repo, p[0], p[1], em.store, req.urls, with_issue=True),
        f"/repositories/{repo['id']}/issues/events",
    )


def get_issue_event(em: Emulator, req: Request, repo: dict[str, Any], event_id: str) -> Response:
    for i, ev in _all_events(repo):
        if ev["id"] == int(event_id):
            return ok(shapes.issue_event(repo, i, ev, em.store, req.urls, with_issue=True))
    return not_found()


def issue_events(em: Emulator, req: Request, repo: dict[str, Any], number: str) -> Response:
    """``GET /repos/{owner}/{repo}/issues/{n}/events``: one issue's events, oldest first."""
    issue = find_issue(repo, int(number))
    if issue is None:
        return not_found()
    items = sorted(issue.get("events", []), key=lambda ev: (ev["created_at"], ev["id"]))
    return paginate(
        req,
        items,
        lambda ev: shapes.issue_event(repo, issue, ev, em.store, req.urls, with_issue=False),
        f"/repositories/{repo['id']}/issues/{issue['number']}/events",
    )


# ---- releases --------------------------------------------------------------------------------------
def list_releases(em: Emulator, req: Request, repo: dict[str, Any]) -> Response:
    items = sorted(repo.get("releases", []), key=lambda rel: (rel["created_at"], rel["id"]), reverse=True)
    return paginate(
        req, items, lambda rel: shapes.release(repo, rel, em.store, req.urls), f"/repositories/{repo['id']}/releases"
    )


def _find_release(repo: dict[str, Any], rid: str) -> dict[str, Any] | None:
    return next((rel for rel in repo.get("releases", []) if rel["id"] == int(rid)), None)


def get_release(em: Emulator, req: Request, repo: dict[str, Any], rid: str) -> Response:
    rel = _find_release(repo, rid)
    return ok(shapes.release(repo, rel, em.store, req.urls)) if rel else not_found()


def list_assets(em: Emulator, req: Request, repo: dict[str, Any], rid: str) -> Response:
    rel = _find_release(repo, rid)
    if rel is None:
        return not_found()
    return paginate(
        req,
        rel.get("assets", []),
        lambda a: shapes.asset(repo, rel, a, em.store, req.urls),
        f"/repositories/{repo['id']}/releases/{rel['id']}/assets",
    )


def get_asset(em: Emulator, req: Request, repo: dict[str, Any], aid: str) -> Response:
    for rel in repo.get("releases", []):
        for a in rel.get("assets", []):
            if a["id"] == int(aid):
                if "application/octet-stream" in (req.headers.get("Accept") or ""):
                    location = f"{req.urls.web}/_downloads/release-assets/{a['id']}"
                    return Response(302, b"", [("Location", location)])
                return ok(shapes.asset(repo, rel, a, em.store, req.urls))
    return not_found()


def download(em: Emulator, match: re.Match[str]) -> Response:
    """Asset bytes: the 302 target of an octet-stream asset request, or a browser_download_url."""
    from urllib.parse import unquote

    Resp = Response
    with em.store.lock:
        groups = match.groupdict()
        asset_id = int(groups["id"]) if groups.get("id") else None
        if asset_id is None:
            repo = em.store.repo_by_name(unquote(groups["owner"]), unquote(groups["repo"]))
            if repo is None:
                return Resp(404, b"Not Found", [("Content-Type", "text/plain")], counts=False)
            for rel in repo.get("releases", []):
                if rel["tag_name"] == unquote(groups["tag"]):
                    for a in rel.get("assets", []):
                        if a["name"] == unquote(groups["name"]):
                            asset_id = a["id"]
        path = em.store.asset_path(asset_id) if asset_id is not None else None
    if path is None or not path.is_file():
        return Resp(404, b"Not Found", [("Content-Type", "text/plain")], counts=False)
    return Resp(200, path.read_bytes(), [("Content-Type", "application/octet-stream")], counts=False)


def _compile(routes: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [(r[0], re.compile(r[1]), *r[2:]) for r in routes]


TOP_ROUTES = _compile(
    [
        ("GET", r"/", root),
        ("GET", r"/app", get_app),
        ("GET", r"/app/installations", list_installations),
        ("GET", r"/app/hook/deliveries", list_deliveries),
        ("GET", r"/app/hook/deliveries/(?P<did>\d+)", get_delivery),
        ("POST", r"/app/hook/deliveries/(?P<did>\d+)/attempts", redeliver),
        ("GET", r"/app/installations/(?P<iid>\d+)", get_installation),
        ("POST", r"/app/installations/(?P<iid>\d+)/access_tokens", create_token),
        ("GET", r"/orgs/(?P<account>[^/]+)/installation", installation_for),
        ("GET", r"/users/(?P<account>[^/]+)/installation", installation_for),
        ("GET", r"/installation/repositories", installation_repos),
        ("GET", r"/orgs/(?P<org>[^/]+)/repos", org_repos),
        ("GET", r"/organizations/(?P<oid>\d+)/repos", org_repos),
        ("POST", r"/orgs/(?P<org>[^/]+)/repos", create_org_repo),
        ("GET", r"/users/(?P<user>[^/]+)/repos", user_repos),
        ("GET", r"/user/(?P<uid>\d+)/repos", user_repos),
        ("POST", r"/user/repos", create_user_repo),
        ("GET", r"/user", authenticated_user),
        ("GET", r"/orgs/(?P<org>[^/]+)", get_org),
        ("GET", r"/users/(?P<user>[^/]+)", get_user),
        ("GET", r"/rate_limit", rate_limit),
        ("GET", r"/search/issues", search_issues),
    ]
)

REPO_ROUTES = _compile(
    [
        ("GET", r"", "metadata", get_repo),
        ("PATCH", r"", "administration", update_repo),
        ("GET", r"/branches", "metadata", list_branches),
        ("GET", r"/branches/(?P<branch>.+)/protection", "administration", get_protection),
        ("PUT", r"/branches/(?P<branch>.+)/protection", "administration", put_protection),
        ("GET", r"/rulesets", "metadata", list_rulesets),
        ("POST", r"/rulesets", "administration", create_ruleset),
        ("GET", r"/rulesets/(?P<rid>\d+)", "metadata", get_ruleset),
        ("GET", r"/environments", "actions", list_environments),
        ("PUT", r"/environments/(?P<name>[^/]+)", "administration", put_environment),
        ("GET", r"/autolinks", "administration", list_autolinks),
        ("POST", r"/autolinks", "administration", create_autolink),
        ("GET", r"/topics", "metadata", topics),
        ("GET", r"/collaborators", "metadata", list_collaborators),
        ("GET", r"/hooks", "repository_hooks", list_hooks),
        ("GET", r"/labels", "issues", list_labels),
        ("POST", r"/labels", "issues", create_label),
        ("GET", r"/labels/(?P<name>[^/]+)", "issues", get_label),
        ("GET", r"/milestones", "issues", list_milestones),
        ("POST", r"/milestones", "issues", create_milestone),
        ("GET", r"/milestones/(?P<number>\d+)", "issues", get_milestone),
        ("GET", r"/issues", "issues", list_issues),
        ("POST", r"/issues", "issues", create_issue),
        ("GET", r"/issues/comments", "issues", repo_issue_comments),
        ("GET", r"/issues/comments/(?P<cid>\d+)", "issues", get_issue_comment),
        ("GET", r"/issues/events", "issues", repo_issue_events),
        ("GET", r"/issues/events/(?P<event_id>\d+)", "issues", get_issue_event),
        ("GET", r"/issues/(?P<number>\d+)", "issues", get_issue),
        ("GET", r"/issues/(?P<number>\d+)/events", "issues", issue_events),
        ("PATCH", r"/issues/(?P<number>\d+)", "issues", update_issue),
        ("GET", r"/issues/(?P<number>\d+)/comments", "issues", issue_comments),
        ("POST", r"/issues/(?P<number>\d+)/comments", "issues", create_issue_comment),
        ("GET", r"/pulls", "pull_requests", list_pulls),
        ("POST", r"/pulls", "pull_requests", create_pull),
        ("POST", r"/git/refs", "contents", create_ref),
        ("GET", r"/pulls/comments", "pull_requests", repo_review_comments),
        ("GET", r"/pulls/(?P<number>\d+)", "pull_requests", get_pull),
        ("GET", r"/pulls/(?P<number>\d+)/reviews", "pull_requests", list_reviews),
        ("GET", r"/pulls/(?P<number>\d+)/comments", "pull_requests", pull_review_comments),
        ("GET", r"/pulls/(?P<number>\d+)/commits", "pull_requests", pull_commits),
        ("GET", r"/releases", "contents", list_releases),
        ("GET", r"/releases/(?P<rid>\d+)", "contents", get_release),
        ("GET", r"/releases/(?P<rid>\d+)/assets", "contents", list_assets),
        ("GET", r"/releases/assets/(?P<aid>\d+)", "contents", get_asset),
    ]
)
