"""One customer's five daily snapshots with the truth recorded right after each, shared by the module.

Taking snapshots through the real Dagster instance is the slow part (~10 s per day for ``zoe-dev`` at
the tiny scale), so ``history`` builds the world once per module and the tests only read it (the
failure tests put back whatever they damage).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from github_emulator.process import EmulatorProcess
from tests.fixtures_emulator import start_emulator
from tests.installation import Backhub, start_installation

CUSTOMER = "zoe-dev"
DAYS = 5


def reachable_objects(git_dir: Path) -> set[str]:
    out = subprocess.run(["git", f"--git-dir={git_dir}", "rev-list", "--all", "--objects"],
                         check=True, capture_output=True).stdout
    return {line.split(b" ", 1)[0].decode() for line in out.splitlines() if line}


@dataclass
class DayTruth:
    """What the emulator held right after one day's snapshot."""

    date: str
    state: dict[str, Any]  # the account's entry of GET /_emulator/state
    objects: dict[str, set[str]] = field(default_factory=dict)  # full_name (+ ".wiki") -> reachable objects
    issues: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)  # full_name -> number -> issue
    comments: dict[str, dict[int, list[dict[str, Any]]]] = field(default_factory=dict)
    events: dict[str, dict[int, list[dict[str, Any]]]] = field(default_factory=dict)  # per issue, oldest first
    pulls: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)  # GET /pulls/{n}, in full
    pull_commits: dict[str, dict[int, list[dict[str, Any]]]] = field(default_factory=dict)


@dataclass
class History:
    backhub: Backhub
    days: list[DayTruth]

    @property
    def emulator(self) -> EmulatorProcess:
        return self.backhub.emulator


def _record_truth(backhub: Backhub, client) -> DayTruth:
    state = backhub.emulator.state()
    account = next(acc for name, acc in state["accounts"].items() if name.lower() == CUSTOMER)
    truth = DayTruth(date=backhub.today(), state=account)
    repos_dir = backhub.emulator.data_dir / "repos"
    for repo in account["repositories"].values():
        full_name = repo["full_name"]
        if repo["refs"]:
            truth.objects[full_name] = reachable_objects(repos_dir / f"{repo['id']}.git")
        if repo["wiki"]["state"] == "populated":
            truth.objects[f"{full_name}.wiki"] = reachable_objects(repos_dir / f"{repo['id']}.wiki.git")
        truth.issues[full_name] = {issue["number"]: issue for issue in client.issues(full_name)}
        comments: dict[int, list[dict[str, Any]]] = {}
        for comment in client.issue_comments(full_name):
            comments.setdefault(int(comment["issue_url"].rsplit("/", 1)[1]), []).append(comment)
        truth.comments[full_name] = comments
        truth.events[full_name] = {number: list(client.paginate(f"/repos/{full_name}/issues/{number}/events"))
                                   for number in truth.issues[full_name]}
        numbers = [n for n, issue in truth.issues[full_name].items() if "pull_request" in issue]
        truth.pulls[full_name] = {n: client.pull(full_name, n) for n in numbers}
        truth.pull_commits[full_name] = {n: client.pull_commits(full_name, n) for n in numbers}
    return truth


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory, moto_server) -> Iterator[History]:
    from resources.github import GitHubApp

    tmp = tmp_path_factory.mktemp("restore")
    emulator = start_emulator(tmp / "emulator")
    patch = pytest.MonkeyPatch()
    try:
        # Module-scoped: the autouse fake AWS credentials are function-scoped, so set them here.
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": "us-east-1"}.items():
            patch.setenv(name, value)
        backhub = start_installation(emulator, moto_server.endpoint_url, tmp, patch)
        client = GitHubApp(api_url=emulator.api_url, app_id=str(emulator.app_id),
                           private_key=emulator.private_key).installation_for(CUSTOMER)
        days = []
        for day in range(DAYS):
            if day:
                backhub.next_day()
            [summary] = backhub.snapshot([CUSTOMER])
            assert summary.success and not summary.checks_failed, (summary.error, summary.checks_failed)
            days.append(_record_truth(backhub, client))
        yield History(backhub=backhub, days=days)
    finally:
        patch.undo()
        emulator.stop()

