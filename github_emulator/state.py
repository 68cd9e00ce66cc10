"""The emulator's world: accounts, repositories, issues and the clock, persisted as one JSON document.

Everything GitHub would keep in its databases lives in one plain, JSON-serialisable dict so that it can
be written atomically (temp file + rename) after every change and reloaded on restart. Git data lives
beside it in bare repositories named by repository id, so a rename never moves a directory.

Layout of the data dir::

    state.json            the world (this module)
    seed-state.json       the world as freshly seeded, for POST /_emulator/reset
    repos/<id>.git        bare repositories; <id>.wiki.git for created wikis
    pristine/             hard-linked copy of repos/ as freshly seeded
    assets/<id>           release asset bytes
    app-private-key.pem   the GitHub App's private key (0600)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

STATE_FILE = "state.json"
SEED_STATE_FILE = "seed-state.json"
FORMAT_VERSION = 1


def iso(moment: datetime) -> str:
    """GitHub's timestamp format: UTC, seconds, trailing Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def wall_clock() -> datetime:
    """The real time, to the second: what the emulator's clock is offset from."""
    return datetime.now(UTC).replace(microsecond=0)


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a file so that readers see either the old or the new content, never a torn one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class Store:
    """The world plus the lock that guards it. Handlers take ``store.lock`` around reads and writes."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir
        self.lock = threading.RLock()
        self.db: dict[str, Any] = {}
        self._by_name: dict[str, str] = {}
        self.hooks: Any = None  # the App's webhook (webhooks.Hookshot), set by the CLI

    # ---- webhook events (webhooks.py builds and delivers them) -------------------------------------
    def listening(self) -> bool:
        """True when changes become webhook deliveries (so callers read git state for them only then)."""
        return self.hooks is not None and self.hooks.active

    def emit(self, event: str, action: str | None, repo: dict[str, Any] | None, payload: Any, **kw: Any) -> None:
        """One event; ``payload`` is the event's own fields, or a callable ``Urls -> fields``."""
        if self.listening():
            self.hooks.emit(event, action, repo, payload, **kw)

    def emit_refs(self, repo: dict[str, Any], before: dict[str, str], sender: str | None = None) -> None:
        """``create``/``push``/``delete`` for each branch or tag that moved since ``before``."""
        if self.listening():
            self.hooks.refs_changed(repo, before, sender)

    def refs_if_listening(self, repo: dict[str, Any]) -> dict[str, str]:
        return self.read_refs(self.git_dir(repo)) if self.listening() else {}

    # ---- paths -------------------------------------------------------------------------------------
    @property
    def repos_dir(self) -> Path:
        return self.dir / "repos"

    def git_dir(self, repo: dict[str, Any]) -> Path:
        return self.repos_dir / f"{repo['id']}.git"

    def wiki_dir(self, repo: dict[str, Any]) -> Path:
        return self.repos_dir / f"{repo['id']}.wiki.git"

    def asset_path(self, asset_id: int) -> Path:
        return self.dir / "assets" / str(asset_id)

    # ---- persistence -------------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.dir / STATE_FILE).is_file()

    def load(self, name: str = STATE_FILE) -> None:
        with self.lock:
            self.db = json.loads((self.dir / name).read_text("utf-8"))
            if self.db.get("format") != FORMAT_VERSION:
                raise ValueError(f"{self.dir / name}: unknown emulator state format {self.db.get('format')}")
            self.reindex()

    def save(self) -> None:
        with self.lock:
            data = json.dumps(self.db, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            write_atomic(self.dir / STATE_FILE, data)

    def mark_pristine(self) -> None:
        """Remember the freshly seeded world (state and git) so that reset can return to it."""
        with self.lock:
            self.save()
            shutil.copyfile(self.dir / STATE_FILE, self.dir / SEED_STATE_FILE)
            pristine = self.dir / "pristine"
            if pristine.exists():
                shutil.rmtree(pristine)
            shutil.copytree(self.repos_dir, pristine, copy_function=os.link, symlinks=True)

    def reset(self) -> None:
        """Back to the freshly seeded world. Git files are hard links: git never rewrites one in place."""
        with self.lock:
            shutil.rmtree(self.repos_dir, ignore_errors=True)
            shutil.copytree(self.dir / "pristine", self.repos_dir, copy_function=os.link, symlinks=True)
            self.load(SEED_STATE_FILE)
            self.save()

    # ---- clock -------------------------------------------------------------------------------------
    def now(self) -> datetime:
        """Emulator time: wall clock plus the offset that advance and /_emulator/clock move."""
        return wall_clock() + timedelta(seconds=self.db.get("clock_offset", 0))

    def set_now(self, moment: datetime) -> None:
        self.db["clock_offset"] = round((moment - wall_clock()).total_seconds())

    # ---- ids and lookups ---------------------------------------------------------------------------
    def next_id(self, kind: str) -> int:
        counters = self.db.setdefault("counters", {})
        counters[kind] = counters.get(kind, _ID_BASES.get(kind, 1000)) + 1
        return counters[kind]

    def reindex(self) -> None:
        self._by_name = {
            f"{r['owner']}/{r['name']}".lower(): rid for rid, r in self.db.get("repos", {}).items()
        }

    def repo_by_name(self, owner: str, name: str) -> dict[str, Any] | None:
        rid = self._by_name.get(f"{owner}/{name}".lower())
        return self.db["repos"].get(rid) if rid else None

    def repo_by_id(self, repo_id: int | str) -> dict[str, Any] | None:
        return self.db["repos"].get(str(repo_id))

    def renamed_to(self, owner: str, name: str) -> dict[str, Any] | None:
        rid = self.db.get("renamed", {}).get(f"{owner}/{name}".lower())
        return self.repo_by_id(rid) if rid is not None else None

    def user(self, login: str) -> dict[str, Any] | None:
        return self.db["users"].get(login.lower())

    def user_by_id(self, uid: int) -> dict[str, Any] | None:
        return next((u for u in self.db["users"].values() if u["id"] == uid), None)

    @staticmethod
    def full_name(repo: dict[str, Any]) -> str:
        return f"{repo['owner']}/{repo['name']}"

    def repos_of(self, login: str) -> list[dict[str, Any]]:
        login = login.lower()
        return sorted(
            (r for r in self.db["repos"].values() if r["owner"].lower() == login), key=lambda r: r["id"]
        )

    def add_repo(self, repo: dict[str, Any]) -> None:
        self.db["repos"][str(repo["id"])] = repo
        self._by_name[f"{repo['owner']}/{repo['name']}".lower()] = str(repo["id"])

    def rename_repo(self, repo: dict[str, Any], new_name: str) -> None:
        old = f"{repo['owner']}/{repo['name']}".lower()
        self._by_name.pop(old, None)
        self.db.setdefault("renamed", {})[old] = repo["id"]
        repo["name"] = new_name
        self.db["renamed"].pop(f"{repo['owner']}/{new_name}".lower(), None)
        self._by_name[f"{repo['owner']}/{new_name}".lower()] = str(repo["id"])

    def delete_repo(self, repo: dict[str, Any]) -> None:
        self.db["repos"].pop(str(repo["id"]), None)
        self._by_name.pop(f"{repo['owner']}/{repo['name']}".lower(), None)
        self.db["renamed"] = {k: v for k, v in self.db.get("renamed", {}).items() if v != repo["id"]}
        self.db.setdefault("deleted", []).append(f"{repo['owner']}/{repo['name']}")
        for path in (self.git_dir(repo), self.wiki_dir(repo)):
            shutil.rmtree(path, ignore_errors=True)

    # ---- git truth ---------------------------------------------------------------------------------
    @staticmethod
    def read_refs(git_dir: Path) -> dict[str, str]:
        """Refs as git itself reports them (loose and packed), symbolic HEAD excluded."""
        if not git_dir.is_dir():
            return {}
        out = subprocess.run(
            ["git", f"--git-dir={git_dir}", "for-each-ref", "--format=%(objectname) %(refname)"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        refs = {}
        for line in out.splitlines():
            sha, _, name = line.partition(" ")
            refs[name] = sha
        return refs

    def wiki_state(self, repo: dict[str, Any]) -> str:
        if not repo.get("has_wiki"):
            return "disabled"
        return "populated" if self.wiki_dir(repo).is_dir() else "never_created"


# Ids start in distinct ranges so that a mix-up between kinds shows in tests.
_ID_BASES = {
    "user": 100000,
    "repo": 500000,
    "issue": 2000000,
    "comment": 3000000,
    "review": 4000000,
    "review_comment": 5000000,
    "label": 6000000,
    "milestone": 7000000,
    "release": 8000000,
    "asset": 9000000,
    "hook": 10000000,
    "installation": 40000,
    "event": 12000000,
}


def epoch_seconds() -> int:
    return int(time.time())
