"""Protections and settings (branch protection, rulesets, environments, autolinks): each day's restore
holds what GitHub served, a change is captured by the repository's next full read, and a restore to
GitHub recreates them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from backhub_pipeline.cli import main
from backhub_pipeline.settings import Settings
from backhub_pipeline.wiring import clients
from tests.installation import Backhub

pytestmark = pytest.mark.slow

CUSTOMER = "zoe-dev"
REPO = "zoe-dev/notes"


def _served(client, full_name: str) -> dict[str, Any]:
    """What GitHub serves today, in the form the backup keeps."""
    protections = {b["name"]: client.get_json(f"/repos/{full_name}/branches/{b['name']}/protection")
                   for b in client.paginate(f"/repos/{full_name}/branches", {"protected": "true"})}
    rulesets = [client.get_json(f"/repos/{full_name}/rulesets/{r['id']}")
                for r in client.paginate(f"/repos/{full_name}/rulesets")]
    return {"branch_protections": protections, "rulesets": rulesets,
            "environments": list(client.paginate(f"/repos/{full_name}/environments", key="environments")),
            "autolinks": client.get_json(f"/repos/{full_name}/autolinks")}


def _restored(tmp: Path, date: str) -> dict[str, Any]:
    target = tmp / f"restore-{date}"
    assert main(["restore", "--quiet", "--customer", CUSTOMER, "--date", date, "--repo", REPO, "--to", str(target)]) == 0
    return json.loads((target / REPO / "settings.json").read_text())


def _without_ids(settings: dict[str, Any]) -> dict[str, Any]:
    """A restored copy has new ids and urls; the settings themselves must be equal."""
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()
                    if k not in ("id", "node_id", "url", "html_url", "_links", "created_at", "updated_at", "source",
                                 "protection_url", "contexts_url")}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value
    return clean({kind: settings[kind] for kind in ("branch_protections", "rulesets", "environments", "autolinks")})


def test_each_days_restore_holds_the_settings_github_served_and_a_change_is_read_on_the_next_full_read(
        backhub: Backhub, tmp_path: Path) -> None:
    backhub.monkeypatch.setenv("BACKHUB_FULL_READ_DAYS", "2")
    client = clients(Settings.from_env()).github().installation_for(CUSTOMER, write=("administration",))
    truth: dict[str, dict[str, Any]] = {}
    changed_on = ""
    for day in range(4):
        if day:
            backhub.next_day()
        if day == 1:  # someone relaxes the default branch's protection
            changed_on = backhub.today()
            client.send_json("PUT", f"/repos/{REPO}/branches/main/protection", {
                "required_status_checks": None, "enforce_admins": False, "required_pull_request_reviews": None,
                "restrictions": None, "allow_force_pushes": True})
        truth[backhub.today()] = _served(client, REPO)
        backhub.snapshot([CUSTOMER])
    dates = sorted(truth)
    read_on = {}
    for date in dates:
        restored = _restored(tmp_path, date)
        read_on[date] = restored["read_on"]
        assert restored["not_permitted"] == []
        # What was kept is what GitHub served on the day it was read.
        assert {k: restored[k] for k in truth[date]} == truth[read_on[date]], date
    assert read_on[dates[0]] == dates[0]  # the first snapshot reads everything
    # Within a 2-day cycle the change is read on the day it was made or the next, never later.
    first_with_change = next(d for d in dates if read_on[d] >= changed_on)
    assert first_with_change in (changed_on, dates[dates.index(changed_on) + 1])
    assert len(set(read_on.values())) >= 2


def test_restore_to_github_recreates_protections_rulesets_environments_and_autolinks(backhub: Backhub) -> None:
    backhub.snapshot([CUSTOMER])
    client = clients(Settings.from_env()).github().installation_for(CUSTOMER)
    original = _served(client, REPO)
    assert original["branch_protections"] and original["rulesets"] and original["environments"] and original["autolinks"]
    assert main(["restore", "--quiet", "--customer", CUSTOMER, "--date", backhub.today(), "--repo", REPO,
                 "--to-github", "--as", "notes-settings"]) == 0
    assert _without_ids(_served(client, "zoe-dev/notes-settings")) == _without_ids(original)
