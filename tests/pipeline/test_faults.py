"""Bad input and faults end in a complete, correct snapshot or a clear recorded reason, never a half one."""

import threading

import dagster as dg
import pytest

from assets.partitions import SnapshotKey
from backhub_pipeline.cli.backup import ensure_partitions, summarize
from backhub_pipeline.definitions import defs

pytestmark = pytest.mark.slow

ALL_CHECKS = 10  # blobs_decrypt x4, git_data_restores x2, covers_inventory x3, issue_table_is_valid
BACKUP = [dg.AssetKey(name) for name in ("repositories", "issues", "wikis")]


def _run(backhub, customer, *, assets=None, job="snapshot_job", definitions=None):
    key = SnapshotKey(customer, backhub.today())
    with backhub.instance() as instance:
        ensure_partitions(instance, [key])
        job_def = (definitions or defs()).resolve_job_def(job)
        if job_def.partitions_def is None:  # a checks-only job: Dagster infers no partitions for it
            partition = {"tags": {"dagster/partition": str(key.partition_key),
                                  "dagster/partition/customer": key.customer, "dagster/partition/date": key.date}}
        else:
            partition = {"partition_key": key.partition_key}
        result = job_def.execute_in_process(instance=instance, raise_on_error=False, asset_selection=assets,
                                            **partition)
        return summarize(key, result)


def _org(backhub) -> str:
    truth = backhub.emulator.state()["accounts"]
    return max(truth, key=lambda name: len(truth[name]["repositories"])).lower()


def test_a_repository_deleted_between_inventory_and_backup_is_recorded_as_gone(backhub) -> None:
    customer = _org(backhub)
    inventory = _run(backhub, customer, assets=[dg.AssetKey("inventory")])
    assert inventory.success, inventory.error
    listing = backhub.store().read_manifest(customer, backhub.today(), "inventory").body["repositories"]
    victim = next(repo for repo in listing if repo.get("size") and not repo.get("archived"))["full_name"]
    backhub.emulator.control("POST", "repos/delete", json={"full_name": victim})

    rest = _run(backhub, customer, assets=BACKUP)
    assert rest.success, rest.error
    assert rest.checks_failed == [] and rest.checks_passed > 0
    entries = {e["full_name"]: e for e in backhub.store().read_manifest(customer, backhub.today(), "repositories").body["repositories"].values()}
    assert entries[victim]["reason"].startswith("gone")
    issues = {e["full_name"]: e for e in backhub.store().read_manifest(customer, backhub.today(), "issues").body["repositories"].values()}
    assert issues[victim]["reason"].startswith("gone")


def test_tokens_expiring_throughout_the_run_are_renewed_and_the_snapshot_completes(backhub) -> None:
    customer = _org(backhub)
    stop = threading.Event()

    def expire_tokens() -> None:
        while not stop.wait(3.0):  # each expiry is one mid-run event, as at the 1-hour mark
            backhub.emulator.control("POST", "tokens/expire")

    expirer = threading.Thread(target=expire_tokens, daemon=True)
    expirer.start()
    try:
        summary = _run(backhub, customer)
    finally:
        stop.set()
        expirer.join()
    assert summary.success, summary.error
    assert summary.checks_failed == [] and summary.checks_passed == ALL_CHECKS


def test_a_faulty_github_still_gives_a_complete_correct_snapshot(backhub) -> None:
    backhub.emulator.control("POST", "faults", json={"rate": 0.05})
    summaries = backhub.snapshot()
    backhub.emulator.control("POST", "faults", json={"rate": 0.0})
    injected = backhub.emulator.control("POST", "faults", json={"rate": 0.0})["injected"]
    assert injected, "the emulator injected no fault: the test proves nothing"
    for summary in summaries:
        assert summary.success, summary.error
        unavailable = {entry["full_name"]: entry.get("failed") or entry.get("reason")
                       for entry in backhub.store().read_manifest(summary.customer, backhub.today(), "issues")
                       .body["repositories"].values() if entry.get("failed")}
        assert summary.checks_failed == [] and summary.checks_passed == ALL_CHECKS, unavailable
    truth = backhub.emulator.state()["accounts"]
    store = backhub.store()
    for summary in summaries:
        account = next(acc for name, acc in truth.items() if name.lower() == summary.customer)
        entries = {e["full_name"]: e for e in store.read_manifest(summary.customer, backhub.today(), "repositories").body["repositories"].values()}
        for repo in account["repositories"].values():
            assert entries[repo["full_name"]].get("tips", {}) == repo["refs"]


