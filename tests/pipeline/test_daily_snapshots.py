"""Daily snapshots end to end: emulator + moto S3 + the real Dagster instance, through the CLI path."""

from __future__ import annotations

import dagster as dg
import pytest

from assets.partitions import SnapshotKey
from backhub_pipeline.cli.backup import take_snapshots

pytestmark = pytest.mark.slow


def _check_metadata(backhub, run_id: str, asset: str, check: str) -> dict:
    with backhub.instance() as instance:
        for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = record.dagster_event.event_specific_data
            if (evaluation.asset_key.to_user_string(), evaluation.check_name) == (asset, check):
                return {name: value.value for name, value in evaluation.metadata.items()}
    raise AssertionError(f"no evaluation of {asset}:{check} in run {run_id}")


def _by_customer(summaries):
    return {summary.customer: summary for summary in summaries}


def test_two_days_are_complete_and_the_second_is_incremental(backhub) -> None:
    day1 = _by_customer(backhub.snapshot())
    for summary in day1.values():
        assert summary.success, summary.error
        assert summary.checks_failed == []
        assert summary.checks_passed == 10
        assert summary.repositories > 0

    backhub.next_day()
    day2 = _by_customer(backhub.snapshot())
    for customer, summary in day2.items():
        assert summary.success, summary.error
        assert summary.checks_failed == [] and summary.checks_passed == 10
        first, second = day1[customer], summary
        # Day 2 asks GitHub only for what changed and stores only new bytes. (Its request count is not
        # compared with day 1's: on tiny repositories the change probes, conditional requests that GitHub
        # answers 304 without charging the rate limit, cost about what a full read of day 1 did.)
        assert second.assets["repositories"]["not_fetched"] > 0
        assert second.new_bytes < first.new_bytes / 2
        assert second.assets["repositories"]["full_bundles"] < first.assets["repositories"]["full_bundles"]

    # Day 2's checks cost what day 2 wrote: reused blobs are listed, not read; increments are proven
    # against the mirror and unchanged chains are not restored again.
    for summary in day2.values():
        blobs = _check_metadata(backhub, summary.run_id, "repositories", "blobs_decrypt")
        assert blobs["blobs_read"] < blobs["blobs_checked"]
    git = [_check_metadata(backhub, summary.run_id, "repositories", "git_data_restores") for summary in day2.values()]
    assert sum(found["increments_proven"] for found in git) > 0
    assert sum(found["chains_reused"] for found in git) > 0

    store = backhub.store()
    for customer in backhub.customers:
        snapshots = store.list_snapshots(customer)
        assert len(snapshots) == 2
        for date, assets in snapshots.items():
            assert sorted(assets) == ["inventory", "issues", "repositories", "wikis"], date


def test_snapshot_records_what_github_has(backhub) -> None:
    summaries = _by_customer(backhub.snapshot())
    truth = backhub.emulator.state()
    store = backhub.store()
    for customer, summary in summaries.items():
        assert summary.success, summary.error
        manifest = store.read_manifest(customer, backhub.today(), "repositories")
        entries = {entry["full_name"]: entry for entry in manifest.body["repositories"].values()}
        account = next(acc for name, acc in truth["accounts"].items() if name.lower() == customer)
        wikis = {entry["full_name"]: entry
                 for entry in store.read_manifest(customer, backhub.today(), "wikis").body["repositories"].values()}
        assert sorted(entries) == sorted(repo["full_name"] for repo in account["repositories"].values())
        for repo in account["repositories"].values():
            assert entries[repo["full_name"]].get("tips", {}) == repo["refs"], repo["full_name"]
            assert wikis[repo["full_name"]]["state"] == repo["wiki"]["state"], repo["full_name"]
            if repo["wiki"]["state"] == "populated":
                assert wikis[repo["full_name"]]["tips"] == repo["wiki"]["refs"]


def test_every_backup_and_key_creation_is_in_the_audit_log(backhub) -> None:
    from backhub_pipeline.settings import Settings
    from resources.audit import AuditLog

    summaries = backhub.snapshot()
    assert all(summary.success for summary in summaries)
    log = AuditLog.from_url(Settings.from_env().audit_url)
    assert log.verify().ok
    records = list(log.records())
    committed = {(r.customer, r.snapshot, r.details["asset"]) for r in records if r.action == "backup" and r.outcome == "committed"}
    assert committed == {(c, backhub.today(), a) for c in backhub.customers for a in ("inventory", "repositories", "issues", "wikis")}
    assert sorted(r.customer for r in records if r.action == "key.create") == backhub.customers
    store = backhub.store()
    for record in records:
        if record.action == "backup":  # the recorded digest pins the manifest that was committed
            store.read_manifest(record.customer, record.snapshot, record.details["asset"],
                                expected_digest=record.details["manifest_digest"])


def test_a_future_date_is_refused_and_leaves_no_snapshot(backhub) -> None:
    import datetime as dt

    tomorrow = (dt.date.fromisoformat(backhub.today()) + dt.timedelta(days=1)).isoformat()
    customer = backhub.customers[0]
    with backhub.instance() as instance:
        from backhub_pipeline.definitions import defs

        [summary] = take_snapshots(instance, defs(), [SnapshotKey(customer, tomorrow)])
    assert not summary.success
    assert "in the future" in (summary.error or "")
    assert backhub.store().list_snapshots(customer) == {}


def test_unchanged_repository_metadata_costs_no_rate_limit_the_next_day(backhub) -> None:
    customer = backhub.customers[0]
    [day1] = backhub.snapshot([customer])
    backhub.next_day()
    [day2] = backhub.snapshot([customer])
    assert day1.success and day2.success
    assert day1.assets["inventory"]["not_modified"] == 0
    # Most metadata reads (labels, milestones, releases, ...) of most repositories are free 304s.
    assert day2.assets["inventory"]["not_modified"] >= 2 * day2.repositories
    manifest = backhub.store().read_manifest(customer, backhub.today(), "inventory")
    assert manifest.body["etag_cache"]["blob"] in manifest.blobs
