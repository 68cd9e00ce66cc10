"""Simulated days of activity, so incremental backups have something new to find.

Each day, drawn from ``random.Random(seed, day number)``: commits on default branches, a new branch, a
force-push (the old tip becomes unreachable), new and edited issues and comments, a new pull request
(``refs/pull/N/head`` and ``merge``), pull requests closed or merged with reviews and review comments,
and a new wiki page. Once per advance: the repository marked ``rename`` is renamed (the old name
answers 301), a repository is deleted (``doomed`` first, then each previous advance's ``experiment``),
a new ``experiment`` repository appears, and a never-created wiki marked ``wiki_later`` gets its first
page. Issue timestamps fall inside the simulated days; commit dates come from a fixed epoch plus the day
number, so object ids depend only on the seed and the number of days advanced.

Every change is also a webhook event (``store.emit``; see webhooks.py) when the App has a webhook URL:
push, create and delete for refs, issues, issue_comment, pull_request, pull_request_review,
pull_request_review_comment, gollum for wiki pages, repository for created, renamed and deleted
repositories. Events never draw from the day's random numbers, so the world is the same with or without
a webhook.
"""

from __future__ import annotations

import random
import subprocess
from datetime import datetime, timedelta
from typing import Any

from . import discussions, events, gitgen, shapes
from .api import next_number
from .gitgen import Stream
from .seed import CONTRIBUTORS, Text, _author, build_wiki, git_moment, lfs_pointer, new_repo_record
from .state import Store, iso


def advance(store: Store, days: int) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "days": days,
        "commits": 0,
        "branches": [],
        "force_pushed": [],
        "issues_created": 0,
        "issues_edited": 0,
        "comments_created": 0,
        "comments_edited": 0,
        "pulls_opened": 0,
        "pulls_closed": 0,
        "reviews": 0,
        "review_comments": 0,
        "renamed": [],
        "deleted": [],
        "created": [],
        "wiki_pages": 0,
        "wikis_created": [],
        "issue_events": 0,
        "discussions_changed": 0,
        "lfs_objects": 0,
    }
    if days <= 0:
        return summary
    with store.lock:
        start = store.now()
        offset = store.db.get("clock_offset", 0)
        seed = store.db["seed"]
        for d in range(days):
            store.db["clock_offset"] = offset + d * 86400  # each day's webhook events are stamped in that day
            day_number = store.db["days_advanced"] + d + 1
            rng = random.Random(f"activity:{seed}:{day_number}")
            day = Day(store, rng, day_number, start + timedelta(days=d), summary)
            if d == 0:
                day.once_per_advance()
            day.run()
            summary["discussions_changed"] += discussions.day(store, day_number, start + timedelta(days=d))
        store.db["days_advanced"] += days
        store.db["clock_offset"] = offset + days * 86400
        store.save()
    return summary


