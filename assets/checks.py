"""Checks that prove each snapshot is trustworthy (DESIGN.md section 4), as predicates.

- ``blobs_decrypt`` (blocking, every asset): every blob the manifest names exists, decrypts under the
  customer's key and hashes to its id.
- ``git_data_restores`` (blocking, repositories and wikis): each bundle chain unbundles into a scratch
  repository whose refs equal the recorded tips and which passes ``git fsck``.
- ``covers_inventory`` (repositories, issues, wikis): every repository in the inventory has an entry,
  with data or an explicit recorded reason.
- ``issue_table_is_valid`` (issues): the Great Expectations suite on the issues table.
"""


import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetCheckExecutionContext

from assets.git_chain import restore_chain
from assets.inventory import inventory
from assets.issue_expectations import issues_table, validate_issues
from assets.issues import issues, read_records
from assets.partitions import SnapshotKey, snapshot_partitions
from assets.repositories import repositories
from assets.wikis import wikis
from resources.errors import BackhubError, SnapshotNotFoundError
from resources.git import GitResource
from resources.snapshot_store import Manifest, SnapshotStore, SnapshotStoreResource

ERROR = dg.AssetCheckSeverity.ERROR

#: What each check proves, one sentence: the UI shows it beside every check of every asset.
CHECK_DESCRIPTIONS: dict[str, str] = {
    "blobs_decrypt": "Every blob the manifest names exists, decrypts under the customer's key and hashes to its id.",
    "git_data_restores": "Each bundle chain unbundles into a scratch repository whose refs equal the recorded tips "
                         "and which passes git fsck.",
    "covers_inventory": "Every repository in the inventory has an entry here, with data or a recorded reason for none.",
    "issue_table_is_valid": "The issues table passes its Great Expectations suite: unique numbers per repository, "
                            "non-null ids, valid states, created <= updated, every comment stored.",
}
CHECK_OPTIONS = dict(partitions_def=snapshot_partitions)


def _manifest(store: SnapshotStore, key: SnapshotKey, asset: str) -> Manifest | dg.AssetCheckResult:
    try:
        return store.read_manifest(key.customer, key.date, asset)
    except SnapshotNotFoundError as exc:
        return dg.AssetCheckResult(passed=False, severity=ERROR, description=f"no committed snapshot: {exc}")


def _problems(problems: list[str]) -> dict[str, Any]:
    return {"problems": dg.MetadataValue.md("\n".join(f"- {problem}" for problem in problems[:50]))} if problems else {}


def _blobs_decrypt(asset: dg.AssetsDefinition) -> dg.AssetChecksDefinition:
    name = asset.key.to_user_string()

    @dg.asset_check(asset=asset, name="blobs_decrypt", description=CHECK_DESCRIPTIONS["blobs_decrypt"], blocking=True, **CHECK_OPTIONS)
    def check(context: AssetCheckExecutionContext, store: SnapshotStoreResource) -> dg.AssetCheckResult:
        key = SnapshotKey.parse(context.partition_key)
        report = store.get_client().verify(key.customer, key.date, read_data=True, assets=[name])
        return dg.AssetCheckResult(
            passed=report.ok,
            severity=ERROR,
            description=None if report.ok else f"{len(report.problems)} problem(s); first: {report.problems[0]}",
            metadata={"blobs_checked": report.blobs_checked, "bytes_read": report.bytes_read, **_problems(report.problems)},
        )

    return check


