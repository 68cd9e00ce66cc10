"""The ``backhub`` fixture: a whole installation against a fresh emulator and moto S3."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.installation import Backhub, start_installation


@pytest.fixture
def backhub(tmp_path: Path, fresh_emulator, moto_server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backhub]:
    yield start_installation(fresh_emulator, moto_server.endpoint_url, tmp_path, monkeypatch)
