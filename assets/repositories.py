"""Git data of every repository: every ref, as a chain of encrypted bundles, and the Git LFS objects the
refs reach (``assets.lfs``)."""


import dataclasses
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import dagster as dg

from assets.bodies import GitBody, GitEntry, InventoryBody, InventoryEntry
from assets.capture import Capture
from assets.common import per_repository, repository_failure
from assets.git_chain import snapshot_git
from assets.lfs import LfsIndex, capture_lfs
from assets.policy import BackupPolicy
from resources.errors import BackhubError, RemoteNotFoundError
from resources.git import GitResource
from resources.github import GitHubAppResource, InstallationClient


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


def capture_git_data(capture: Capture, *, asset: str, wiki: bool, github: GitHubAppResource, git: GitResource,
                     policy: BackupPolicy) -> dg.MaterializeResult:
    """The ``repositories`` and ``wikis`` steps of a snapshot: one bundle chain per repository (or wiki)."""
    listing = InventoryBody.of(capture.store.read_manifest(capture.customer, capture.date, "inventory")).repositories
    previous = capture.previous(asset)
    previous_entries = GitBody.of(previous).repositories if previous else {}
    client = github.installation_client(capture.customer)
    before = client.requests_made
    git_client = git.get_client()
    credentials = _Credentials(client)
    lfs_index = None if wiki else LfsIndex(previous_entries.values())  # wikis carry no LFS objects

    def one(repo: InventoryEntry) -> GitEntry:
        full_name = repo.full_name
        if repo.reason:
            return GitEntry(full_name, reason=repo.reason)
        if wiki and not repo.get("has_wiki"):
            return GitEntry(full_name, state="disabled")
        url = client.wiki_url(full_name) if wiki else client.git_url(full_name)
        previous_entry = previous_entries.get(repo.key)
        try:
            if wiki and previous_entry is not None and previous_entry.state == "never_created":
                # Still no first page? One ref advertisement says so without creating a mirror.
                git_client.ls_remote(url, credentials.for_one_fetch())
            mirror = git_client.mirror_path(capture.customer, full_name, wiki=wiki)
            data = snapshot_git(
                git=git_client,
                capture=capture,
                policy=policy,
                mirror=mirror,
                url=url,
                credentials=credentials.for_one_fetch(),
                previous=previous_entry,
                full_name=full_name,
            )
            if lfs_index is not None:
                data = dataclasses.replace(data, lfs=capture_lfs(
                    capture=capture, client=client, git=git_client, mirror=mirror, full_name=full_name,
                    entry=data, previous=previous_entry, index=lfs_index))
        except RemoteNotFoundError:
            if wiki:  # GitHub serves no wiki repository until its first page is written
                return GitEntry(full_name, state="never_created")
            return GitEntry(full_name, reason="gone: the repository no longer exists on GitHub")
        except BackhubError as exc:
            failed = repository_failure(exc)
            if failed is None:
                raise
            capture.log.warning(f"{asset}: {full_name} not backed up today, the others are: {failed}")
            return GitEntry(full_name, failed=failed)
        return dataclasses.replace(data, state="populated") if wiki else data

    results = per_repository(one, listing, workers=policy.parallelism, name=asset, label=lambda repo: repo.full_name)
    entries = {repo.key: result for repo, result in zip(listing, results, strict=True)}
    requests = client.requests_made - before
    capture.commit(asset, GitBody(entries, api_requests=requests))

    bundles = Counter(entry.bundle or "none" for entry in entries.values())
    counts: dict[str, Any] = {
        "repositories": dg.MetadataValue.int(len(entries)),
        "refs": dg.MetadataValue.int(sum(len(entry.refs) for entry in entries.values())),
        "full_bundles": dg.MetadataValue.int(bundles["full"]),
        "incremental_bundles": dg.MetadataValue.int(bundles["incremental"]),
        "unchanged": dg.MetadataValue.int(bundles["unchanged"]),
        "not_fetched": dg.MetadataValue.int(sum(1 for entry in entries.values() if entry.fetched is False)),
        "empty": dg.MetadataValue.int(bundles["empty"]),
        "with_reason": dg.MetadataValue.int(sum(1 for entry in entries.values() if entry.reason)),
        "failed": dg.MetadataValue.int(sum(1 for entry in entries.values() if entry.failed)),
    }
    if lfs_index is not None:
        objects = [item for entry in entries.values() for item in (entry.lfs or {}).values()]
        counts.update({
            "lfs_objects": dg.MetadataValue.int(sum(1 for item in objects if item.blob)),
            "lfs_bytes": dg.MetadataValue.int(sum(item.size for item in objects if item.blob)),
            "lfs_missing": dg.MetadataValue.int(sum(1 for item in objects if item.reason)),
            "lfs_downloaded": dg.MetadataValue.int(lfs_index.downloaded),
            "lfs_downloaded_bytes": dg.MetadataValue.int(lfs_index.downloaded_bytes),
            "lfs_batch_requests": dg.MetadataValue.int(lfs_index.batches),
        })
    if wiki:
        states = Counter(entry.state or "unknown" for entry in entries.values())
        counts.update({f"wikis_{state}": dg.MetadataValue.int(n) for state, n in sorted(states.items())})
    return dg.MaterializeResult(metadata=capture.metadata(api_requests=requests, **counts))
