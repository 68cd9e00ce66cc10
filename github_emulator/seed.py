"""Deterministic synthetic customers at three scales, with the cases that break backup tools.

``tiny`` (tests): an organization and a user, a few repositories. ``small`` (demo): five customers.
``medium`` (benchmarks): two customers with 50 repositories each, thousands of issues and pull
requests, tens of thousands of comments, a few repositories of tens of MB. Every scale has Unicode
names, bodies, commit messages and paths, a 1 MB issue body, the deleted user ``ghost``, locked issues,
repositories named ``-dash``, ``dots.in.name`` and ``.github``, an empty and an archived repository, a
fork, lightweight and annotated tags, ``refs/notes/commits``, ``refs/pull/N/head`` (and ``merge`` while
open), LFS pointer files, and wikis disabled, never created and populated. Everything derives from
``random.Random(seed)``; nothing from the wall clock.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from . import gitgen, lfs, repo_settings
from .events import add_event
from .gitgen import Stream, epoch
from .state import FORMAT_VERSION, Store, iso

APP_ID = 424242
GHOST = {"login": "ghost", "id": 10137, "type": "User", "name": "Deleted user"}
BOT_LOGIN = "backhub-emulator[bot]"
APP_PERMISSIONS = {
    "metadata": "read",
    "contents": "write",
    "issues": "write",
    "pull_requests": "write",
    "administration": "write",
    "actions": "read",
    "repository_hooks": "read",
    "members": "read",
    "discussions": "read",
}
CONTRIBUTORS = [
    ("chloe-dubois", "Chloé Dubois"),
    ("juergen-gross", "Jürgen Groß"),
    ("soren-k", "Søren Kierkegård"),
    ("yamada-taro", "山田太郎"),
    ("olga-p", "Ольга Петрова"),
    ("m-ali", "محمد علي"),
    ("ngoc-tran", "Trần Thị Ngọc"),
    ("unicorn-dev", "🦄 Unicorn Developer"),
    ("priya-s", "प्रिया शर्मा"),
    ("kim-minji", "김민지"),
]
WORDS = (
    "backup restore snapshot ünïcødé naïve café 日本語 テスト Привет мир مرحبا 🚀 ✅ 🐛 emoji "
    "fix feature refactor docs Straße résumé façade 中文 한국어 Ελληνικά עברית ∑ ≠ → "
    "the a of to in is it for on with as was at by an be this that from"
).split()
DEFAULT_LABELS = [
    ("bug", "d73a4a", "Something isn't working"),
    ("documentation", "0075ca", "Improvements or additions to documentation"),
    ("duplicate", "cfd3d7", "This issue or pull request already exists"),
    ("enhancement", "a2eeef", "New feature or request"),
    ("good first issue", "7057ff", "Good for newcomers"),
    ("help wanted", "008672", "Extra attention is needed"),
    ("invalid", "e4e669", "This doesn't seem right"),
    ("question", "d876e3", "Further information is requested"),
    ("wontfix", "ffffff", "This will not be worked on"),
]
EXTRA_LABELS = [("🐛 ünïcode", "fbca04", "Labels with emoji and accents"), ("priority: high", "b60205", None)]
SEED_START = epoch(2023, 1, 1)
GIT_ACTIVITY_EPOCH = epoch(2025, 1, 1)


@dataclass
class RepoPlan:
    """What to build for one repository; the git part runs later, possibly in parallel."""

    name: str
    issues: int = 0
    pulls: int = 0
    comments: int = 3
    commits: int = 5
    big_mb: int = 0
    wiki: str = "populated"  # populated | never_created | disabled
    empty: bool = False
    archived: bool = False
    private: bool = True
    fork_of: str | None = None
    huge_body: bool = False
    releases: int = 0
    role: str = ""  # doomed | rename | wiki_later: what the first advance does to it
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Customer:
    login: str
    type: str
    name: str
    repos: list[RepoPlan]


def _tiny_customers() -> list[Customer]:
    return [
        Customer(
            "acme-corp",
            "Organization",
            "Acme Ünïcødé Corp ☃",
            [
                RepoPlan("widgets", issues=24, pulls=8, comments=3, commits=8, huge_body=True, releases=2, private=False),
                RepoPlan("-dash", issues=2, commits=2, wiki="disabled"),
                RepoPlan("dots.in.name", issues=2, pulls=1, commits=3, wiki="never_created"),
                RepoPlan(".github", issues=0, commits=2, wiki="disabled"),
                RepoPlan("empty", empty=True, wiki="never_created"),
                RepoPlan("legacy-archive", issues=3, commits=3, archived=True),
                RepoPlan("handbook", issues=1, commits=2, wiki="never_created", role="wiki_later"),
                RepoPlan("old-prototype", issues=2, commits=2, role="doomed"),
                RepoPlan("rename-me", issues=2, commits=2, role="rename"),
            ],
        ),
        Customer(
            "zoe-dev",
            "User",
            "Zoë Ångström 山田",
            [
                RepoPlan("dotfiles", issues=3, pulls=1, commits=4, wiki="disabled"),
                RepoPlan("widgets", fork_of="acme-corp/widgets", wiki="never_created"),
                RepoPlan("notes", issues=4, pulls=2, commits=3, wiki="populated"),
            ],
        ),
    ]


#: ``--customers N`` fills the world up to N customers with these: one small repository each.
LIGHT_PREFIX = "customer-"


def light_customers(have: int, total: int) -> list[Customer]:
    """Customers ``have + 1`` .. ``total``: an organization with one small repository (two issues, one
    commit, no wiki), for benchmarks that need many installations rather than much data."""
    return [Customer(f"{LIGHT_PREFIX}{n:05d}", "Organization", f"Customer {n}",
                     [RepoPlan("app", issues=2, comments=1, commits=1, wiki="disabled")])
            for n in range(have + 1, total + 1)]


def customers_for(scale: str, customers: int = 0) -> list[Customer]:
    """The scale's own customers, then lightweight ones (``light_customers``) up to ``customers``."""
    base = _scale_customers(scale)
    return base + light_customers(len(base), customers)


