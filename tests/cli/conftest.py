"""One installation driven only through ``python -m backhub_pipeline.cli``, as an operator types it.

Everything backhub keeps lives under one ``DAGSTER_HOME`` (store, keyring, master key, git cache,
audit log, the Dagster instance), the embedded default. ``world`` takes one snapshot of ``zoe-dev``
once per module; a test that may change anything works on its own copy (``home_copy``), and every test
can ask ``tree(path)`` for a fingerprint of a folder to show that a refused command changed nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures_emulator import start_emulator

REPO_ROOT = Path(__file__).resolve().parents[2]
CUSTOMER = "zoe-dev"


@dataclass
class World:
    home: Path
    env: dict[str, str]
    date: str

    def with_home(self, home: Path, **extra: str) -> dict[str, str]:
        return {**self.env, "DAGSTER_HOME": str(home), **extra}


def backhub(*args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``python -m backhub_pipeline.cli ARGS`` with exactly ``env`` (plus what Python needs to run)."""
    base = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "PYTHONPATH", "BACKHUB_OPENAPI_SPEC",
                                                "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
            if name in os.environ}
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), base.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "backhub_pipeline.cli", *args], env={**base, **env},
                          cwd=cwd or REPO_ROOT, capture_output=True, text=True, timeout=timeout)


def tree(root: Path) -> dict[str, tuple[str, int, int]]:
    """Every path under ``root`` (itself included) -> (kind, size, mtime_ns): equal before and after
    means nothing was created, removed or rewritten."""
    result = {}
    for path in [root, *root.rglob("*")] if root.exists() or root.is_symlink() else []:
        info = path.lstat()
        kind = "link" if path.is_symlink() else "dir" if path.is_dir() else "file"
        result[str(path.relative_to(root))] = (kind, 0 if kind == "dir" else info.st_size,
                                               0 if kind == "dir" else info.st_mtime_ns)
    return result


def one_line(stderr: str) -> str:
    """The one line a failing command printed (the test fails if it printed more)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def new_home(home: Path, emulator: Any) -> dict[str, str]:
    """An initialised installation in ``home`` against ``emulator``: the environment its commands need."""
    info = emulator.info
    home.mkdir()
    shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {"DAGSTER_HOME": str(home), "BACKHUB_GITHUB_API_URL": info["api_url"],
           "BACKHUB_GITHUB_APP_ID": str(info["app_id"]),
           "BACKHUB_GITHUB_APP_PRIVATE_KEY_PATH": info["private_key_path"]}
    initialised = backhub("init", env=env)  # a new installation's first step: its master key
    assert initialised.returncode == 0, initialised.stderr
    return env


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("cli")
    emulator = start_emulator(tmp / "emulator")
    try:
        home = tmp / "home"
        env = new_home(home, emulator)
        done = backhub("backup", "--customer", CUSTOMER, "--json", env=env)
        assert done.returncode == 0, done.stderr
        import json

        [summary] = json.loads(done.stdout)
        yield World(home=home, env=env, date=summary["date"])
    finally:
        emulator.stop()


@pytest.fixture
def home_copy(world: World, tmp_path: Path) -> Path:
    """A copy of the world's home this test may change."""
    copy = tmp_path / "home"
    shutil.copytree(world.home, copy, symlinks=True)
    return copy
