"""A readable Markdown rendering of one stored issue or pull request with its comments and reviews.
"""

from __future__ import annotations

from typing import Any

# -- Markdown ----------------------------------------------------------------------------------------


def login(obj: dict[str, Any] | None) -> str:
    login = (obj or {}).get("login")
    return f"@{login}" if login else "(unknown)"


def _quote(text: str | None) -> str:
    text = (text or "").strip()
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines()) if text else "> *(no text)*"


def timeline(record: dict[str, Any], *, events: bool = False) -> list[tuple[str, str, dict[str, Any]]]:
    """Comments, reviews and review comments (and with ``events``, issue events) in time order:
    (kind, time, GitHub object)."""
    items = [("comment", c.get("created_at") or "", c) for c in record.get("comments", [])]
    if events:
        items += [("event", e.get("created_at") or "", e) for e in record.get("events", [])]
    items += [("review", r.get("submitted_at") or "", r) for r in record.get("reviews", [])]
    items += [("review-comment", c.get("created_at") or "", c) for c in record.get("review_comments", [])]
    return sorted(items, key=lambda item: (item[1], item[2].get("id", 0)))


def render_markdown(full_name: str, record: dict[str, Any]) -> str:
    """A readable page for one issue or pull request with its comments, reviews and review comments."""
    issue = record.get("issue") or {}
    pull = record.get("pull") or {}
    number = record["number"]
    kind = "Pull request" if pull or "pull_request" in issue else "Issue"
    lines = [f"# {kind} #{number}: {issue.get('title') or pull.get('title') or ''}", ""]
    state = issue.get("state") or pull.get("state") or "unknown"
    if pull.get("merged_at"):
        state = f"merged {pull['merged_at']}"
    lines.append(f"- Repository: {full_name}")
    lines.append(f"- Opened by {login(issue.get('user') or pull.get('user'))} on {issue.get('created_at') or pull.get('created_at')}")
    lines.append(f"- State: {state}" + (f" (closed {issue['closed_at']})" if issue.get("closed_at") else ""))
    if pull:
        lines.append(f"- Branches: {(pull.get('head') or {}).get('ref')} → {(pull.get('base') or {}).get('ref')}")
        if "additions" in pull:
            lines.append(f"- Changes: {pull.get('commits')} commits, +{pull.get('additions')} −{pull.get('deletions')} "
                         f"in {pull.get('changed_files')} files")
        if pull.get("merged_by"):
            lines.append(f"- Merged by {login(pull['merged_by'])}")
    labels = [label.get("name") for label in issue.get("labels") or [] if isinstance(label, dict)]
    if labels:
        lines.append(f"- Labels: {', '.join(labels)}")
    if issue.get("milestone"):
        lines.append(f"- Milestone: {issue['milestone'].get('title')}")
    if issue.get("html_url"):
        lines.append(f"- Original: {issue['html_url']}")
    lines += ["", (issue.get("body") or pull.get("body") or "*(no description)*").strip(), ""]
    for kind_name, when, item in timeline(record, events=True):
        if kind_name == "event":
            lines += [f"*{describe_event(item)} on {when}*", ""]
            continue
        if kind_name == "comment":
            lines.append(f"### Comment by {login(item.get('user'))} on {when}")
        elif kind_name == "review":
            lines.append(f"### Review by {login(item.get('user'))} on {when}: {item.get('state', '').lower()}")
        else:
            place = f"{item.get('path')}:{item.get('line') or item.get('original_line') or '?'}"
            lines.append(f"### Review comment by {login(item.get('user'))} on {when} at `{place}`")
        lines += ["", _quote(item.get("body")), ""]
    if record.get("commits"):
        lines += [f"## Commits ({len(record['commits'])})", ""]
        for commit in record["commits"]:
            git = commit.get("commit") or {}
            author = (git.get("author") or {})
            subject = (git.get("message") or "").split("\n", 1)[0]
            lines.append(f"- `{str(commit.get('sha', ''))[:12]}` {subject} ({author.get('name')}, {author.get('date')})")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


_EVENT_PHRASES = {
    "labeled": "added the label {label}", "unlabeled": "removed the label {label}",
    "assigned": "assigned {assignee}", "unassigned": "unassigned {assignee}",
    "milestoned": "added this to the milestone {milestone}", "demilestoned": "removed this from the milestone {milestone}",
    "renamed": "changed the title from “{rename_from}” to “{rename_to}”",
    "closed": "closed this", "reopened": "reopened this", "merged": "merged this in {commit}",
    "referenced": "referenced this in commit {commit}", "locked": "locked this ({lock_reason})",
    "unlocked": "unlocked this", "head_ref_deleted": "deleted the head branch",
    "head_ref_force_pushed": "force-pushed the head branch", "review_requested": "requested a review from {reviewer}",
}


def describe_event(event: dict[str, Any]) -> str:
    """One line for an issue event: "@alice added the label bug"; an unknown type is named as it is."""
    values = {
        "label": (event.get("label") or {}).get("name"),
        "assignee": login(event.get("assignee")),
        "milestone": (event.get("milestone") or {}).get("title"),
        "rename_from": (event.get("rename") or {}).get("from"),
        "rename_to": (event.get("rename") or {}).get("to"),
        "commit": f"`{str(event.get('commit_id') or '')[:12]}`" if event.get("commit_id") else "a commit",
        "lock_reason": event.get("lock_reason") or "no reason given",
        "reviewer": login(event.get("requested_reviewer")),
    }
    phrase = _EVENT_PHRASES.get(str(event.get("event")), f"{event.get('event')}")
    return f"{login(event.get('actor'))} {phrase.format(**values)}"


def render_index(full_name: str, date: str, index: list[tuple[int, bool, dict[str, Any]]]) -> str:
    lines = [f"# Issues and pull requests of {full_name}, snapshot {date}", "", "| # | kind | state | title |",
             "|---:|---|---|---|"]
    for number, is_pull, issue in index:
        title = (issue.get("title") or "").replace("|", "\\|")
        lines.append(f"| [{number}]({number}.md) | {'pull' if is_pull else 'issue'} | {issue.get('state', '')} | {title} |")
    return "\n".join(lines) + "\n"



def render_discussion(full_name: str, record: dict[str, Any]) -> str:
    """A readable page for one discussion: its post, then each comment with its replies indented."""
    d = record.get("discussion") or {}
    answer = (d.get("answer") or {}).get("id")
    state = "closed" + (f" ({d['stateReason'].lower()})" if d.get("stateReason") else "") if d.get("closed") else "open"
    lines = [f"# Discussion #{record['number']}: {d.get('title') or ''}", "",
             f"{full_name} · {(d.get('category') or {}).get('name', '')} · {state}"
             + (" · locked" if d.get("locked") else "") + (" · answered" if answer else ""), "",
             f"**{login(d.get('author'))}** opened this on {d.get('createdAt', '')}", "", _quote(d.get("body")), ""]
    for comment in record.get("comments", []):
        mark = " ✅ *answer*" if comment.get("id") == answer else ""
        lines += [f"## {login(comment.get('author'))} commented on {comment.get('createdAt', '')}{mark}", "",
                  _quote(comment.get("body")), ""]
        for reply in comment.get("replies", []):
            lines += [f"- **{login(reply.get('author'))}** replied on {reply.get('createdAt', '')}:", "",
                      "\n".join("  " + line for line in _quote(reply.get("body")).splitlines()), ""]
    return "\n".join(lines)
