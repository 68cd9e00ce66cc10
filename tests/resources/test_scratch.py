"""Scratch folders hold plaintext: a process killed inside one leaves it, and the next one removes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from resources.scratch import scratch_dir, sweep_abandoned
from tests.installation import REPO_ROOT


def _holder(tmp: Path) -> tuple[subprocess.Popen[str], Path]:
    """A process inside a scratch folder holding a plaintext file, waiting to be killed."""
    code = textwrap.dedent("""
        from resources.scratch import scratch_dir
        with scratch_dir("git") as scratch:
            (scratch / "plaintext.bundle").write_text("customer data")
            print(scratch, flush=True)
            input()
    """)
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True, env=env)
    return process, Path(process.stdout.readline().strip())


def test_a_killed_process_scratch_folder_is_removed_by_the_next_scratch_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("resources.scratch._swept", False)  # as in a new process: it sweeps once
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # re-read TMPDIR
    killed, abandoned = _holder(tmp_path)
    alive, in_use = _holder(tmp_path)
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        assert (abandoned / "plaintext.bundle").exists()  # SIGKILL leaves it: nothing can run on the way out
        assert oct(abandoned.stat().st_mode & 0o777) == "0o700"

        with scratch_dir("verify") as mine:
            assert not abandoned.exists()
            assert (in_use / "plaintext.bundle").exists()  # a running process's folder is left alone
            assert mine.parent == tmp_path
        assert not mine.exists()
        killed_again, left = _holder(tmp_path)
        killed_again.send_signal(signal.SIGKILL)
        killed_again.wait(timeout=30)
        with scratch_dir("verify"):  # later folders of the same process do not list TMPDIR again
            assert left.exists()
    finally:
        alive.kill()
        alive.wait(timeout=30)


def test_the_sweep_leaves_folders_it_does_not_own(tmp_path) -> None:
    foreign = [tmp_path / "backhub-git-notapid-x", tmp_path / "other-123-x", tmp_path / "backhub-restore-abc"]
    for folder in foreign:
        folder.mkdir()
    (tmp_path / "backhub-git-999999999-file").write_text("a file, not a folder")
    assert sweep_abandoned(tmp_path) == []
    assert all(folder.exists() for folder in foreign)
