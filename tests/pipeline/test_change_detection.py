"""A day costs what changed: unchanged git data is neither fetched nor stored again, changes are
captured the same day, and every day still restores to exactly what GitHub held.

Fetches are counted at the Git client boundary: a ``git`` on PATH that logs its arguments (never a
token: credentials travel in the environment) and runs the real git.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from assets.bodies import GitEntry
from assets.git_chain import restore_chain
from assets.policy import BackupPolicy
from resources.git import Git
from tests.installation import Backhub

pytestmark = pytest.mark.slow

CUSTOMER = "zoe-dev"


class GitLog:
    """Every git command the backup runs, as argv lines."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def clear(self) -> None:
        self.path.write_text("")

    def commands(self, verb: str) -> list[str]:
        lines = self.path.read_text().splitlines() if self.path.exists() else []
        return [line for line in lines if f" {verb} " in f" {line} "]


@pytest.fixture
def git_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitLog:
    real = shutil.which("git")
    assert real is not None
    bin_dir = tmp_path / "git-wrapper"
    bin_dir.mkdir()
    log = GitLog(tmp_path / "git-commands.log")
    wrapper = bin_dir / "git"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log.path}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return log


def quiet_day(backhub: Backhub) -> None:
    """Both clocks one day on, with no activity on GitHub."""
    backhub.offset_days += 1
    backhub.emulator.control("POST", "clock", json={"offset_days": backhub.offset_days})
    backhub.monkeypatch.setenv("BACKHUB_CLOCK_OFFSET_DAYS", str(backhub.offset_days))


def _entries(backhub: Backhub, asset: str) -> dict[str, dict]:
    body = backhub.store().read_manifest(CUSTOMER, backhub.today(), asset).body
    return {entry["full_name"]: entry for entry in body["repositories"].values()}


def _account(backhub: Backhub) -> dict:
    return next(acc for name, acc in backhub.emulator.state()["accounts"].items() if name.lower() == CUSTOMER)


def _reachable(git_dir: Path) -> set[str]:
    out = subprocess.run(["git", f"--git-dir={git_dir}", "rev-list", "--all", "--objects"],
                         check=True, capture_output=True).stdout
    return {line.split(b" ", 1)[0].decode() for line in out.splitlines() if line}


def test_an_unchanged_repository_is_not_fetched_and_stores_nothing_even_with_a_cold_cache(
        backhub: Backhub, git_log: GitLog) -> None:
    backhub.monkeypatch.setenv("BACKHUB_FULL_READ_DAYS", "365")  # the safety net is tested on its own
    [day1] = backhub.snapshot([CUSTOMER])
    assert day1.success, day1.error
    before = {asset: _entries(backhub, asset) for asset in ("repositories", "wikis")}
    quiet_day(backhub)
    shutil.rmtree(os.environ["BACKHUB_GIT_CACHE_DIR"])  # a cold cache must not force a fetch
    git_log.clear()

    [day2] = backhub.snapshot([CUSTOMER])

    assert day2.success, day2.error
    assert day2.checks_failed == []
    assert git_log.commands("fetch") == []
    populated = sum(1 for entry in before["wikis"].values() if entry.get("state") in ("populated", "never_created"))
    with_git = sum(1 for entry in before["repositories"].values() if "tips" in entry)
    assert len(git_log.commands("ls-remote")) == with_git + populated
    for asset in ("repositories", "wikis"):
        assert day2.assets[asset]["new_blobs"] == 0, asset
        assert day2.assets[asset]["not_fetched"] == sum(1 for e in before[asset].values() if "tips" in e)
        after = _entries(backhub, asset)
        assert after.keys() == before[asset].keys()
        for name, entry in after.items():
            assert entry.get("chain") == before[asset][name].get("chain"), name
            assert entry.get("tips") == before[asset][name].get("tips"), name
            assert entry.get("state") == before[asset][name].get("state"), name
    assert not any((Path(os.environ["BACKHUB_GIT_CACHE_DIR"]) / CUSTOMER).rglob("HEAD"))  # no mirror rebuilt
    # Issues: three one-item reads per repository (a token besides), no per-kind read, nothing stored.
    expected = _expected_reads(backhub, day1.date, 365)
    assert expected and _reads(backhub) == expected
    if set(expected.values()) == {"skipped"}:  # no repository's safety-net day (almost always)
        assert day2.assets["issues"]["api_requests"] <= 3 * len(expected) + 1
        assert day2.assets["issues"]["new_blobs"] == 0


def _reads(backhub: Backhub) -> dict[str, str]:
    return {name: entry["read"] for name, entry in _entries(backhub, "issues").items() if "reason" not in entry}


def _expected_reads(backhub: Backhub, previous_date: str, full_read_days: int, changed: str = "") -> dict[str, str]:
    """How each repository's issues are read today: whole on its safety-net day, else only if changed."""
    policy = BackupPolicy(full_read_days=full_read_days)
    previous = backhub.store().read_manifest(CUSTOMER, previous_date, "issues").body["repositories"]
    expected = {}
    for repository_id, entry in previous.items():
        if "reason" in entry:
            continue
        last = dt.datetime.fromisoformat(entry["full_read_at"]).date()
        due = policy.full_read_due(repository_id, backhub.today(), last)
        expected[entry["full_name"]] = "full" if due else "incremental" if entry["full_name"] == changed else "skipped"
    return expected


