"""Release assets: the binary files attached to a repository's releases.

Each is streamed to a private scratch file and stored as one content-addressed blob, so a file is
stored once per customer however many releases or days name it. An asset whose id, size and
``updated_at`` match yesterday's entry is not downloaded again: the entry names the same blob. A
customer's assets in one snapshot may total at most ``BackupPolicy.release_assets_max_bytes``; one that
would pass the cap is recorded with its reason (and counted in the step's metadata), never dropped
silently.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from assets.bodies import ReleaseAsset
from assets.capture import Capture
from resources.errors import DownloadTooLargeError, GitHubError
from resources.github import InstallationClient
from resources.scratch import scratch_dir


class AssetBudget:
    """What is left of a customer's release-asset cap in this snapshot."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self.skipped = 0
        self._lock = threading.Lock()  # repositories are captured in parallel

    def refund(self, size: int) -> None:
        with self._lock:
            self.used -= size

    def take(self, size: int) -> bool:
        with self._lock:
            if self.used + size > self.max_bytes:
                self.skipped += 1
                return False
            self.used += size
            return True


def capture_release_assets(capture: Capture, client: InstallationClient, full_name: str,
                           releases: list[dict[str, Any]], yesterday: tuple[ReleaseAsset, ...] | None,
                           budget: AssetBudget) -> tuple[ReleaseAsset, ...]:
    """One entry per asset of ``releases``: with ``blob`` when kept, ``reason`` when not."""
    previous = {asset.id: asset for asset in yesterday or () if asset.blob}
    entries = []
    for release in releases:
        for listed in release.get("assets") or []:
            asset = ReleaseAsset(id=int(listed["id"]), release_id=int(release["id"]), tag=release.get("tag_name"),
                                 name=listed.get("name"), size=int(listed.get("size") or 0),
                                 updated_at=listed.get("updated_at"), content_type=listed.get("content_type"))
            known = previous.get(asset.id)
            if not budget.take(asset.size):
                kept = {"reason": (f"skipped: the customer's release assets would pass the cap of "
                                   f"{budget.max_bytes} bytes (BACKHUB_RELEASE_ASSETS_MAX_BYTES)")}
            elif known and known.blob and (known.size, known.updated_at) == (asset.size, asset.updated_at):
                kept = {"blob": capture.reuse(known.blob, asset.size)}
            else:
                kept = _download(capture, client, full_name, asset.id, asset.size)
                if "blob" not in kept:
                    budget.refund(asset.size)  # not kept: it takes none of the cap
            entries.append(dataclasses.replace(asset, **kept))
    return tuple(entries)


def _download(capture: Capture, client: InstallationClient, full_name: str, asset_id: int, size: int) -> dict[str, Any]:
    with scratch_dir("asset") as scratch:  # 0700, and removed by the next one if this process is killed
        path = scratch / "asset"
        try:
            with path.open("wb") as sink:
                client.download_release_asset(full_name, asset_id, sink, limit=size)
        except DownloadTooLargeError as exc:
            return {"reason": f"failed: GitHub sent more than the {size} bytes it listed ({exc})"}
        except GitHubError as exc:
            if exc.status not in (404, 410):
                raise
            return {"reason": f"gone: GitHub answered {exc.status} for the asset"}
        if path.stat().st_size != size:
            return {"reason": f"failed: GitHub sent {path.stat().st_size} bytes, listed {size}"}
        return {"blob": capture.put_file(path).id}
