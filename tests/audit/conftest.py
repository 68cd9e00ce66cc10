"""Audit logs on both backends: a folder under tmp_path, and a fresh bucket on the moto server."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import boto3
import pytest

from resources.audit import AuditLog
from tests.servers import MotoServer


def new_bucket(moto_server: MotoServer, *, object_lock: bool = False) -> str:
    bucket = f"audit-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", endpoint_url=moto_server.endpoint_url)
    if object_lock:
        s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    else:
        s3.create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture(params=["file", "s3"])
def log_url(request: pytest.FixtureRequest, tmp_path) -> tuple[str, str | None]:
    """(url, s3_endpoint_url) of an empty audit log on each backend."""
    if request.param == "file":
        return (tmp_path / "audit").as_uri(), None
    moto_server = request.getfixturevalue("moto_server")
    return f"s3://{new_bucket(moto_server)}/audit", moto_server.endpoint_url


@pytest.fixture
def make_log(log_url: tuple[str, str | None]) -> Callable[[], AuditLog]:
    url, endpoint = log_url
    return lambda: AuditLog.from_url(url, s3_endpoint_url=endpoint)
