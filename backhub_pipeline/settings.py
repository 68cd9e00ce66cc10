"""The one set of environment variables that configures every entry point.

The code location, the ``backhub`` CLI and the demo all read their configuration here, at run time
(never at import time); no other module of backhub reads the environment. The embedded default needs
nothing but the GitHub App settings: the store, the keyring, the master key and the git cache default
to folders under ``DAGSTER_HOME``.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from resources.errors import ConfigurationError

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_RETENTION_DAYS = 30
DEFAULT_SWEEP_GRACE_HOURS = 72  # must exceed the store's blob refresh age (24 h) plus the longest backup
DEFAULT_MISSED_BACKUP_DEADLINE_HOURS = 12
DEFAULT_UI_URL = "http://127.0.0.1:3000"
# Where a run's steps execute: "default" is in the run's own process (a snapshot is one step);
# "celery" sends each step to Celery workers through a broker (docs/deploy.md).
EXECUTORS = ("default", "celery")
ALERT_PREFIX = "BACKHUB_ALERT_"
# Repositories a snapshot reads and fetches at once. GitHub allows no more than 100 concurrent
# requests (its secondary rate limits), shared by everything using the installation; 16 leaves room.
DEFAULT_PARALLELISM = 4
MAX_PARALLELISM = 16


@dataclass(frozen=True)
class Settings:
    github_api_url: str
    github_app_id: str
    github_app_private_key_path: str
    ca_bundle: str | None
    store_url: str
    s3_endpoint_url: str | None
    keyring_url: str
    master_key_uri: str
    retention_days: int
    git_cache_dir: str
    audit_url: str
    clock_offset_days: int
    dagster_home: str
    executor: str = "default"
    # Broker and backend URLs may hold passwords: kept out of repr, read again by the executor at run time.
    celery_broker_url: str | None = field(default=None, repr=False)
    celery_backend_url: str | None = field(default=None, repr=False)
    sweep_grace_hours: int = DEFAULT_SWEEP_GRACE_HOURS
    missed_backup_deadline_hours: int = DEFAULT_MISSED_BACKUP_DEADLINE_HOURS
    ui_url: str = DEFAULT_UI_URL
    # The BACKHUB_ALERT_* variables (resources/alerts.py reads their meaning). They hold secrets: not in repr.
    alert_variables: Mapping[str, str] = field(default_factory=dict, repr=False)
    full_read_days: int = 7  # every repository's issues are read whole at least this often
    release_assets_max_bytes: int = 10 * 1024**3  # per customer and snapshot; past it, skipped and recorded
    # The GitHub App's webhook secret (BACKHUB_WEBHOOK_SECRET): only `backhub webhooks serve` reads it.
    # A secret: never in repr, never passed on to child processes by environment().
    webhook_secret: str | None = field(default=None, repr=False)
    # The change log the webhook receiver writes (BACKHUB_CHANGE_LOG_PATH; SQLite file under DAGSTER_HOME).
    change_log_path: str = ""
    parallelism: int = DEFAULT_PARALLELISM  # repositories read and fetched at once inside one snapshot
    # The BACKHUB_* variables that were set: the code location resolves those through ``dg.EnvVar`` at
    # run time, so the UI's launchpad shows their names, not the paths and URLs (wiring.py).
    set_variables: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *,
                 overrides: Mapping[str, str | None] | None = None) -> Settings:
        """Settings from ``environ`` (default: this process's environment) with ``overrides`` applied
        (a value of None unsets the variable): how the demo points everything at its own home."""
        env = dict(os.environ if environ is None else environ)
        for name, value in (overrides or {}).items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        home = env.get("DAGSTER_HOME") or str(Path.cwd() / ".dagster_home")
        home_path = Path(home).resolve()
        retention_days = _whole_number(env, "BACKHUB_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)
        if retention_days < 1:
            raise ConfigurationError(f"BACKHUB_RETENTION_DAYS must be at least 1, got {retention_days}")
        executor = env.get("BACKHUB_EXECUTOR") or "default"
        if executor not in EXECUTORS:
            raise ConfigurationError(f"BACKHUB_EXECUTOR must be one of {', '.join(EXECUTORS)}, got {executor!r}")
        if executor == "celery" and not env.get("BACKHUB_CELERY_BROKER_URL"):
            raise ConfigurationError("BACKHUB_EXECUTOR=celery needs BACKHUB_CELERY_BROKER_URL (e.g. pyamqp://user:pass@host:5672/vhost)")
        return cls(
            github_api_url=env.get("BACKHUB_GITHUB_API_URL", DEFAULT_API_URL).rstrip("/"),
            github_app_id=env.get("BACKHUB_GITHUB_APP_ID", ""),
            github_app_private_key_path=env.get("BACKHUB_GITHUB_APP_PRIVATE_KEY_PATH", ""),
            ca_bundle=env.get("BACKHUB_CA_BUNDLE") or None,
            store_url=env.get("BACKHUB_STORE_URL") or (home_path / "store").as_uri(),
            s3_endpoint_url=env.get("BACKHUB_S3_ENDPOINT_URL") or None,
            keyring_url=env.get("BACKHUB_KEYRING_URL") or (home_path / "keyring").as_uri(),
            master_key_uri=env.get("BACKHUB_MASTER_KEY_URI") or (home_path / "master-keyset.json").as_uri(),
            retention_days=retention_days,
            git_cache_dir=env.get("BACKHUB_GIT_CACHE_DIR") or str(home_path / "git-cache"),
            audit_url=env.get("BACKHUB_AUDIT_URL") or (home_path / "audit").as_uri(),
            clock_offset_days=_whole_number(env, "BACKHUB_CLOCK_OFFSET_DAYS", 0),
            dagster_home=str(home_path),
            executor=executor,
            celery_broker_url=env.get("BACKHUB_CELERY_BROKER_URL") or None,
            celery_backend_url=env.get("BACKHUB_CELERY_BACKEND_URL") or None,
            sweep_grace_hours=_whole_number(env, "BACKHUB_SWEEP_GRACE_HOURS", DEFAULT_SWEEP_GRACE_HOURS, low=0),
            missed_backup_deadline_hours=_whole_number(
                env, "BACKHUB_MISSED_BACKUP_DEADLINE_HOURS", DEFAULT_MISSED_BACKUP_DEADLINE_HOURS, low=0, high=24
            ),
            ui_url=(env.get("BACKHUB_UI_URL") or DEFAULT_UI_URL).rstrip("/"),
            alert_variables={name: value for name, value in env.items() if name.startswith(ALERT_PREFIX) and value},
            full_read_days=_whole_number(env, "BACKHUB_FULL_READ_DAYS", 7, low=1, high=365),
            release_assets_max_bytes=_whole_number(env, "BACKHUB_RELEASE_ASSETS_MAX_BYTES", 10 * 1024**3, low=0),
            webhook_secret=env.get("BACKHUB_WEBHOOK_SECRET") or None,
            change_log_path=env.get("BACKHUB_CHANGE_LOG_PATH") or str(home_path / "change-log.sqlite"),
            parallelism=_whole_number(env, "BACKHUB_PARALLELISM", DEFAULT_PARALLELISM, low=1, high=MAX_PARALLELISM),
            set_variables=frozenset(name for name, value in env.items() if name.startswith("BACKHUB_") and value),
        )

    def environment(self) -> dict[str, str]:
        """These settings as the variables that configure them: for a child process (the demo's
        ``dagster dev``) that must see exactly what this process decided."""
        values = {
            "DAGSTER_HOME": self.dagster_home,
            "BACKHUB_GITHUB_API_URL": self.github_api_url,
            "BACKHUB_GITHUB_APP_ID": self.github_app_id,
            "BACKHUB_GITHUB_APP_PRIVATE_KEY_PATH": self.github_app_private_key_path,
            "BACKHUB_CA_BUNDLE": self.ca_bundle,
            "BACKHUB_STORE_URL": self.store_url,
            "BACKHUB_S3_ENDPOINT_URL": self.s3_endpoint_url,
            "BACKHUB_KEYRING_URL": self.keyring_url,
            "BACKHUB_MASTER_KEY_URI": self.master_key_uri,
            "BACKHUB_RETENTION_DAYS": str(self.retention_days),
            "BACKHUB_GIT_CACHE_DIR": self.git_cache_dir,
            "BACKHUB_AUDIT_URL": self.audit_url,
            "BACKHUB_CLOCK_OFFSET_DAYS": str(self.clock_offset_days),
            "BACKHUB_EXECUTOR": self.executor,
            "BACKHUB_CELERY_BROKER_URL": self.celery_broker_url,
            "BACKHUB_CELERY_BACKEND_URL": self.celery_backend_url,
            "BACKHUB_SWEEP_GRACE_HOURS": str(self.sweep_grace_hours),
            "BACKHUB_MISSED_BACKUP_DEADLINE_HOURS": str(self.missed_backup_deadline_hours),
            "BACKHUB_UI_URL": self.ui_url,
            "BACKHUB_FULL_READ_DAYS": str(self.full_read_days),
            "BACKHUB_RELEASE_ASSETS_MAX_BYTES": str(self.release_assets_max_bytes),
            "BACKHUB_CHANGE_LOG_PATH": self.change_log_path,
            "BACKHUB_PARALLELISM": str(self.parallelism),
            **self.alert_variables,
        }
        return {name: value for name, value in values.items() if value is not None}

    def child_environment(self) -> dict[str, str]:
        """This process's environment (PATH, locale...) with every backhub variable replaced by these settings."""
        inherited = {name: value for name, value in os.environ.items()
                     if not name.startswith("BACKHUB_") and name != "DAGSTER_HOME"}
        return {**inherited, **self.environment()}

    def local_paths(self) -> dict[str, Path]:
        """The folders and files on this machine that hold backhub's own state, by the variable that
        sets each: what a restore must never write into, over or around."""
        paths = {"DAGSTER_HOME": Path(self.dagster_home), "BACKHUB_GIT_CACHE_DIR": Path(self.git_cache_dir),
                 "BACKHUB_CHANGE_LOG_PATH": Path(self.change_log_path)}
        for variable, url in (("BACKHUB_STORE_URL", self.store_url), ("BACKHUB_KEYRING_URL", self.keyring_url),
                              ("BACKHUB_AUDIT_URL", self.audit_url), ("BACKHUB_MASTER_KEY_URI", self.master_key_uri)):
            path = local_path(url)
            if path is not None:
                paths[variable] = path
        return paths

    def require_github(self) -> None:
        """Fail early, naming the variables, when the GitHub App is not configured."""
        missing = [
            name
            for name, value in (
                ("BACKHUB_GITHUB_APP_ID", self.github_app_id),
                ("BACKHUB_GITHUB_APP_PRIVATE_KEY_PATH", self.github_app_private_key_path),
            )
            if not value
        ]
        if missing:
            raise ConfigurationError(f"GitHub App not configured: set {', '.join(missing)}")

    def require_webhook_secret(self) -> str:
        """The webhook secret, or a configuration error naming the variable."""
        if not self.webhook_secret:
            raise ConfigurationError("BACKHUB_WEBHOOK_SECRET is not set: set it to the GitHub App's webhook secret")
        return self.webhook_secret


def local_path(url: str) -> Path | None:
    """The path of a ``file://`` URL, None for any other scheme."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "file" or parsed.netloc not in {"", "localhost"} or not parsed.path:
        return None
    return Path(urllib.parse.unquote(parsed.path))


def _whole_number(env: Mapping[str, str], name: str, default: int, *, low: int | None = None,
                  high: int | None = None) -> int:
    value = env.get(name) or str(default)
    try:
        number = int(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, got {value!r}") from None
    if (low is not None and number < low) or (high is not None and number > high):
        raise ConfigurationError(f"{name} must be between {low} and {high if high is not None else 'any'}, got {number}")
    return number
