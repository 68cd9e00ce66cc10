"""The emulator's world over time: advancing days, the clock, persistence across restarts, reset, seeds."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import requests

from github_emulator.process import EmulatorProcess
from tests.emulator.conftest import mint_token
from tests.fixtures_emulator import start_emulator, timeless_accounts


def _repos(state: dict, account: str = "acme-corp") -> dict:
    return state["accounts"][account]["repositories"]


def test_advance_produces_a_days_worth_of_activity(fresh_emulator: EmulatorProcess) -> None:
    before = fresh_emulator.state()
    summary = fresh_emulator.control("POST", "advance", {"days": 2})
    after = fresh_emulator.state()
    assert summary["commits"] > 0 and summary["branches"] and summary["force_pushed"]
    assert summary["issues_created"] and summary["issues_edited"] and summary["comments_created"] and summary["comments_edited"]
    assert summary["pulls_closed"] and summary["reviews"] and summary["review_comments"] and summary["wiki_pages"]
    assert summary["deleted"] == ["acme-corp/old-prototype"] and "old-prototype" not in _repos(after)
    assert summary["renamed"][0]["from"] == "acme-corp/rename-me"
    assert summary["wikis_created"] == ["acme-corp/handbook"]
    assert _repos(before)["handbook"]["wiki"]["state"] == "never_created"
    assert _repos(after)["handbook"]["wiki"]["state"] == "populated"
    assert after["days_advanced"] == 2 and after["now"] > before["now"]
    assert summary["discussions_changed"] > 0
    # the force-push left the old tip unreachable from every ref
    forced = summary["force_pushed"][0]
    owner, name = forced["repo"].split("/")
    git_dir = fresh_emulator.data_dir / "repos" / f"{_repos(after, owner)[name]['id']}.git"
    reachable = subprocess.run(["git", f"--git-dir={git_dir}", "branch", "-a", "--contains", forced["lost"]],
                               capture_output=True, text=True).stdout
    assert reachable.strip() == ""
    # deleted repository: 404; renamed one: 301
    token = mint_token(fresh_emulator, "acme-corp")
    headers = {"Authorization": f"token {token}"}
    assert requests.get(f"{fresh_emulator.api_url}/repos/acme-corp/old-prototype", headers=headers, timeout=10).status_code == 404
    moved = requests.get(f"{fresh_emulator.api_url}/repos/acme-corp/rename-me", headers=headers, allow_redirects=False, timeout=10)
    assert moved.status_code == 301


def test_new_activity_is_found_with_since(fresh_emulator: EmulatorProcess) -> None:
    cut = fresh_emulator.state()["now"]
    fresh_emulator.control("POST", "advance", {"days": 1})
    token = mint_token(fresh_emulator, "acme-corp")
    headers = {"Authorization": f"token {token}"}
    changed = 0
    for name in _repos(fresh_emulator.state()):
        response = requests.get(f"{fresh_emulator.api_url}/repos/acme-corp/{name}/issues", headers=headers,
                                params={"since": cut, "state": "all"}, timeout=10)
        changed += len(response.json())
    assert changed > 0


def test_clock_moves_without_activity(fresh_emulator: EmulatorProcess) -> None:
    before = fresh_emulator.state()
    moved = fresh_emulator.control("POST", "clock", {"now": "2031-05-01T00:00:00Z"})
    assert moved["now"].startswith("2031-05-01")
    after = fresh_emulator.state()
    assert _repos(after)["widgets"]["refs"] == _repos(before)["widgets"]["refs"]
    assert fresh_emulator.control("POST", "clock", {"days": 1})["now"].startswith("2031-05-02")
    # offset_days is absolute, like BACKHUB_CLOCK_OFFSET_DAYS: 0 puts the clock back on the wall clock.
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert fresh_emulator.control("POST", "clock", {"offset_days": 0})["now"].startswith(today)
    fresh_emulator.control("POST", "advance", {"days": 2})
    assert fresh_emulator.control("POST", "clock", {"offset_days": 0})["now"].startswith(today)


def test_data_dir_is_reloaded_after_restart(tmp_path: Path) -> None:
    first = start_emulator(tmp_path)
    try:
        token = mint_token(first, "acme-corp")
        requests.post(f"{first.api_url}/repos/acme-corp/widgets/labels", headers={"Authorization": f"token {token}"},
                      json={"name": "kept across restarts", "color": "00ff00"}, timeout=10).raise_for_status()
        first.control("POST", "advance", {"days": 1})
        expected = first.state()
    finally:
        first.stop()
    second = start_emulator(tmp_path, seed=99)
    try:
        assert second.info["seconds_to_seed"] is None
        again = second.state()
        assert "kept across restarts" in _repos(again)["widgets"]["labels"]
        assert again["accounts"] == expected["accounts"]
        assert second.info["private_key_path"] == first.info["private_key_path"]
    finally:
        second.stop()


def test_reset_returns_to_the_seeded_world(fresh_emulator: EmulatorProcess) -> None:
    seeded = fresh_emulator.state()
    fresh_emulator.control("POST", "advance", {"days": 1})
    fresh_emulator.control("POST", "reset")
    assert fresh_emulator.state()["accounts"] == seeded["accounts"]


def test_same_seed_builds_the_same_world(fresh_emulator: EmulatorProcess, tmp_path: Path) -> None:
    twin = start_emulator(tmp_path / "twin")
    try:
        assert twin.state()["accounts"] == fresh_emulator.state()["accounts"]
        fresh_emulator.control("POST", "advance", {"days": 1})
        twin.control("POST", "advance", {"days": 1})
        assert timeless_accounts(twin.state()) == timeless_accounts(fresh_emulator.state())
    finally:
        twin.stop()


def test_imported_bare_repositories_become_an_extra_customer(tmp_path: Path) -> None:
    source = tmp_path / "import" / "tool.git"
    subprocess.run(["git", "init", "--quiet", "--bare", "-b", "trunk", str(source)], check=True)
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "--quiet", str(source), str(work)], check=True, capture_output=True)
    (work / "f.txt").write_text("imported ✓")
    subprocess.run(["git", "-C", str(work), "add", "f.txt"], check=True)
    subprocess.run(["git", "-C", str(work), "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "one"], check=True)
    subprocess.run(["git", "-C", str(work), "push", "-q", "origin", "HEAD:trunk"], check=True)
    # A mirror of a working clone holds remote-tracking refs: they are the repository's refs too.
    subprocess.run(["git", "-C", str(work), "push", "-q", "origin", "HEAD:refs/remotes/upstream/trunk"], check=True)
    em = start_emulator(tmp_path / "em", extra_args=["--import", str(tmp_path / "import")])
    try:
        imported = _repos(em.state(), "imported")["tool"]
        assert imported["default_branch"] == "trunk" and "refs/heads/trunk" in imported["refs"]
        assert imported["refs"]["refs/remotes/upstream/trunk"] == imported["refs"]["refs/heads/trunk"]
        assert any(i["account"] == "imported" for i in em.info["installations"])
    finally:
        em.stop()
