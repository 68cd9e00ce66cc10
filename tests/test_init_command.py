"""``backhub init``, run the way an operator types it: the only command that creates a master key."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path


def backhub(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BACKHUB_", "DAGSTER_HOME"))}
    env["DAGSTER_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "backhub_pipeline.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_init_creates_a_private_master_key_once_and_changes_nothing_the_second_time(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = backhub(home, "init")
    assert first.returncode == 0, first.stderr
    key = home / "master-keyset.json"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    content = key.read_bytes()

    second = backhub(home, "init")
    assert second.returncode == 0, second.stderr
    assert key.read_bytes() == content


def test_init_refuses_a_master_key_other_than_the_keyrings(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert backhub(home, "init").returncode == 0
    (home / "master-keyset.json").rename(home / "the-real-key.json")

    result = backhub(home, "init")

    assert result.returncode == 2
    assert "BACKHUB_MASTER_KEY_URI" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (home / "master-keyset.json").exists()
