"""Synthetic git history written with ``git fast-import``: fast, deterministic, and any shape we need.

A :class:`Stream` collects fast-import commands (commits with marks, merges, resets, annotated tags,
notes) and :func:`run_fast_import` feeds it to git in one process, returning the mark -> sha table.
Fixed author dates make every object id a function of the seed alone.
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path


class Stream:
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.mark = 0

    def _data(self, payload: bytes | str) -> None:
        raw = payload.encode("utf-8") if isinstance(payload, str) else payload
        self.parts.append(b"data %d\n" % len(raw))
        self.parts.append(raw)
        self.parts.append(b"\n")

    def commit(
        self,
        ref: str,
        message: str,
        when: datetime,
        author: tuple[str, str],
        files: dict[str, bytes | str | None],
        parent: str | None = None,
        merge: str | None = None,
    ) -> str:
        """Add a commit on ``ref``; ``files`` maps path -> content (None deletes). Returns its mark."""
        self.mark += 1
        mark = f":{self.mark}"
        stamp = f"{int(when.timestamp())} +0000"
        name, email = author
        self.parts.append(f"commit {ref}\nmark {mark}\n".encode())
        self.parts.append(f"author {name} <{email}> {stamp}\ncommitter {name} <{email}> {stamp}\n".encode())
        self._data(message)
        if parent:
            self.parts.append(f"from {parent}\n".encode())
        if merge:
            self.parts.append(f"merge {merge}\n".encode())
        for path, content in files.items():
            quoted = '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'
            if content is None:
                self.parts.append(f"D {quoted}\n".encode())
            else:
                self.parts.append(f"M 100644 inline {quoted}\n".encode())
                self._data(content)
        self.parts.append(b"\n")
        return mark

    def reset(self, ref: str, target: str) -> None:
        self.parts.append(f"reset {ref}\nfrom {target}\n\n".encode())

    def tag(self, name: str, target: str, message: str, when: datetime, tagger: tuple[str, str]) -> None:
        self.parts.append(f"tag {name}\nfrom {target}\n".encode())
        self.parts.append(f"tagger {tagger[0]} <{tagger[1]}> {int(when.timestamp())} +0000\n".encode())
        self._data(message)

    def note(self, target: str, text: str, when: datetime, author: tuple[str, str], parent: str | None) -> str:
        """A commit on refs/notes/commits attaching ``text`` to ``target``."""
        self.mark += 1
        mark = f":{self.mark}"
        stamp = f"{int(when.timestamp())} +0000"
        self.parts.append(f"commit refs/notes/commits\nmark {mark}\n".encode())
        self.parts.append(f"committer {author[0]} <{author[1]}> {stamp}\n".encode())
        self._data("Notes added by 'git notes add'")
        if parent:
            self.parts.append(f"from {parent}\n".encode())
        self.parts.append(f"N inline {target}\n".encode())
        self._data(text)
        self.parts.append(b"\n")
        return mark

    def payload(self) -> bytes:
        return b"".join(self.parts) + b"done\n"


def init_bare(path: Path, branch: str = "main") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "init", "--quiet", "--bare", f"--initial-branch={branch}", "--", str(path)],
        check=True,
        env=_env(),
    )


def run_fast_import(git_dir: Path, stream: Stream, *, force: bool = False) -> dict[str, str]:
    marks = git_dir / "fast-import-marks.tmp"
    args = ["git", f"--git-dir={git_dir}", "fast-import", "--quiet", "--done", f"--export-marks={marks}"]
    if force:
        args.append("--force")
    subprocess.run(args, input=stream.payload(), check=True, env=_env(), capture_output=True)
    table = {}
    if marks.exists():
        for line in marks.read_text().splitlines():
            mark, _, sha = line.partition(" ")
            table[mark] = sha
        marks.unlink()
    return table


def pack_size_kb(git_dir: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(git_dir / "objects"):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    return total // 1024


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    return env


def epoch(year: int, month: int = 1, day: int = 1) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)
