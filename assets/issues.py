"""Issues and pull requests with their comments, reviews and review comments, as JSON Lines chunks.

Records are grouped by issue number into chunks of ``policy.issue_chunk_size`` (numbers 0-99, 100-199,
...). A day's capture asks GitHub only for what changed since the previous snapshot (``since`` on
issues, issue comments and review comments; reviews only for pull requests updated since) and rewrites
only the chunks those changes touch: an untouched range is yesterday's blob and costs nothing. Before
that, three one-item reads tell whether anything changed at all; a quiet repository costs just them.
Every ``policy.full_read_days`` at most, on a day spread by the repository's id, the capture reads
everything again, which is how deleted issues and comments (invisible to ``since``) leave the snapshot.
"""


import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from assets.capture import Capture
from assets.common import backup_step, per_repository
from assets.policy import BackupPolicy
from resources.audit import AuditLogResource, canonical_json
from resources.clock import Clock
from resources.errors import GitHubError
from resources.github import GitHubAppResource, InstallationClient
from resources.snapshot_store import SnapshotStore, SnapshotStoreResource

COUNT_KEYS = ("issues", "pull_requests", "comments", "reviews", "review_comments")


def number_from_url(url: str) -> int:
    """The issue or pull number at the end of ``.../issues/12`` or ``.../pulls/12``."""
    return int(url.rstrip("/").rsplit("/", 1)[1])


def _parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class Updates:
    """What GitHub reports changed in one repository since a point in time (or everything)."""

    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    review_comments: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def numbers(self) -> set[int]:
        return set(self.issues) | set(self.pulls) | set(self.comments) | set(self.reviews) | set(self.review_comments)


def _pulls_updated_since(client: InstallationClient, full_name: str, since: dt.datetime | None) -> Iterator[dict]:
    """Pull requests newest-updated first, stopping at the first one older than ``since``."""
    params = {"state": "all", "sort": "updated", "direction": "desc"}
    for pull in client.paginate(f"/repos/{full_name}/pulls", params):
        if since is not None and _parse_time(pull["updated_at"]) < since:
            return
        yield pull


def fetch_updates(client: InstallationClient, full_name: str, since: dt.datetime | None) -> Updates:
    updates = Updates()
    for issue in client.issues(full_name, since):
        updates.issues[issue["number"]] = issue
    for comment in client.issue_comments(full_name, since):
        updates.comments[number_from_url(comment["issue_url"])].append(comment)
    for comment in client.review_comments(full_name, since):
        updates.review_comments[number_from_url(comment["pull_request_url"])].append(comment)
    for pull in _pulls_updated_since(client, full_name, since):
        updates.pulls[pull["number"]] = pull
        updates.reviews[pull["number"]] = client.reviews(full_name, pull["number"])
    return updates


