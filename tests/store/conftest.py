"""One store fixture, parametrized over both backends: every test here runs on file:// and s3://.

``file``: store, keyring and master keyset under tmp_path. ``s3``: store and keyring in their own
fresh buckets on the session's moto server, master key in moto's KMS, all over HTTP through boto3.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from resources.keyring import Keyring, create_master_key
from resources.object_storage import ObjectStorage, storage_from_url
from resources.snapshot_store import SnapshotStore


@dataclass
class StoreEnv:
    kind: str
    store_url: str
    keyring_url: str
    master_key_uri: str
    endpoint_url: str | None
    new_master_key: Callable[[], str]  # another master key of the same kind

    def keyring(self, master_key_uri: str | None = None) -> Keyring:
        return Keyring.from_urls(
            self.keyring_url, master_key_uri or self.master_key_uri, s3_endpoint_url=self.endpoint_url
        )

    def store(self, keyring: Keyring | None = None, **kwargs: Any) -> SnapshotStore:
        return SnapshotStore.from_urls(
            self.store_url, keyring or self.keyring(), s3_endpoint_url=self.endpoint_url, **kwargs
        )

    def raw_store(self) -> ObjectStorage:
        """The store's objects as bytes, bypassing all crypto: the attacker's view."""
        return storage_from_url(self.store_url, s3_endpoint_url=self.endpoint_url)

    def raw_keyring(self) -> ObjectStorage:
        return storage_from_url(self.keyring_url, s3_endpoint_url=self.endpoint_url)

    def env_vars(self) -> dict[str, str]:
        """What a subprocess needs to open the same store."""
        return {
            "STORE_URL": self.store_url,
            "KEYRING_URL": self.keyring_url,
            "MASTER_KEY_URI": self.master_key_uri,
            "S3_ENDPOINT_URL": self.endpoint_url or "",
        }


@pytest.fixture(scope="session")
def aws_clients(moto_server: Any) -> tuple[str, Any, Any]:
    """boto3 clients for the test's own set-up, made once (client creation is slow)."""
    endpoint = moto_server.endpoint_url
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return endpoint, session.client("s3", endpoint_url=endpoint), session.client("kms", endpoint_url=endpoint)


def _created(master_key_uri: str) -> str:
    create_master_key(master_key_uri)
    return master_key_uri


@pytest.fixture(params=["file", "s3"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreEnv]:
    if request.param == "file":
        counter = iter(range(1000))
        yield StoreEnv(
            kind="file",
            store_url=(tmp_path / "store").as_uri(),
            keyring_url=(tmp_path / "keyring").as_uri(),
            master_key_uri=_created((tmp_path / "secrets" / "master.json").as_uri()),
            endpoint_url=None,
            new_master_key=lambda: _created((tmp_path / "secrets" / f"other-{next(counter)}.json").as_uri()),
        )
        return
    endpoint, s3, kms = request.getfixturevalue("aws_clients")
    suffix = uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=f"store-{suffix}")
    s3.create_bucket(Bucket=f"keys-{suffix}")

    def new_master_key() -> str:
        return "aws-kms://" + kms.create_key()["KeyMetadata"]["Arn"]

    yield StoreEnv(
        kind="s3",
        store_url=f"s3://store-{suffix}/backups",
        keyring_url=f"s3://keys-{suffix}/keyring",
        master_key_uri=new_master_key(),
        endpoint_url=endpoint,
        new_master_key=new_master_key,
    )


@pytest.fixture
def store(env: StoreEnv) -> SnapshotStore:
    return env.store()


def all_objects(storage: ObjectStorage) -> dict[str, bytes]:
    return {info.key: storage.get(info.key) for info in storage.list("")}
