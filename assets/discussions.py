"""Discussions, over GitHub's GraphQL API, as JSON Lines chunks beside a repository's issues.

Part of the ``issues`` step: each repository's ``IssuesEntry`` carries a ``discussions`` part
(``assets.bodies.DiscussionsPart``). A day reads the discussions updated since the previous
watermark (less ``policy.since_overlap_minutes``), newest-updated first, and stops at the first one
older; each is read whole (its comments, and each comment's replies, paged to the end) and replaces
its record. Only the chunks a changed discussion falls in are rewritten; the others are yesterday's
blobs. Every ``policy.full_read_days`` (``policy.full_read_due``) everything is read again and the
chunks rebuilt, which is how a deleted discussion leaves the snapshot.

Every query here is checked against GitHub's published schema (tests/test_graphql_conformance.py
imports ``QUERIES``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from assets.bodies import DiscussionsPart, IssueChunk, encode_chunk
from assets.capture import Capture
from assets.policy import BackupPolicy
from resources.errors import GitHubError
from resources.github import InstallationClient

DISCUSSIONS_PAGE = 10
COMMENTS_PAGE = 20
REPLIES_PAGE = 10
MORE_PAGE = 50

_COMMENT = "id databaseId body createdAt updatedAt author { login } isAnswer url"
_DISCUSSION = (
    "id number title body createdAt updatedAt author { login } category { name slug } answer { id } "
    "answerChosenAt locked closed closedAt stateReason url"
)
_REPLIES = f"replies(first: {REPLIES_PAGE}) {{ totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ {_COMMENT} }} }}"

DISCUSSIONS_QUERY = f"""
query Discussions($owner: String!, $name: String!, $after: String) {{
  rateLimit {{ cost remaining resetAt }}
  repository(owner: $owner, name: $name) {{
    hasDiscussionsEnabled
    discussions(first: {DISCUSSIONS_PAGE}, after: $after, orderBy: {{field: UPDATED_AT, direction: DESC}}) {{
      totalCount
      pageInfo {{ hasNextPage endCursor }}
      nodes {{
        {_DISCUSSION}
        comments(first: {COMMENTS_PAGE}) {{
          totalCount
          pageInfo {{ hasNextPage endCursor }}
          nodes {{ {_COMMENT} {_REPLIES} }}
        }}
      }}
    }}
  }}
}}
"""

MORE_COMMENTS_QUERY = f"""
query DiscussionComments($owner: String!, $name: String!, $number: Int!, $after: String) {{
  rateLimit {{ cost remaining resetAt }}
  repository(owner: $owner, name: $name) {{
    discussion(number: $number) {{
      comments(first: {MORE_PAGE}, after: $after) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ {_COMMENT} {_REPLIES} }}
      }}
    }}
  }}
}}
"""

MORE_REPLIES_QUERY = f"""
query DiscussionReplies($id: ID!, $after: String) {{
  rateLimit {{ cost remaining resetAt }}
  node(id: $id) {{
    ... on DiscussionComment {{
      replies(first: {MORE_PAGE}, after: $after) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ {_COMMENT} }}
      }}
    }}
  }}
}}
"""

QUERIES = {"discussions": DISCUSSIONS_QUERY, "comments": MORE_COMMENTS_QUERY, "replies": MORE_REPLIES_QUERY}
DISCUSSION_COUNT_KEYS = ("discussions", "comments", "replies")


def _parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _replies(client: InstallationClient, comment: dict[str, Any]) -> list[dict[str, Any]]:
    connection = comment.pop("replies")
    replies = list(connection["nodes"])
    page = connection["pageInfo"]
    while page["hasNextPage"]:
        data = client.graphql(MORE_REPLIES_QUERY, {"id": comment["id"], "after": page["endCursor"]})
        more = data["node"]["replies"]
        replies += more["nodes"]
        page = more["pageInfo"]
    return replies


def _whole(client: InstallationClient, owner: str, name: str, node: dict[str, Any]) -> dict[str, Any]:
    """A discussion's record: its fields, and every comment with every reply."""
    connection = node.pop("comments")
    comments = list(connection["nodes"])
    page = connection["pageInfo"]
    while page["hasNextPage"]:
        data = client.graphql(MORE_COMMENTS_QUERY, {"owner": owner, "name": name, "number": node["number"],
                                                    "after": page["endCursor"]})
        more = data["repository"]["discussion"]["comments"]
        comments += more["nodes"]
        page = more["pageInfo"]
    for comment in comments:
        comment["replies"] = _replies(client, comment)
    return {"number": node["number"], "discussion": node, "comments": comments}


