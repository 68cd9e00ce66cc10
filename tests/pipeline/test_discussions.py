"""Discussions (GraphQL): every day's restore holds exactly the discussions GitHub held that day, content
and threads included; an incremental day reads only what changed and reuses every untouched chunk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from backhub_pipeline.cli import main
from tests.installation import Backhub

pytestmark = pytest.mark.slow

CUSTOMER = "acme-corp"


def _truth(backhub: Backhub) -> dict[str, dict[str, Any]]:
    """full name -> the emulator's discussions (by number) for every repository that has them."""
    repos = backhub.emulator.state()["accounts"][CUSTOMER]["repositories"]
    return {repo["full_name"]: repo["discussions"] for repo in repos.values() if "discussions" in repo}


def _comment(c: dict[str, Any]) -> dict[str, Any]:
    out = {"id": c["id"], "author": (c.get("author") or {}).get("login"), "body": c["body"], "updated_at": c["updatedAt"]}
    if "replies" in c:
        out["replies"] = [_comment(r) for r in c["replies"]]
    return out


def _restored(target: Path, date: str, repos: list[str]) -> dict[str, dict[str, Any]]:
    assert main(["restore", "--quiet", "--customer", CUSTOMER, "--date", date, "--to", str(target)]) == 0
    out = {}
    for full_name in repos:
        folder = target / full_name / "discussions"
        found = {}
        for path in sorted(folder.glob("*.json")):
            record = json.loads(path.read_text("utf-8"))
            d = record["discussion"]
            found[str(record["number"])] = {
                "title": d["title"], "body": d["body"], "author": (d.get("author") or {}).get("login"),
                "category": d["category"]["name"], "answer": (d.get("answer") or {}).get("id"),
                "closed": d["closed"], "locked": d["locked"], "state_reason": d["stateReason"],
                "created_at": d["createdAt"], "updated_at": d["updatedAt"],
                "comments": [_comment(c) for c in record["comments"]],
            }
            markdown = path.with_suffix(".md").read_text("utf-8")
            assert d["title"] in markdown and all(c["body"].strip().splitlines()[0] in markdown
                                                  for c in record["comments"])
        out[full_name] = found
    return out


def _part(backhub: Backhub, full_name: str) -> dict[str, Any]:
    body = backhub.store().read_manifest(CUSTOMER, backhub.today(), "issues").body
    return next(e for e in body["repositories"].values() if e["full_name"] == full_name)["discussions"]


def test_every_days_restore_holds_that_days_discussions_and_a_day_reads_only_what_changed(
        backhub: Backhub, tmp_path: Path) -> None:
    truths: dict[str, dict[str, dict[str, Any]]] = {}
    for day in range(4):
        if day:
            backhub.next_day()
        truths[backhub.today()] = _truth(backhub)
        [summary] = backhub.snapshot([CUSTOMER])
        assert summary.success, summary
    first = next(iter(truths))
    repos = sorted(truths[first])
    assert len(repos) >= 2
    seeded = truths[first]
    assert any(d["answer"] for r in seeded.values() for d in r.values())  # the test covers answers,
    assert any(c["replies"] for r in seeded.values() for d in r.values() for c in d["comments"])  # and threads
    assert truths[backhub.today()] != seeded  # and days that changed something
    for date, truth in truths.items():
        assert _restored(tmp_path / date, date, repos) == truth, date
    parts = [_part(backhub, full_name) for full_name in repos]
    assert all(part["read"] == "incremental" for part in parts)
    changed = sum(part["updated_records"] for part in parts)
    assert changed < sum(part["counts"]["discussions"] for part in parts)  # not everything was read again


def test_a_repository_without_discussions_says_so(backhub: Backhub) -> None:
    [summary] = backhub.snapshot([CUSTOMER])
    assert summary.success, summary
    body = backhub.store().read_manifest(CUSTOMER, backhub.today(), "issues").body
    reasons = {e["full_name"]: e.get("discussions", {}).get("reason") for e in body["repositories"].values()}
    assert reasons["acme-corp/dots.in.name"] == "discussions disabled"
