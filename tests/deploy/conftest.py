"""Fixtures for the production deployment: Postgres and RabbitMQ on this machine, a Cluster per test.

Postgres (127.0.0.1:5432) and RabbitMQ (127.0.0.1:5672) must be running; `.ci/run` starts them. In CI
(``CI`` set) a missing service fails the tests, naming it; on a developer's machine they are skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from resources.keyring import initialise
from tests.deploy.cluster import Cluster, services_missing


def require_services() -> None:
    missing = services_missing()
    if not missing:
        return
    message = (f"production deployment tests need {' and '.join(missing)}; start them with "
               "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` and "
               "`rabbitmq-server -detached` (.ci/run does)")
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture
def services() -> None:
    require_services()


@pytest.fixture
def cluster(services, tmp_path: Path, fresh_emulator, moto_server) -> Iterator[Cluster]:
    """A fresh database, virtual host and DAGSTER_HOME against the test's emulator and moto S3. The
    test starts the processes it needs; all of them are stopped and the database dropped afterwards."""
    bucket = f"backhub-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server.endpoint_url).create_bucket(Bucket=bucket)
    fresh_emulator.control("POST", "clock", json={"offset_days": 0})
    info = fresh_emulator.info
    initialise(f"s3://{bucket}/keyring", (tmp_path / "master-keyset.json").as_uri(),
               s3_endpoint_url=moto_server.endpoint_url)
    env = {
        "BACKHUB_GITHUB_API_URL": info["api_url"],
        "BACKHUB_GITHUB_APP_ID": str(info["app_id"]),
        "BACKHUB_GITHUB_APP_PRIVATE_KEY_PATH": info["private_key_path"],
        "BACKHUB_STORE_URL": f"s3://{bucket}/store",
        "BACKHUB_KEYRING_URL": f"s3://{bucket}/keyring",
        "BACKHUB_S3_ENDPOINT_URL": moto_server.endpoint_url,
        "BACKHUB_COMPUTE_LOGS_BUCKET": bucket,
        "BACKHUB_MASTER_KEY_URI": (tmp_path / "master-keyset.json").as_uri(),
        "BACKHUB_AUDIT_URL": f"s3://{bucket}/audit",
        "BACKHUB_CLOCK_OFFSET_DAYS": "0",
    }
    with Cluster(tmp_path / "cluster", env, emulator=fresh_emulator, bucket=bucket) as cluster:
        yield cluster
