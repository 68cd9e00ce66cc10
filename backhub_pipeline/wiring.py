"""From the one ``Settings`` to everything that talks to the world: the Dagster resources of the code
location, and the same clients built plainly for the CLI and the demo (store, keyring through the
store, audit log, GitHub App, git, clock, Dagster instance). Nothing else constructs them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from assets.policy import BackupPolicy
from backhub_pipeline.retention.job import RetentionResource
from backhub_pipeline.settings import Settings
from resources.alerts import AlertService
from resources.audit import AuditLog, AuditLogResource
from resources.clock import Clock
from resources.errors import ConfigurationError
from resources.git import Git, GitResource
from resources.github import GitHubApp, GitHubAppResource
from resources.keyring import Keyring
from resources.snapshot_store import SnapshotStore, SnapshotStoreResource


def resources_from(settings: Settings, *, credentials_from_env: bool = True) -> dict[str, Any]:
    """Every resource the definitions need. GitHub App credentials resolve from the environment at
    run time (``EnvVar``), so loading the code location needs none of them; a process that runs jobs
    in itself with settings it was given (the demo) passes ``credentials_from_env=False``."""
    return {
        "github": github_resource(settings, credentials_from_env=credentials_from_env),
        "git": GitResource(cache_dir=_location(settings, "BACKHUB_GIT_CACHE_DIR", settings.git_cache_dir,
                                               credentials_from_env)),
        "store": store_resource(settings, from_env=credentials_from_env),
        "audit": AuditLogResource(url=_location(settings, "BACKHUB_AUDIT_URL", settings.audit_url, credentials_from_env),
                                  s3_endpoint_url=settings.s3_endpoint_url),
        "clock": clock(settings),
        "policy": BackupPolicy(retention_days=settings.retention_days, full_read_days=settings.full_read_days,
                               release_assets_max_bytes=settings.release_assets_max_bytes,
                               parallelism=settings.parallelism),
        "retention": RetentionResource(sweep_grace_hours=settings.sweep_grace_hours),
        "alerter": alert_service(settings),
    }


def github_resource(settings: Settings, *, credentials_from_env: bool = True) -> GitHubAppResource:
    if credentials_from_env:
        return GitHubAppResource(api_url=settings.github_api_url, app_id=dg.EnvVar("BACKHUB_GITHUB_APP_ID"),
                                 private_key_path=dg.EnvVar("BACKHUB_GITHUB_APP_PRIVATE_KEY_PATH"),
                                 ca_bundle=settings.ca_bundle)
    return GitHubAppResource(api_url=settings.github_api_url, app_id=settings.github_app_id,
                             private_key_path=settings.github_app_private_key_path, ca_bundle=settings.ca_bundle)


def _location(settings: Settings, variable: str, value: str, from_env: bool) -> str | dg.EnvVar:
    """Where something lives, as the code location's resources take it: ``dg.EnvVar`` when ``variable``
    was set (resolved at run time; the UI's launchpad shows the variable's name, not the path or URL),
    else the value ``Settings`` derived from ``DAGSTER_HOME``."""
    return dg.EnvVar(variable) if from_env and variable in settings.set_variables else value


def store_resource(settings: Settings, *, from_env: bool = False) -> SnapshotStoreResource:
    return SnapshotStoreResource(
        store_url=_location(settings, "BACKHUB_STORE_URL", settings.store_url, from_env),
        keyring_url=_location(settings, "BACKHUB_KEYRING_URL", settings.keyring_url, from_env),
        master_key_uri=_location(settings, "BACKHUB_MASTER_KEY_URI", settings.master_key_uri, from_env),
        s3_endpoint_url=settings.s3_endpoint_url)


def clock(settings: Settings) -> Clock:
    return Clock(offset_days=settings.clock_offset_days)


def alert_service(settings: Settings) -> AlertService:
    """Alert channels from the BACKHUB_ALERT_* values Settings read once, never the environment at send time."""
    return AlertService(variables=dict(settings.alert_variables), ui_url=settings.ui_url,
                        missed_backup_deadline_hours=settings.missed_backup_deadline_hours)


def github_app(settings: Settings, *, fail_fast: bool = False) -> GitHubApp:
    """The GitHub App client outside a Dagster run (the CLI, the demo): credentials read now.
    ``fail_fast``: one short attempt per request, for a command's check before it starts work."""
    settings.require_github()
    if fail_fast:
        return GitHubAppResource(api_url=settings.github_api_url, app_id=settings.github_app_id,
                                 private_key_path=settings.github_app_private_key_path, ca_bundle=settings.ca_bundle,
                                 max_retries=0, timeout_seconds=10.0).get_client()
    return github_resource(settings, credentials_from_env=False).get_client()


