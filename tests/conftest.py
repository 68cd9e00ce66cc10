"""Session-wide fixtures: servers started on free loopback ports, and fake AWS credentials."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import MotoServer, start_moto_server

pytest_plugins = ["tests.fixtures_emulator"]


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto's standalone S3 + KMS server, one per test worker process."""
    server = start_moto_server(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _aws_test_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3 needs credentials and a region; these reach only the local moto server."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
