"""Folders only their owner can open: everything backhub writes holds customer data or keys.

Files are made private where they are created (``tempfile.mkstemp`` gives 0600; git runs under umask
0077). Folders are made here, 0700 at every level this creates, because ``Path.mkdir(parents=True)``
gives the missing parents the process's default mode (0755 under the usual umask 0022), which would let
every local user list customers, repositories and blob ids, and read a plaintext git mirror.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PRIVATE_UMASK", "make_private_dirs"]

#: The umask of every subprocess that writes customer data (git): files 0600, folders 0700.
PRIVATE_UMASK = 0o077


def make_private_dirs(path: os.PathLike[str] | str) -> None:
    """Create ``path`` and its missing parents with mode 0700; folders that exist are left as they are."""
    path = Path(path)
    missing = []
    while not path.is_dir():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            if not folder.is_dir():
                raise
