"""Scratch folders for plaintext work (bundles downloaded and decrypted, repositories rebuilt from them).

Each is made in the system's temporary folder (``TMPDIR``) as ``backhub-<kind>-<pid>-<random>``, mode
0700 (``tempfile.mkdtemp``), and removed when the work ends. A process killed mid-way (SIGKILL, the OOM
killer, a power cut) cannot remove its own, and what it leaves is customer plaintext: so making a
process's first scratch folder removes every ``backhub-<kind>-<pid>-*`` folder whose process no longer
runs (once per process: a run makes many, and listing TMPDIR for each would be work on a hot path). A folder whose pid runs (this process, or one whose pid was reused) is left alone; one of
another user cannot be removed and is skipped. A ``TMPDIR`` shared by machines or pid namespaces would
need its own cleanup: give each its own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["scratch_dir", "sweep_abandoned"]

log = logging.getLogger("backhub.scratch")

_NAME = re.compile(r"^backhub-[a-z]+-(\d+)-")


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def sweep_abandoned(parent: os.PathLike[str] | str | None = None) -> list[str]:
    """Remove the scratch folders in ``parent`` (default: the temporary folder) of processes that are
    gone; returns their names."""
    folder = Path(parent or tempfile.gettempdir())
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _NAME.match(entry.name)
        if not match or not entry.is_dir() or entry.is_symlink() or _running(int(match.group(1))):
            continue
        try:
            shutil.rmtree(entry)
        except OSError as exc:  # not ours to remove, or removed by another process meanwhile
            log.debug("scratch folder %s left: %s", entry, exc)
            continue
        removed.append(entry.name)
    if removed:
        log.info("removed %d scratch folder(s) of killed backhub processes: %s", len(removed), ", ".join(removed))
    return removed


_swept = False  # whether this process has swept TMPDIR already


@contextlib.contextmanager
def scratch_dir(kind: str) -> Iterator[Path]:
    """A private folder for the duration of the ``with`` block, removed after it (also on error). The
    first one in a process sweeps up what killed processes left; later ones do not list TMPDIR again."""
    global _swept
    if not _swept:
        _swept = True
        sweep_abandoned()
    path = Path(tempfile.mkdtemp(prefix=f"backhub-{kind}-{os.getpid()}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
