"""One installation driven only through ``python -m backhub_pipeline.cli``, as an operator types it.

Everything backhub keeps lives under one ``DAGSTER_HOME`` (store, keyring, master key, git cache,
audit log, the Dagster instance), the embedded default. ``world`` takes one snapshot of ``zoe-dev``
once per module; ``two_days`` takes two, a simulated day apart, with known changes on GitHub between
them. A test that may change anything works on its own copy (``home_copy``), and every test can ask
``tree(path)`` for a fingerprint of a folder to show that a refused command changed nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from github_emulator.process import EmulatorProcess
from resources.github import RESTORE_WRITE_PERMISSIONS, GitHubAppResource, InstallationClient
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


def _backup(env: dict[str, str]) -> tuple[str, subprocess.CompletedProcess[str]]:
    """``backhub backup --customer zoe-dev --json``: the snapshot's date, and the finished process."""
    done = backhub("backup", "--customer", CUSTOMER, "--json", env=env)
    assert done.returncode == 0, done.stderr
    [summary] = json.loads(done.stdout)
    return summary["date"], done


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("cli")
    emulator = start_emulator(tmp / "emulator")
    try:
        home = tmp / "home"
        env = new_home(home, emulator)
        date, _done = _backup(env)
        yield World(home=home, env=env, date=date)
    finally:
        emulator.stop()


@dataclass
class TwoDays(World):
    """Snapshots of ``zoe-dev`` on ``first`` and ``date`` (the second day), and what changed between them."""

    first: str
    repo: str  # the repository changed on GitHub between the two days
    pushed: tuple[str, str]  # (old, new) tip of refs/heads/main after a pushed commit
    deleted: tuple[str, str]  # (ref, old sha) of the deleted branch
    opened: int  # the number of the issue opened
    closed: int  # the number of the issue closed
    edited: int  # the number of the issue whose newest comment was edited
    second_backup: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def two_days(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoDays]:
    """Day 1's snapshot; then, a simulated day later, on zoe-dev/dotfiles: a commit pushed to main,
    ``develop`` deleted, an issue opened, another closed, a comment edited; then day 2's snapshot."""
    tmp = tmp_path_factory.mktemp("cli-days")
    emulator = start_emulator(tmp / "emulator")
    try:
        env = new_home(tmp / "home", emulator)
        first, _done = _backup(env)
        emulator.control("POST", "clock", {"offset_days": 1})
        repo = f"{CUSTOMER}/dotfiles"
        pushed, deleted = _push_and_delete(emulator, repo, tmp / "clone.git")
        client = _installation(emulator)
        opened = client.send_json("POST", f"/repos/{repo}/issues", {"title": "Found on day 2", "body": "new"})
        client.send_json("PATCH", f"/repos/{repo}/issues/4", {"state": "closed"})
        emulator.control("POST", "issues/change", {"full_name": repo, "number": 2, "kind": "edit_comment"})
        env["BACKHUB_CLOCK_OFFSET_DAYS"] = "1"
        second, done = _backup(env)
        yield TwoDays(home=Path(env["DAGSTER_HOME"]), env=env, date=second, first=first, repo=repo, pushed=pushed,
                      deleted=deleted, opened=int(opened["number"]), closed=4, edited=2, second_backup=done)
    finally:
        emulator.stop()


def _installation(emulator: EmulatorProcess) -> InstallationClient:
    info = emulator.info
    app = GitHubAppResource(api_url=info["api_url"], app_id=str(info["app_id"]),
                            private_key_path=info["private_key_path"]).get_client()
    return app.installation_for(CUSTOMER, write=RESTORE_WRITE_PERMISSIONS)


def _push_and_delete(emulator: EmulatorProcess, repo: str, clone: Path) -> tuple[tuple[str, str], tuple[str, str]]:
    """Push a commit onto main and delete develop, through git over HTTP as a developer would."""
    client = _installation(emulator)
    git_env = {**os.environ, **client.git_environment(), "GIT_AUTHOR_NAME": "Zoe", "GIT_AUTHOR_EMAIL": "zoe@example.com",
               "GIT_COMMITTER_NAME": "Zoe", "GIT_COMMITTER_EMAIL": "zoe@example.com"}

    def git(*args: str) -> str:
        return subprocess.run(["git", f"--git-dir={clone}", *args], env=git_env, check=True, capture_output=True,
                              text=True).stdout.strip()

    subprocess.run(["git", "clone", "--bare", "--quiet", client.git_url(repo), str(clone)], env=git_env, check=True)
    old_main, old_develop = git("rev-parse", "refs/heads/main"), git("rev-parse", "refs/heads/develop")
    new_main = git("commit-tree", f"{old_main}^{{tree}}", "-p", old_main, "-m", "Day 2: a pushed commit")
    git("push", "--quiet", client.git_url(repo), f"{new_main}:refs/heads/main", ":refs/heads/develop")
    return (old_main, new_main), ("refs/heads/develop", old_develop)


@pytest.fixture
def home_copy(world: World, tmp_path: Path) -> Path:
    """A copy of the world's home this test may change."""
    copy = tmp_path / "home"
    shutil.copytree(world.home, copy, symlinks=True)
    return copy