def _merge_by_id(old: Iterable[dict[str, Any]], new: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    merged = {item["id"]: item for item in old}
    merged.update((item["id"], item) for item in new)
    return [merged[key] for key in sorted(merged)]


def apply_updates(records: dict[int, dict[str, Any]], updates: Updates, numbers: Iterable[int]) -> None:
    """Fold one chunk's updates into its records, in place."""
    for number in numbers:
        record = records.setdefault(number, {"number": number, "comments": [], "reviews": [], "review_comments": []})
        if number in updates.issues:
            record["issue"] = updates.issues[number]
        if number in updates.pulls:
            record["pull"] = updates.pulls[number]
        record["comments"] = _merge_by_id(record["comments"], updates.comments.get(number, ()))
        record["review_comments"] = _merge_by_id(record["review_comments"], updates.review_comments.get(number, ()))
        if number in updates.reviews:  # reviews are re-read whole for every updated pull request
            record["reviews"] = sorted(updates.reviews[number], key=lambda review: review["id"])


def encode_chunk(records: dict[int, dict[str, Any]]) -> bytes:
    return b"".join(canonical_json(records[number]) + b"\n" for number in sorted(records))


def decode_chunk(data: bytes) -> dict[int, dict[str, Any]]:
    records = {}
    for line in data.splitlines():
        if line.strip():
            record = json.loads(line)
            records[record["number"]] = record
    return records


def chunk_counts(records: dict[int, dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(COUNT_KEYS, 0)
    for record in records.values():
        issue = record.get("issue") or {}
        counts["pull_requests" if ("pull_request" in issue or "pull" in record) else "issues"] += 1
        counts["comments"] += len(record["comments"])
        counts["reviews"] += len(record["reviews"])
        counts["review_comments"] += len(record["review_comments"])
    return counts


def read_records(store: SnapshotStore, customer: str, entry: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every stored record of one repository's issues entry, in number order."""
    for chunk_id in sorted(entry.get("chunks", {}), key=int):
        yield from decode_chunk(store.read_blob(customer, entry["chunks"][chunk_id]["blob"])).values()


def _tops(latest: dict[str, Any]) -> dict[str, Any]:
    return {kind: (probe or {}).get("top") for kind, probe in latest.items()}


def snapshot_issues(
    client: InstallationClient,
    capture: Capture,
    policy: BackupPolicy,
    full_name: str,
    previous: dict[str, Any] | None,
    *,
    repository_id: int | str,
) -> dict[str, Any]:
    """Capture one repository's issues entry: chunks, counts, and the watermark for tomorrow.

    First the change probe (``InstallationClient.latest_updates``, taken before any read so that a
    change racing the reads shows tomorrow): when the newest issue, comment and review comment are
    the ones the previous snapshot saw, nothing changed and the previous entry stands, watermark
    included, without a single per-kind read. Otherwise, or when the safety net's full read is due
    (``policy.full_read_due``), the per-kind reads run.
    """
    previous = previous or {}
    full_read_at = previous.get("full_read_at")
    last_full = _parse_time(full_read_at).date() if full_read_at else None
    incremental = bool(previous.get("chunks") is not None and previous.get("watermark")
                       and not policy.full_read_due(repository_id, capture.date, last_full))
    latest = client.latest_updates(full_name, previous.get("probe"))
    if incremental and previous.get("probe") and _tops(latest) == _tops(previous["probe"]):
        for info in previous["chunks"].values():
            capture.reuse(info["blob"], info["size"])
        return {**previous, "probe": latest, "read": "skipped", "updated_records": 0, "healed_comment_threads": 0}
    since = _parse_time(previous["watermark"]) - dt.timedelta(minutes=policy.since_overlap_minutes) if incremental else None
    updates = fetch_updates(client, full_name, since)
    previous_chunks: dict[str, Any] = previous.get("chunks", {}) if incremental else {}

    by_chunk: dict[str, list[int]] = defaultdict(list)
    for number in updates.numbers():
        by_chunk[str(number // policy.issue_chunk_size)].append(number)

    chunks: dict[str, Any] = {}
    healed = 0
    for chunk_id, info in previous_chunks.items():
        if chunk_id not in by_chunk:
            capture.reuse(info["blob"], info["size"])
            chunks[chunk_id] = info
    for chunk_id, numbers in by_chunk.items():
        records = (decode_chunk(capture.store.read_blob(capture.customer, previous_chunks[chunk_id]["blob"]))
                   if chunk_id in previous_chunks else {})
        apply_updates(records, updates, numbers)
        for number in numbers:
            record = records[number]
            expected = (record.get("issue") or {}).get("comments")
            if expected is not None and expected != len(record["comments"]):
                # Deleted or missed comments: the issue's own count disagrees, so read them all again.
                record["comments"] = sorted(client.paginate(f"/repos/{full_name}/issues/{number}/comments"),
                                            key=lambda comment: comment["id"])
                healed += 1
        ref = capture.put(encode_chunk(records))
        chunks[chunk_id] = {"blob": ref.id, "size": ref.size, "counts": chunk_counts(records)}

    totals = {key: sum(info["counts"][key] for info in chunks.values()) for key in COUNT_KEYS}
    return {
        "full_name": full_name,
        "chunks": dict(sorted(chunks.items(), key=lambda item: int(item[0]))),
        "counts": totals,
        "watermark": capture.started_at.isoformat(),
        "full_read_at": full_read_at if incremental else capture.started_at.isoformat(),
        "read": "incremental" if incremental else "full",
        "probe": latest,
        "updated_records": len(updates.numbers()),
        "healed_comment_threads": healed,
    }


def back_up_issues(
    context: AssetExecutionContext,
    *,
    github: GitHubAppResource,
    store: SnapshotStoreResource,
    clock: Clock,
    policy: BackupPolicy,
    audit: AuditLogResource,
) -> dg.MaterializeResult:
    """The ``issues`` step of a snapshot (``assets/snapshot.py``)."""
    log = audit.get_client()
    with backup_step(context, "issues", log):
        return capture_issues(Capture(context, store.get_client(), clock, policy, log), github, policy)


def capture_issues(capture: Capture, github: GitHubAppResource, policy: BackupPolicy) -> dg.MaterializeResult:
    listing = capture.store.read_manifest(capture.customer, capture.date, "inventory").body["repositories"]
    previous = capture.previous("issues")
    previous_entries: dict[str, Any] = previous.body["repositories"] if previous else {}
    client = github.get_client().installation_for(capture.customer)
    before = client.requests_made

    def one(repo: dict[str, Any]) -> dict[str, Any]:
        full_name = repo["full_name"]
        if "reason" in repo:
            return {"full_name": full_name, "reason": repo["reason"]}
        try:
            return snapshot_issues(client, capture, policy, full_name, previous_entries.get(str(repo["id"])),
                                   repository_id=repo["id"])
        except GitHubError as exc:
            if exc.status not in (404, 410):
                raise
            reason = "issues disabled" if exc.status == 410 else "gone: the repository no longer exists on GitHub"
            return {"full_name": full_name, "reason": reason}

    results = per_repository(one, listing, workers=policy.parallelism, name="issues",
                             label=lambda repo: str(repo["full_name"]))
    entries: dict[str, Any] = {str(repo["id"]): result for repo, result in zip(listing, results, strict=True)}
    requests = client.requests_made - before
    capture.commit("issues", {"repositories": entries, "api_requests": requests,
                              "chunk_size": policy.issue_chunk_size})
    totals = {key: sum(entry.get("counts", {}).get(key, 0) for entry in entries.values()) for key in COUNT_KEYS}
    return dg.MaterializeResult(
        metadata=capture.metadata(
            api_requests=requests,
            not_modified=dg.MetadataValue.int(client.not_modified),
            repositories=dg.MetadataValue.int(len(entries)),
            **{key: dg.MetadataValue.int(value) for key, value in totals.items()},
            updated_records=dg.MetadataValue.int(sum(entry.get("updated_records", 0) for entry in entries.values())),
            **{f"read_{kind}": dg.MetadataValue.int(sum(1 for entry in entries.values() if entry.get("read") == kind))
               for kind in ("full", "incremental", "skipped")},
        )
    )
