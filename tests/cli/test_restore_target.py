"""``backhub restore --to``: never into, over or around backhub's own data; ``--force`` replaces only an
earlier restore; the staging folder of a killed restore is removed by the next one, which says so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import CUSTOMER, World, backhub, one_line, tree

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cli")]


@pytest.mark.parametrize(("inside", "variable"), [
    ("store", "BACKHUB_STORE_URL"), ("keyring", "BACKHUB_KEYRING_URL"), ("git-cache", "BACKHUB_GIT_CACHE_DIR"),
    (".", "DAGSTER_HOME"), ("store/newfolder", "BACKHUB_STORE_URL"),
])
def test_restore_refuses_backhubs_own_folders_even_with_force(world: World, home_copy: Path, inside: str,
                                                              variable: str) -> None:
    before = tree(home_copy)
    done = backhub("restore", "--customer", CUSTOMER, "--date", world.date, "--to", str(home_copy / inside),
                   "--force", env=world.with_home(home_copy))
    assert done.returncode == 2, done.stderr
    line = one_line(done.stderr)
    assert "refused" in line and variable in line and "choose a folder outside it" in line
    assert tree(home_copy) == before


def test_restore_refuses_a_folder_holding_the_home_and_a_symlink_to_the_store(world: World, home_copy: Path,
                                                                              tmp_path: Path) -> None:
    link = tmp_path / "innocent-looking"
    link.symlink_to(home_copy / "store")
    before = tree(tmp_path)
    for target in (tmp_path, link):
        done = backhub("restore", "--customer", CUSTOMER, "--date", world.date, "--to", str(target), "--force",
                       env=world.with_home(home_copy))
        assert done.returncode == 2, done.stderr
        assert "backhub's own data" in one_line(done.stderr)
    assert tree(tmp_path) == before


def test_force_replaces_only_a_folder_an_earlier_restore_made(world: World, tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    before = tree(tmp_path)
    done = backhub("restore", "--customer", CUSTOMER, "--date", world.date, "--to", str(precious), "--force",
                   env=world.env)
    assert done.returncode == 2, done.stderr
    assert "--force replaces only a folder an earlier restore made" in one_line(done.stderr)
    assert tree(tmp_path) == before

    restored = tmp_path / "restored"
    for _ in range(2):  # the second run replaces the first restore
        done = backhub("restore", "--quiet", "--customer", CUSTOMER, "--date", world.date, "--to", str(restored),
                       "--force", env=world.env)
        assert done.returncode == 0, done.stderr
    assert json.loads((restored / "backhub-restore.json").read_text())["customer"] == CUSTOMER
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious", "restored"]


def test_the_staging_folder_of_a_killed_restore_is_removed_by_the_next_one_which_says_so(
        world: World, tmp_path: Path) -> None:
    # What a restore killed mid-way leaves: a hidden staging folder with plaintext, owned by a dead process.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    killed = tmp_path / ".restored.restore-k1ll3d"
    (killed / "acme-corp").mkdir(parents=True)
    (killed / "acme-corp" / "issue.json").write_text('{"title": "plaintext"}')
    (killed / ".backhub-restore-pid").write_text(f"{dead.stdout.strip()}\n")
    # One that a running restore is building right now (this process) is left alone.
    running = tmp_path / ".restored.restore-running"
    running.mkdir()
    (running / ".backhub-restore-pid").write_text(f"{__import__('os').getpid()}\n")

    done = backhub("restore", "--quiet", "--customer", CUSTOMER, "--date", world.date,
                   "--to", str(tmp_path / "restored"), env=world.env)
    assert done.returncode == 0, done.stderr
    assert f"removed {killed}: the staging folder of an earlier restore that was stopped" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == [".restored.restore-running", "restored"]
