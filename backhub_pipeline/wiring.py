"""Resources built from the one set of settings, for the code location and the CLI alike."""

from __future__ import annotations

from typing import Any

import dagster as dg

from assets.policy import BackupPolicy
from backhub_pipeline.alerting import AlerterResource
from backhub_pipeline.retention import RetentionResource
from backhub_pipeline.settings import Settings
from resources.audit import AuditLogResource
from resources.clock import Clock
from resources.git import GitResource
from resources.github import GitHubApp, GitHubAppResource
from resources.snapshot_store import SnapshotStoreResource


def resources_from(settings: Settings) -> dict[str, Any]:
    """Every resource the definitions need. GitHub App credentials resolve from the environment at
    run time (``EnvVar``), so loading the code location needs none of them."""
    return {
        "github": GitHubAppResource(
            api_url=settings.github_api_url,
            app_id=dg.EnvVar("BACKHUB_GITHUB_APP_ID"),
            private_key_path=dg.EnvVar("BACKHUB_GITHUB_APP_PRIVATE_KEY_PATH"),
            ca_bundle=settings.ca_bundle,
        ),
        "git": GitResource(cache_dir=settings.git_cache_dir),
        "store": store_resource(settings),
        "audit": AuditLogResource(url=settings.audit_url, s3_endpoint_url=settings.s3_endpoint_url),
        "clock": Clock(offset_days=settings.clock_offset_days),
        "policy": BackupPolicy(retention_days=settings.retention_days, full_read_days=settings.full_read_days),
        "retention": RetentionResource(sweep_grace_hours=settings.sweep_grace_hours),
        "alerter": AlerterResource(ui_url=settings.ui_url,
                                   missed_backup_deadline_hours=settings.missed_backup_deadline_hours),
    }


def store_resource(settings: Settings) -> SnapshotStoreResource:
    return SnapshotStoreResource(store_url=settings.store_url, keyring_url=settings.keyring_url,
                                 master_key_uri=settings.master_key_uri, s3_endpoint_url=settings.s3_endpoint_url)


def github_app(settings: Settings) -> GitHubApp:
    """The GitHub App client outside a Dagster run (the CLI, the demo): credentials read now."""
    settings.require_github()
    return GitHubAppResource(api_url=settings.github_api_url, app_id=settings.github_app_id,
                             private_key_path=settings.github_app_private_key_path,
                             ca_bundle=settings.ca_bundle).get_client()
