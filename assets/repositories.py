"""Git data of every repository: every ref, as a chain of encrypted bundles."""


import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from assets.capture import Capture
from assets.common import backup_step, per_repository
from assets.git_chain import snapshot_git
from assets.policy import BackupPolicy
from resources.audit import AuditLogResource
from resources.clock import Clock
from resources.errors import RemoteNotFoundError
from resources.git import GitResource
from resources.github import GitHubAppResource, InstallationClient
from resources.snapshot_store import SnapshotStoreResource


class _Credentials:
    """Per fetch, git's credentials: the current token, then a fresh one if git is refused (the token
    expired mid-run). One lock, because the installation client is shared by the fetching threads."""

    def __init__(self, client: InstallationClient):
        self._client = client
        self._lock = threading.Lock()

    def for_one_fetch(self) -> Callable[[], dict[str, str]]:
        with self._lock:
            environment = self._client.git_credentials()

        def locked() -> dict[str, str]:
            with self._lock:
                return environment()

        return locked


def back_up_git_data(
    context: AssetExecutionContext,
    *,
    asset: str,
    wiki: bool,
    github: GitHubAppResource,
    git: GitResource,
    store: SnapshotStoreResource,
    clock: Clock,
    policy: BackupPolicy,
    audit: AuditLogResource,
) -> dg.MaterializeResult:
    """Shared by ``repositories`` and ``wikis``: one bundle chain per repository (or wiki)."""
    log = audit.get_client()
    with backup_step(context, asset, log):
        return _back_up(Capture(context, store.get_client(), clock, policy, log), asset=asset, wiki=wiki, github=github,
                        git=git, policy=policy)


def _back_up(capture: Capture, *, asset: str, wiki: bool, github: GitHubAppResource, git: GitResource,
             policy: BackupPolicy) -> dg.MaterializeResult:
    listing = capture.store.read_manifest(capture.customer, capture.date, "inventory").body["repositories"]
    previous = capture.previous(asset)
    previous_entries: dict[str, Any] = previous.body["repositories"] if previous else {}
    client = github.get_client().installation_for(capture.customer)
    before = client.requests_made
    git_client = git.get_client()
    credentials = _Credentials(client)

    def one(repo: dict[str, Any]) -> dict[str, Any]:
        full_name = repo["full_name"]
        entry: dict[str, Any] = {"full_name": full_name}
        if "reason" in repo:
            return {**entry, "reason": repo["reason"]}
        if wiki and not repo.get("has_wiki"):
            return {**entry, "state": "disabled"}
        url = client.wiki_url(full_name) if wiki else client.git_url(full_name)
        previous_entry = previous_entries.get(str(repo["id"]))
        try:
            if wiki and (previous_entry or {}).get("state") == "never_created":
                # Still no first page? One ref advertisement says so without creating a mirror.
                git_client.ls_remote(url, credentials.for_one_fetch())
            data = snapshot_git(
                git=git_client,
                capture=capture,
                policy=policy,
                mirror=git_client.mirror_path(capture.customer, full_name, wiki=wiki),
                url=url,
                credentials=credentials.for_one_fetch(),
                previous=previous_entry,
            )
        except RemoteNotFoundError:
            if wiki:  # GitHub serves no wiki repository until its first page is written
                return {**entry, "state": "never_created"}
            return {**entry, "reason": "gone: the repository no longer exists on GitHub"}
        if wiki:
            entry["state"] = "populated"
        return {**entry, **data}

    results = per_repository(one, listing, workers=policy.parallelism, name=asset,
                             label=lambda repo: str(repo["full_name"]))
    entries = {str(repo["id"]): result for repo, result in zip(listing, results, strict=True)}
    requests = client.requests_made - before
    capture.commit(asset, {"repositories": entries, "api_requests": requests})

    bundles = Counter(entry.get("bundle", "none") for entry in entries.values())
    counts: dict[str, Any] = {
        "repositories": dg.MetadataValue.int(len(entries)),
        "refs": dg.MetadataValue.int(sum(len(entry.get("tips", {})) for entry in entries.values())),
        "full_bundles": dg.MetadataValue.int(bundles["full"]),
        "incremental_bundles": dg.MetadataValue.int(bundles["incremental"]),
        "unchanged": dg.MetadataValue.int(bundles["unchanged"]),
        "not_fetched": dg.MetadataValue.int(sum(1 for entry in entries.values() if entry.get("fetched") is False)),
        "empty": dg.MetadataValue.int(bundles["empty"]),
        "with_reason": dg.MetadataValue.int(sum(1 for entry in entries.values() if "reason" in entry)),
    }
    if wiki:
        states = Counter(entry.get("state", "unknown") for entry in entries.values())
        counts.update({f"wikis_{state}": dg.MetadataValue.int(n) for state, n in sorted(states.items())})
    return dg.MaterializeResult(metadata=capture.metadata(api_requests=requests, **counts))
