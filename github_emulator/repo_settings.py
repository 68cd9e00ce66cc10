"""A repository's protections and settings: protected branches, rulesets, environments, autolinks.

Stored on the repository record in the form GitHub's write endpoints take, served in the form its read
endpoints give (the two differ: "Update branch protection" takes ``enforce_admins: true``, "Get branch
protection" answers ``{"url": ..., "enabled": true}``). Permissions, per GitHub's REST reference:
branch protection and autolinks need ``administration``, environments ``actions``, rulesets ``metadata``.
Environment secrets and variables are never served here, as a backup must never hold them.
"""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import quote

from .http import Urls
from .shapes import node_id, user

NOT_PROTECTED = "Branch not protected"

# The boolean switches of a protection, each served as {"enabled": bool}.
_SWITCHES = ("required_linear_history", "allow_force_pushes", "allow_deletions", "block_creations",
             "required_conversation_resolution", "lock_branch", "allow_fork_syncing")
_REVIEW_FIELDS = ("dismiss_stale_reviews", "require_code_owner_reviews", "required_approving_review_count",
                  "require_last_push_approval")


# ---- seeding ----------------------------------------------------------------------------------------
def seed(store: Any, repo: dict[str, Any], rng: random.Random, people: list[str]) -> None:
    """Give a repository protections and settings of the kinds GitHub has, derived from ``rng``."""
    branch = repo["default_branch"]
    repo["protections"] = {branch: {
        "required_status_checks": {"strict": rng.random() < 0.5, "contexts": ["ci/test", "lint ✓"]},
        "enforce_admins": rng.random() < 0.5,
        "required_pull_request_reviews": {"dismiss_stale_reviews": True, "require_code_owner_reviews": False,
                                          "required_approving_review_count": rng.randint(1, 2),
                                          "require_last_push_approval": False},
        "restrictions": None,
        **{name: rng.random() < 0.3 for name in _SWITCHES},
        "required_signatures": False,
    }}
    created = repo["created_at"]
    repo["rulesets"] = [{
        "id": store.next_id("ruleset"), "name": "release tags — protected", "target": "tag", "enforcement": "active",
        "conditions": {"ref_name": {"include": ["refs/tags/v*"], "exclude": []}},
        "rules": [{"type": "deletion"}, {"type": "non_fast_forward"}, {"type": "update"}],
        "bypass_actors": [], "created_at": created, "updated_at": created,
    }]
    repo["environments"] = [
        {"id": store.next_id("environment"), "name": "production", "created_at": created, "updated_at": created,
         "wait_timer": rng.choice([0, 5, 30]), "reviewers": people[:2], "prevent_self_review": True,
         "deployment_branch_policy": {"protected_branches": True, "custom_branch_policies": False},
         "can_admins_bypass": False},
        {"id": store.next_id("environment"), "name": "staging ünï", "created_at": created, "updated_at": created,
         "wait_timer": 0, "reviewers": [], "prevent_self_review": False, "deployment_branch_policy": None,
         "can_admins_bypass": True},
    ]
    repo["autolinks"] = [{"id": store.next_id("autolink"), "key_prefix": "TICKET-",
                          "url_template": "https://tracker.example.test/browse/TICKET-<num>",
                          "is_alphanumeric": False}]


# ---- shapes -----------------------------------------------------------------------------------------
def protection_shape(full_name: str, branch: str, p: dict[str, Any], c: Urls) -> dict[str, Any]:
    url = f"{c.api}/repos/{full_name}/branches/{quote(branch, safe='')}/protection"
    body: dict[str, Any] = {"url": url, "required_signatures": {"url": f"{url}/required_signatures",
                                                                "enabled": bool(p.get("required_signatures"))},
                            "enforce_admins": {"url": f"{url}/enforce_admins", "enabled": bool(p.get("enforce_admins"))}}
    checks = p.get("required_status_checks")
    if checks is not None:
        body["required_status_checks"] = {
            "url": f"{url}/required_status_checks", "strict": bool(checks.get("strict")),
            "contexts": list(checks.get("contexts") or []), "contexts_url": f"{url}/required_status_checks/contexts",
            "checks": [{"context": context, "app_id": None} for context in checks.get("contexts") or []]}
    reviews = p.get("required_pull_request_reviews")
    if reviews is not None:
        body["required_pull_request_reviews"] = {"url": f"{url}/required_pull_request_reviews",
                                                 **{key: reviews[key] for key in _REVIEW_FIELDS if key in reviews}}
    for name in _SWITCHES:
        body[name] = {"enabled": bool(p.get(name))}
    return body


