"""After the demo, the line it prints is all the CLI needs to find the demo's data."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from tests.cli.conftest import backhub

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cli-demo")]


def test_the_demo_prints_the_export_line_that_lets_snapshots_find_its_data(tmp_path: Path) -> None:
    done = backhub("demo", "--no-ui", "--scale", "tiny", "--home", str(tmp_path / "demo"), env={}, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    for customer in ("acme-corp", "zoe-dev"):  # the progress line `backhub backup` prints too
        assert re.search(rf"^  {customer}: committed, \d+ repositories, ", done.stdout, flags=re.MULTILINE), customer
    [home] = re.findall(r"^  export DAGSTER_HOME=(.+)$", done.stdout, flags=re.MULTILINE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    listed = backhub("snapshots", "--json", env={"DAGSTER_HOME": shlex.split(home)[0]}, cwd=elsewhere)
    assert listed.returncode == 0, listed.stderr
    assert {listing["customer"] for listing in json.loads(listed.stdout)} >= {"acme-corp", "zoe-dev"}
    assert list(elsewhere.iterdir()) == []
