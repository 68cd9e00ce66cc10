"""The customer's repositories and what GitHub says about each: the list every other asset follows."""


import datetime as dt
import json
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from assets import protections
from assets.bodies import SUMMARY_FIELDS, BlobLink, InventoryBody, InventoryEntry, SettingsLink
from assets.capture import Capture
from assets.common import per_repository
from assets.policy import BackupPolicy
from assets.release_assets import AssetBudget, capture_release_assets
from resources import names
from resources.canonical import canonical_json
from resources.errors import GitHubError, IntegrityError, InvalidNameError
from resources.github import GitHubAppResource, InstallationClient
from resources.snapshot_store import Manifest


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


def capture_inventory(capture: Capture, github: GitHubAppResource, context: AssetExecutionContext,
                      policy: BackupPolicy) -> dg.MaterializeResult:
    """The ``inventory`` step of a snapshot (``assets/snapshot.py``)."""
    client = github.installation_client(capture.customer)
    # Yesterday's ETags (and the bodies they name) make today's unchanged answers 304s, which cost
    # no rate limit; the cache is stored encrypted like everything else, and referenced here.
    previous = capture.previous("inventory")
    client.etag_cache = _etag_cache(capture, previous, context) if previous else {}
    before, not_modified = client.requests_made, client.not_modified
    yesterday = {entry.key: entry for entry in InventoryBody.of(previous).repositories} if previous else {}
    budget = AssetBudget(policy.release_assets_max_bytes)

    def one(raw: dict[str, Any]) -> InventoryEntry:
        summary = {name: raw.get(name) for name in SUMMARY_FIELDS}
        try:
            names.full_name(raw["full_name"])
            metadata = repository_metadata(client, raw)
            ref = capture.put(canonical_json(metadata))
            earlier = yesterday.get(str(raw["id"]))
            assets = capture_release_assets(capture, client, raw["full_name"], metadata["releases"],
                                            earlier.release_assets if earlier else None, budget)
            settings = earlier.settings if earlier else None
            if settings is None or policy.full_read_due(raw["id"], capture.date,
                                                        dt.date.fromisoformat(settings.read_on)):
                found = capture.put(canonical_json(protections.read_protections(client, raw["full_name"])))
                settings = SettingsLink(found.id, found.size, capture.date)
            else:
                capture.reuse(settings.blob, settings.size)
            return InventoryEntry(raw["id"], raw["full_name"], summary, blob=ref.id, blob_size=ref.size,
                                  settings=settings, release_assets=assets)
        except InvalidNameError as exc:
            context.log.warning(f"skipping repository id {raw.get('id')}: {exc}")
            return InventoryEntry(raw["id"], raw["full_name"], summary, reason=f"skipped: {exc}")
        except GitHubError as exc:
            if exc.status not in (404, 410):
                raise
            return InventoryEntry(raw["id"], raw["full_name"], summary,
                                  reason=f"gone: GitHub answered {exc.status} while reading its metadata")

    entries = per_repository(one, sorted(client.repositories(), key=lambda repo: repo["id"]),
                             workers=policy.parallelism, name="inventory", label=lambda raw: str(raw.get("full_name")))
    requests = client.requests_made - before
    stored = capture.put(canonical_json(client.etag_cache))
    client.etag_cache = None  # the client is shared with the other assets of the snapshot: the cache is ours
    capture.commit("inventory", InventoryBody(installation_id=client.installation.id, repositories=tuple(entries),
                                              api_requests=requests, etag_cache=BlobLink(stored.id, stored.size)))
    if budget.skipped:
        context.log.warning(f"{budget.skipped} release asset(s) of {capture.customer} not kept: they would pass the "
                            f"cap of {budget.max_bytes} bytes (BACKHUB_RELEASE_ASSETS_MAX_BYTES)")
    skipped = sum(1 for entry in entries if entry.reason)
    return dg.MaterializeResult(
        metadata=capture.metadata(
            api_requests=requests,
            not_modified=dg.MetadataValue.int(client.not_modified - not_modified),
            repositories=dg.MetadataValue.int(len(entries)),
            skipped=dg.MetadataValue.int(skipped),
            settings_read=dg.MetadataValue.int(sum(1 for e in entries if e.settings and e.settings.read_on == capture.date)),
            release_asset_bytes=dg.MetadataValue.int(budget.used),
            release_assets_over_cap=dg.MetadataValue.int(budget.skipped),
            private=dg.MetadataValue.int(sum(1 for entry in entries if entry.get("private"))),
            archived=dg.MetadataValue.int(sum(1 for entry in entries if entry.get("archived"))),
        )
    )


def _etag_cache(capture: Capture, previous: Manifest, context: AssetExecutionContext) -> dict[str, Any]:
    """Yesterday's ETags; a cache, so an unreadable one is a miss (a full read), never a failure."""
    try:
        link = InventoryBody.of(previous).etag_cache
        if link is None:
            return {}
        cache = json.loads(capture.store.read_blob(capture.customer, link.blob))
    except (IntegrityError, ValueError) as exc:
        context.log.warning(f"ETag cache of {previous.date} unreadable, reading everything afresh: {exc}")
        return {}
    return cache if isinstance(cache, dict) else {}
