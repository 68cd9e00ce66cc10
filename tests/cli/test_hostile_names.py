"""Repository names backhub refuses (``.``, ``..``, ``x/../../y``) are recorded as skipped and never block
the rest, and a repository named like another's wiki (``widgets.wiki`` beside ``widgets``) restores
beside it: ``backhub verify`` and ``backhub restore``, as an operator types them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import backhub, new_home, tree
from tests.fixtures_emulator import start_emulator

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cli")]

CUSTOMER = "acme-corp"
HOSTILE = (".", "..", "x/../../y")


@dataclass
class Hostile:
    env: dict[str, str]
    date: str
    repositories: dict[str, dict[str, Any]]  # full name -> the emulator's truth, after the renames
    skipped: list[str]  # the hostile full names


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    tmp = tmp_path_factory.mktemp("hostile")
    emulator = start_emulator(tmp / "emulator")
    try:
        before = emulator.state()["accounts"][CUSTOMER]["repositories"]
        assert before["widgets"]["wiki"]["state"] == "populated"
        spare = [name for name, repo in before.items() if name != "widgets" and repo["refs"]]
        renames = dict(zip(spare, ["widgets.wiki", *HOSTILE], strict=False))
        assert len(renames) == 1 + len(HOSTILE) and len(spare) > len(renames), "too few repositories to rename"
        for old, new in renames.items():
            emulator.control("POST", "repos/rename", json={"full_name": f"{CUSTOMER}/{old}", "new_name": new})
        env = new_home(tmp / "home", emulator)
        done = backhub("backup", "--customer", CUSTOMER, "--json", env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        [summary] = json.loads(done.stdout)
        truth = {repo["full_name"]: repo for repo in emulator.state()["accounts"][CUSTOMER]["repositories"].values()}
        yield Hostile(env=env, date=summary["date"], repositories=truth,
                      skipped=[f"{CUSTOMER}/{name}" for name in HOSTILE])
    finally:
        emulator.stop()


def _refs(git_dir: Path) -> dict[str, str]:
    out = subprocess.run(["git", f"--git-dir={git_dir}", "for-each-ref", "--format=%(objectname) %(refname)"],
                         capture_output=True, text=True, check=True).stdout
    return {ref: sha for sha, _, ref in (line.partition(" ") for line in out.splitlines())}


def test_verify_passes_and_names_each_skipped_repository_with_its_reason(hostile: Hostile) -> None:
    done = backhub("verify", "--customer", CUSTOMER, "--read-data", "--quiet", env=hostile.env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("verify: OK")
    for full_name in hostile.skipped:
        assert f"not backed up: {hostile.date} {full_name}: skipped: invalid" in done.stdout, full_name


def test_a_full_restore_holds_every_good_repository_and_wiki_apart_and_lists_the_skipped(
        hostile: Hostile, tmp_path: Path) -> None:
    target = tmp_path / "out"
    done = backhub("restore", "--customer", CUSTOMER, "--date", hostile.date, "--to", str(target), "--quiet",
                   env=hostile.env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    for full_name in hostile.skipped:
        assert f"  {full_name}: not restored, skipped: invalid" in done.stdout, full_name
    good = {name: repo for name, repo in hostile.repositories.items() if name not in hostile.skipped}
    for full_name, repo in good.items():
        if full_name != f"{CUSTOMER}/widgets.wiki":  # its git URL is widgets' wiki's (GitHub's URL scheme):
            assert _refs(target / f"{full_name}.git") == repo["refs"], full_name  # what it served is not the point
        if repo["wiki"]["state"] == "populated":
            assert _refs(target / full_name / "wiki.git") == repo["wiki"]["refs"], full_name
    # the wiki of widgets and the repository widgets.wiki are two places
    assert (target / CUSTOMER / "widgets" / "wiki.git").is_dir() and (target / CUSTOMER / "widgets.wiki.git").is_dir()
    # nothing was written for a refused name, inside the target or beside it
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]
    assert sorted(path.name for path in target.iterdir()) == [CUSTOMER, "backhub-restore.json"]
    assert sorted(path.name for path in (target / CUSTOMER).iterdir()) == sorted(
        name for full_name in good for name in (full_name.split("/")[1], full_name.split("/")[1] + ".git"))


def test_one_good_repository_restores_alone(hostile: Hostile, tmp_path: Path) -> None:
    target = tmp_path / "one"
    done = backhub("restore", "--customer", CUSTOMER, "--date", hostile.date, "--repo", f"{CUSTOMER}/widgets",
                   "--to", str(target), "--quiet", env=hostile.env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _refs(target / CUSTOMER / "widgets.git") == hostile.repositories[f"{CUSTOMER}/widgets"]["refs"]
    assert sorted(path.name for path in (target / CUSTOMER).iterdir()) == ["widgets", "widgets.git"]


def test_a_refused_name_given_to_restore_is_a_usage_error_that_changes_nothing(hostile: Hostile, tmp_path: Path) -> None:
    before = tree(Path(hostile.env["DAGSTER_HOME"]))
    done = backhub("restore", "--customer", CUSTOMER, "--date", hostile.date, "--repo", f"{CUSTOMER}/..",
                   "--to", str(tmp_path / "dots"), env=hostile.env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert not (tmp_path / "dots").exists()
    assert tree(Path(hostile.env["DAGSTER_HOME"])) == before
