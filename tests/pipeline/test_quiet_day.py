"""A quiet day costs one search for the installation's issues, not a read per repository, and what
search cannot answer for sure (its result cap, incomplete results) falls back to asking each repository.

Requests are counted by the emulator (``GET /_emulator/stats``) and by the client (the assets'
``api_requests`` and ``not_modified`` metadata).
"""

from __future__ import annotations

import json

import pytest

from tests.installation import Backhub
from tests.pipeline.test_change_detection import CUSTOMER, _account, _entries, _reads, _records, quiet_day

pytestmark = pytest.mark.slow


def _issue_entries(backhub: Backhub) -> int:
    return sum(1 for entry in _entries(backhub, "issues").values() if "reason" not in entry)


def test_a_quiet_day_searches_once_and_reads_no_issue_list_per_repository(backhub: Backhub) -> None:
    backhub.monkeypatch.setenv("BACKHUB_FULL_READ_DAYS", "365")  # the safety net is tested on its own
    [day1] = backhub.snapshot([CUSTOMER])
    assert day1.success, day1.error
    quiet_day(backhub)
    backhub.emulator.control("POST", "stats/reset")

    [day2] = backhub.snapshot([CUSTOMER])

    assert day2.success, day2.error
    stats = backhub.emulator.control("GET", "stats")
    repositories = _issue_entries(backhub)
    assert set(_reads(backhub).values()) == {"skipped"}
    body = backhub.store().read_manifest(CUSTOMER, backhub.today(), "issues").body
    assert body["searched"] is True
    # One search for the installation, then per repository only the two comment probes, both free 304s,
    # and one GraphQL query per repository that has discussions (none for those that have them off).
    discussing = sum(1 for entry in body["repositories"].values() if "reason" not in entry.get("discussions", {}))
    issues = day2.assets["issues"]
    assert issues["api_requests"] == 1 + 2 * repositories + discussing
    assert issues["not_modified"] == 2 * repositories
    # The assets share one token: no asset but the inventory lists installations or mints.
    assert day2.assets["repositories"]["api_requests"] == 0 and day2.assets["wikis"]["api_requests"] == 0
    # What the day cost beyond the free conditional reads: installations, a token, the listing, the
    # search, and answers that cannot be conditional (403s to hooks the App may not read).
    assert stats["rest"] == stats["rest_not_modified"] + stats["rest_rate_limited"]
    assert issues["new_blobs"] == 0


@pytest.mark.parametrize("limit", ["incomplete_results", "result_cap"])
def test_when_search_cannot_answer_for_sure_each_repository_is_asked_and_the_change_is_captured(
        backhub: Backhub, limit: str) -> None:
    backhub.monkeypatch.setenv("BACKHUB_FULL_READ_DAYS", "365")
    [day1] = backhub.snapshot([CUSTOMER])
    assert day1.success, day1.error
    quiet_day(backhub)
    repo = max(_account(backhub)["repositories"].values(), key=lambda r: len(r["issues"]))
    numbers = sorted(int(n) for n, i in repo["issues"].items() if not i["pull_request"])[:2]
    answers = [backhub.emulator.control("POST", "issues/change",
                                        json={"full_name": repo["full_name"], "number": n, "kind": "comment"})
               for n in numbers]
    # Two issues changed; the cap of 1 leaves one unseen. Or the search "timed out".
    backhub.emulator.control("POST", "search", json={"incomplete_results": True} if limit == "incomplete_results"
                             else {"result_cap": 1})

    [day2] = backhub.snapshot([CUSTOMER])

    assert day2.success, day2.error
    body = backhub.store().read_manifest(CUSTOMER, backhub.today(), "issues").body
    assert body["searched"] is False
    reads = _reads(backhub)
    assert reads[repo["full_name"]] == "incremental"
    assert {kind for name, kind in reads.items() if name != repo["full_name"]} == {"skipped"}
    assert day2.assets["issues"]["api_requests"] > 1 + 3 * _issue_entries(backhub)  # probes, then the reads
    records = _records(backhub, repo["full_name"])
    for number, answer in zip(numbers, answers, strict=True):
        assert answer["comment_id"] in [c["id"] for c in records[number]["comments"]]


def test_only_a_label_rename_is_captured_the_same_day(backhub: Backhub) -> None:
    backhub.monkeypatch.setenv("BACKHUB_FULL_READ_DAYS", "365")
    [day1] = backhub.snapshot([CUSTOMER])
    assert day1.success, day1.error
    quiet_day(backhub)
    repo = next(r for r in _account(backhub)["repositories"].values() if r["labels"])
    old = repo["labels"][0]
    backhub.emulator.control("POST", "labels/rename",
                             json={"full_name": repo["full_name"], "name": old, "new_name": f"{old} (renamed) ✓"})

    [day2] = backhub.snapshot([CUSTOMER])

    assert day2.success, day2.error
    body = backhub.store().read_manifest(CUSTOMER, backhub.today(), "inventory").body
    [entry] = [e for e in body["repositories"] if e["full_name"] == repo["full_name"]]
    metadata = json.loads(backhub.store().read_blob(CUSTOMER, entry["blob"]))
    names = [label["name"] for label in metadata["labels"]]
    assert f"{old} (renamed) ✓" in names and old not in names
