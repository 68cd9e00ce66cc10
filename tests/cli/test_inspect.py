"""``backhub ls`` and ``backhub diff`` show what a snapshot holds and what changed between two, as an
operator types them; they only read: a typo is exit 2 with one line naming what exists, and nothing is
created, not even on success."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import CUSTOMER, TwoDays, backhub, one_line, tree

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cli")]


def _read(world: TwoDays, *args: str) -> str:
    """Run a reading command that must succeed and leave the home exactly as it was: its stdout."""
    before = tree(world.home)
    done = backhub(*args, env=world.env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert tree(world.home) == before
    return done.stdout


def test_ls_lists_each_repository_with_its_refs_wiki_counts_and_sizes(two_days: TwoDays) -> None:
    first = json.loads(_read(two_days, "ls", "--customer", CUSTOMER, "--date", two_days.first, "--json"))
    latest = json.loads(_read(two_days, "ls", "--customer", CUSTOMER.upper(), "--json"))  # default: the latest
    assert (first["date"], latest["date"]) == (two_days.first, two_days.date)
    repos = {repo["full_name"]: repo for repo in latest["repositories"]}
    assert sorted(repos) == ["zoe-dev/dotfiles", "zoe-dev/notes", "zoe-dev/widgets"]
    [before] = [repo for repo in first["repositories"] if repo["full_name"] == two_days.repo]
    after = repos[two_days.repo]
    assert before["refs"]["refs/heads/main"] == two_days.pushed[0] and after["refs"]["refs/heads/main"] == two_days.pushed[1]
    assert before["refs"][two_days.deleted[0]] == two_days.deleted[1] and two_days.deleted[0] not in after["refs"]
    assert (before["counts"]["issues"], after["counts"]["issues"]) == (3, 4)
    assert repos["zoe-dev/notes"]["wiki"] == "populated" and repos["zoe-dev/notes"]["wiki_refs"]
    assert {repo["wiki"] for repo in repos.values()} == {"populated", "never_created", "disabled"}
    assert all(repo["logical_bytes"] > 0 and repo["stored_bytes"] > 0 for repo in repos.values())
    assert sum(repo["logical_bytes"] for repo in repos.values()) <= latest["logical_bytes"]
    listed = json.loads(_read(two_days, "snapshots", "--customer", CUSTOMER, "--json"))
    assert [s["logical_bytes"] for s in listed] == [first["logical_bytes"], latest["logical_bytes"]]  # one vocabulary

    text = _read(two_days, "ls", "--customer", CUSTOMER)
    assert text.splitlines()[0].startswith(f"snapshot {CUSTOMER} {two_days.date}: 3 repositories, ")
    assert "zoe-dev/notes" in text and "populated (1 refs)" in text


def test_ls_of_one_repository_prints_every_ref_with_its_sha(two_days: TwoDays) -> None:
    text = _read(two_days, "ls", "--customer", CUSTOMER, "--date", two_days.first, "--repo", two_days.repo)
    assert "zoe-dev/notes" not in text and f"refs of {two_days.repo}:" in text
    assert f"  {two_days.deleted[0]}" in text and two_days.deleted[1] in text
    assert [line.split() for line in text.splitlines() if "refs/heads/main" in line] == [
        ["refs/heads/main", two_days.pushed[0]]]


def test_diff_names_the_pushed_commit_the_deleted_branch_the_issues_and_the_edited_comment(two_days: TwoDays) -> None:
    diff = json.loads(_read(two_days, "diff", "--customer", CUSTOMER, two_days.first, two_days.date, "--json"))
    assert (diff["from"], diff["to"], diff["added"], diff["removed"]) == (two_days.first, two_days.date, [], [])
    [repo] = diff["changed"]
    assert repo["full_name"] == two_days.repo and repo["renamed_from"] is None
    assert repo["refs"] == [
        {"ref": two_days.deleted[0], "change": "deleted", "old": two_days.deleted[1], "new": None},
        {"ref": "refs/heads/main", "change": "moved", "old": two_days.pushed[0], "new": two_days.pushed[1]},
    ]
    issues = {issue["number"]: issue for issue in repo["issues"]}
    assert sorted(issues) == sorted([two_days.opened, two_days.closed, two_days.edited])
    assert issues[two_days.opened]["changes"] == ["opened"] and issues[two_days.opened]["title"] == "Found on day 2"
    assert issues[two_days.closed]["changes"] == ["closed"]
    assert (issues[two_days.edited]["changes"], issues[two_days.edited]["threads"]) == ([], {"comments": {"edited": 1}})
    assert repo["counts"]["issues"] == [3, 4]
    assert repo["counts"]["events"][1] > repo["counts"]["events"][0]  # closing an issue is an event
    assert set(repo["counts"]) <= {"issues", "events"}
    assert diff["totals"]["refs_moved"] == diff["totals"]["refs_deleted"] == diff["totals"]["comments_edited"] == 1

    lines = _read(two_days, "diff", "--customer", CUSTOMER, two_days.first, two_days.date).splitlines()
    assert lines[:2] == [f"comparing {CUSTOMER} {two_days.first} -> {two_days.date}", f"M {two_days.repo}"]
    assert [line.split() for line in lines if "refs/heads/" in line] == [
        ["-", two_days.deleted[0], two_days.deleted[1][:12]],
        ["M", "refs/heads/main", two_days.pushed[0][:12], "->", two_days.pushed[1][:12]]]
    assert f'    #{two_days.edited} issue: 1 comment edited' in "\n".join(lines)
    assert f'    #{two_days.opened} issue: opened  "Found on day 2"' in lines


def test_diff_of_a_snapshot_with_itself_shows_no_changes(two_days: TwoDays) -> None:
    lines = _read(two_days, "diff", "--customer", CUSTOMER, two_days.date, two_days.date).splitlines()
    assert lines[1:3] == ["no changes", ""] and lines[3] == "totals: nothing changed"


@pytest.mark.parametrize("args, line", [
    (["ls", "--customer", "zoe-dve"],
     "backhub ls: no snapshot of zoe-dve; did you mean zoe-dev? (known: zoe-dev; see `backhub snapshots`)"),
    (["ls", "--customer", CUSTOMER, "--date", "2026-11-01"],
     "backhub ls: no snapshot of zoe-dev on 2026-11-01 (available: {first} ... {date}; see `backhub snapshots`)"),
    (["ls", "--customer", CUSTOMER, "--repo", "zoe-dev/dotfiels"],
     "backhub ls: snapshot zoe-dev/{date} has no repository zoe-dev/dotfiels (it has zoe-dev/dotfiles, zoe-dev/widgets, "
     "zoe-dev/notes)"),
    (["diff", "--customer", "acme-crop", "{first}", "{date}"],
     "backhub diff: no snapshot of acme-crop (known: zoe-dev; see `backhub snapshots`)"),
    (["diff", "--customer", CUSTOMER, "{first}", "2026-11-01"],
     "backhub diff: no snapshot of zoe-dev on 2026-11-01 (available: {first} ... {date}; see `backhub snapshots`)"),
])
def test_an_unknown_customer_date_or_repository_is_one_line_exit_2_and_creates_nothing(
        two_days: TwoDays, args: list[str], line: str) -> None:
    before = tree(two_days.home)
    done = backhub(*[arg.format(first=two_days.first, date=two_days.date) for arg in args], env=two_days.env)
    assert done.returncode == 2, done.stderr
    assert one_line(done.stderr) == line.format(first=two_days.first, date=two_days.date)
    assert done.stdout == "" and tree(two_days.home) == before