def _scale_customers(scale: str) -> list[Customer]:
    base = _tiny_customers()
    if scale == "tiny":
        return base
    if scale == "small":
        base[0].repos[0].issues, base[0].repos[0].pulls = 120, 30
        extra = [
            ("globex", "Organization", "Globex Corporation — Ωmega"),
            ("umbrella-labs", "Organization", "Umbrella Labs 研究所"),
            ("li-wei", "User", "李伟"),
        ]
        for n, (login, kind, name) in enumerate(extra):
            repos = [
                RepoPlan(f"service-{k}", issues=15 + 5 * k, pulls=5, comments=3, commits=6, releases=1 if k == 0 else 0,
                         wiki=("populated", "never_created", "disabled")[(n + k) % 3])
                for k in range(4)
            ]
            base.append(Customer(login, kind, name, repos))
        return base
    if scale == "medium":
        for cust in base:
            have = len(cust.repos)
            for k in range(50 - have):
                cust.repos.append(
                    RepoPlan(
                        f"project-{k:02d}",
                        issues=24,
                        pulls=12,
                        comments=8,
                        commits=12,
                        big_mb=24 if k < 2 else 0,
                        releases=1 if k % 10 == 0 else 0,
                        wiki=("populated", "never_created", "disabled")[k % 3],
                    )
                )
        base[0].repos[0].issues, base[0].repos[0].pulls = 600, 200
        return base
    raise ValueError(f"unknown scale {scale!r}")


class Text:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def words(self, lo: int, hi: int) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(lo, hi)))

    def title(self) -> str:
        return self.words(3, 8).capitalize()

    def body(self) -> str:
        paras = [self.words(8, 30) for _ in range(self.rng.randint(1, 3))]
        return "\n\n".join(paras) + "\n\n```python\nprint('ünïcødé ✓')\n```\n"


