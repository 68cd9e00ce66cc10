"""A damaged blob is rewritten by the next backup that produces its plaintext, and by ``backhub repair``;
a damaged ETag cache is a cache miss, never a failed backup."""

from __future__ import annotations

import json

import pytest

from backhub_pipeline.cli import main
from backhub_pipeline.settings import Settings
from resources.audit import AuditLog
from resources.object_storage import storage_from_url
from tests.installation import Backhub

pytestmark = pytest.mark.slow


def _flip(backhub: Backhub, customer: str, bid: str) -> None:
    settings = Settings.from_env()
    raw = storage_from_url(settings.store_url, s3_endpoint_url=settings.s3_endpoint_url)
    key = f"customers/{customer}/blobs/{bid[:2]}/{bid}"
    data = bytearray(raw.get(key))
    data[len(data) // 2] ^= 0x01
    raw.put(key, bytes(data))


def _heal_records(customer: str) -> set[str]:
    log = AuditLog.from_url(Settings.from_env().audit_url)
    return {r.details["blob"] for r in log.records() if r.action == "heal" and r.customer == customer}


def _org(backhub: Backhub) -> str:
    truth = backhub.emulator.state()["accounts"]
    return max(truth, key=lambda name: len(truth[name]["repositories"])).lower()


def test_the_next_backup_rewrites_damaged_blobs_it_produces_and_a_damaged_etag_cache_is_a_miss(
    backhub: Backhub,
) -> None:
    customer = _org(backhub)
    [first] = backhub.snapshot([customer])
    assert first.success, first.error
    store = backhub.store()
    inventory = store.read_manifest(customer, backhub.today(), "inventory").body
    damaged = {entry["blob"] for entry in inventory["repositories"] if "blob" in entry}
    damaged.add(inventory["etag_cache"]["blob"])
    for bid in damaged:
        _flip(backhub, customer, bid)

    backhub.next_day()
    [second] = backhub.snapshot([customer])

    assert second.success, second.error
    named_again = set(store.read_manifest(customer, backhub.today(), "inventory").blobs) & damaged
    assert named_again, "no damaged blob was produced again: the test proves nothing"
    assert all(store.blob_problem(customer, bid) is None for bid in named_again)
    assert _heal_records(customer) == named_again


def test_repair_heals_what_github_still_has_and_names_what_it_cannot(backhub: Backhub, capsys) -> None:
    customer = _org(backhub)
    [first] = backhub.snapshot([customer])
    assert first.success, first.error
    store = backhub.store()
    date = backhub.today()
    inventory = store.read_manifest(customer, date, "inventory").body
    metadata = next(entry["blob"] for entry in inventory["repositories"] if "blob" in entry)
    _flip(backhub, customer, metadata)
    capsys.readouterr()

    assert main(["repair", "--customer", customer]) == 0  # GitHub still has the metadata
    assert f"{metadata}: healed" in capsys.readouterr().out
    assert store.blob_problem(customer, metadata) is None
    assert metadata in _heal_records(customer)

    repositories = store.read_manifest(customer, date, "repositories").body["repositories"]
    bundle = next(entry["chain"][0]["blob"] for entry in repositories.values() if entry.get("chain"))
    _flip(backhub, customer, bundle)
    backhub.next_day()  # the next day's chain reuses the bundle instead of writing it again
    assert main(["repair", "--customer", customer, "--json"]) == 1

    report = {entry["blob"]: entry for entry in json.loads(capsys.readouterr().out)["blobs"]}
    assert set(report) == {bundle} and not report[bundle]["healed"]
    assert f"{date}/repositories" in report[bundle]["snapshots"]


def test_repair_with_nothing_damaged_exits_zero_without_a_backup(backhub: Backhub, capsys) -> None:
    customer = _org(backhub)
    [first] = backhub.snapshot([customer])
    assert first.success, first.error
    capsys.readouterr()
    assert main(["repair", "--customer", customer]) == 0
    assert "nothing to repair" in capsys.readouterr().out
