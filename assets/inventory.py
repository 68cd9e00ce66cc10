"""The customer's repositories and what GitHub says about each: the list every other asset follows."""


import json
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from assets.capture import Capture
from assets.common import backup_step, per_repository
from assets.policy import BackupPolicy
from resources import names
from resources.audit import AuditLogResource, canonical_json
from resources.clock import Clock
from resources.errors import GitHubError, IntegrityError, InvalidNameError
from resources.github import GitHubAppResource, InstallationClient
from resources.snapshot_store import SnapshotStoreResource

# Fields copied from the repository object into the manifest, for the other assets and for listings.
SUMMARY_FIELDS = ("id", "full_name", "private", "fork", "archived", "disabled", "has_wiki", "has_issues",
                  "default_branch", "size", "pushed_at")


def repository_metadata(client: InstallationClient, raw: dict[str, Any]) -> dict[str, Any]:
    """Everything the App may read about one repository beyond its git data and issues."""
    full_name = raw["full_name"]
    return {
        "repository": raw,
        "labels": client.labels(full_name),
        "milestones": client.milestones(full_name),
        "releases": client.releases(full_name),
        "collaborators": client.collaborators(full_name),
        "hooks": client.hooks(full_name),
    }


def back_up_inventory(
    context: AssetExecutionContext,
    *,
    github: GitHubAppResource,
    store: SnapshotStoreResource,
    clock: Clock,
    policy: BackupPolicy,
    audit: AuditLogResource,
) -> dg.MaterializeResult:
    """The ``inventory`` step of a snapshot (``assets/snapshot.py``)."""
    log = audit.get_client()
    with backup_step(context, "inventory", log):
        return capture_inventory(Capture(context, store.get_client(), clock, policy, log), github, context, policy)


def capture_inventory(capture: Capture, github: GitHubAppResource, context: AssetExecutionContext,
                      policy: BackupPolicy) -> dg.MaterializeResult:
    client = github.get_client().installation_for(capture.customer)
    # Yesterday's ETags (and the bodies they name) make today's unchanged answers 304s, which cost
    # no rate limit; the cache is stored encrypted like everything else, and referenced here.
    previous = capture.previous("inventory")
    cache_blob = (previous.body.get("etag_cache") or {}).get("blob") if previous else None
    client.etag_cache = _etag_cache(capture, cache_blob, context) if cache_blob else {}
    before = client.requests_made

    def one(raw: dict[str, Any]) -> dict[str, Any]:
        entry: dict[str, Any] = {field: raw.get(field) for field in SUMMARY_FIELDS}
        try:
            names.full_name(raw["full_name"])
            ref = capture.put(canonical_json(repository_metadata(client, raw)))
            entry.update(blob=ref.id, blob_size=ref.size)
        except InvalidNameError as exc:
            entry["reason"] = f"skipped: {exc}"
            context.log.warning(f"skipping repository id {raw.get('id')}: {exc}")
        except GitHubError as exc:
            if exc.status not in (404, 410):
                raise
            entry["reason"] = f"gone: GitHub answered {exc.status} while reading its metadata"
        return entry

    entries = per_repository(one, sorted(client.repositories(), key=lambda repo: repo["id"]),
                             workers=policy.parallelism, name="inventory", label=lambda raw: str(raw.get("full_name")))
    requests = client.requests_made - before
    cache = capture.put(canonical_json(client.etag_cache))
    capture.commit("inventory", {"installation_id": client.installation.id, "repositories": entries,
                                 "api_requests": requests, "etag_cache": {"blob": cache.id, "size": cache.size}})
    skipped = sum(1 for entry in entries if "reason" in entry)
    return dg.MaterializeResult(
        metadata=capture.metadata(
            api_requests=requests,
            not_modified=dg.MetadataValue.int(client.not_modified),
            repositories=dg.MetadataValue.int(len(entries)),
            skipped=dg.MetadataValue.int(skipped),
            private=dg.MetadataValue.int(sum(1 for entry in entries if entry.get("private"))),
            archived=dg.MetadataValue.int(sum(1 for entry in entries if entry.get("archived"))),
        )
    )


def _etag_cache(capture: Capture, blob: str, context: AssetExecutionContext) -> dict[str, Any]:
    """Yesterday's ETags; a cache, so an unreadable one is a miss (a full read), never a failure."""
    try:
        cache = json.loads(capture.store.read_blob(capture.customer, blob))
    except (IntegrityError, ValueError) as exc:
        context.log.warning(f"ETag cache blob {blob} unreadable, reading everything afresh: {exc}")
        return {}
    return cache if isinstance(cache, dict) else {}


def backed_up_repositories(inventory_body: dict[str, Any]) -> list[dict[str, Any]]:
    """The inventory entries the other assets must cover (those with a recorded reason are reported as such)."""
    return list(inventory_body.get("repositories", []))
