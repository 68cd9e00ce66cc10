"""A whole backhub installation for end-to-end tests, configured only through the environment.

Emulator + moto S3 + a real on-disk Dagster instance, as production would be: shared by the
pipeline, restore and retention tests.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
import pytest

from assets.partitions import SnapshotKey
from backhub_pipeline.cli.backup import SnapshotSummary, take_snapshots
from backhub_pipeline.definitions import defs
from backhub_pipeline.settings import Settings
from resources.clock import Clock
from resources.keyring import initialise
from resources.snapshot_store import SnapshotStore, SnapshotStoreResource

REPO_ROOT = Path(__file__).resolve().parents[1]


def installation_environment(emulator: Any, s3_endpoint_url: str, tmp: Path) -> dict[str, str]:
    """Every BACKHUB_* variable (and DAGSTER_HOME) for an installation under ``tmp``, with a fresh
    bucket on the S3 server for its store, keyring and nothing else."""
    bucket = f"backhub-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint_url, region_name="us-east-1").create_bucket(Bucket=bucket)
    home = tmp / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    info = emulator.info
    emulator.control("POST", "clock", json={"offset_days": 0})
    initialise(f"s3://{bucket}/keyring", (tmp / "master-keyset.json").as_uri(), s3_endpoint_url=s3_endpoint_url)
    return {
        "DAGSTER_HOME": str(home),
        "BACKHUB_GITHUB_API_URL": info["api_url"],
        "BACKHUB_GITHUB_APP_ID": str(info["app_id"]),
        "BACKHUB_GITHUB_APP_PRIVATE_KEY_PATH": info["private_key_path"],
        "BACKHUB_STORE_URL": f"s3://{bucket}/store",
        "BACKHUB_KEYRING_URL": f"s3://{bucket}/keyring",
        "BACKHUB_S3_ENDPOINT_URL": s3_endpoint_url,
        "BACKHUB_MASTER_KEY_URI": (tmp / "master-keyset.json").as_uri(),
        "BACKHUB_GIT_CACHE_DIR": str(tmp / "git-cache"),
        "BACKHUB_AUDIT_URL": (tmp / "audit").as_uri(),
        "BACKHUB_CLOCK_OFFSET_DAYS": "0",
    }


@dataclass
class Backhub:
    """The code location under test, driven as an operator would: snapshots, simulated days."""

    emulator: Any
    home: Path
    monkeypatch: pytest.MonkeyPatch
    offset_days: int = 0

    @property
    def customers(self) -> list[str]:
        return sorted(inst["account"].lower() for inst in self.emulator.info["installations"])

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.get()

    def store(self) -> SnapshotStore:
        settings = Settings.from_env()
        return SnapshotStoreResource(store_url=settings.store_url, keyring_url=settings.keyring_url,
                                     master_key_uri=settings.master_key_uri,
                                     s3_endpoint_url=settings.s3_endpoint_url).get_client()

    def today(self) -> str:
        return Clock(offset_days=self.offset_days).today()

    def next_day(self) -> None:
        """A day of activity on GitHub, and both clocks one day on."""
        self.emulator.control("POST", "advance", json={"days": 1})
        self.offset_days += 1
        self.monkeypatch.setenv("BACKHUB_CLOCK_OFFSET_DAYS", str(self.offset_days))

    def snapshot(self, customers: list[str] | None = None) -> list[SnapshotSummary]:
        keys = [SnapshotKey(customer, self.today()) for customer in (customers or self.customers)]
        with self.instance() as instance:
            return take_snapshots(instance, defs(), keys)


def start_installation(emulator: Any, s3_endpoint_url: str, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Backhub:
    environment = installation_environment(emulator, s3_endpoint_url, tmp)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return Backhub(emulator=emulator, home=Path(environment["DAGSTER_HOME"]), monkeypatch=monkeypatch)
