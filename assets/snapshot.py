"""One (customer, date) snapshot as one step: the four backup assets and their checks (DESIGN.md section 4).

A process per asset and per check cost more than the backup itself once the daemon launched runs, so
one op captures ``inventory`` first, then ``repositories``, ``issues`` and ``wikis``, and evaluates the
checks of whatever it committed. One asset failing does not cost the others their day: every asset
that can be captured is committed and checked, then the step fails naming the first (root) cause, so
the retry policy (or an operator) redoes the rest. The inventory is the exception: the other assets
follow its list, so they wait for it and for its blocking check, as they did as separate steps.

The op can be subset: a run may materialize some assets only, or only re-evaluate checks of a day
already committed.
"""

from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from assets.capture import Capture
from assets.checks import SNAPSHOT_CHECKS, checks_of
from assets.common import ASSET_OPTIONS, GROUP, backup_step
from assets.inventory import capture_inventory
from assets.issues import capture_issues
from assets.partitions import BACKUP_ASSETS, SnapshotKey
from assets.policy import BackupPolicy
from assets.repositories import capture_git_data
from resources.audit import AuditLogResource
from resources.clock import Clock
from resources.errors import PermanentError
from resources.git import GitResource
from resources.github import GitHubAppResource
from resources.snapshot_store import SnapshotStoreResource

SPECS = [
    dg.AssetSpec("inventory", group_name=GROUP, kinds={"github"},
                 description="The customer's repositories with their metadata (repo object, topics, labels, "
                             "milestones, releases, and collaborators and hooks where the App may read them)."),
    dg.AssetSpec("repositories", group_name=GROUP, kinds={"git"}, deps=["inventory"],
                 description="Every ref of every repository (heads, tags, pull refs, notes) as a chain of bundles."),
    dg.AssetSpec("issues", group_name=GROUP, kinds={"github"}, deps=["inventory"],
                 description="Issues and pull requests with comments, reviews and review comments, per repository."),
    dg.AssetSpec("wikis", group_name=GROUP, kinds={"git"}, deps=["inventory"],
                 description="Each repository's wiki: its bundle chain when populated, otherwise its recorded state."),
]


@dg.multi_asset(name="snapshot", specs=SPECS, check_specs=[check.spec for check in SNAPSHOT_CHECKS], can_subset=True,
                **ASSET_OPTIONS)
def snapshot(
    context: AssetExecutionContext,
    github: GitHubAppResource,
    git: GitResource,
    store: SnapshotStoreResource,
    clock: Clock,
    policy: BackupPolicy,
    audit: AuditLogResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Capture the selected assets of one (customer, date), inventory first, then evaluate the selected checks.

    Every failure, whatever its path, is one ``dg.Failure`` whose ``failed`` metadata names the assets
    (and checks) that failed, root cause first: the alert sensors read it from there."""
    selected = {asset_key.to_user_string() for asset_key in context.selected_asset_keys}
    checks = set(context.selected_asset_check_keys)
    failures: list[tuple[str, BaseException]] = []
    try:
        key = SnapshotKey.parse(context.partition_key)
        store_client, git_client = store.get_client(), git.get_client()
        audit_log = audit.get_client()
    except Exception as exc:  # nothing captured yet: the first asset this step was to capture failed
        first_selected = next((asset for asset in BACKUP_ASSETS if asset in selected), BACKUP_ASSETS[0])
        raise _step_failure([(first_selected, exc)]) from exc

    def step(asset: str, capture: Callable[[Capture], dg.MaterializeResult]) -> Callable[[], dg.MaterializeResult]:
        def run() -> dg.MaterializeResult:
            with backup_step(context, asset, audit_log):
                return capture(Capture(context, store_client, clock, policy, audit_log))
        return run

    steps: dict[str, Callable[[], dg.MaterializeResult]] = {
        "inventory": step("inventory", lambda capture: capture_inventory(capture, github, context, policy)),
        "repositories": step("repositories", lambda capture: capture_git_data(
            capture, asset="repositories", wiki=False, github=github, git=git, policy=policy)),
        "issues": step("issues", lambda capture: capture_issues(capture, github, policy)),
        # Wikis are git data too: disabled, enabled but never created, and populated are three recorded states.
        "wikis": step("wikis", lambda capture: capture_git_data(
            capture, asset="wikis", wiki=True, github=github, git=git, policy=policy)),
    }

    def evaluate(asset: str) -> Iterator[dg.AssetCheckResult]:
        for check in checks_of(asset):
            if check.spec.key in checks:
                try:
                    yield check(store_client, git_client, key)
                except Exception as exc:  # the store unavailable, say: the step fails and is retried
                    failures.append((f"{asset}:{check.spec.name}", exc))

    def capture(asset: str) -> Iterator[dg.MaterializeResult]:
        if asset in selected:
            try:
                result = steps[asset]()
            except Exception as exc:  # recorded; the other assets are still captured
                failures.append((asset, exc))
                return
            yield dg.MaterializeResult(asset_key=asset, metadata=result.metadata)

    first, *others = BACKUP_ASSETS
    yield from capture(first)
    gate = [] if failures else list(evaluate(first))
    yield from gate
    # The others back up what the inventory lists: not without one, nor on one that failed a blocking check.
    if not failures and all(result.passed for result in gate if _blocking(result)):
        for asset in others:
            yield from capture(asset)
        for asset in others:
            if asset not in {name for name, _ in failures}:
                yield from evaluate(asset)
    if failures:
        raise _step_failure(failures) from failures[0][1]


def _blocking(result: dg.AssetCheckResult) -> bool:
    return any(check.spec.blocking for check in SNAPSHOT_CHECKS
               if check.spec.key == dg.AssetCheckKey(result.asset_key, result.check_name))


def _described(exc: BaseException) -> str:
    if isinstance(exc, dg.Failure) and exc.description:
        return exc.description
    return f"{type(exc).__name__}: {exc}"


def _permanent(exc: BaseException) -> bool:
    return isinstance(exc, PermanentError) or (isinstance(exc, dg.Failure) and not exc.allow_retries)


def _step_failure(failures: list[tuple[str, BaseException]]) -> dg.Failure:
    """The first failure is the root cause, named first; a retry is allowed unless every one is permanent."""
    (first, cause), others = failures[0], failures[1:]
    description = f"{first}: {_described(cause)}"
    if others:
        description += "; also failed: " + "; ".join(f"{name}: {_described(exc)}" for name, exc in others)
    metadata: dict[str, Any] = {"failed": dg.MetadataValue.text(", ".join(name for name, _ in failures))}
    return dg.Failure(description=description[:2000], metadata=metadata,
                      allow_retries=not all(_permanent(exc) for _, exc in failures))
