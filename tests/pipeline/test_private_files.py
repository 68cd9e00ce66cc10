"""Everything a backup writes on local disk is private to its user: the plaintext git mirror cache, a
local store and keyring, the audit log. A local user other than backhub's can neither list nor read it."""

from __future__ import annotations

import stat
from pathlib import Path

from resources.keyring import initialise
from tests.installation import Backhub


def _open_to_others(root: Path) -> list[str]:
    """Every file or folder below ``root`` (and ``root`` itself) that its group or others may use."""
    return [f"{oct(stat.S_IMODE(path.lstat().st_mode))} {path.relative_to(root.parent)}"
            for path in [root, *root.rglob("*")]
            if not path.is_symlink() and path.lstat().st_mode & (stat.S_IRWXG | stat.S_IRWXO)]


def test_a_backup_leaves_no_file_that_others_can_read(backhub: Backhub, tmp_path: Path) -> None:
    local = tmp_path / "local"  # created by backhub, from a parent that others may list (umask 022)
    local.parent.chmod(0o755)
    store, keyring = local / "store", local / "keyring"
    backhub.monkeypatch.setenv("BACKHUB_STORE_URL", store.as_uri())
    backhub.monkeypatch.setenv("BACKHUB_KEYRING_URL", keyring.as_uri())
    backhub.monkeypatch.setenv("BACKHUB_GIT_CACHE_DIR", str(local / "git-cache"))
    backhub.monkeypatch.setenv("BACKHUB_AUDIT_URL", (local / "audit").as_uri())
    initialise(keyring.as_uri(), (tmp_path / "master-keyset.json").as_uri())

    summaries = backhub.snapshot()
    assert summaries and all(summary.success for summary in summaries)

    written = {name: local / name for name in ("store", "keyring", "git-cache", "audit")}
    assert all(path.is_dir() and any(path.rglob("*")) for path in written.values()), written
    assert any(p.name == "HEAD" for p in written["git-cache"].rglob("HEAD"))  # a plaintext mirror is there
    assert [entry for path in written.values() for entry in _open_to_others(path)] == []
    assert _open_to_others(tmp_path / "master-keyset.json") == []
