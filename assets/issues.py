"""Issues and pull requests with their comments, reviews and review comments, as JSON Lines chunks.

Records are grouped by issue number into chunks of ``policy.issue_chunk_size`` (numbers 0-99, 100-199,
...). A day's capture asks GitHub only for what changed since the previous snapshot (``since`` on
issues, issue comments and review comments; reviews only for pull requests updated since) and rewrites
only the chunks those changes touch: an untouched range is yesterday's blob and costs nothing. Before
that, one search for the whole installation (``InstallationClient.changed_repositories``) names the
repositories whose issues or pull requests were updated since the previous snapshot, and two one-item
reads per repository tell whether a comment or review comment was (the newest of each kind); a quiet
repository costs just those two conditional reads. When search cannot answer for sure (its result cap,
incomplete results, a refusal) each repository's newest issue is read as well, as before.
Every ``policy.full_read_days`` at most, on a day spread by the repository's id, the capture reads
everything again, which is how deleted issues and comments (invisible to ``since``) leave the snapshot.
"""


import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from assets.bodies import (
    COUNT_KEYS,
    InventoryBody,
    InventoryEntry,
    IssueChunk,
    IssuesBody,
    IssuesEntry,
    chunk_counts,
    encode_chunk,
)
from assets.capture import Capture
from assets.common import per_repository, repository_failure
from assets.discussions import capture_part
from assets.policy import BackupPolicy
from resources.errors import GitHubError
from resources.github import GitHubAppResource, InstallationClient


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
    events: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    events_newest: str | None = None  # created_at of the newest issue event read

    def numbers(self) -> set[int]:
        return (set(self.issues) | set(self.pulls) | set(self.comments) | set(self.reviews) | set(self.review_comments)
                | set(self.events))


def _pulls_updated_since(client: InstallationClient, full_name: str, since: dt.datetime | None) -> Iterator[dict]:
    """Pull requests newest-updated first, stopping at the first one older than ``since``."""
    params = {"state": "all", "sort": "updated", "direction": "desc"}
    for pull in client.paginate(f"/repos/{full_name}/pulls", params):
        if since is not None and _parse_time(pull["updated_at"]) < since:
            return
        yield pull


def fetch_events(client: InstallationClient, full_name: str, updates: Updates, after: dt.datetime | None) -> None:
    """Issue events newest first (the repository-wide list has no ``since``), stopping at the first one
    created before ``after`` (the previous newest minus an overlap; ids deduplicate the overlap);
    everything when ``after`` is None. Each is kept without its ``issue``: the record holds that."""
    for event in client.issue_events(full_name):
        if after is not None and _parse_time(event["created_at"]) < after:
            return
        if updates.events_newest is None or event["created_at"] > updates.events_newest:
            updates.events_newest = event["created_at"]
        issue = event.get("issue")
        if isinstance(issue, dict) and isinstance(issue.get("number"), int):
            updates.events[issue["number"]].append({key: value for key, value in event.items() if key != "issue"})


def fetch_updates(client: InstallationClient, full_name: str, since: dt.datetime | None,
                  events_after: dt.datetime | None = None) -> Updates:
    updates = Updates()
    for issue in client.issues(full_name, since):
        updates.issues[issue["number"]] = issue
    for comment in client.issue_comments(full_name, since):
        updates.comments[number_from_url(comment["issue_url"])].append(comment)
    for comment in client.review_comments(full_name, since):
        updates.review_comments[number_from_url(comment["pull_request_url"])].append(comment)
    for pull in _pulls_updated_since(client, full_name, since):
        updates.pulls[pull["number"]] = client.pull(full_name, pull["number"])  # in full: the detail fields
        updates.reviews[pull["number"]] = client.reviews(full_name, pull["number"])
    fetch_events(client, full_name, updates, events_after if since is not None else None)
    return updates


