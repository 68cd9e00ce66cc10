"""A local store (files), a test Dagster instance and the resources the retention and erasure jobs use."""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from assets.partitions import CUSTOMER_TAG, SnapshotKey, customer_partitions, date_partitions
from assets.policy import BackupPolicy
from backhub_pipeline.retention.expiry import DATE_TAG
from backhub_pipeline.retention.job import RetentionResource
from resources.alerts import AlertService
from resources.audit import AuditLog, AuditLogResource
from resources.clock import Clock
from resources.git import GitResource
from resources.keyring import create_master_key
from resources.snapshot_store import SnapshotStore, SnapshotStoreResource
from tests.alerts.conftest import receiver  # noqa: F401 - a fixture
from tests.pipeline.conftest import backhub  # noqa: F401 - a fixture

ASSETS = ("inventory", "repositories", "issues", "wikis")


@dataclass
class Local:
    root: Path
    instance: dg.DagsterInstance

    @property
    def store_resource(self) -> SnapshotStoreResource:
        return SnapshotStoreResource(store_url=(self.root / "store").as_uri(),
                                     keyring_url=(self.root / "keyring").as_uri(),
                                     master_key_uri=(self.root / "master-keyset.json").as_uri())

    def store(self) -> SnapshotStore:
        return self.store_resource.get_client()

    @property
    def audit(self) -> AuditLog:
        return AuditLog.from_url((self.root / "audit").as_uri())

    def resources(self, *, clock: Clock | None = None, retention_days: int = 3, grace_hours: int = 0,
                  ui_url: str = "http://ui.test:3000", alert_variables: dict[str, str] | None = None) -> dict[str, Any]:
        return {
            "store": self.store_resource,
            "clock": clock or Clock(),
            "policy": BackupPolicy(retention_days=retention_days),
            "retention": RetentionResource(sweep_grace_hours=grace_hours),
            "audit": AuditLogResource(url=(self.root / "audit").as_uri()),
            "alerter": AlertService(variables=alert_variables or {}, ui_url=ui_url),
            "git": GitResource(cache_dir=str(self.root / "git-cache")),
        }

    def snapshot(self, customer: str, date: str) -> None:
        """A committed snapshot in the real format: per asset, one blob shared by every day and one of
        the day's own, so expiring the day orphans exactly its own blobs."""
        store = self.store()
        for asset in ASSETS:
            shared = store.put_blob(customer, f"{customer} shared {asset}".encode()).id
            own = store.put_blob(customer, f"{customer} {date} {asset}".encode() * 50).id
            store.write_manifest(customer, date, asset, {"asset": asset}, [shared, own])
        for definition, key in ((customer_partitions, customer), (date_partitions, date)):
            if not self.instance.has_dynamic_partition(definition.name, key):
                self.instance.add_dynamic_partitions(definition.name, [key])

    def record_run(self, customer: str, date: str) -> str:
        return record_run(self.instance, customer, date)


@dg.op(config_schema={"partition": str, "assets": [str]})
def _materialize_backup_assets(context: dg.OpExecutionContext) -> None:
    for asset in context.op_config["assets"]:
        context.log_event(dg.AssetMaterialization(asset_key=asset, partition=context.op_config["partition"]))


@dg.job
def recorded_snapshot_job() -> None:
    """A run as the instance records a (customer, date) snapshot: its partition tags and the backup
    assets materialized for that partition; what sensors read and expiry must take out of the instance."""
    _materialize_backup_assets()


def record_run(instance: dg.DagsterInstance, customer: str, date: str, assets: tuple[str, ...] = ASSETS) -> str:
    """A finished run in ``instance`` for (customer, date) that materialized ``assets``; its run id."""
    config = {"partition": str(SnapshotKey(customer, date).partition_key), "assets": list(assets)}
    result = recorded_snapshot_job.execute_in_process(
        instance=instance, run_config={"ops": {"_materialize_backup_assets": {"config": config}}},
        tags={CUSTOMER_TAG: customer, DATE_TAG: date},
    )  # fmt: skip
    return result.run_id


def days_back(n: int, today: dt.date | None = None) -> list[str]:
    """The last n dates ending today, oldest first."""
    today = today or Clock().now().date()
    return [(today - dt.timedelta(days=i)).isoformat() for i in reversed(range(n))]


def orphan_blobs(store: SnapshotStore, customer: str) -> set[str]:
    live = set()
    for date, assets in store.list_snapshots(customer).items():
        for asset in assets:
            live.update(store.read_manifest(customer, date, asset).blobs)
    stored = {info.key.rsplit("/", 1)[-1] for info in store.storage.list(f"customers/{customer}/blobs/")}
    return stored - live


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Local]:
    (tmp_path / "dagster").mkdir()
    create_master_key((tmp_path / "master-keyset.json").as_uri())  # what `backhub init` does
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        yield Local(tmp_path, instance)