def new_repo_record(
    store: Store,
    owner: str,
    name: str,
    *,
    created_at: str,
    description: str | None = None,
    private: bool = True,
    has_wiki: bool = True,
    has_issues: bool = True,
    homepage: str | None = None,
) -> dict[str, Any]:
    return {
        "id": store.next_id("repo"),
        "owner": owner,
        "name": name,
        "description": description,
        "private": private,
        "fork": False,
        "parent": None,
        "archived": False,
        "has_wiki": has_wiki,
        "has_issues": has_issues,
        "homepage": homepage,
        "language": None,
        "license": None,
        "topics": [],
        "default_branch": "main",
        "created_at": created_at,
        "updated_at": created_at,
        "pushed_at": created_at,
        "size": 0,
        "labels": [],
        "milestones": [],
        "issues": [],
        "releases": [],
        "collaborators": [],
        "hooks": [],
        "next_number": 1,
    }


def _author(login: str, store: Store) -> tuple[str, str]:
    u = store.user(login)
    name = (u or {}).get("name") or login
    return name.replace("<", "").replace(">", ""), f"{login}@users.noreply.emulator.test"


def seed(store: Store, scale: str, seed_value: int, import_dir: Path | None = None, customers: int = 0) -> None:
    """Build the world into ``store.dir`` (which must hold no previous state); ``customers``: at least
    that many installations, the scale's own first."""
    rng = random.Random(f"seed:{seed_value}:{scale}")
    shutil.rmtree(store.repos_dir, ignore_errors=True)
    shutil.rmtree(store.dir / "assets", ignore_errors=True)
    store.repos_dir.mkdir(parents=True, exist_ok=True)
    (store.dir / "assets").mkdir(exist_ok=True)
    store.db = {
        "format": FORMAT_VERSION,
        "seed": seed_value,
        "scale": scale,
        "clock_offset": 0,
        "days_advanced": 0,
        "counters": {},
        "users": {},
        "installations": [],
        "repos": {},
        "renamed": {},
        "deleted": [],
    }
    db = store.db
    db["users"]["ghost"] = dict(GHOST)
    db["users"][BOT_LOGIN.lower()] = {"login": BOT_LOGIN, "id": 9900001, "type": "Bot", "name": "backhub emulator"}
    for login, name in CONTRIBUTORS:
        db["users"][login] = {"login": login, "id": store.next_id("user"), "type": "User", "name": name}
    db["app"] = {
        "id": APP_ID,
        "client_id": "Iv1.e0b4c7a1f00dbeef",
        "name": "backhub emulator",
        "description": "The GitHub App backhub installs, as served by the emulator.",
        "owner": "acme-corp",
        "bot": BOT_LOGIN,
        "permissions": dict(APP_PERMISSIONS),
        "created_at": iso(SEED_START),
    }
    jobs: list[Any] = []
    for cust in customers_for(scale, customers):
        _add_customer(store, cust)
        for plan in cust.repos:
            jobs.append(_plan_repo(store, rng, cust, plan))
    if import_dir is not None:
        jobs.extend(_import(store, import_dir))
    # Git work is subprocess-bound: build repositories in parallel, forks after their parents.
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda job: job(), [j for j in jobs if not getattr(j, "after", False)]))
    for job in jobs:
        if getattr(job, "after", False):
            job()
    for repo in db["repos"].values():
        repo["size"] = gitgen.pack_size_kb(store.git_dir(repo))
    store.reindex()


def _add_customer(store: Store, cust: Customer) -> None:
    db = store.db
    db["users"][cust.login.lower()] = {
        "login": cust.login,
        "id": store.next_id("user"),
        "type": cust.type,
        "name": cust.name,
        "description": f"{cust.name} — synthetic customer",
    }
    permissions = dict(APP_PERMISSIONS)
    if cust.type == "User":
        permissions.pop("repository_hooks")  # so the 403 for hooks without permission shows
    db["installations"].append(
        {
            "id": store.next_id("installation"),
            "account": cust.login,
            "permissions": permissions,
            "created_at": iso(SEED_START),
        }
    )


