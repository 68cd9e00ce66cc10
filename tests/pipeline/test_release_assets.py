"""Release assets: every file restored byte for byte on every day, downloaded once, and a customer's
cap recorded when it is hit, never silently."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from backhub_pipeline.cli import main
from backhub_pipeline.settings import Settings
from backhub_pipeline.wiring import clients
from tests.installation import Backhub

pytestmark = pytest.mark.slow

CUSTOMER = "acme-corp"
REPO = "acme-corp/widgets"


def _truth(client) -> dict[tuple[str, str], bytes]:
    """(tag, asset name) -> the bytes GitHub serves today."""
    files = {}
    for release in client.paginate(f"/repos/{REPO}/releases"):
        for asset in release["assets"]:
            sink = io.BytesIO()
            client.download_release_asset(REPO, asset["id"], sink, limit=asset["size"])
            files[(release["tag_name"], asset["name"])] = sink.getvalue()
    return files


def _restored(target: Path, date: str) -> dict[tuple[str, str], bytes]:
    assert main(["restore", "--quiet", "--customer", CUSTOMER, "--date", date, "--repo", REPO, "--to", str(target)]) == 0
    releases = target / REPO / "releases"
    return {(path.parent.name, path.name): path.read_bytes() for path in releases.glob("*/*")} if releases.exists() else {}


def _inventory_entry(backhub: Backhub) -> dict:
    body = backhub.store().read_manifest(CUSTOMER, backhub.today(), "inventory").body
    return next(entry for entry in body["repositories"] if entry["full_name"] == REPO)


def test_release_assets_restore_exactly_on_every_day_and_an_unchanged_one_is_not_downloaded_again(
        backhub: Backhub, tmp_path: Path) -> None:
    client = clients(Settings.from_env()).github().installation_for(CUSTOMER)
    truth = _truth(client)
    assert len(truth) >= 3
    backhub.snapshot([CUSTOMER])
    first = backhub.today()
    backhub.next_day()
    backhub.emulator.control("POST", "stats/reset")
    backhub.snapshot([CUSTOMER])
    assert backhub.emulator.control("GET", "stats")["download"] == 0  # nothing changed: nothing fetched
    for date in (first, backhub.today()):
        assert _restored(tmp_path / date, date) == truth
    assert all("blob" in asset for asset in _inventory_entry(backhub)["release_assets"])


def test_a_customers_cap_skips_what_would_pass_it_and_records_why(backhub: Backhub, tmp_path: Path) -> None:
    client = clients(Settings.from_env()).github().installation_for(CUSTOMER)
    truth = _truth(client)
    smallest = min(len(data) for data in truth.values())
    backhub.monkeypatch.setenv("BACKHUB_RELEASE_ASSETS_MAX_BYTES", str(smallest))
    [summary] = backhub.snapshot([CUSTOMER])
    assert summary.success, summary
    assets = [a for entry in backhub.store().read_manifest(CUSTOMER, backhub.today(), "inventory").body["repositories"]
              for a in entry.get("release_assets") or []]
    kept = [a for a in assets if "blob" in a]
    skipped = [a for a in assets if "reason" in a]
    assert len(kept) == 1 and skipped
    assert all("BACKHUB_RELEASE_ASSETS_MAX_BYTES" in a["reason"] for a in skipped)
    restored = _restored(tmp_path / "capped", backhub.today())
    assert set(restored) <= set(truth) and all(restored[key] == truth[key] for key in restored)