def read_updated(client: InstallationClient, full_name: str, since: dt.datetime | None
                 ) -> tuple[bool, dict[int, dict[str, Any]]]:
    """(discussions enabled, {number: record}) for the discussions updated at or after ``since`` (all
    when None), newest-updated first, stopping at the first older one."""
    owner, name = full_name.split("/", 1)
    records: dict[int, dict[str, Any]] = {}
    after = None
    while True:
        data = client.graphql(DISCUSSIONS_QUERY, {"owner": owner, "name": name, "after": after})
        repository = data.get("repository")
        if repository is None:
            raise GitHubError(f"GraphQL: repository {full_name} not found", status=404)
        if not repository["hasDiscussionsEnabled"]:
            return False, {}
        connection = repository["discussions"]
        for node in connection["nodes"]:
            if since is not None and _parse(node["updatedAt"]) < since:
                return True, records
            records[node["number"]] = _whole(client, owner, name, node)
        if not connection["pageInfo"]["hasNextPage"]:
            return True, records
        after = connection["pageInfo"]["endCursor"]


def counts_of(records: dict[int, dict[str, Any]]) -> dict[str, int]:
    return {"discussions": len(records), "comments": sum(len(r["comments"]) for r in records.values()),
            "replies": sum(len(c["replies"]) for r in records.values() for c in r["comments"])}


def snapshot_discussions(client: InstallationClient, capture: Capture, policy: BackupPolicy, full_name: str,
                         previous: DiscussionsPart | None, *, repository_id: int | str) -> DiscussionsPart:
    """One repository's discussions part: chunks, counts, and tomorrow's watermark."""
    previous = previous or DiscussionsPart()
    last_full = _parse(previous.full_read_at).date() if previous.full_read_at else None
    incremental = bool(previous.chunks is not None and previous.watermark
                       and not policy.full_read_due(repository_id, capture.date, last_full))
    since = _parse(previous.watermark) - dt.timedelta(minutes=policy.since_overlap_minutes) if incremental else None
    started = capture.started_at.isoformat()
    points_before = client.graphql_points_this_thread
    enabled, updated = read_updated(client, full_name, since)
    if not enabled:
        return DiscussionsPart(reason="discussions disabled", graphql_points=client.graphql_points_this_thread - points_before)
    previous_chunks = (previous.chunks or {}) if incremental else {}
    by_chunk: dict[str, list[int]] = defaultdict(list)
    for number in updated:
        by_chunk[str(number // policy.issue_chunk_size)].append(number)
    chunks = capture.keep_untouched(previous_chunks, by_chunk)
    for chunk_id, numbers in by_chunk.items():
        records = capture.chunk_records(previous_chunks, chunk_id)
        records.update((number, updated[number]) for number in numbers)
        ref = capture.put(encode_chunk(records))
        chunks[chunk_id] = IssueChunk(blob=ref.id, size=ref.size, counts=counts_of(records))
    totals = {key: sum(info.counts.get(key, 0) for info in chunks.values()) for key in DISCUSSION_COUNT_KEYS}
    return DiscussionsPart(
        chunks=dict(sorted(chunks.items(), key=lambda item: int(item[0]))), counts=totals, watermark=started,
        full_read_at=previous.full_read_at if incremental else started, read="incremental" if incremental else "full",
        updated_records=len(updated), graphql_points=client.graphql_points_this_thread - points_before)


def capture_part(client: InstallationClient, capture: Capture, policy: BackupPolicy, full_name: str,
                 previous: DiscussionsPart | None, *, repository_id: int | str,
                 enabled: bool | None = None) -> DiscussionsPart:
    """``snapshot_discussions``, with a refusal recorded as the part's reason (the issues stand).

    ``enabled`` is the repository object's ``has_discussions`` from today's listing: when it says
    False, no query is sent (a day's cost is one GraphQL request per repository that has them)."""
    if enabled is False:
        return DiscussionsPart(reason="discussions disabled")
    try:
        return snapshot_discussions(client, capture, policy, full_name, previous, repository_id=repository_id)
    except GitHubError as exc:
        if exc.status == 403:
            return DiscussionsPart(reason="not readable: the installation lacks the discussions permission "
                                          "(grant 'Discussions: read' to the App)")
        if exc.status == 404:
            return DiscussionsPart(reason="gone: the repository no longer exists on GitHub")
        raise