def _plan_repo(store: Store, rng: random.Random, cust: Customer, plan: RepoPlan) -> Any:
    """Create the record (issues and all) now; return a callable that builds its git data."""
    text = Text(rng)
    created = SEED_START + timedelta(days=rng.randint(0, 200), seconds=rng.randint(0, 86399))
    repo = new_repo_record(
        store,
        cust.login,
        plan.name,
        created_at=iso(created),
        description=f"{text.title()} — {plan.name}",
        private=plan.private and cust.type == "Organization" or plan.name == "dotfiles",
        has_wiki=plan.wiki != "disabled",
    )
    repo.update(
        archived=plan.archived,
        language="Python",
        license=rng.choice([None, "mit", "apache-2.0", "gpl-3.0"]),
        topics=sorted(rng.sample(["backup", "python", "git", "emulator", "unicode", "testing"], 2)),
        homepage="https://example.test/ünïcødé" if plan.name == "widgets" else None,
        role=plan.role,
    )
    repo["labels"] = [
        {"id": store.next_id("label"), "name": n, "color": c, "description": d, "default": True}
        for n, c, d in DEFAULT_LABELS
    ] + [{"id": store.next_id("label"), "name": n, "color": c, "description": d, "default": False} for n, c, d in EXTRA_LABELS]
    people = [c[0] for c in CONTRIBUTORS]
    repo["collaborators"] = [{"login": p, "role": rng.choice(["admin", "write", "read", "maintain", "triage"])} for p in people[:4]]
    if cust.type == "User":
        repo["collaborators"].insert(0, {"login": cust.login, "role": "admin"})
    repo["hooks"] = [
        {"id": store.next_id("hook"), "path": f"/_emulator/hook-receiver/{plan.name}", "events": ["push", "issues"], "created_at": iso(created)}
    ]
    repo_settings.seed(store, repo, random.Random(f"settings:{repo['id']}"), people)
    store.add_repo(repo)
    if plan.fork_of:
        parent = store.repo_by_name(*plan.fork_of.split("/"))
        assert parent is not None
        repo.update(fork=True, parent=parent["id"], description=parent["description"])

        def build_fork() -> None:  # git data only: the parent's LFS objects are not copied (a per-object 404)
            subprocess.run(
                ["git", "clone", "--quiet", "--bare", "--", str(store.git_dir(parent)), str(store.git_dir(repo))],
                check=True,
                capture_output=True,
            )
            forget_origin(store.git_dir(repo))

        build_fork.after = True  # type: ignore[attr-defined]
        return build_fork

    milestones = []
    for k in range(2 if plan.issues >= 5 else 0):
        m_created = created + timedelta(days=k * 30)
        closed = k == 0
        milestones.append(
            {
                "id": store.next_id("milestone"),
                "number": k + 1,
                "title": ["v1.0 ✨", "v2.0 — Ünïcode"][k],
                "description": text.words(5, 12),
                "state": "closed" if closed else "open",
                "creator": cust.login if cust.type == "User" else people[0],
                "created_at": iso(m_created),
                "updated_at": iso(m_created + timedelta(days=3)),
                "closed_at": iso(m_created + timedelta(days=3)) if closed else None,
                "due_on": iso(m_created + timedelta(days=60)),
            }
        )
    repo["milestones"] = milestones

    # Issues and pull requests share one number sequence, in creation order.
    total = plan.issues + plan.pulls
    kinds = ["issue"] * plan.issues + ["pull"] * plan.pulls
    rng.shuffle(kinds)
    moments = sorted(created + timedelta(seconds=rng.randint(3600, 700 * 86400)) for _ in range(total))
    pulls: list[dict[str, Any]] = []
    for n, (kind, when) in enumerate(zip(kinds, moments, strict=True), start=1):
        author = "ghost" if n % 7 == 3 else rng.choice(people)
        closed = rng.random() < 0.45
        updated = when + timedelta(seconds=rng.randint(60, 60 * 86400))
        issue: dict[str, Any] = {
            "id": store.next_id("issue"),
            "number": n,
            "title": text.title() + (f" #{n}" if n % 2 else " ✓"),
            "body": text.body() if n % 5 else None,
            "user": author,
            "state": "closed" if closed else "open",
            "state_reason": "completed" if closed else None,
            "locked": n % 9 == 4,
            "lock_reason": rng.choice(["resolved", "too heated", "off-topic", "spam"]) if n % 9 == 4 else None,
            "labels": sorted({lab["name"] for lab in rng.sample(repo["labels"], rng.randint(0, 3))}),
            "milestone": rng.choice([None, *[m["number"] for m in milestones]]) if milestones else None,
            "assignees": rng.sample(people, rng.randint(0, 2)),
            "created_at": iso(when),
            "updated_at": iso(updated),
            "closed_at": iso(updated) if closed else None,
            "closed_by": rng.choice(people) if closed else None,
            "author_association": "CONTRIBUTOR" if author != "ghost" else "NONE",
            "comments": [],
        }
        if plan.huge_body and n == 3:
            unit = "Large body: ünïcødé 🚀 日本語. "
            issue["body"] = (unit * (1_048_576 // len(unit.encode()) + 1))[:1_048_576 // 2 * 2]
            while len(issue["body"].encode()) < 1_048_576:
                issue["body"] += "x"
        count = rng.randint(0, plan.comments * 2)
        for k in range(count):
            c_when = when + timedelta(seconds=rng.randint(60, 30 * 86400) + k)
            c_upd = c_when + timedelta(seconds=rng.choice([0, 0, 0, rng.randint(60, 86400)]))
            issue["comments"].append(
                {
                    "id": store.next_id("comment"),
                    "user": "ghost" if (n + k) % 11 == 5 else rng.choice(people),
                    "body": text.body(),
                    "created_at": iso(c_when),
                    "updated_at": iso(max(c_upd, c_when)),
                    "author_association": "CONTRIBUTOR",
                }
            )
        if issue["comments"]:
            last = max(c["updated_at"] for c in issue["comments"])
            issue["updated_at"] = max(issue["updated_at"], last)
            if issue["closed_at"]:
                issue["closed_at"] = issue["updated_at"]
        if kind == "pull":
            merged = closed and rng.random() < 0.7
            issue["pull"] = {
                "id": store.next_id("issue"),
                "head_ref": f"feature/{n}-ünï" if n % 4 == 0 else f"feature/{n}",
                "base_ref": "main",
                "head_sha": "",
                "base_sha": "",
                "merged_at": issue["closed_at"] if merged else None,
                "merged_by": rng.choice(people) if merged else None,
                "merge_commit_sha": None,
                "draft": (not closed) and n % 5 == 0,
                "reviews": [],
                "review_comments": [],
            }
            if merged:
                issue["state_reason"] = None
            _add_reviews(store, rng, text, issue, people)
            pulls.append(issue)
        _seed_events(store, repo, issue, people)
        repo["issues"].append(issue)
    repo["next_number"] = total + 1
    if pulls:
        repo["updated_at"] = max(i["updated_at"] for i in repo["issues"])

    def build() -> None:
        _build_git(store, repo, plan, pulls, random.Random(f"git:{repo['id']}"))

    _add_releases(store, rng, text, repo, plan)
    return build


def _seed_events(store: Store, repo: dict[str, Any], issue: dict[str, Any], people: list[str]) -> None:
    """The timeline that led to the issue's seeded state: labels, milestone and assignees soon after it
    was opened, sometimes a rename, the lock, and its closing (merged first, for a merged pull request).
    Drawn from its own generator so the rest of the seed is what it was without events."""
    rng = random.Random(f"events:{issue['id']}")
    start = datetime.fromisoformat(issue["created_at"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(issue["updated_at"].replace("Z", "+00:00"))
    span = max(1, int((end - start).total_seconds()))
    moments = iter(sorted(iso(start + timedelta(seconds=rng.randint(0, span))) for _ in range(8)))
    actor = issue["user"] if issue["user"] != "ghost" else people[0]
    if issue["number"] % 6 == 1:
        when = next(moments)
        add_event(store, issue, "renamed", actor, when, rename={"from": f"WIP {issue['number']}", "to": issue["title"]})
    labels = {lab["name"]: lab["color"] for lab in repo["labels"]}
    when = next(moments)
    for name in issue["labels"]:
        add_event(store, issue, "labeled", rng.choice(people), when, label={"name": name, "color": labels[name]})
    if issue.get("milestone") is not None:
        title = next(m["title"] for m in repo["milestones"] if m["number"] == issue["milestone"])
        add_event(store, issue, "milestoned", rng.choice(people), next(moments), milestone={"title": title})
    when = next(moments)
    for login in issue["assignees"]:
        add_event(store, issue, "assigned", actor, when, assignee=login, assigner=actor)
    if issue.get("locked"):
        add_event(store, issue, "locked", rng.choice(people), next(moments), lock_reason=issue.get("lock_reason"))
    if issue["state"] == "closed":
        closer = issue.get("closed_by") or actor
        if (issue.get("pull") or {}).get("merged_at"):
            add_event(store, issue, "merged", issue["pull"]["merged_by"], issue["closed_at"], commit_id=None)
        add_event(store, issue, "closed", closer, issue["closed_at"])


def _add_reviews(store: Store, rng: random.Random, text: Text, issue: dict[str, Any], people: list[str]) -> None:
    p = issue["pull"]
    start = datetime.fromisoformat(issue["created_at"].replace("Z", "+00:00"))
    for k in range(rng.randint(0, 3)):
        when = start + timedelta(hours=k + 1)
        review = {
            "id": store.next_id("review"),
            "user": rng.choice(people),
            "body": text.words(0, 12),
            "state": rng.choice(["APPROVED", "CHANGES_REQUESTED", "COMMENTED"]),
            "submitted_at": iso(when),
            "commit_id": "",
        }
        p["reviews"].append(review)
        for j in range(rng.randint(0, 2)):
            c_when = when + timedelta(minutes=j)
            comment = {
                "id": store.next_id("review_comment"),
                "review_id": review["id"],
                "user": review["user"],
                "body": text.words(3, 15),
                "path": "src/ünïcødé/módulo.py",
                "line": j + 1,
                "diff_hunk": "@@ -1,3 +1,4 @@\n import os\n+print('ünï')",
                "commit_id": "",
                "created_at": iso(c_when),
                "updated_at": iso(c_when),
                "in_reply_to_id": p["review_comments"][-1]["id"] if j and p["review_comments"] else None,
            }
            p["review_comments"].append(comment)


def _add_releases(store: Store, rng: random.Random, text: Text, repo: dict[str, Any], plan: RepoPlan) -> None:
    for k in range(plan.releases):
        when = datetime.fromisoformat(repo["created_at"].replace("Z", "+00:00")) + timedelta(days=40 * (k + 1))
        rel = {
            "id": store.next_id("release"),
            "tag_name": f"v{k + 1}.0.0",
            "name": f"Release {k + 1}.0 — ünïcødé",
            "body": text.body(),
            "author": CONTRIBUTORS[0][0],
            "created_at": iso(when),
            "prerelease": k == 1,
            "assets": [],
        }
        for j, (name, ctype) in enumerate([("widgets-linux.tar.gz", "application/gzip"), ("checksums.txt", "text/plain")][: 1 + k % 2]):
            data = random.Random(f"asset:{rel['id']}:{j}").randbytes(2048 + 1000 * j)
            aid = store.next_id("asset")
            store.asset_path(aid).write_bytes(data)
            rel["assets"].append(
                {
                    "id": aid,
                    "name": name,
                    "label": None,
                    "content_type": ctype,
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "created_at": iso(when),
                    "uploader": CONTRIBUTORS[0][0],
                    "download_count": j * 3,
                }
            )
        repo["releases"].append(rel)


def _build_git(store: Store, repo: dict[str, Any], plan: RepoPlan, pulls: list[dict[str, Any]], rng: random.Random) -> None:
    git_dir = store.git_dir(repo)
    gitgen.init_bare(git_dir)
    if plan.wiki == "populated":
        build_wiki(store, repo, rng, pages=3)
    if plan.empty:
        return
    base = datetime.fromisoformat(repo["created_at"].replace("Z", "+00:00"))
    s = Stream()
    who = [_author(login, store) for login, _ in CONTRIBUTORS[:5]]
    tip = s.commit(
        "refs/heads/main",
        f"Initial commit of {repo['name']} ✨\n\nÜnïcødé commit message body — 日本語.",
        base,
        who[0],
        {
            "README.md": f"# {repo['name']}\n\n{repo['description']}\n",
            ".gitattributes": "*.bin filter=lfs diff=lfs merge=lfs -text\n",
            "assets/logo.bin": lfs_pointer(store, repo, f"{repo['id']}-logo"),
            "docs/ünïcødé/файл.md": "Ünïcødé path ✓\n",
            "data/日本語.txt": "こんにちは\n",
            "src/main.py": "print('hello')\n",
        },
    )
    marks = [tip]
    n_commits = max(1, plan.commits)
    pull_iter = iter(pulls)
    big_left = plan.big_mb
    when = base
    for k in range(1, n_commits):
        when = when + timedelta(hours=rng.randint(1, 72))
        files: dict[str, bytes | str | None] = {f"src/module_{k % 4}.py": f"# revision {k}\nVALUE = {rng.randint(0, 10**6)}\n"}
        if big_left > 0:
            chunk = min(big_left, 6)
            files[f"blobs/large-{k}.bin"] = random.Random(f"big:{repo['id']}:{k}").randbytes(chunk * 1024 * 1024)
            big_left -= chunk
        tip = s.commit("refs/heads/main", f"Change {k}: {Text(rng).title()}", when, who[k % len(who)], files, parent=tip)
        marks.append(tip)
    while big_left > 0:  # more big data than commits: keep adding
        chunk = min(big_left, 6)
        when += timedelta(hours=1)
        tip = s.commit("refs/heads/main", "Add large data", when, who[0],
                       {f"blobs/extra-{big_left}.bin": random.Random(f"big:{repo['id']}:{big_left}").randbytes(chunk << 20)}, parent=tip)
        big_left -= chunk
        marks.append(tip)
    # develop carries one commit of its own, so that a force-push of it loses an object for real.
    s.commit("refs/heads/develop", "Work in progress on develop ✎", when, who[3],
             {"WIP.md": "unfinished ünï\n"}, parent=marks[max(0, len(marks) - 2)])
    s.reset("refs/tags/v0.1.0", marks[0])
    s.tag("v1.0.0", marks[-1], "Release 1.0 — annotated tag ✓\n", when, who[1])
    for rel in repo.get("releases", []):
        if rel["tag_name"] != "v1.0.0":
            s.reset(f"refs/tags/{rel['tag_name']}", marks[-1])
    note = s.note(marks[0], "Reviewed-by: Zoë ✓\n", when, who[2], None)
    s.note(marks[-1], "Build: green 🟢\n", when, who[2], note)
    pr_marks: dict[int, tuple[str, str, str | None]] = {}
    for issue in pull_iter:
        p = issue["pull"]
        fork_point = marks[rng.randrange(len(marks))]
        when += timedelta(minutes=7)
        head = s.commit(
            f"refs/heads/{p['head_ref']}",
            f"{issue['title']}\n\nPR #{issue['number']}",
            when,
            who[issue["number"] % len(who)],
            {f"changes/pr-{issue['number']}.md": f"Change for #{issue['number']} ünï\n"},
            parent=fork_point,
        )
        s.reset(f"refs/pull/{issue['number']}/head", head)
        merge_mark = None
        if issue["state"] == "open":
            merge_mark = s.commit(
                f"refs/pull/{issue['number']}/merge",
                f"Merge {head} into {marks[-1]}",
                when,
                who[0],
                {},
                parent=marks[-1],
                merge=head,
            )
        pr_marks[issue["number"]] = (head, fork_point, merge_mark)
    table = gitgen.run_fast_import(git_dir, s)
    # Closed pull requests keep refs/pull/N/head but lose their branch, as on GitHub after deletion.
    closed = [i for i in pulls if i["state"] == "closed"]
    if closed:
        refs = "".join(f"delete refs/heads/{i['pull']['head_ref']}\n" for i in closed)
        subprocess.run(["git", f"--git-dir={git_dir}", "update-ref", "--stdin"], input=refs.encode(), check=True)
    for issue in pulls:
        head, fork_point, merge_mark = pr_marks[issue["number"]]
        p = issue["pull"]
        p["head_sha"], p["base_sha"] = table[head], table[fork_point]
        if p["merged_at"]:
            p["merge_commit_sha"] = table[head]
            for event in issue.get("events", []):
                if event["event"] == "merged":
                    event["commit_id"] = p["merge_commit_sha"]
        elif merge_mark:
            p["merge_commit_sha"] = table[merge_mark]
        for review in p["reviews"]:
            review["commit_id"] = p["head_sha"]
        for comment in p["review_comments"]:
            comment["commit_id"] = p["head_sha"]
    repo["pushed_at"] = iso(when)


def lfs_pointer(store: Store, repo: dict[str, Any], key: str) -> str:
    """A Git LFS pointer file (git-lfs docs/spec.md) for content generated from ``key``, whose bytes
    the repository's LFS storage now holds (served by the batch API, ``lfs.py``)."""
    data = random.Random(f"lfs:{key}").randbytes(1000 + 37 * len(key))
    oid = lfs.store_object(store.repos_dir, int(repo["id"]), data)
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n"


def build_wiki(store: Store, repo: dict[str, Any], rng: random.Random, pages: int) -> None:
    wiki = store.wiki_dir(repo)
    gitgen.init_bare(wiki, branch="master")
    s = Stream()
    when = datetime.fromisoformat(repo["created_at"].replace("Z", "+00:00")) + timedelta(days=1)
    files: dict[str, bytes | str | None] = {"Home.md": f"# {repo['name']} wiki\n\nWelcome — ünïcødé ✓\n"}
    for k in range(1, pages):
        files[f"Page-{k}-Ünïcødé.md"] = f"# Page {k}\n\n{Text(rng).body()}"
    s.commit("refs/heads/master", "Initial Home page", when, _author(CONTRIBUTORS[1][0], store), files)
    gitgen.run_fast_import(wiki, s)


def _import(store: Store, import_dir: Path) -> list[Any]:
    """Bare repositories under ``import_dir`` become repositories of the customer ``imported``."""
    login = "imported"
    _add_customer(store, Customer(login, "Organization", "Imported repositories", []))
    jobs = []
    candidates = sorted(p for p in import_dir.rglob("*") if p.is_dir() and (p / "HEAD").is_file() and (p / "objects").is_dir())
    used: set[str] = set()
    for src in candidates:
        raw = src.name[:-4] if src.name.endswith(".git") else src.name
        if raw.endswith(".wiki"):
            continue
        name = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in raw) or "repo"
        while name.lower() in used:
            name += "-1"
        used.add(name.lower())
        wiki_src = src.with_name(raw + ".wiki.git")
        repo = new_repo_record(store, login, name, created_at=iso(SEED_START), has_wiki=wiki_src.is_dir())
        store.add_repo(repo)

        def job(src: Path = src, repo: dict[str, Any] = repo, wiki_src: Path = wiki_src) -> None:
            subprocess.run(["git", "clone", "--quiet", "--mirror", "--", str(src), str(store.git_dir(repo))], check=True, capture_output=True)
            forget_origin(store.git_dir(repo))
            if wiki_src.is_dir():
                subprocess.run(["git", "clone", "--quiet", "--mirror", "--", str(wiki_src), str(store.wiki_dir(repo))], check=True, capture_output=True)
            head = subprocess.run(["git", f"--git-dir={store.git_dir(repo)}", "symbolic-ref", "--short", "HEAD"], capture_output=True, text=True)
            if head.returncode == 0:
                repo["default_branch"] = head.stdout.strip()

        jobs.append(job)
    return jobs


def forget_origin(git_dir: Path) -> None:
    """Drop the clone's ``origin`` from its config and nothing else: ``git remote remove`` would also
    delete the refs its fetch refspec maps to, which for a mirror (``+refs/*:refs/*``) takes
    ``refs/remotes/*`` that the imported repository itself holds."""
    subprocess.run(["git", f"--git-dir={git_dir}", "config", "--remove-section", "remote.origin"], capture_output=True)


def git_moment(days_advanced: int, day: int, k: int) -> datetime:
    """Commit dates for activity: fixed from the seed's point of view, so refs stay deterministic."""
    return GIT_ACTIVITY_EPOCH + timedelta(days=days_advanced + day, minutes=k)