def committed_snapshots(settings: Settings, customer: str) -> dict[str, list[str]]:
    """date -> committed assets of ``customer``, by listing the store alone: no key is opened or made,
    and a local store that does not exist yet holds nothing."""
    folder = settings.local_paths().get("BACKHUB_STORE_URL")
    if folder is not None and not folder.is_dir():
        return {}
    # Listing reads object names only; the keyring is never asked, so none is opened.
    store = SnapshotStore.from_urls(settings.store_url, None, s3_endpoint_url=settings.s3_endpoint_url)  # type: ignore[arg-type]
    return store.list_snapshots(customer)


def audit_log(settings: Settings) -> AuditLog:
    return AuditLog.from_url(settings.audit_url, s3_endpoint_url=settings.s3_endpoint_url)


def instance(settings: Settings) -> dg.DagsterInstance:
    """The Dagster instance under ``settings.dagster_home`` (close it: use ``with``)."""
    return dg.DagsterInstance.from_config(settings.dagster_home)


@dataclass
class Clients:
    """What the commands talk to outside a Dagster run, built from ``Settings`` at run time."""

    store: SnapshotStore
    git: Git
    audit_log: AuditLog
    clock: Clock
    settings: Settings

    def github(self) -> GitHubApp:
        return github_app(self.settings)


def clients(settings: Settings, *, read_only: bool = False) -> Clients:
    """``read_only`` (commands that only read: snapshots, verify, restore): the store must exist and
    nothing is created to open it (no master key, no folder); ConfigurationError names what to set."""
    if not read_only:
        return Clients(store=store_resource(settings).get_client(), git=Git(Path(settings.git_cache_dir)),
                       audit_log=audit_log(settings), clock=clock(settings), settings=settings)
    require_store(settings)
    keyring = Keyring.from_urls(settings.keyring_url, settings.master_key_uri, s3_endpoint_url=settings.s3_endpoint_url)
    store = SnapshotStore.from_urls(settings.store_url, keyring, s3_endpoint_url=settings.s3_endpoint_url)
    return Clients(store=store, git=Git(Path(settings.git_cache_dir)), audit_log=audit_log(settings),
                   clock=clock(settings), settings=settings)


def require_store(settings: Settings) -> None:
    """ConfigurationError naming the variable to set when a local store does not exist (a typo in
    BACKHUB_STORE_URL, or a DAGSTER_HOME that is not the installation's)."""
    folder = settings.local_paths().get("BACKHUB_STORE_URL")
    if folder is None or folder.is_dir():
        return
    home = Path(settings.dagster_home)
    if folder.is_relative_to(home) and not home.is_dir():
        raise ConfigurationError(f"no backhub home at {home}: set DAGSTER_HOME to the installation's home "
                                 "(`make demo` prints the export line to use)")
    if folder.is_relative_to(home):
        raise ConfigurationError(f"no store at {folder}: no backup was taken under DAGSTER_HOME={home}; set "
                                 "DAGSTER_HOME to the installation's home, or BACKHUB_STORE_URL to its store")
    raise ConfigurationError(f"no store at {folder}: set BACKHUB_STORE_URL to the installation's store")