def test_unusual_repositories_are_backed_up_as_they_are(backhub) -> None:
    customer = _org(backhub)
    summary = _run(backhub, customer)
    assert summary.success, summary.error
    entries = {e["full_name"].split("/")[1]: e for e in backhub.store().read_manifest(customer, backhub.today(), "repositories").body["repositories"].values()}
    wikis = {e["full_name"].split("/")[1]: e for e in backhub.store().read_manifest(customer, backhub.today(), "wikis").body["repositories"].values()}
    for name in ("-dash", "dots.in.name", ".github"):
        assert entries[name]["tips"], name
    empty = [entry for entry in entries.values() if entry.get("bundle") == "empty"]
    assert empty and all(entry["tips"] == {} and entry["chain"] == [] for entry in empty)
    assert {entry["state"] for entry in wikis.values()} == {"disabled", "never_created", "populated"}


def _corrupt_one_blob(backhub, customer: str, asset: str) -> str:
    import boto3

    from backhub_pipeline.settings import Settings

    settings = Settings.from_env()
    manifest = backhub.store().read_manifest(customer, backhub.today(), asset)
    blob = manifest.blobs[0]
    bucket, _, prefix = settings.store_url.removeprefix("s3://").partition("/")
    key = f"{prefix}/customers/{customer}/blobs/{blob[:2]}/{blob}"
    s3 = boto3.client("s3", endpoint_url=settings.s3_endpoint_url)
    data = bytearray(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    data[len(data) // 2] ^= 0x40
    s3.put_object(Bucket=bucket, Key=key, Body=bytes(data))
    return blob


def _checks_job_definitions() -> dg.Definitions:
    base = defs()
    checks_job = dg.define_asset_job("checks_job", selection=dg.AssetSelection.all_asset_checks())
    return dg.Definitions(assets=base.assets, asset_checks=base.asset_checks, jobs=[checks_job],
                          resources=base.resources)


def test_a_corrupted_blob_fails_the_blocking_integrity_check_naming_the_blob(backhub) -> None:
    customer = _org(backhub)
    assert _run(backhub, customer).success
    blob = _corrupt_one_blob(backhub, customer, "repositories")

    summary = _run(backhub, customer, job="checks_job", definitions=_checks_job_definitions())
    assert "repositories:blobs_decrypt" in summary.checks_failed
    assert "repositories:git_data_restores" in summary.checks_failed
    assert blob[:12] in summary.check_descriptions["repositories:blobs_decrypt"]
    check_key = dg.AssetCheckKey(dg.AssetKey("repositories"), "blobs_decrypt")
    assert defs().resolve_asset_graph().get_check_spec(check_key).blocking


def test_a_repository_missing_from_a_snapshot_fails_completeness(backhub) -> None:
    customer = _org(backhub)
    assert _run(backhub, customer).success
    store = backhub.store()
    manifest = store.read_manifest(customer, backhub.today(), "issues")
    repositories = dict(manifest.body["repositories"])
    dropped = repositories.pop(next(iter(repositories)))
    store.write_manifest(customer, backhub.today(), "issues", {**manifest.body, "repositories": repositories}, manifest.blobs)

    summary = _run(backhub, customer, job="checks_job", definitions=_checks_job_definitions())
    assert "issues:covers_inventory" in summary.checks_failed
    assert dropped["full_name"] in summary.check_descriptions["issues:covers_inventory"]


def test_a_rate_limit_exhausted_mid_run_is_waited_out_and_the_snapshot_completes(backhub) -> None:
    customer = _org(backhub)
    # A few requests left in a window that resets in 3 s: the run must wait, then continue.
    backhub.emulator.control("POST", "rate_limit", json={"remaining": 5, "window_seconds": 3})
    summary = _run(backhub, customer)
    assert summary.success, summary.error
    assert summary.checks_failed == [] and summary.checks_passed == ALL_CHECKS
    assert summary.api_requests > 5


def test_one_asset_failing_still_commits_the_others_and_the_step_names_it_first(backhub) -> None:
    customer = _org(backhub)
    assert _run(backhub, customer).success
    yesterday = backhub.today()
    backhub.next_day()
    import boto3

    from backhub_pipeline.settings import Settings

    settings = Settings.from_env()
    bucket, _, prefix = settings.store_url.removeprefix("s3://").partition("/")
    boto3.client("s3", endpoint_url=settings.s3_endpoint_url).put_object(
        Bucket=bucket, Key=f"{prefix}/customers/{customer}/snapshots/{yesterday}/repositories.json", Body=b"BHMF\x01damaged")

    summary = _run(backhub, customer)
    assert not summary.success
    assert "does not decrypt" in summary.error and "repositories" in summary.error  # the root cause, in words
    assert set(summary.assets) == {"inventory", "issues", "wikis"}
    store = backhub.store()
    assert sorted(store.list_snapshots(customer)[backhub.today()]) == ["inventory", "issues", "wikis"]
    assert summary.checks_failed == []
    assert summary.checks_passed == 7  # all but the three of repositories, which committed nothing to check


def _delete_one_blob_object(git_dir) -> str:
    """Delete one loose blob object of a bare repository: its remote now fails ``unable to read <sha>``."""
    import subprocess

    for path in sorted((git_dir / "objects").glob("[0-9a-f][0-9a-f]/*")):
        sha = path.parent.name + path.name
        kind = subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "-t", sha], capture_output=True, text=True)
        if kind.stdout.strip() == "blob":
            path.unlink()
            return sha
    raise AssertionError(f"no loose blob in {git_dir}: the test proves nothing")


