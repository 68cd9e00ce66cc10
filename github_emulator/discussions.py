"""Discussions: seeded in a few repositories and changed a little each simulated day.

Both draw from their own random streams (``discussions:<seed>:<repo id>`` when seeding,
``discussion-activity:<seed>:<day>`` each day) and take ids from their own counters, so the rest of the
seed and of each day's activity is exactly what it was before discussions existed.

Stored per repository (``repo["discussions"]``, ``repo["discussion_categories"]``); served by
graphql_api.py. A departure from GitHub, on purpose: GitHub numbers discussions in the same sequence
as issues and pull requests; here they count from ``DISCUSSION_NUMBER_BASE`` so that issue numbers
(which many tests name) stay as they were.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from .seed import CONTRIBUTORS, Text
from .state import Store, iso, parse_iso

DISCUSSION_NUMBER_BASE = 10000
DISCUSSION_REPOS_PER_ACCOUNT = 2
# GitHub's default categories for a repository that turns discussions on.
CATEGORIES = [
    ("Announcements", "announcements", ":mega:", False),
    ("General", "general", ":speech_balloon:", False),
    ("Ideas", "ideas", ":bulb:", False),
    ("Polls", "polls", ":ballot_box:", False),
    ("Q&A", "q-a", ":pray:", True),
    ("Show and tell", "show-and-tell", ":raised_hands:", False),
]


def _node(prefix: str, ident: int) -> str:
    return f"{prefix}_kwDO{ident:08d}"


def _people() -> list[str]:
    return [c[0] for c in CONTRIBUTORS]


def eligible(store: Store) -> list[dict[str, Any]]:
    """The repositories with discussions: per installation account, its first repositories by id that
    are neither forks nor archived nor about to go away, and have git data."""
    chosen = []
    for inst in store.db["installations"]:
        repos = [r for r in store.repos_of(inst["account"])
                 if not r.get("fork") and not r.get("archived") and not r.get("role") and store.git_dir(r).is_dir()]
        chosen += repos[:DISCUSSION_REPOS_PER_ACCOUNT]
    return chosen


def seed(store: Store) -> None:
    for repo in eligible(store):
        rng = random.Random(f"discussions:{store.db['seed']}:{repo['id']}")
        text = Text(rng)
        repo["has_discussions"] = True
        repo["discussion_categories"] = [
            {"id": _node("DIC", store.next_id("discussion_category")), "name": name, "slug": slug, "emoji": emoji,
             "answerable": answerable, "description": f"{name} — ünïcødé ✓"}
            for name, slug, emoji, answerable in CATEGORIES]
        repo["discussions"] = []
        when = _moments(repo["created_at"], rng)
        for _ in range(rng.randint(3, 6)):
            create(store, repo, rng, text, next(when), when)
        if not any(d["answer"] for d in repo["discussions"]):  # every such repository shows an answer
            question = repo["discussions"][0]
            question["category"] = "q-a"
            if not question["comments"]:
                comment(store, question, rng, text, next(when), _people())
            question["answer"] = question["comments"][-1]["id"]
            question["answer_chosen_at"] = question["updated_at"]


def _answerable(repo: dict[str, Any], d: dict[str, Any]) -> bool:
    return any(c["slug"] == d["category"] and c["answerable"] for c in repo["discussion_categories"])


def _moments(start: str, rng: random.Random) -> Any:
    moment = parse_iso(start)
    while True:
        moment += timedelta(minutes=rng.randint(5, 600))
        yield iso(moment)


def create(store: Store, repo: dict[str, Any], rng: random.Random, text: Text, created: str, when: Any) -> dict[str, Any]:
    """A discussion with a few comments, some threaded replies, and (in Q&A) maybe an answer."""
    people = _people()
    category = rng.choice(repo["discussion_categories"])
    number = DISCUSSION_NUMBER_BASE + len(repo["discussions"]) + 1
    discussion = {
        "id": _node("D", store.next_id("discussion")), "number": number,
        "title": f"{text.title()} — {rng.choice(['ünïcødé', '山田', 'Ωμέγα', '🦄'])}",
        "body": text.body(), "created_at": created, "updated_at": created,
        "author": rng.choice(people + ["ghost"]), "category": category["slug"], "answer": None,
        "locked": False, "closed": False, "closed_at": None, "state_reason": None, "comments": [],
    }
    repo["discussions"].append(discussion)
    for _ in range(rng.randint(0, 4)):
        comment(store, discussion, rng, text, next(when), people)
    for c in list(discussion["comments"]):
        for _ in range(rng.randint(0, 2)):
            reply(store, discussion, c, rng, text, next(when), people)
    if category["answerable"] and discussion["comments"] and rng.random() < 0.7:
        discussion["answer"] = rng.choice(discussion["comments"])["id"]
        discussion["answer_chosen_at"] = discussion["updated_at"]
    return discussion


def _comment_record(store: Store, rng: random.Random, text: Text, moment: str, people: list[str]) -> dict[str, Any]:
    database_id = store.next_id("discussion_comment")
    return {"id": _node("DC", database_id), "database_id": database_id, "body": text.body(),
            "created_at": moment, "updated_at": moment, "author": rng.choice(people)}


def comment(store: Store, d: dict[str, Any], rng: random.Random, text: Text, moment: str, people: list[str]) -> None:
    d["comments"].append({**_comment_record(store, rng, text, moment, people), "replies": []})
    d["updated_at"] = moment


def reply(store: Store, d: dict[str, Any], parent: dict[str, Any], rng: random.Random, text: Text, moment: str,
          people: list[str]) -> None:
    parent["replies"].append(_comment_record(store, rng, text, moment, people))
    d["updated_at"] = moment


def day(store: Store, day_number: int, start: datetime) -> int:
    """One simulated day of discussion activity, stamped in the day that starts at ``start``.

    Returns how many discussions changed. In one or two repositories with discussions: a new
    discussion, or a comment, a reply, an edited body, an answer chosen, or a discussion closed.
    """
    repos = sorted((r for r in store.db["repos"].values() if r.get("has_discussions") and r.get("discussions")),
                   key=lambda r: r["id"])
    if not repos:
        return 0
    rng = random.Random(f"discussion-activity:{store.db['seed']}:{day_number}")
    text, people, changed = Text(rng), _people(), 0
    ticks = iter(range(1, 10**6))

    def moment() -> str:  # strictly increasing inside the day, after the day's other activity starts
        return iso(start + timedelta(seconds=min(86399, 900 + next(ticks) * 131 + rng.randint(0, 60))))

    for repo in rng.sample(repos, min(len(repos), 2)):
        for _ in range(rng.randint(1, 3)):
            kind = rng.choice(["new", "comment", "reply", "edit", "answer", "close"])
            target = rng.choice(repo["discussions"])
            if kind == "new":
                create(store, repo, rng, text, moment(), iter(moment, None))
            elif kind == "comment" or (kind == "reply" and not target["comments"]):
                comment(store, target, rng, text, moment(), people)
            elif kind == "reply":
                reply(store, target, rng.choice(target["comments"]), rng, text, moment(), people)
            elif kind == "edit":
                target["body"] = text.body()
                target["updated_at"] = moment()
            elif kind == "answer" and target["comments"] and _answerable(repo, target):
                target["answer"] = rng.choice(target["comments"])["id"]
                target["updated_at"] = target["answer_chosen_at"] = moment()
            elif not target["closed"]:
                target.update(closed=True, state_reason="RESOLVED")
                target["updated_at"] = target["closed_at"] = moment()
            changed += 1
    return changed
