"""Put a snapshot's protections and settings back on GitHub (docs/format.md 9.1, ``settings``).

GitHub reads and writes them in different shapes ("Get branch protection" answers
``{"enforce_admins": {"enabled": true}}`` where "Update branch protection" takes
``"enforce_admins": true``): each ``*_input`` below turns a stored answer into the write's body.
What GitHub refuses (a plan without protected private branches, a reviewer who left) becomes a note,
not a failed restore: the git data and issues matter more than a rule.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from resources.errors import GitHubError
from resources.github import InstallationClient

_SWITCHES = ("required_linear_history", "allow_force_pushes", "allow_deletions", "block_creations",
             "required_conversation_resolution", "lock_branch", "allow_fork_syncing")
_REVIEW_FIELDS = ("dismiss_stale_reviews", "require_code_owner_reviews", "required_approving_review_count",
                  "require_last_push_approval")


def apply_settings(client: InstallationClient, destination: str, settings: dict[str, Any], branches: set[str],
                   notes: list[str]) -> int:
    """Recreate protections of restored branches, rulesets, environments and autolinks; how many were."""
    base = f"/repos/{destination}"
    writes: list[tuple[str, str, str, Any]] = []
    for branch, protection in sorted((settings.get("branch_protections") or {}).items()):
        if branch not in branches:
            notes.append(f"protection of {branch!r} not restored: the snapshot holds no such branch")
            continue
        if protection.get("restrictions"):
            notes.append(f"push restrictions of {branch!r} not restored: they name people and teams of the "
                         "original organization")
        writes.append((f"protection of {branch!r}", "PUT",
                       f"{base}/branches/{urllib.parse.quote(branch, safe='/')}/protection", protection_input(protection)))
    for ruleset in settings.get("rulesets") or []:
        writes.append((f"ruleset {ruleset.get('name')!r}", "POST", f"{base}/rulesets", ruleset_input(ruleset)))
    for environment in settings.get("environments") or []:
        name = urllib.parse.quote(str(environment["name"]), safe="")
        writes.append((f"environment {environment['name']!r}", "PUT", f"{base}/environments/{name}",
                       environment_input(environment)))
    for link in settings.get("autolinks") or []:
        writes.append((f"autolink {link.get('key_prefix')!r}", "POST", f"{base}/autolinks",
                       {key: link[key] for key in ("key_prefix", "url_template", "is_alphanumeric") if key in link}))
    applied = 0
    for what, verb, path, body in writes:
        try:
            client.send_json(verb, path, body)
            applied += 1
        except GitHubError as exc:
            if exc.status not in (403, 404, 422):
                raise
            notes.append(f"{what} not restored: GitHub answered {exc.status}: {exc}")
    for kind in settings.get("not_permitted") or []:
        notes.append(f"{kind} were not backed up: the App may not read them")
    return applied


def protection_input(stored: dict[str, Any]) -> dict[str, Any]:
    """"Update branch protection"'s body from "Get branch protection"'s answer."""
    checks = stored.get("required_status_checks")
    reviews = stored.get("required_pull_request_reviews")
    return {
        "required_status_checks": None if checks is None else {
            "strict": bool(checks.get("strict")), "contexts": list(checks.get("contexts") or [])},
        "enforce_admins": bool((stored.get("enforce_admins") or {}).get("enabled")),
        "required_pull_request_reviews": None if reviews is None else {
            key: reviews[key] for key in _REVIEW_FIELDS if key in reviews},
        "restrictions": None,
        **{name: bool((stored.get(name) or {}).get("enabled")) for name in _SWITCHES},
    }


def ruleset_input(stored: dict[str, Any]) -> dict[str, Any]:
    return {key: stored[key] for key in ("name", "target", "enforcement", "conditions", "rules", "bypass_actors")
            if key in stored}


def environment_input(stored: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"deployment_branch_policy": stored.get("deployment_branch_policy"),
                            "can_admins_bypass": bool(stored.get("can_admins_bypass", True))}
    for rule in stored.get("protection_rules") or []:
        if rule.get("type") == "wait_timer":
            body["wait_timer"] = int(rule.get("wait_timer") or 0)
        elif rule.get("type") == "required_reviewers":
            body["prevent_self_review"] = bool(rule.get("prevent_self_review"))
            body["reviewers"] = [{"type": reviewer["type"], "id": int(reviewer["reviewer"]["id"])}
                                 for reviewer in rule.get("reviewers") or [] if reviewer.get("reviewer")]
    return body
