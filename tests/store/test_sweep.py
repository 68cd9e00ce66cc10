"""The sweep never deletes a blob a live manifest references, nor one younger than the grace period."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from resources.errors import ConfigurationError, IntegrityError
from tests.store.conftest import StoreEnv

GRACE = dt.timedelta(days=2)


def later(days: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=days)


def test_sweep_keeps_referenced_blobs_and_deletes_old_unreferenced_ones(env: StoreEnv) -> None:
    store = env.store()
    live = store.put_blob("acme", b"referenced").id
    expired = store.put_blob("acme", b"only in an expired snapshot").id
    orphan = store.put_blob("acme", b"written by a run that died").id
    store.write_manifest("acme", "2026-10-01", "issues", {}, [live, expired])
    store.write_manifest("acme", "2026-11-28", "issues", {}, [live])
    store.delete_manifest("acme", "2026-10-01", "issues")  # expiry

    dry = store.sweep("acme", grace=GRACE, now=later(10), dry_run=True)
    assert sorted(dry.deleted) == sorted([expired, orphan])
    assert store.blob_exists("acme", expired) and store.blob_exists("acme", orphan)

    report = store.sweep("acme", grace=GRACE, now=later(10))
    assert sorted(report.deleted) == sorted([expired, orphan]) and report.kept == 1
    assert report.bytes_freed > 0
    assert store.blob_exists("acme", live) and not store.blob_exists("acme", expired)
    assert store.verify("acme", "2026-11-28", read_data=True).ok


def test_sweep_keeps_unreferenced_blobs_younger_than_the_grace_period(env: StoreEnv) -> None:
    store = env.store()
    old = store.put_blob("acme", b"old orphan").id
    time.sleep(1.2)  # object timestamps have one-second resolution on S3
    young = store.put_blob("acme", b"a backup in flight just stored this").id
    young_at = store.storage.stat(f"customers/acme/blobs/{young[:2]}/{young}").modified
    # "now" is one grace period after the young blob was written, minus a hair: it stays, the old goes.
    report = store.sweep("acme", grace=GRACE, now=young_at + GRACE - dt.timedelta(milliseconds=500))
    assert report.deleted == [old] and report.kept == 1
    assert store.blob_exists("acme", young)
    assert store.sweep("acme", grace=GRACE, now=dt.datetime.now(dt.UTC)).deleted == []


def test_reusing_an_old_blob_renews_it_so_the_sweep_spares_it(env: StoreEnv) -> None:
    store = env.store(refresh_after=dt.timedelta(seconds=1))
    bid = store.put_blob("acme", b"unchanged for months").id
    time.sleep(2.2)
    assert not store.put_blob("acme", b"unchanged for months").new  # a new backup reuses it...
    # ...and the retention sweep runs before that backup's manifest is written.
    report = store.sweep("acme", grace=dt.timedelta(seconds=2), now=dt.datetime.now(dt.UTC))
    assert report.deleted == [] and store.blob_exists("acme", bid)


def test_sweep_refuses_to_run_when_a_manifest_cannot_be_read(env: StoreEnv) -> None:
    store = env.store()
    bid = store.put_blob("acme", b"referenced by a damaged manifest").id
    store.write_manifest("acme", "2026-11-28", "issues", {}, [bid])
    raw = env.raw_store()
    key = "customers/acme/snapshots/2026-11-28/issues.json"
    raw.put(key, raw.get(key)[:-1])
    with pytest.raises(IntegrityError, match="acme/2026-11-28/issues"):
        store.sweep("acme", grace=GRACE, now=later(10))
    assert store.blob_exists("acme", bid)


def test_sweep_refuses_a_grace_period_shorter_than_the_refresh_age(env: StoreEnv) -> None:
    with pytest.raises(ConfigurationError):
        env.store().sweep("acme", grace=dt.timedelta(hours=1), now=dt.datetime.now(dt.UTC))


def test_delete_customer_removes_every_object_and_only_theirs(env: StoreEnv) -> None:
    store = env.store()
    for customer in ("acme", "globex"):
        bid = store.put_blob(customer, customer.encode()).id
        store.write_manifest(customer, "2026-11-28", "issues", {}, [bid])
    assert store.list_customers() == ["acme", "globex"]
    assert store.delete_customer("acme") == 2
    assert store.list_customers() == ["globex"]
    assert [i.key.split("/")[1] for i in env.raw_store().list("")] == ["globex", "globex"]
    assert store.verify("globex", "2026-11-28", read_data=True).ok


def test_listing_and_previous_snapshot_lookup(env: StoreEnv) -> None:
    store = env.store()
    for date in ("2026-11-26", "2026-11-28"):
        store.write_manifest("acme", date, "issues", {"date": date}, [])
    store.write_manifest("acme", "2026-11-27", "wikis", {}, [])
    assert store.list_snapshots("acme") == {
        "2026-11-26": ["issues"], "2026-11-27": ["wikis"], "2026-11-28": ["issues"]
    }
    previous = store.latest_manifest_before("acme", "2026-11-28", "issues")
    assert previous is not None and previous.body == {"date": "2026-11-26"}
    latest = store.read_manifest("acme", "2026-11-28", "issues")
    assert (latest.parent_date, latest.parent_digest) == ("2026-11-26", previous.digest)
    assert store.latest_manifest_before("acme", "2026-11-26", "issues") is None
    written = store.manifest_written_at("acme", "2026-11-28", "issues")
    assert abs(written - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)


def test_a_sweep_executes_the_plan_its_dry_run_reports(env: StoreEnv) -> None:
    store = env.store()
    live = store.put_blob("acme", b"named by a live snapshot").id
    orphan = store.put_blob("acme", b"named by nothing").id
    store.write_manifest("acme", "2026-11-28", "issues", {}, [live])
    plan = store.plan_sweep("acme", grace=GRACE, now=later(10))
    assert plan.report().deleted == [orphan] and store.blob_exists("acme", orphan)
    executed = store.execute_sweep(plan)
    assert executed.deleted == [orphan] and executed.bytes_freed == plan.bytes
    assert not store.blob_exists("acme", orphan) and store.blob_exists("acme", live)


def test_a_sweep_plan_can_assume_dates_already_expired(env: StoreEnv) -> None:
    store = env.store()
    kept = store.put_blob("acme", b"still named on the 28th").id
    expiring = store.put_blob("acme", b"named only on the 1st").id
    store.write_manifest("acme", "2026-11-01", "issues", {}, [kept, expiring])
    store.write_manifest("acme", "2026-11-28", "issues", {}, [kept])
    plan = store.plan_sweep("acme", grace=GRACE, now=later(10), assume_expired={"2026-11-01"})
    assert plan.report().deleted == [expiring] and plan.kept == 1
    assert store.plan_sweep("acme", grace=GRACE, now=later(10)).report().deleted == []
