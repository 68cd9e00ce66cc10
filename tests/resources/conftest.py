"""Helpers for the resource tests: small git repositories built in temporary directories."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": "/nonexistent",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Ada",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "LC_ALL": "C",
}


class Work:
    """A non-bare working repository that tests commit to, push from and rewrite."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._clock = 1_700_000_000
        path.mkdir(parents=True)
        self.git("init", "--quiet", "--initial-branch=main")

    def git(self, *args: str, stdin: str | None = None) -> str:
        self._clock += 60
        env = {
            **_ENV,
            "GIT_AUTHOR_DATE": f"{self._clock} +0000",
            "GIT_COMMITTER_DATE": f"{self._clock} +0000",
        }
        result = subprocess.run(
            ["git", *args], cwd=self.path, env=env, input=stdin, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise AssertionError(f"git {args}: {result.stderr}")
        return result.stdout.strip()

    def commit(self, files: dict[str, str], message: str = "change") -> str:
        for name, content in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        self.git("add", "--all")
        self.git("commit", "--quiet", "-m", message)
        return self.git("rev-parse", "HEAD")

    def refs(self) -> dict[str, str]:
        out = self.git("for-each-ref", "--format=%(objectname) %(refname)")
        return {ref: sha for sha, _, ref in (line.partition(" ") for line in out.splitlines()) if ref}

    @property
    def url(self) -> str:
        return self.path.as_uri()


@pytest.fixture
def work(tmp_path: Path) -> Work:
    return Work(tmp_path / "work")
