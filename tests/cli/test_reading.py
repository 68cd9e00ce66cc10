"""Commands that only read (snapshots, verify, restore) create nothing, find the installation or say
which variable to set, tell a typo (exit 2) from damage (exit 1), and an incomplete snapshot from tampering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import CUSTOMER, World, backhub, one_line, tree

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cli")]


def _manifest(home: Path, date: str, asset: str) -> Path:
    [path] = (home / "store").rglob(f"snapshots/{date}/{asset}*")
    return path


def test_without_a_home_reading_commands_name_dagster_home_and_create_nothing(world: World, tmp_path: Path) -> None:
    env = {name: value for name, value in world.env.items() if name != "DAGSTER_HOME"}
    for args in (["snapshots"], ["verify", "--customer", CUSTOMER],
                 ["restore", "--customer", CUSTOMER, "--date", world.date, "--to", "out"]):
        done = backhub(*args, env=env, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert "set DAGSTER_HOME" in one_line(done.stderr), args
    assert list(tmp_path.iterdir()) == []  # no ./.dagster_home, no master-keyset.json, no out/


def test_a_store_url_to_a_missing_folder_is_an_error_naming_the_variable(world: World, tmp_path: Path) -> None:
    before = tree(world.home)
    done = backhub("snapshots", env={**world.env, "BACKHUB_STORE_URL": (tmp_path / "stroe").as_uri()})
    assert done.returncode == 2, done.stderr
    assert "set BACKHUB_STORE_URL" in one_line(done.stderr)
    assert list(tmp_path.iterdir()) == [] and tree(world.home) == before


def test_a_mistyped_master_key_uri_is_refused_and_no_key_is_minted(world: World, tmp_path: Path) -> None:
    before = tree(world.home)
    env = {**world.env, "BACKHUB_MASTER_KEY_URI": (tmp_path / "master-keyset.jsno").as_uri()}
    for args in (["snapshots"], ["verify", "--customer", CUSTOMER]):
        done = backhub(*args, env=env)
        assert done.returncode == 2, done.stderr
        assert "BACKHUB_MASTER_KEY_URI" in one_line(done.stderr)
    assert list(tmp_path.iterdir()) == [] and tree(world.home) == before


def test_snapshots_finds_the_installation_from_dagster_home_alone(world: World) -> None:
    before = tree(world.home)
    done = backhub("snapshots", "--json", env={"DAGSTER_HOME": str(world.home)})
    assert done.returncode == 0, done.stderr
    [listing] = json.loads(done.stdout)
    assert (listing["customer"], listing["date"], listing["missing"]) == (CUSTOMER, world.date, [])
    assert tree(world.home) == before


def test_verify_calls_a_typo_a_typo_not_damage(world: World) -> None:
    before = tree(world.home)
    done = backhub("verify", "--customer", "zoe-dve", env=world.env)
    assert done.returncode == 2, done.stderr
    assert one_line(done.stderr) == ("backhub verify: no snapshot of zoe-dve; did you mean zoe-dev? (known: zoe-dev; "
                                      "see `backhub snapshots`)")
    done = backhub("verify", "--customer", CUSTOMER, "--date", "2026-11-01", env=world.env)
    assert done.returncode == 2, done.stderr
    assert one_line(done.stderr) == (f"backhub verify: no snapshot of {CUSTOMER} on 2026-11-01 (available: "
                                      f"{world.date}; see `backhub snapshots`)")
    assert tree(world.home) == before  # not even an audit record


def test_an_incomplete_snapshot_is_listed_as_incomplete_and_verify_says_rerun_the_backup(
        world: World, home_copy: Path) -> None:
    _manifest(home_copy, world.date, "wikis").unlink()  # what a crash before the last commit leaves
    env = world.with_home(home_copy)
    done = backhub("snapshots", "--json", env=env)
    assert done.returncode == 0, done.stderr
    [listing] = json.loads(done.stdout)
    assert listing["missing"] == ["wikis"] and listing["checks"] == "INCOMPLETE: no committed wikis"
    done = backhub("verify", "--quiet", "--customer", CUSTOMER, env=env)
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert "failed part-way" in line and f"--date {world.date} --replace" in line
    assert "who can write" not in line


def test_a_tampered_manifest_is_damage_and_verify_says_check_who_can_write(world: World, home_copy: Path) -> None:
    manifest = _manifest(home_copy, world.date, "issues")
    data = bytearray(manifest.read_bytes())
    data[len(data) // 2] ^= 1
    manifest.write_bytes(bytes(data))
    done = backhub("verify", "--quiet", "--customer", CUSTOMER, env=world.with_home(home_copy))
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert "check who can write to the store" in line and "failed part-way" not in line