def test_one_corrupt_repository_is_recorded_failed_and_the_others_are_committed_and_restore_exactly(
        backhub, tmp_path) -> None:
    from backhub_pipeline.restore.to_folder import restore_to_directory
    from resources.git import Git

    customer = _org(backhub)
    account = next(acc for name, acc in backhub.emulator.state()["accounts"].items() if name.lower() == customer)
    victim = next(repo for repo in account["repositories"].values() if len(repo["refs"]) > 1 and not repo["archived"])
    _delete_one_blob_object(backhub.emulator.data_dir / "repos" / f"{victim['id']}.git")

    summary = _run(backhub, customer)

    assert summary.success, summary.error  # the healthy repositories' day is committed, not thrown away
    assert summary.checks_failed == ["repositories:covers_inventory"], summary.check_descriptions
    described = summary.check_descriptions["repositories:covers_inventory"]
    assert victim["full_name"] in described and "RemoteCorruptError" in described
    store = backhub.store()
    entries = {e["full_name"]: e for e in store.read_manifest(customer, backhub.today(), "repositories").body["repositories"].values()}
    assert "the remote repository is corrupt" in entries[victim["full_name"]]["failed"]
    assert "tips" not in entries[victim["full_name"]]
    result = restore_to_directory(store, Git(tmp_path / "cache"), customer, backhub.today(), tmp_path / "restored")
    restored = {repo.full_name: repo for repo in result.repositories}
    assert restored[victim["full_name"]].skipped.startswith("backup failed: RemoteCorruptError")
    assert not (tmp_path / "restored" / f"{victim['full_name']}.git").exists()
    others = [repo for repo in account["repositories"].values() if repo["id"] != victim["id"]]
    assert others
    for repo in others:
        assert entries[repo["full_name"]]["tips"] == repo["refs"], repo["full_name"]
        bare = tmp_path / "restored" / f"{repo['full_name']}.git"
        assert Git(tmp_path / "cache").refs(bare) == repo["refs"], repo["full_name"]
