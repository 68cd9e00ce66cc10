"""Wiki git data: disabled, enabled but never created, and populated are recorded as three states."""


import dagster as dg
from dagster import AssetExecutionContext

from assets.policy import BackupPolicy
from assets.repositories import back_up_git_data
from resources.audit import AuditLogResource
from resources.clock import Clock
from resources.git import GitResource
from resources.github import GitHubAppResource
from resources.snapshot_store import SnapshotStoreResource


def back_up_wikis(
    context: AssetExecutionContext,
    *,
    github: GitHubAppResource,
    git: GitResource,
    store: SnapshotStoreResource,
    clock: Clock,
    policy: BackupPolicy,
    audit: AuditLogResource,
) -> dg.MaterializeResult:
    """The ``wikis`` step of a snapshot (``assets/snapshot.py``)."""
    return back_up_git_data(context, asset="wikis", wiki=True, github=github, git=git, store=store,
                            clock=clock, policy=policy, audit=audit)
