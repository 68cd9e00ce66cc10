"""Wiki git data: disabled, enabled but never created, and populated are recorded as three states."""


import dagster as dg
from dagster import AssetExecutionContext

from assets.common import ASSET_OPTIONS
from assets.inventory import inventory
from assets.policy import BackupPolicy
from assets.repositories import back_up_git_data
from resources.audit import AuditLogResource
from resources.clock import Clock
from resources.git import GitResource
from resources.github import GitHubAppResource
from resources.snapshot_store import SnapshotStoreResource


@dg.asset(**ASSET_OPTIONS, deps=[inventory], kinds={"git"})
def wikis(
    context: AssetExecutionContext,
    github: GitHubAppResource,
    git: GitResource,
    store: SnapshotStoreResource,
    clock: Clock,
    policy: BackupPolicy,
    audit: AuditLogResource,
) -> dg.MaterializeResult:
    """Each repository's wiki: its bundle chain when populated, otherwise its recorded state."""
    return back_up_git_data(context, asset="wikis", wiki=True, github=github, git=git, store=store,
                            clock=clock, policy=policy, audit=audit)