def ruleset_shape(full_name: str, repo: dict[str, Any], rs: dict[str, Any], c: Urls, *, full: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": rs["id"], "name": rs["name"], "target": rs["target"], "source_type": "Repository",
        "source": full_name, "enforcement": rs["enforcement"], "node_id": node_id("RepositoryRuleset", rs["id"]),
        "_links": {"self": {"href": f"{c.api}/repos/{full_name}/rulesets/{rs['id']}"},
                   "html": {"href": f"{c.web}/{full_name}/rules/{rs['id']}"}},
        "created_at": rs["created_at"], "updated_at": rs["updated_at"],
    }
    if full:  # the list leaves out conditions, rules and bypass actors, as GitHub's does
        body.update(conditions=rs["conditions"], rules=rs["rules"], bypass_actors=rs["bypass_actors"],
                    current_user_can_bypass="never")
    return body


def environment_shape(full_name: str, env: dict[str, Any], store: Any, c: Urls) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    if env.get("wait_timer"):
        rules.append({"id": env["id"] * 10 + 1, "node_id": node_id("Gate", env["id"] * 10 + 1), "type": "wait_timer",
                      "wait_timer": env["wait_timer"]})
    if env.get("reviewers"):
        people = [store.user(login) for login in env["reviewers"]]
        rules.append({"id": env["id"] * 10 + 2, "node_id": node_id("Gate", env["id"] * 10 + 2),
                      "type": "required_reviewers", "prevent_self_review": bool(env.get("prevent_self_review")),
                      "reviewers": [{"type": "User", "reviewer": user(u, c)} for u in people if u is not None]})
    if env.get("deployment_branch_policy"):
        rules.append({"id": env["id"] * 10 + 3, "node_id": node_id("Gate", env["id"] * 10 + 3), "type": "branch_policy"})
    return {
        "id": env["id"], "node_id": node_id("Environment", env["id"]), "name": env["name"],
        "url": f"{c.api}/repos/{full_name}/environments/{quote(env['name'], safe='')}",
        "html_url": f"{c.web}/{full_name}/deployments/activity_log?environments_filter={quote(env['name'], safe='')}",
        "created_at": env["created_at"], "updated_at": env["updated_at"],
        "can_admins_bypass": bool(env.get("can_admins_bypass", True)),
        "protection_rules": rules, "deployment_branch_policy": env.get("deployment_branch_policy"),
    }


def autolink_shape(link: dict[str, Any]) -> dict[str, Any]:
    return {key: link[key] for key in ("id", "key_prefix", "url_template", "is_alphanumeric")}


# ---- reading the write endpoints' input -------------------------------------------------------------
def protection_from_input(body: dict[str, Any]) -> dict[str, Any] | str:
    """"Update branch protection" input, or the message of its 422: four keys are required (null allowed)."""
    missing = [key for key in ("required_status_checks", "enforce_admins", "required_pull_request_reviews",
                               "restrictions") if key not in body]
    if missing:
        return f"Invalid request.\n\n{', '.join(repr(k) for k in missing)} wasn't supplied."
    checks = body["required_status_checks"]
    reviews = body["required_pull_request_reviews"]
    return {
        "required_status_checks": None if checks is None else {
            "strict": bool(checks.get("strict")),
            "contexts": list(checks.get("contexts") or [c.get("context") for c in checks.get("checks") or []])},
        "enforce_admins": bool(body["enforce_admins"]),
        "required_pull_request_reviews": None if reviews is None else {
            key: reviews[key] for key in _REVIEW_FIELDS if key in reviews},
        "restrictions": body["restrictions"],
        **{name: bool(body.get(name, False)) for name in _SWITCHES},
        "required_signatures": False,
    }