def _merge_by_id(old: Iterable[dict[str, Any]], new: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    merged = {item["id"]: item for item in old}
    merged.update((item["id"], item) for item in new)
    return [merged[key] for key in sorted(merged)]


def apply_updates(records: dict[int, dict[str, Any]], updates: Updates, numbers: Iterable[int]) -> None:
    """Fold one chunk's updates into its records, in place."""
    for number in numbers:
        if number not in records and not _more_than_events(updates, number):
            continue  # events of an issue never seen (deleted or transferred): nothing to hang them on
        record = records.setdefault(number, {"number": number, "comments": [], "reviews": [], "review_comments": []})
        if number in updates.events or "events" not in record:
            record["events"] = sorted(_merge_by_id(record.get("events", ()), updates.events.get(number, ())),
                                      key=lambda event: (event["created_at"], event["id"]))
        if number in updates.issues:
            record["issue"] = updates.issues[number]
        if number in updates.pulls:
            record["pull"] = updates.pulls[number]
        record["comments"] = _merge_by_id(record["comments"], updates.comments.get(number, ()))
        record["review_comments"] = _merge_by_id(record["review_comments"], updates.review_comments.get(number, ()))
        if number in updates.reviews:  # reviews are re-read whole for every updated pull request
            record["reviews"] = sorted(updates.reviews[number], key=lambda review: review["id"])


def _more_than_events(updates: Updates, number: int) -> bool:
    return any(number in kind for kind in (updates.issues, updates.pulls, updates.comments, updates.reviews,
                                           updates.review_comments))


def _pull_base_and_head(record: dict[str, Any] | None) -> tuple[str | None, str | None]:
    pull = (record or {}).get("pull") or {}
    return (pull.get("base") or {}).get("sha"), (pull.get("head") or {}).get("sha")


def refresh_pull_commits(client: InstallationClient, full_name: str, record: dict[str, Any],
                         before: tuple[str | None, str | None], full: bool) -> bool:
    """Read a pull request's commits when its head or base moved since the previous record (or on a
    full read, or when the record has none yet); True when read."""
    if "pull" not in record:
        return False
    if not full and "commits" in record and _pull_base_and_head(record) == before:
        return False
    record["commits"] = client.pull_commits(full_name, record["number"])
    return True


def _events_after(previous: IssuesEntry, policy: BackupPolicy) -> dt.datetime | None:
    """Where the read of the issue events may stop: the newest event seen before, minus the overlap."""
    newest = previous.events_watermark
    return _parse_time(newest) - dt.timedelta(minutes=policy.since_overlap_minutes) if newest else None


def _tops(latest: Mapping[str, Any]) -> dict[str, Any]:
    return {kind: (probe or {}).get("top") for kind, probe in latest.items()}


def snapshot_issues(
    client: InstallationClient,
    capture: Capture,
    policy: BackupPolicy,
    full_name: str,
    previous: IssuesEntry | None,
    *,
    repository_id: int | str,
    searched: bool | None = None,
) -> IssuesEntry:
    """Capture one repository's issues entry: chunks, counts, and the watermark for tomorrow.

    First the change probe (``InstallationClient.latest_updates``, taken before any read so that a
    change racing the reads shows tomorrow): when the newest issue, comment and review comment are
    the ones the previous snapshot saw, nothing changed and the previous entry stands, watermark
    included, without a single per-kind read. Otherwise, or when the safety net's full read is due
    (``policy.full_read_due``), the per-kind reads run.

    ``searched`` is the installation-wide search's answer for this repository (True: an issue or pull
    request was updated since the previous snapshot; None: search could not tell). With an answer,
    the issues probe is not read (its previous answer is carried, still valid to compare against on a
    day search cannot answer), and a quiet repository's watermark moves on to this capture: search
    saw nothing updated since before the previous watermark.
    """
    previous = previous or IssuesEntry(full_name)
    full_read_at = previous.full_read_at
    last_full = _parse_time(full_read_at).date() if full_read_at else None
    incremental = bool(previous.chunks is not None and previous.watermark
                       and not policy.full_read_due(repository_id, capture.date, last_full))
    earlier = dict(previous.probe) if previous.probe else None
    if searched is None:
        latest = client.latest_updates(full_name, earlier)
    else:
        latest = {"issues": (earlier or {}).get("issues"),
                  **client.latest_updates(full_name, earlier, kinds=("comments", "review_comments"))}
    if incremental and earlier and not searched and _tops(latest) == _tops(earlier):
        for info in (previous.chunks or {}).values():
            capture.reuse(info.blob, info.size)
        watermark = previous.watermark if searched is None else capture.started_at.isoformat()
        return previous.replace(probe=latest, watermark=watermark, read="skipped", updated_records=0,
                                healed_comment_threads=0, pull_commit_reads=0)
    since = _parse_time(previous.watermark) - dt.timedelta(minutes=policy.since_overlap_minutes) if incremental else None
    updates = fetch_updates(client, full_name, since, _events_after(previous, policy))
    previous_chunks = (previous.chunks or {}) if incremental else {}

    by_chunk: dict[str, list[int]] = defaultdict(list)
    for number in updates.numbers():
        by_chunk[str(number // policy.issue_chunk_size)].append(number)

    chunks = capture.keep_untouched(previous_chunks, by_chunk)
    healed = pull_commit_reads = 0
    for chunk_id, numbers in by_chunk.items():
        records = capture.chunk_records(previous_chunks, chunk_id)
        heads = {number: _pull_base_and_head(records.get(number)) for number in numbers}
        apply_updates(records, updates, numbers)
        for number in numbers:
            record = records.get(number)
            if record is None:
                continue
            pull_commit_reads += refresh_pull_commits(client, full_name, record, heads[number], not incremental)
            expected = (record.get("issue") or {}).get("comments")
            if expected is not None and expected != len(record["comments"]):
                # Deleted or missed comments: the issue's own count disagrees, so read them all again.
                record["comments"] = sorted(client.paginate(f"/repos/{full_name}/issues/{number}/comments"),
                                            key=lambda comment: comment["id"])
                healed += 1
        ref = capture.put(encode_chunk(records))
        chunks[chunk_id] = IssueChunk(blob=ref.id, size=ref.size, counts=chunk_counts(records))

    totals = {key: sum(info.counts.get(key, 0) for info in chunks.values()) for key in COUNT_KEYS}
    return IssuesEntry(
        full_name=full_name,
        chunks=dict(sorted(chunks.items(), key=lambda item: int(item[0]))),
        counts=totals,
        watermark=capture.started_at.isoformat(),
        full_read_at=full_read_at if incremental else capture.started_at.isoformat(),
        read="incremental" if incremental else "full",
        probe=latest,
        updated_records=len(updates.numbers()),
        healed_comment_threads=healed,
        events_watermark=updates.events_newest or (previous.events_watermark if incremental else None),
        pull_commit_reads=pull_commit_reads,
    )


def capture_issues(capture: Capture, github: GitHubAppResource, policy: BackupPolicy) -> dg.MaterializeResult:
    """The ``issues`` step of a snapshot (``assets/snapshot.py``)."""
    listing = InventoryBody.of(capture.store.read_manifest(capture.customer, capture.date, "inventory")).repositories
    previous = capture.previous("issues")
    previous_entries = IssuesBody.of(previous).repositories if previous else {}
    client = github.installation_client(capture.customer)
    before, not_modified, points = client.requests_made, client.not_modified, client.graphql_points
    changed = _changed_repositories(client, policy, listing, previous_entries)

    def one(repo: InventoryEntry) -> IssuesEntry:
        if repo.reason:
            return IssuesEntry(repo.full_name, reason=repo.reason)
        try:
            searched = None if changed is None else repo.full_name.lower() in changed
            earlier = previous_entries.get(repo.key)
            entry = snapshot_issues(client, capture, policy, repo.full_name, earlier,
                                    repository_id=repo.id, searched=searched)
            return entry.replace(discussions=capture_part(
                client, capture, policy, repo.full_name, earlier.discussions if earlier else None,
                repository_id=repo.id, enabled=repo.get("has_discussions")))
        except GitHubError as exc:
            if exc.status in (404, 410):
                reason = "issues disabled" if exc.status == 410 else "gone: the repository no longer exists on GitHub"
                return IssuesEntry(repo.full_name, reason=reason)
            failed = repository_failure(exc)
            if failed is None:
                raise
            capture.log.warning(f"issues: {repo.full_name} not backed up today, the others are: {failed}")
            return IssuesEntry(repo.full_name, failed=failed)

    results = per_repository(one, listing, workers=policy.parallelism, name="issues", label=lambda repo: repo.full_name)
    entries = {repo.key: result for repo, result in zip(listing, results, strict=True)}
    requests = client.requests_made - before
    capture.commit("issues", IssuesBody(entries, chunk_size=policy.issue_chunk_size, api_requests=requests,
                                        searched=changed is not None))
    totals = {key: sum((entry.counts or {}).get(key, 0) for entry in entries.values()) for key in COUNT_KEYS}
    return dg.MaterializeResult(
        metadata=capture.metadata(
            api_requests=requests,
            not_modified=dg.MetadataValue.int(client.not_modified - not_modified),
            graphql_points=dg.MetadataValue.int(client.graphql_points - points),
            discussions=dg.MetadataValue.int(sum((e.discussions.counts or {}).get("discussions", 0)
                                                 for e in entries.values() if e.discussions)),
            repositories=dg.MetadataValue.int(len(entries)),
            searched=dg.MetadataValue.bool(changed is not None),
            **{key: dg.MetadataValue.int(value) for key, value in totals.items()},
            failed=dg.MetadataValue.int(sum(1 for entry in entries.values() if entry.failed)),
            updated_records=dg.MetadataValue.int(sum(entry.updated_records or 0 for entry in entries.values())),
            **{f"read_{kind}": dg.MetadataValue.int(sum(1 for entry in entries.values() if entry.read == kind))
               for kind in ("full", "incremental", "skipped")},
        )
    )


def _changed_repositories(client: InstallationClient, policy: BackupPolicy, listing: Sequence[InventoryEntry],
                          previous_entries: Mapping[str, IssuesEntry]) -> set[str] | None:
    """One search for the installation: which repositories' issues changed since the previous snapshot.

    Searched from the oldest watermark of the previous entries, less ``policy.since_overlap_minutes``
    (clocks and search indexing are not exact). None without a previous snapshot to compare with
    (every repository is read whole then anyway) or when search cannot answer for sure.
    """
    watermarks = [_parse_time(entry.watermark) for entry in previous_entries.values() if entry.watermark]
    if not watermarks:
        return None
    since = min(watermarks) - dt.timedelta(minutes=policy.since_overlap_minutes)
    return client.changed_repositories(since, repository_count=len(listing))
