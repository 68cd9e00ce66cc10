"""Git LFS objects: a restore of each day holds exactly the objects that day's refs reach, byte for byte
as GitHub (the emulator) serves them; a repository whose refs did not move makes no LFS request; a
restore to GitHub uploads the objects through the batch API."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from backhub_pipeline.cli import main
from tests.installation import Backhub
from tests.pipeline.test_change_detection import quiet_day

pytestmark = pytest.mark.slow


def _truth(backhub: Backhub) -> dict[str, dict[str, dict[str, int]]]:
    """customer -> repository full name -> the emulator's LFS objects (oid -> size) today."""
    accounts = backhub.emulator.state()["accounts"]
    return {customer: {repo["full_name"]: repo["lfs"] for repo in accounts[customer]["repositories"].values()
                       if repo["refs"]}
            for customer in backhub.customers}


def _emulator_bytes(backhub: Backhub, repo_id: int, oid: str) -> bytes:
    return (backhub.emulator.data_dir / "repos" / f"{repo_id}.lfs" / oid[:2] / oid[2:4] / oid).read_bytes()


def _restored(target: Path, customer: str, date: str) -> dict[str, dict[str, bytes]]:
    """repository full name -> oid -> the bytes the restore wrote where git-lfs looks."""
    assert main(["restore", "--quiet", "--customer", customer, "--date", date, "--to", str(target)]) == 0
    found: dict[str, dict[str, bytes]] = {}
    for bare in target.glob("*/*.git"):
        name = f"{bare.parent.name}/{bare.name.removesuffix('.git')}"
        found[name] = {path.name: path.read_bytes() for path in (bare / "lfs" / "objects").glob("??/??/*")}
    return found


def _snapshot(backhub: Backhub) -> dict[str, dict]:
    summaries = backhub.snapshot()
    assert all(summary.success for summary in summaries), [s.error for s in summaries]
    return {summary.customer: summary.assets["repositories"] for summary in summaries}


def _oids(truth: dict[str, dict[str, dict[str, int]]]) -> set[str]:
    return {oid for repos in truth.values() for objects in repos.values() for oid in objects}


def test_each_day_restores_exactly_the_lfs_objects_its_refs_reach_and_unchanged_repositories_ask_nothing(
        backhub: Backhub, tmp_path: Path) -> None:
    ids = {repo["full_name"]: repo["id"] for account in backhub.emulator.state()["accounts"].values()
           for repo in account["repositories"].values()}
    days: list[tuple[str, dict]] = []
    backhub.emulator.control("POST", "stats/reset")
    costs = {"day 1": _snapshot(backhub)}
    stats = {"day 1": backhub.emulator.control("POST", "stats/reset")}
    days.append((backhub.today(), _truth(backhub)))
    added = 0
    for day in (2, 3, 4):
        backhub.next_day()
        ids.update({repo["full_name"]: repo["id"] for account in backhub.emulator.state()["accounts"].values()
                    for repo in account["repositories"].values()})
        new_objects = len(_oids(_truth(backhub)) - _oids(days[-1][1]))
        backhub.emulator.control("POST", "stats/reset")
        costs[f"day {day}"] = _snapshot(backhub)
        stats[f"day {day}"] = counted = backhub.emulator.control("POST", "stats/reset")
        # Only a repository that gained an LFS file asks (one batch, one download per new object); the
        # day's LFS file may land in an account that is no customer, and then nothing asks at all.
        assert counted["lfs_batch"] == (1 if new_objects else 0) and counted["lfs"] == counted["lfs_batch"] + new_objects
        added += new_objects
        days.append((backhub.today(), _truth(backhub)))
    quiet_day(backhub)
    costs["quiet day"] = _snapshot(backhub)
    stats["quiet day"] = backhub.emulator.control("POST", "stats/reset")
    assert stats["quiet day"]["lfs"] == 0 and all(c["lfs_downloaded"] == 0 for c in costs["quiet day"].values())
    # The fork's pointer names its parent's object, which the fork's own LFS storage lacks: GitHub's
    # per-object 404 is recorded with its reason, and the backup is not failed for it.
    body = backhub.store().read_manifest("zoe-dev", backhub.today(), "repositories").body
    fork = next(entry for entry in body["repositories"].values() if entry["full_name"] == "zoe-dev/widgets")
    assert [item["reason"].split(":")[0] for item in fork["lfs"].values()] == ["missing"]

    for date, truth in days:
        for customer, repos in truth.items():
            restored = _restored(tmp_path / date / customer, customer, date)
            for name, objects in repos.items():
                got = restored.get(name, {})
                assert set(got) == set(objects), (date, name)
                for oid, data in got.items():
                    assert hashlib.sha256(data).hexdigest() == oid and len(data) == objects[oid]
                    assert data == _emulator_bytes(backhub, ids[name], oid)
    assert added >= 1
    for label, per_customer in costs.items():  # the numbers the closing note reports (pytest -s)
        print(label, {key: sum(int(c[key]) for c in per_customer.values())
                      for key in ("lfs_objects", "lfs_bytes", "lfs_downloaded", "lfs_downloaded_bytes",
                                  "lfs_missing", "lfs_batch_requests", "new_bytes", "api_requests")},
              {key: stats[label][key] for key in ("lfs", "lfs_batch", "git", "rest")})


def test_restore_to_github_uploads_the_lfs_objects_through_the_batch_api(backhub: Backhub) -> None:
    customer, repo = "acme-corp", "acme-corp/widgets"
    [summary] = backhub.snapshot([customer])
    assert summary.success, summary.error
    original = backhub.emulator.state()["accounts"][customer]["repositories"]["widgets"]["lfs"]
    assert original

    assert main(["restore", "--quiet", "--customer", customer, "--date", backhub.today(), "--repo", repo,
                 "--to-github", "--as", "widgets-lfs"]) == 0

    restored = backhub.emulator.state()["accounts"][customer]["repositories"]["widgets-lfs"]
    assert restored["lfs"] == original
    assert restored["refs"]["refs/heads/main"] == backhub.emulator.state()["accounts"][customer]["repositories"][
        "widgets"]["refs"]["refs/heads/main"]