def _records(backhub: Backhub, full_name: str) -> dict[int, dict]:
    from assets.bodies import IssuesEntry, read_records

    entry = IssuesEntry.from_json(_entries(backhub, "issues")[full_name], full_name)
    return {record["number"]: record for record in read_records(backhub.store(), CUSTOMER, entry)}


def test_only_a_new_comment_an_edited_comment_or_a_new_review_is_captured_the_same_day(backhub: Backhub) -> None:
    backhub.monkeypatch.setenv("BACKHUB_FULL_READ_DAYS", "365")  # no safety-net full read in between
    [day1] = backhub.snapshot([CUSTOMER])
    assert day1.success, day1.error
    account = _account(backhub)
    repo = max(account["repositories"].values(), key=lambda r: len(r["issues"]))
    commented = next(int(n) for n, i in repo["issues"].items() if i["comments"] and not i["pull_request"])
    pull = next(int(n) for n, i in repo["issues"].items() if i["pull_request"])
    changes = [("comment", commented), ("edit_comment", commented), ("review", pull)]
    for kind, number in changes:
        previous_date = backhub.today()
        quiet_day(backhub)
        answer = backhub.emulator.control("POST", "issues/change",
                                          json={"full_name": repo["full_name"], "number": number, "kind": kind})
        [summary] = backhub.snapshot([CUSTOMER])
        assert summary.success, summary.error
        assert summary.checks_failed == []
        assert _reads(backhub) == _expected_reads(backhub, previous_date, 365, changed=repo["full_name"]), kind
        record = _records(backhub, repo["full_name"])[number]
        if kind == "review":
            assert answer["review_id"] in [review["id"] for review in record["reviews"]]
        else:
            [comment] = [c for c in record["comments"] if c["id"] == answer["comment_id"]]
            assert ("edited at" in comment["body"]) == (kind == "edit_comment")


def test_the_safety_net_reads_every_repository_whole_once_per_cycle_even_when_quiet(backhub: Backhub) -> None:
    backhub.monkeypatch.setenv("BACKHUB_FULL_READ_DAYS", "2")
    [day1] = backhub.snapshot([CUSTOMER])
    assert day1.success, day1.error
    reads: dict[str, list[str]] = {}
    for _ in range(2):
        quiet_day(backhub)
        [summary] = backhub.snapshot([CUSTOMER])
        assert summary.success, summary.error
        for name, entry in _entries(backhub, "issues").items():
            if "reason" not in entry:
                reads.setdefault(name, []).append(entry["read"])
    # Each repository is read whole on exactly one of the two quiet days, on the day its id picks.
    assert reads and all(sorted(kinds) == ["full", "skipped"] for kinds in reads.values()), reads


def test_only_a_deleted_branch_is_captured_the_same_day_and_restores(backhub: Backhub, git_log: GitLog,
                                                                      tmp_path: Path) -> None:
    [day1] = backhub.snapshot([CUSTOMER])
    assert day1.success, day1.error
    account = _account(backhub)
    repo = next(r for r in account["repositories"].values() if len(r["refs"]) > 1)
    branch = sorted(ref for ref in repo["refs"] if ref.startswith("refs/heads/") and
                    ref != f"refs/heads/{repo['default_branch']}")[0]
    emulated = backhub.emulator.data_dir / "repos" / f"{repo['id']}.git"
    subprocess.run(["git", f"--git-dir={emulated}", "update-ref", "-d", branch], check=True)
    quiet_day(backhub)
    git_log.clear()

    [day2] = backhub.snapshot([CUSTOMER])

    assert day2.success, day2.error
    truth = next(r for r in _account(backhub)["repositories"].values() if r["id"] == repo["id"])
    assert branch not in truth["refs"]
    entry = _entries(backhub, "repositories")[repo["full_name"]]
    assert entry["tips"] == truth["refs"]
    fetched = git_log.commands("fetch")
    assert len(fetched) == 1 and f"/{repo['full_name']}.git" in fetched[0]
    restored = tmp_path / "restored.git"
    refs = restore_chain(Git(tmp_path / "cache"), backhub.store(), CUSTOMER, GitEntry.from_json(entry, "test"), restored)
    assert refs == truth["refs"]


def test_force_pushed_commits_and_quiet_days_restore_exactly_on_every_day(backhub: Backhub, tmp_path: Path) -> None:
    days: list[tuple[str, dict, dict[str, set[str]]]] = []
    repos_dir = backhub.emulator.data_dir / "repos"
    for step in ("first", "activity", "quiet"):
        if step == "activity":
            backhub.next_day()  # includes a force-push of some repository's develop branch
        elif step == "quiet":
            quiet_day(backhub)
        [summary] = backhub.snapshot([CUSTOMER])
        assert summary.success, summary.error
        account = _account(backhub)
        objects = {r["full_name"]: _reachable(repos_dir / f"{r['id']}.git") for r in account["repositories"].values()}
        days.append((backhub.today(), account, objects))
    git = Git(tmp_path / "cache")
    store = backhub.store()
    for date, account, objects in days:
        entries = {e["full_name"]: e for e in store.read_manifest(CUSTOMER, date, "repositories").body["repositories"].values()}
        for repo in account["repositories"].values():
            into = tmp_path / date / f"{repo['id']}.git"
            entry = GitEntry.from_json(entries[repo["full_name"]], "test")
            assert restore_chain(git, store, CUSTOMER, entry, into) == repo["refs"], (date, repo["full_name"])
            assert _reachable(into) == objects[repo["full_name"]], (date, repo["full_name"])