def _git_data_restores(asset: dg.AssetsDefinition) -> dg.AssetChecksDefinition:
    name = asset.key.to_user_string()

    @dg.asset_check(asset=asset, name="git_data_restores", description=CHECK_DESCRIPTIONS["git_data_restores"], blocking=True, **CHECK_OPTIONS)
    def check(context: AssetCheckExecutionContext, store: SnapshotStoreResource, git: GitResource) -> dg.AssetCheckResult:
        key = SnapshotKey.parse(context.partition_key)
        client = store.get_client()
        manifest = _manifest(client, key, name)
        if isinstance(manifest, dg.AssetCheckResult):
            return manifest
        git_client = git.get_client()
        problems: list[str] = []
        checked = 0
        for entry in manifest.body["repositories"].values():
            if not entry.get("chain"):
                continue
            with tempfile.TemporaryDirectory(prefix="backhub-check-") as scratch:
                target = Path(scratch) / "repo.git"
                try:
                    refs = restore_chain(git_client, client, key.customer, entry, target)
                    if refs != entry["tips"]:
                        missing = sorted(set(entry["tips"]) ^ set(refs)) or sorted(
                            ref for ref in refs if refs[ref] != entry["tips"].get(ref))
                        problems.append(f"{entry['full_name']}: restored refs differ from recorded tips: {missing[:5]}")
                    git_client.fsck(target)
                except BackhubError as exc:
                    problems.append(f"{entry['full_name']}: {exc}")
            checked += 1
        return dg.AssetCheckResult(
            passed=not problems,
            severity=ERROR,
            description=problems[0] if problems else None,
            metadata={"chains_restored": checked, **_problems(problems)},
        )

    return check


def _covers_inventory(asset: dg.AssetsDefinition, has_data: Callable[[dict[str, Any]], bool]) -> dg.AssetChecksDefinition:
    name = asset.key.to_user_string()

    @dg.asset_check(asset=asset, name="covers_inventory", description=CHECK_DESCRIPTIONS["covers_inventory"], additional_deps=[inventory], **CHECK_OPTIONS)
    def check(context: AssetCheckExecutionContext, store: SnapshotStoreResource) -> dg.AssetCheckResult:
        key = SnapshotKey.parse(context.partition_key)
        client = store.get_client()
        listing = _manifest(client, key, "inventory")
        manifest = _manifest(client, key, name)
        for result in (listing, manifest):
            if isinstance(result, dg.AssetCheckResult):
                return result
        entries = manifest.body["repositories"]
        problems = []
        for repo in listing.body["repositories"]:
            entry = entries.get(str(repo["id"]))
            if entry is None:
                problems.append(f"{repo['full_name']}: missing")
            elif not has_data(entry) and not entry.get("reason"):
                problems.append(f"{repo['full_name']}: no data and no recorded reason")
        reasons = sum(1 for entry in entries.values() if entry.get("reason"))
        return dg.AssetCheckResult(
            passed=not problems,
            severity=ERROR,
            description=problems[0] if problems else None,
            metadata={"repositories": len(listing.body["repositories"]), "with_recorded_reason": reasons,
                      **_problems(problems)},
        )

    return check


@dg.asset_check(asset=issues, name="issue_table_is_valid", description=CHECK_DESCRIPTIONS["issue_table_is_valid"], **CHECK_OPTIONS)
def issue_table_is_valid(context: AssetCheckExecutionContext, store: SnapshotStoreResource) -> dg.AssetCheckResult:
    """Unique numbers per repository, non-null ids, valid states, created <= updated, comments all stored."""
    key = SnapshotKey.parse(context.partition_key)
    client = store.get_client()
    manifest = _manifest(client, key, "issues")
    if isinstance(manifest, dg.AssetCheckResult):
        return manifest
    rows = (
        (entry["full_name"], record)
        for entry in manifest.body["repositories"].values()
        for record in read_records(client, key.customer, entry)
    )
    outcomes = validate_issues(issues_table(rows))
    failed = [outcome for outcome in outcomes if not outcome.success]
    return dg.AssetCheckResult(
        passed=not failed,
        severity=ERROR,
        description="; ".join(f"{o.expectation}: {o.unexpected_count} unexpected, e.g. {o.examples[:2]}" for o in failed) or None,
        metadata={outcome.expectation: outcome.success for outcome in outcomes},
    )


def _has_git_data(entry: dict[str, Any]) -> bool:
    return "tips" in entry or "state" in entry


ALL_CHECKS = [
    *(_blobs_decrypt(asset) for asset in (inventory, repositories, issues, wikis)),
    *(_git_data_restores(asset) for asset in (repositories, wikis)),
    _covers_inventory(repositories, _has_git_data),
    _covers_inventory(wikis, _has_git_data),
    _covers_inventory(issues, lambda entry: "chunks" in entry),
    issue_table_is_valid,
]