class Day:
    def __init__(self, store: Store, rng: random.Random, number: int, start: datetime, summary: dict[str, Any]) -> None:
        self.store, self.rng, self.number, self.start, self.summary = store, rng, number, start, summary
        self.text = Text(rng)
        self.tick = 0
        self.people = [c[0] for c in CONTRIBUTORS]

    def moment(self) -> str:
        """Strictly increasing timestamps inside this simulated day."""
        self.tick += 1
        return iso(self.start + timedelta(seconds=min(86399, 600 + self.tick * 97 + self.rng.randint(0, 60))))

    def git_when(self) -> datetime:
        self.tick += 1
        return git_moment(0, self.number, self.tick)

    def active_repos(self) -> list[dict[str, Any]]:
        return sorted(
            (
                r
                for r in self.store.db["repos"].values()
                if not r.get("archived") and not r.get("fork") and r.get("role") != "doomed"
                and self.store.git_dir(r).is_dir()
                and r["owner"] != "imported"
            ),
            key=lambda r: r["id"],
        )

    # ---- once per advance --------------------------------------------------------------------------
    def once_per_advance(self) -> None:
        repos = sorted(self.store.db["repos"].values(), key=lambda r: r["id"])
        doomed = [r for r in repos if r.get("role") in ("doomed", "experiment")]
        if doomed:
            victim = doomed[0]
            self.summary["deleted"].append(self.store.full_name(victim))
            self.store.emit("repository", "deleted", victim, {})
            self.store.delete_repo(victim)
        for r in repos:
            if r.get("role") == "rename" and self.store.repo_by_id(r["id"]) is r:
                old = self.store.full_name(r)
                base = r["name"].split("--")[0]
                self.store.rename_repo(r, f"{base}--renamed-{self.number}")
                r["updated_at"] = self.moment()
                self.store.emit("repository", "renamed", r, {"changes": {"repository": {"name": {"from": old.split("/", 1)[1]}}}})
                self.summary["renamed"].append({"from": old, "to": self.store.full_name(r)})
                break
        for r in repos:
            if r.get("role") == "wiki_later" and self.store.wiki_state(r) == "never_created":
                build_wiki(self.store, r, self.rng, pages=1)
                self.wiki_changed(r, [("Home", "created")], self.people[1])
                r["role"] = ""
                self.summary["wikis_created"].append(self.store.full_name(r))
                break
        owner = self.store.db["installations"][0]["account"]
        repo = new_repo_record(self.store, owner, f"experiment-{self.number}", created_at=self.moment(), private=True)
        repo["role"] = "experiment"
        self.store.add_repo(repo)
        self.store.emit("repository", "created", repo, {}, sender=self.people[0])
        gitgen.init_bare(self.store.git_dir(repo))
        s = Stream()
        s.commit("refs/heads/main", f"Experiment {self.number} ✨", self.git_when(), _author(self.people[0], self.store), {"README.md": "experiment\n"})
        gitgen.run_fast_import(self.store.git_dir(repo), s)
        repo["pushed_at"] = repo["created_at"]
        self.store.emit_refs(repo, {}, self.people[0])
        self.summary["created"].append(self.store.full_name(repo))

    # ---- every day ---------------------------------------------------------------------------------
    def run(self) -> None:
        repos = self.active_repos()
        if not repos:
            return
        busy = self.rng.sample(repos, min(len(repos), 3))
        for i, repo in enumerate(busy):
            self.git_day(repo, branch=i == 0)
            self.issues_day(repo)
            self.pulls_day(repo)
        candidates = list(repos)
        self.rng.shuffle(candidates)
        for repo in candidates:
            if self.force_push(repo):
                break
        wikis = [r for r in repos if self.store.wiki_state(r) == "populated"]
        if wikis:
            self.wiki_page(self.rng.choice(wikis))
        for repo in busy:  # last, so that every earlier draw of the day is what it was without it
            self.history_day(repo)

    def git_day(self, repo: dict[str, Any], branch: bool) -> None:
        git_dir = self.store.git_dir(repo)
        refs = Store.read_refs(git_dir)
        main = f"refs/heads/{repo.get('default_branch', 'main')}"
        tip = refs.get(main)
        if tip is None:
            return
        s = Stream()
        person = self.rng.choice(self.people)
        who = _author(person, self.store)
        for k in range(self.rng.randint(1, 3)):
            tip = s.commit(main, f"Day {self.number}: {self.text.title()}", self.git_when(), who,
                           {f"src/day_{self.number}_{k}.py": f"DAY = {self.number}  # ünï\n"}, parent=tip)
            self.summary["commits"] += 1
        if branch:  # the day's busiest repository also gains a Git LFS file (no draw: the rest stays as it was)
            key = f"{repo['id']}-day-{self.number}"
            tip = s.commit(main, f"Day {self.number}: add an LFS file", self.git_when(), who,
                           {f"assets/day-{self.number}.bin": lfs_pointer(self.store, repo, key)}, parent=tip)
            self.summary["commits"] += 1
            self.summary["lfs_objects"] += 1
            name = f"topic/day-{self.number}"
            s.commit(f"refs/heads/{name}", f"Start {name}", self.git_when(), who, {"topic.md": "🌱\n"}, parent=tip)
            self.summary["branches"].append(f"{self.store.full_name(repo)}:{name}")
        gitgen.run_fast_import(git_dir, s, force=True)
        repo["pushed_at"] = self.moment()
        repo["updated_at"] = repo["pushed_at"]
        self.store.emit_refs(repo, refs, person)

    def force_push(self, repo: dict[str, Any]) -> bool:
        """Rewrite ``develop`` from its parent: the old tip becomes unreachable. False if not possible."""
        git_dir = self.store.git_dir(repo)
        develop = Store.read_refs(git_dir).get("refs/heads/develop")
        if not develop:
            return False
        parent = subprocess.run(["git", f"--git-dir={git_dir}", "rev-parse", "--verify", "--quiet", f"{develop}^"],
                                capture_output=True, text=True).stdout.strip()
        if not parent:
            return False
        before = self.store.refs_if_listening(repo)
        s = Stream()
        person = self.rng.choice(self.people)
        s.commit("refs/heads/develop", f"Rewrite develop (day {self.number})", self.git_when(),
                 _author(person, self.store),
                 {"REWRITTEN.md": f"force-pushed on day {self.number}\n"}, parent=parent)
        gitgen.run_fast_import(git_dir, s, force=True)
        self.store.emit_refs(repo, before, person)
        self.summary["force_pushed"].append({"repo": self.store.full_name(repo), "ref": "refs/heads/develop", "lost": develop})
        repo["pushed_at"] = self.moment()
        return True

    def issues_day(self, repo: dict[str, Any]) -> None:
        if not repo.get("has_issues", True):
            return
        for _ in range(self.rng.randint(1, 3)):
            now = self.moment()
            repo["issues"].append(
                {
                    "id": self.store.next_id("issue"), "number": next_number(repo), "title": self.text.title(),
                    "body": self.text.body(), "user": self.rng.choice(self.people + ["ghost"]), "state": "open",
                    "state_reason": None, "locked": False, "lock_reason": None, "labels": ["bug"] if self.rng.random() < 0.5 else [],
                    "milestone": None, "assignees": [], "created_at": now, "updated_at": now, "closed_at": None,
                    "closed_by": None, "author_association": "CONTRIBUTOR", "comments": [],
                }
            )
            self._record(repo, repo["issues"][-1], {**events.fields(repo["issues"][-1]), "labels": []},
                         repo["issues"][-1]["user"], now)
            self.summary["issues_created"] += 1
            self.issue_event("opened", repo, repo["issues"][-1], repo["issues"][-1]["user"])
        issues = repo["issues"]
        edited = self.rng.choice(issues)
        old_body = edited.get("body")
        edited["body"] = (edited.get("body") or "") + f"\n\nEdited on day {self.number} ✎"
        edited["updated_at"] = self.moment()
        self.summary["issues_edited"] += 1
        self.issue_event("edited", repo, edited, edited["user"], {"body": {"from": old_body or ""}})
        for _ in range(self.rng.randint(2, 5)):
            target = self.rng.choice(issues)
            if target.get("locked"):
                continue
            now = self.moment()
            target.setdefault("comments", []).append(
                {"id": self.store.next_id("comment"), "user": self.rng.choice(self.people), "body": self.text.body(),
                 "created_at": now, "updated_at": now, "author_association": "CONTRIBUTOR"}
            )
            target["updated_at"] = now
            self.summary["comments_created"] += 1
            self.comment_event("created", repo, target, target["comments"][-1])
        with_comments = [i for i in issues if i.get("comments")]
        if with_comments:
            target = self.rng.choice(with_comments)
            comment = self.rng.choice(target["comments"])
            old_body = comment["body"]
            comment["body"] += f"\n\n(edited on day {self.number})"
            comment["updated_at"] = self.moment()
            target["updated_at"] = comment["updated_at"]
            self.summary["comments_edited"] += 1
            self.comment_event("edited", repo, target, comment, {"body": {"from": old_body}})

    def pulls_day(self, repo: dict[str, Any]) -> None:
        git_dir = self.store.git_dir(repo)
        refs = Store.read_refs(git_dir)
        main = refs.get(f"refs/heads/{repo.get('default_branch', 'main')}")
        if main is None:
            return
        # open a new pull request
        number = next_number(repo)
        head_ref = f"feature/day-{self.number}-{number}"
        s = Stream()
        person = self.rng.choice(self.people)
        who = _author(person, self.store)
        head = s.commit(f"refs/heads/{head_ref}", f"Feature for day {self.number}", self.git_when(), who,
                        {f"features/{number}.md": "new ✨\n"}, parent=main)
        s.reset(f"refs/pull/{number}/head", head)
        merge = s.commit(f"refs/pull/{number}/merge", f"Merge {head_ref} into main", self.git_when(), who, {}, parent=main, merge=head)
        table = gitgen.run_fast_import(git_dir, s, force=True)
        now = self.moment()
        repo["issues"].append(
            {
                "id": self.store.next_id("issue"), "number": number, "title": f"Add feature {number} — {self.text.title()}",
                "body": self.text.body(), "user": self.rng.choice(self.people), "state": "open", "state_reason": None,
                "locked": False, "lock_reason": None, "labels": ["enhancement"], "milestone": None, "assignees": [],
                "created_at": now, "updated_at": now, "closed_at": None, "closed_by": None,
                "author_association": "CONTRIBUTOR", "comments": [],
                "pull": {"id": self.store.next_id("issue"), "head_ref": head_ref, "base_ref": "main", "head_sha": table[head],
                         "base_sha": main, "merged_at": None, "merged_by": None, "merge_commit_sha": table[merge],
                         "draft": False, "reviews": [], "review_comments": []},
            }
        )
        self._record(repo, repo["issues"][-1], {**events.fields(repo["issues"][-1]), "labels": []},
                     repo["issues"][-1]["user"], now)
        self.summary["pulls_opened"] += 1
        self.store.emit_refs(repo, refs, person)
        self.pull_event("opened", repo, repo["issues"][-1])
        # close (and mostly merge) the oldest other open pull request, with reviews
        open_pulls = [i for i in repo["issues"] if i.get("pull") and i["state"] == "open" and i["number"] != number]
        if not open_pulls:
            return
        issue = open_pulls[0]
        p = issue["pull"]
        for _ in range(self.rng.randint(1, 2)):
            review = {"id": self.store.next_id("review"), "user": self.rng.choice(self.people), "body": self.text.words(2, 10),
                      "state": self.rng.choice(["APPROVED", "COMMENTED"]), "submitted_at": self.moment(), "commit_id": p["head_sha"]}
            p["reviews"].append(review)
            self.summary["reviews"] += 1
            self.review_event(repo, issue, review)
            now = self.moment()
            p["review_comments"].append(
                {"id": self.store.next_id("review_comment"), "review_id": review["id"], "user": review["user"],
                 "body": self.text.words(3, 12), "path": "src/main.py", "line": 1,
                 "diff_hunk": "@@ -1 +1 @@\n-print('hello')\n+print('ünï')", "commit_id": p["head_sha"],
                 "created_at": now, "updated_at": now, "in_reply_to_id": None}
            )
            self.summary["review_comments"] += 1
            self.review_comment_event(repo, issue, p["review_comments"][-1])
        now = self.moment()
        merged = self.rng.random() < 0.7
        before = events.fields(issue)
        issue.update(state="closed", closed_at=now, updated_at=now, closed_by=self.rng.choice(self.people),
                     state_reason=None if merged else "not_planned")
        if merged:
            p.update(merged_at=now, merged_by=issue["closed_by"], merge_commit_sha=p["head_sha"])
            events.add_event(self.store, issue, "merged", issue["closed_by"], now, commit_id=p["merge_commit_sha"])
        self._record(repo, issue, before, issue["closed_by"], now)
        self.pull_event("closed", repo, issue, issue["closed_by"])
        refs_now = Store.read_refs(git_dir)
        updates = "".join(
            f"delete {ref}\n" for ref in (f"refs/pull/{issue['number']}/merge", f"refs/heads/{p['head_ref']}") if ref in refs_now
        )
        if updates:
            subprocess.run(["git", f"--git-dir={git_dir}", "update-ref", "--stdin"], input=updates.encode(), check=True)
            self.store.emit_refs(repo, refs_now, issue["closed_by"])
        self.summary["pulls_closed"] += 1

    def _record(self, repo: dict[str, Any], issue: dict[str, Any], before: dict[str, Any], actor: str, when: str) -> None:
        count = len(issue.get("events", []))
        events.record_changes(self.store, repo, issue, before, actor, when)
        self.summary["issue_events"] += len(issue.get("events", [])) - count

    def history_day(self, repo: dict[str, Any]) -> None:
        """Triage on a busy repository: labels, assignees, milestones, renames, closing and reopening,
        and a commit on the default branch referencing an issue (which, as on GitHub, leaves the
        issue's ``updated_at`` alone). Its own generator, so the rest of the day is unchanged."""
        if not repo.get("has_issues", True) or not repo["issues"]:
            return
        rng = random.Random(f"history:{self.store.db['seed']}:{self.number}:{repo['id']}")
        people = self.people
        for _ in range(rng.randint(1, 3)):
            issue = rng.choice(repo["issues"])
            if issue.get("locked"):
                continue
            before = events.fields(issue)
            actor = rng.choice(people)
            change = rng.choice(["label", "unlabel", "assign", "unassign", "milestone", "rename", "state"])
            if change == "label":
                issue["labels"] = sorted({*issue.get("labels", []), rng.choice(repo["labels"])["name"]})
            elif change == "unlabel" and issue.get("labels"):
                dropped = rng.choice(issue["labels"])
                issue["labels"] = [n for n in issue["labels"] if n != dropped]
            elif change == "assign":
                issue["assignees"] = sorted({*issue.get("assignees", []), rng.choice(people)})
            elif change == "unassign" and issue.get("assignees"):
                issue["assignees"] = issue["assignees"][1:]
            elif change == "milestone" and repo["milestones"]:
                choices = [None, *[m["number"] for m in repo["milestones"]]]
                issue["milestone"] = rng.choice([m for m in choices if m != issue.get("milestone")])
            elif change == "rename":
                issue["title"] = f"{issue['title'].split(' (triaged')[0]} (triaged day {self.number})"
            elif change == "state" and not issue.get("pull"):
                closing = issue["state"] == "open"
                issue.update(state="closed" if closing else "open", closed_by=actor if closing else None,
                             state_reason="completed" if closing else "reopened")
            now = self.moment()
            if events.fields(issue) != before:
                if issue["state"] == "closed" and before["state"] == "open":
                    issue["closed_at"] = now
                elif issue["state"] == "open":
                    issue["closed_at"] = None
                self._record(repo, issue, before, actor, now)
                issue["updated_at"] = now
        tip = Store.read_refs(self.store.git_dir(repo)).get(f"refs/heads/{repo.get('default_branch', 'main')}")
        if tip:
            issue = rng.choice(repo["issues"])
            events.add_event(self.store, issue, "referenced", rng.choice(people), self.moment(), commit_id=tip)
            self.summary["issue_events"] += 1

    def wiki_page(self, repo: dict[str, Any]) -> None:
        wiki = self.store.wiki_dir(repo)
        tip = Store.read_refs(wiki).get("refs/heads/master")
        s = Stream()
        s.commit("refs/heads/master", f"Add page for day {self.number}", self.git_when(), _author(self.people[1], self.store),
                 {f"Day-{self.number}-Ünïcødé.md": f"# Day {self.number}\n\n{self.text.body()}"}, parent=tip)
        gitgen.run_fast_import(wiki, s, force=True)
        self.summary["wiki_pages"] += 1
        self.wiki_changed(repo, [(f"Day-{self.number}-Ünïcødé", "created")], self.people[1])

    # ---- webhook events (nothing here draws from self.rng) -----------------------------------------
    def wiki_changed(self, repo: dict[str, Any], pages: list[tuple[str, str]], sender: str) -> None:
        if self.store.listening():
            sha = Store.read_refs(self.store.wiki_dir(repo)).get("refs/heads/master", "")
            self.store.hooks.wiki_changed(repo, pages, sha, sender)

    def issue_event(self, action: str, repo: dict[str, Any], issue: dict[str, Any], sender: str,
                    changes: dict[str, Any] | None = None) -> None:
        if issue.get("pull"):
            self.pull_event(action, repo, issue, sender, changes)
            return
        store = self.store
        store.emit("issues", action, repo, lambda c: {
            **({"changes": changes} if changes is not None else {}), "issue": shapes.issue(repo, issue, store, c)},
            sender=sender)

    def comment_event(self, action: str, repo: dict[str, Any], issue: dict[str, Any], comment: dict[str, Any],
                      changes: dict[str, Any] | None = None) -> None:
        store = self.store
        store.emit("issue_comment", action, repo, lambda c: {
            **({"changes": changes} if changes is not None else {}),
            "issue": shapes.issue(repo, issue, store, c), "comment": shapes.issue_comment(repo, issue, comment, store, c)},
            sender=comment["user"])

    def pull_event(self, action: str, repo: dict[str, Any], issue: dict[str, Any], sender: str | None = None,
                   changes: dict[str, Any] | None = None) -> None:
        store = self.store
        store.emit("pull_request", action, repo, lambda c: {
            "number": issue["number"], **({"changes": changes} if changes is not None else {}),
            "pull_request": shapes.pull(repo, issue, store, c, full=True)}, sender=sender or issue["user"])

    def review_event(self, repo: dict[str, Any], issue: dict[str, Any], review: dict[str, Any]) -> None:
        store = self.store
        store.emit("pull_request_review", "submitted", repo, lambda c: {
            "review": shapes.review(repo, issue, review, store, c),
            "pull_request": shapes.pull(repo, issue, store, c, full=False)}, sender=review["user"])

    def review_comment_event(self, repo: dict[str, Any], issue: dict[str, Any], comment: dict[str, Any]) -> None:
        store = self.store
        store.emit("pull_request_review_comment", "created", repo, lambda c: {
            "comment": shapes.review_comment(repo, issue, comment, store, c),
            "pull_request": shapes.pull(repo, issue, store, c, full=False)}, sender=comment["user"])
