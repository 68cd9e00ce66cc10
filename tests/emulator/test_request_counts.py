"""The request counter benchmarks read (``/_emulator/stats``): REST, charged, 304s and git, by GitHub's rules."""

from __future__ import annotations

from pathlib import Path

import requests

from github_emulator.process import EmulatorProcess
from tests.emulator.conftest import mint_token
from tests.emulator.test_git import git


def test_counts_charge_the_rate_limit_as_github_does_and_reset_to_zero(fresh_emulator: EmulatorProcess, tmp_path: Path) -> None:
    token = mint_token(fresh_emulator, "acme-corp")
    zeroed = fresh_emulator.control("POST", "stats/reset")
    assert zeroed["rest"] >= 1  # the token request above
    assert fresh_emulator.control("GET", "stats") == {
        "rest": 0, "rest_rate_limited": 0, "rest_not_modified": 0, "git": 0, "download": 0, "graphql": 0,
        "graphql_points": 0, "lfs": 0, "lfs_batch": 0,
    }
    headers = {"Authorization": f"token {token}"}
    url = f"{fresh_emulator.api_url}/repos/acme-corp/widgets"
    first = requests.get(url, headers=headers, timeout=10)
    unchanged = requests.get(url, headers={**headers, "If-None-Match": first.headers["ETag"]}, timeout=10)
    limits = requests.get(f"{fresh_emulator.api_url}/rate_limit", headers=headers, timeout=10)
    assert (first.status_code, unchanged.status_code, limits.status_code) == (200, 304, 200)
    git("ls-remote", "--", f"{fresh_emulator.git_url}/acme-corp/widgets.git", token=token, cwd=tmp_path)

    counts = fresh_emulator.control("GET", "stats")

    # The 304 and /rate_limit are served but free; only the first read is charged.
    assert (counts["rest"], counts["rest_rate_limited"], counts["rest_not_modified"]) == (3, 1, 1)
    assert int(limits.json()["resources"]["core"]["used"]) == 1
    assert counts["git"] >= 1
    assert fresh_emulator.control("POST", "stats/reset") == counts
    assert fresh_emulator.control("GET", "stats")["rest"] == 0
