"""Every failure is one line naming cause and remedy; the traceback only with ``--verbose``."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import CUSTOMER, REPO_ROOT, World, backhub, one_line, tree

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cli")]


def _can_mount_tmpfs(where: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=16k tmpfs {shlex.quote(str(where))}"],
                           capture_output=True)
    return probe.returncode == 0


def test_a_full_disk_is_named_as_one_not_as_an_encryption_failure(world: World, home_copy: Path, tmp_path: Path) -> None:
    full = tmp_path / "full-store"
    full.mkdir()
    if not _can_mount_tmpfs(full):
        pytest.skip("needs `unshare -rm` to mount a small tmpfs")
    import os

    env = {**{name: os.environ[name] for name in ("PATH", "HOME", "BACKHUB_OPENAPI_SPEC") if name in os.environ},
           "PYTHONPATH": str(REPO_ROOT), **world.with_home(home_copy), "BACKHUB_STORE_URL": full.as_uri()}
    # A 16 KiB filesystem as the store, in a mount namespace of this command alone.
    script = (f"mount -t tmpfs -o size=16k tmpfs {shlex.quote(str(full))} && exec {shlex.quote(sys.executable)} "
              f"-m backhub_pipeline.cli backup --customer {CUSTOMER} --date {world.date}")
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 1, done.stderr
    assert "no space left on the device holding" in done.stdout and "free space there" in done.stdout
    assert "encryption failed" not in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert len(done.stdout.splitlines()) <= 3, done.stdout  # the table, no log lines
    assert one_line(done.stderr).startswith("zoe-dev: FAILED (")  # the progress line, nothing else
    assert "resources.errors" not in done.stdout + done.stderr  # the cause, not where its class lives


def test_a_traceback_only_with_verbose(world: World, tmp_path: Path) -> None:
    before = tree(world.home)
    env = {**world.env, "BACKHUB_RETENTION_DAYS": "many"}
    quiet = backhub("snapshots", env=env)
    assert quiet.returncode == 2
    assert one_line(quiet.stderr) == "backhub snapshots: BACKHUB_RETENTION_DAYS must be a whole number, got 'many'"
    loud = backhub("--verbose", "snapshots", env=env)
    assert loud.returncode == 2 and "Traceback (most recent call last)" in loud.stderr
    assert loud.stderr.rstrip().endswith(quiet.stderr.rstrip())
    assert tree(world.home) == before
