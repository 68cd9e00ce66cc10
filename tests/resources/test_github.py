"""The GitHub App client and git over HTTP, against the emulator (a real HTTP server)."""

from __future__ import annotations

import base64
import json
import logging
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from github_emulator.process import EmulatorProcess
from resources.errors import GitHubError, RemoteNotFoundError
from resources.git import Git
from resources.github import GitHubApp, GitHubAppResource, InstallationClient
from resources.github_pacing import RetryPolicy
from tests.fixtures_emulator import start_emulator

ORG = "acme-corp"
USER = "zoe-dev"


def make_app(em: EmulatorProcess, **policy: Any) -> GitHubApp:
    settings: dict[str, Any] = {"max_retries": 6, "base_delay": 0.05, "max_delay": 0.5}
    settings.update(policy)
    return GitHubApp(
        api_url=em.api_url,
        app_id=str(em.app_id),
        private_key=em.private_key,
        git_url=em.git_url,
        ca_bundle=em.info.get("ca_cert"),
        timeout_seconds=10,
        policy=RetryPolicy(**settings),
    )


def repo_state(em: EmulatorProcess, account: str) -> dict[str, Any]:
    return em.state()["accounts"][account]["repositories"]


@pytest.fixture(scope="module")
def shared(emulator: EmulatorProcess) -> EmulatorProcess:
    return emulator


# -- App auth and installations ------------------------------------------------------------------


def test_app_lists_its_installations_and_finds_one_case_insensitively(shared: EmulatorProcess) -> None:
    app = make_app(shared)

    installations = app.installations()

    assert {(i.id, i.account) for i in installations} == {
        (i["id"], i["account"]) for i in shared.info["installations"]
    }
    assert app.installation_for(ORG.upper()).installation.account == ORG
    assert app.installation(shared.installation_id(USER)).installation.account_type == "User"
    with pytest.raises(GitHubError, match="not installed"):
        app.installation_for("nobody-here")


def test_resource_reads_the_key_file_and_builds_a_client(shared: EmulatorProcess) -> None:
    resource = GitHubAppResource(
        api_url=shared.api_url, app_id=str(shared.app_id), private_key_path=shared.info["private_key_path"]
    )
    client = resource.get_client().installation_for(ORG)
    assert client.git_url(f"{ORG}/widgets") == f"{shared.git_url}/{ORG}/widgets.git"
    assert client.wiki_url(f"{ORG}/widgets") == f"{shared.git_url}/{ORG}/widgets.wiki.git"


def test_installation_token_is_down_scoped_to_read(shared: EmulatorProcess) -> None:
    client = make_app(shared).installation_for(ORG)
    token = client.token()

    assert client.token() == token  # reused while fresh
    answer = requests.post(
        f"{shared.api_url}/repos/{ORG}/widgets/issues",
        json={"title": "should not be created"},
        headers={"Authorization": f"token {token}"},
        timeout=10,
    )
    assert answer.status_code == 403
    assert token not in repr(client) and token not in repr(make_app(shared))


# -- reading everything --------------------------------------------------------------------------


def test_repositories_issues_and_comments_match_the_emulator(shared: EmulatorProcess) -> None:
    client = make_app(shared).installation_for(ORG)
    truth = repo_state(shared, ORG)

    repositories = client.repositories()

    assert {r["name"] for r in repositories} == set(truth)
    for name, expected in truth.items():
        full_name = f"{ORG}/{name}"
        issues = list(client.issues(full_name))
        assert {str(i["number"]) for i in issues} == set(expected["issues"]), name
        comments = list(client.issue_comments(full_name))
        assert len(comments) == sum(i["comments"] for i in expected["issues"].values()), name
        pulls = list(client.pulls(full_name))
        assert len(pulls) == sum(i["pull_request"] for i in expected["issues"].values()), name
        review_comments = list(client.review_comments(full_name))
        assert len(review_comments) == sum(i["review_comments"] for i in expected["issues"].values()), name
        for pull in pulls:
            reviews = client.reviews(full_name, pull["number"])
            assert len(reviews) == expected["issues"][str(pull["number"])]["reviews"]
        assert sorted(label["name"] for label in client.labels(full_name)) == expected["labels"]
        assert sorted(m["number"] for m in client.milestones(full_name)) == expected["milestones"]
        assert sorted(r["tag_name"] for r in client.releases(full_name)) == expected["releases"]
        assert isinstance(client.topics(full_name), list)


def test_paging_follows_link_next_across_many_pages(shared: EmulatorProcess) -> None:
    client = make_app(shared).installation_for(ORG)
    truth = repo_state(shared, ORG)["widgets"]["issues"]
    client.token()
    before = client.requests_made

    issues = list(client.paginate(f"/repos/{ORG}/widgets/issues", {"state": "all", "per_page": 3}))

    assert sorted(i["number"] for i in issues) == sorted(int(n) for n in truth)
    assert client.requests_made - before == -(-len(truth) // 3) > 5


def test_since_returns_only_what_was_updated_after_it(shared: EmulatorProcess) -> None:
    client = make_app(shared).installation_for(ORG)
    truth = repo_state(shared, ORG)["widgets"]["issues"]
    stamps = sorted(i["updated_at"] for i in truth.values())
    since = datetime.fromisoformat(stamps[len(stamps) // 2].replace("Z", "+00:00"))

    issues = list(client.issues(f"{ORG}/widgets", since=since))

    expected = {n for n, i in truth.items() if i["updated_at"] >= stamps[len(stamps) // 2]}
    assert {str(i["number"]) for i in issues} == expected
    assert 0 < len(issues) < len(truth)
    assert [i["updated_at"] for i in issues] == sorted(i["updated_at"] for i in issues)


def test_hooks_without_permission_are_none_and_with_it_a_list(shared: EmulatorProcess) -> None:
    app = make_app(shared)
    user_repo = next(iter(repo_state(shared, USER)))
    assert app.installation_for(USER).hooks(f"{USER}/{user_repo}") is None
    assert isinstance(app.installation_for(ORG).hooks(f"{ORG}/widgets"), list)
    assert isinstance(app.installation_for(ORG).collaborators(f"{ORG}/widgets"), list)


def test_a_missing_repository_is_none_and_other_refusals_raise(shared: EmulatorProcess) -> None:
    client = make_app(shared).installation_for(ORG)
    assert client.repository(f"{ORG}/does-not-exist") is None
    assert client.repository(f"{ORG}/widgets")["full_name"] == f"{ORG}/widgets"
    with pytest.raises(GitHubError) as caught:
        client.get_json(f"/repos/{USER}/{next(iter(repo_state(shared, USER)))}/labels")
    assert caught.value.status == 404  # another customer's repository is invisible


def test_etag_cache_turns_a_repeat_read_into_a_free_304(shared: EmulatorProcess) -> None:
    app = make_app(shared)
    installation = app.installation_for(ORG).installation
    client = InstallationClient(app, installation, etag_cache={})
    first = client.labels(f"{ORG}/widgets")
    used = client.get_json("/rate_limit")["resources"]["core"]["used"]

    second = client.labels(f"{ORG}/widgets")

    assert second == first
    assert client.get_json("/rate_limit")["resources"]["core"]["used"] == used


def test_etag_cache_keeps_every_page_of_a_list_when_answers_are_304(shared: EmulatorProcess) -> None:
    app = make_app(shared)
    installation = app.installation_for(ORG).installation
    full_name = f"{ORG}/widgets"
    params = {"state": "all", "per_page": 5}
    cache: dict = {}
    first = list(InstallationClient(app, installation, etag_cache=cache).paginate(f"/repos/{full_name}/issues", params))
    assert len(first) > 10, "the list must span several pages for this test to mean anything"

    # A new client on a later day, seeded with the stored cache: every page answers 304 (no Link).
    again = InstallationClient(app, installation, etag_cache=cache)
    second = list(again.paginate(f"/repos/{full_name}/issues", params))

    assert [issue["id"] for issue in second] == [issue["id"] for issue in first]
    assert again.not_modified >= 3


def test_latest_updates_names_the_newest_update_of_each_kind_and_a_repeat_is_a_free_304(
        fresh_emulator: EmulatorProcess) -> None:
    client = make_app(fresh_emulator).installation_for(ORG)
    full_name = f"{ORG}/widgets"
    newest_issue = max(client.issues(full_name), key=lambda issue: (issue["updated_at"], issue["number"]))
    newest_comment = max(client.issue_comments(full_name), key=lambda c: (c["updated_at"], c["id"]))

    first = client.latest_updates(full_name)
    assert first["issues"]["top"] == [newest_issue["id"], newest_issue["updated_at"]]
    assert first["comments"]["top"] == [newest_comment["id"], newest_comment["updated_at"]]
    used = client.get_json("/rate_limit")["resources"]["core"]["used"]

    again = client.latest_updates(full_name, first)

    assert again == first and client.not_modified == 3
    assert client.get_json("/rate_limit")["resources"]["core"]["used"] == used
    # An edited comment changes the newest comment, though its issue is untouched.
    number = int(newest_issue["number"])
    fresh_emulator.control("POST", "clock", json={"days": 1})
    edited = fresh_emulator.control("POST", "issues/change", json={"full_name": full_name, "number": number,
                                                                    "kind": "comment"})
    fresh_emulator.control("POST", "clock", json={"days": 1})
    fresh_emulator.control("POST", "issues/change", json={"full_name": full_name, "number": number,
                                                           "kind": "edit_comment"})
    later = client.latest_updates(full_name, first)
    assert later["comments"]["top"][0] == edited["comment_id"] and later["comments"] != first["comments"]
    assert later["issues"]["top"][1] < later["comments"]["top"][1]


# -- faults, limits, expiry, deletion -----------------------------------------------------------


def test_expired_token_is_refreshed_transparently(fresh_emulator: EmulatorProcess) -> None:
    client = make_app(fresh_emulator).installation_for(ORG)
    first = list(client.issues(f"{ORG}/widgets"))
    old_token = client.token()
    before = client.requests_made

    fresh_emulator.control("POST", "tokens/expire")
    again = list(client.issues(f"{ORG}/widgets"))

    assert [i["number"] for i in again] == [i["number"] for i in first]
    assert client.token() != old_token
    assert client.requests_made - before == 3  # refused, minted, retried


def _window_resets(emulator: EmulatorProcess, waits: list[float]):
    """A sleep that records its wait and "resets" the rate-limit window instead of an hour passing."""
    def sleep(seconds: float) -> None:
        waits.append(seconds)
        emulator.control("POST", "rate_limit", {"limit": 5000, "remaining": 5000})
    return sleep


def test_exhausted_rate_limit_mid_run_waits_for_the_reset_and_continues(
    fresh_emulator: EmulatorProcess, caplog: pytest.LogCaptureFixture
) -> None:
    waits: list[float] = []
    client = make_app(fresh_emulator, sleep=_window_resets(fresh_emulator, waits)).installation_for(ORG)
    truth = repo_state(fresh_emulator, ORG)["widgets"]["issues"]
    client.token()
    fresh_emulator.control("POST", "rate_limit", {"limit": 5000, "remaining": 3})

    with caplog.at_level(logging.WARNING, logger="backhub.github"):
        issues = list(client.paginate(f"/repos/{ORG}/widgets/issues", {"state": "all", "per_page": 4}))

    assert len(issues) == len(truth)
    assert len(waits) == 1 and 3500 < waits[0] <= 3602
    assert "rate limit" in caplog.text and "waiting" in caplog.text


def test_a_primary_limit_answer_waits_then_retries(fresh_emulator: EmulatorProcess) -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        fresh_emulator.control("POST", "rate_limit", {"limit": 5000, "remaining": 5000})

    client = make_app(fresh_emulator, sleep=sleep).installation_for(ORG)
    client.token()
    fresh_emulator.control("POST", "rate_limit", {"limit": 5000, "remaining": 0})

    assert client.repository(f"{ORG}/widgets") is not None
    assert len(waits) == 1 and waits[0] > 3500


def test_every_kind_of_fault_is_retried_and_counted(fresh_emulator: EmulatorProcess) -> None:
    client = make_app(fresh_emulator, secondary_delay=0.1).installation_for(ORG)
    client.token()
    before = client.requests_made
    kinds = ["reset", "502", "503", "secondary", "secondary_429", "slow"]
    fresh_emulator.control("POST", "faults", {"force": kinds})

    assert client.repository(f"{ORG}/widgets")["name"] == "widgets"
    assert client.requests_made - before == len(kinds)  # five refused + the slow one that answered


def test_a_run_with_five_percent_faults_reads_everything(tmp_path: Path) -> None:
    em = start_emulator(tmp_path / "emulator", faults=0.05, extra_args=["--slow-seconds", "0.2"])
    try:
        client = make_app(em, secondary_delay=0.1).installation_for(ORG)
        truth = repo_state(em, ORG)
        for name, expected in truth.items():
            full_name = f"{ORG}/{name}"
            assert {str(i["number"]) for i in client.issues(full_name)} == set(expected["issues"])
            assert len(list(client.issue_comments(full_name))) == sum(
                i["comments"] for i in expected["issues"].values()
            )
        faults = em.control("POST", "faults", {})["injected"]
        assert faults > 0
    finally:
        em.stop()


def test_persistent_server_errors_end_in_unavailable_naming_the_request(
    fresh_emulator: EmulatorProcess,
) -> None:
    from resources.errors import GitHubUnavailableError

    client = make_app(fresh_emulator, max_retries=2).installation_for(ORG)
    client.token()
    fresh_emulator.control("POST", "faults", {"force": ["503"] * 3})

    with pytest.raises(GitHubUnavailableError, match=f"GET /repos/{ORG}/widgets/labels"):
        client.labels(f"{ORG}/widgets")


def test_a_deleted_repository_is_none(fresh_emulator: EmulatorProcess) -> None:
    client = make_app(fresh_emulator).installation_for(ORG)
    assert client.repository(f"{ORG}/old-prototype") is not None
    fresh_emulator.control("POST", "repos/delete", {"full_name": f"{ORG}/old-prototype"})
    assert client.repository(f"{ORG}/old-prototype") is None


def test_a_renamed_repository_is_followed_with_its_query(fresh_emulator: EmulatorProcess) -> None:
    client = make_app(fresh_emulator).installation_for(ORG)
    numbers = sorted(int(n) for n in repo_state(fresh_emulator, ORG)["rename-me"]["issues"])
    assert len(numbers) >= 2
    fresh_emulator.control("POST", "repos/rename", {"full_name": f"{ORG}/rename-me", "new_name": "renamed"})
    client.token()
    before = client.requests_made

    issues = list(client.paginate(f"/repos/{ORG}/rename-me/issues", {"state": "all", "per_page": 1}))

    assert sorted(i["number"] for i in issues) == numbers
    assert client.requests_made - before == 1 + len(numbers)  # the 301, then one page per issue
    assert client.repository(f"{ORG}/rename-me")["full_name"] == f"{ORG}/renamed"


# -- git over HTTP -------------------------------------------------------------------------------


def test_fetch_mirror_over_http_keeps_the_token_out_of_argv_config_and_errors(
    shared: EmulatorProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_app(shared).installation_for(ORG)
    git = Git(tmp_path / "cache", timeout_seconds=120, retry_base_seconds=0.05)
    token = client.token()
    secrets = [token, base64.b64encode(f"x-access-token:{token}".encode()).decode()]
    argvs: list[list[str]] = []
    real_run = subprocess.run

    def spy(argv: list[str], *args: Any, **kwargs: Any) -> Any:
        argvs.append(list(argv))
        return real_run(argv, *args, **kwargs)

    monkeypatch.setattr("resources.git.subprocess.run", spy)
    truth = repo_state(shared, ORG)

    for name in ("widgets", "-dash"):
        mirror = git.mirror_path(ORG, f"{ORG}/{name}")
        refs = git.fetch_mirror(mirror, client.git_url(f"{ORG}/{name}"), client.git_environment())
        assert refs == truth[name]["refs"]
        config = (mirror / "config").read_text()
        assert all(secret not in config for secret in secrets)
        assert client.git_url(f"{ORG}/{name}") not in config

    with pytest.raises(RemoteNotFoundError) as missing:
        git.fetch_mirror(tmp_path / "x.git", client.git_url(f"{ORG}/nope"), client.git_environment())
    assert all(secret not in str(missing.value) for secret in secrets)
    assert argvs and all(secret not in " ".join(argv) for argv in argvs for secret in secrets)


def test_fetch_without_credentials_is_refused_without_prompting(
    shared: EmulatorProcess, tmp_path: Path
) -> None:
    client = make_app(shared).installation_for(ORG)
    git = Git(tmp_path / "cache", timeout_seconds=60)
    with pytest.raises(GitHubError) as caught:
        git.fetch_mirror(tmp_path / "m.git", client.git_url(f"{ORG}/widgets"), {})
    assert caught.value.status == 401


def test_fetch_after_the_token_was_revoked_mints_a_new_one(
    fresh_emulator: EmulatorProcess, tmp_path: Path
) -> None:
    client = make_app(fresh_emulator).installation_for(ORG)
    git = Git(tmp_path / "cache", timeout_seconds=60)
    token = client.token()
    stale = client.git_environment()
    fresh_emulator.control("POST", "tokens/expire")

    with pytest.raises(GitHubError) as caught:
        git.fetch_mirror(tmp_path / "a.git", client.git_url(f"{ORG}/widgets"), stale)
    assert caught.value.status == 401 and token not in str(caught.value)
    refs = git.fetch_mirror(tmp_path / "b.git", client.git_url(f"{ORG}/widgets"), client.git_credentials())
    assert refs == repo_state(fresh_emulator, ORG)["widgets"]["refs"]


def test_wikis_never_created_or_disabled_are_not_found_and_populated_ones_fetch(
    shared: EmulatorProcess, tmp_path: Path
) -> None:
    client = make_app(shared).installation_for(ORG)
    git = Git(tmp_path / "cache", timeout_seconds=60)
    truth = repo_state(shared, ORG)
    by_state: dict[str, str] = {}
    for name, repo in truth.items():
        by_state.setdefault(repo["wiki"]["state"], name)
    assert set(by_state) == {"never_created", "disabled", "populated"}

    for state in ("never_created", "disabled"):
        name = by_state[state]
        with pytest.raises(RemoteNotFoundError):
            git.fetch_mirror(git.mirror_path(ORG, f"{ORG}/{name}", wiki=True), client.wiki_url(f"{ORG}/{name}"),
                             client.git_environment())  # fmt: skip
    name = by_state["populated"]
    refs = git.fetch_mirror(
        git.mirror_path(ORG, f"{ORG}/{name}", wiki=True),
        client.wiki_url(f"{ORG}/{name}"),
        client.git_environment(),
    )
    assert refs == truth[name]["wiki"]["refs"]


def test_empty_repository_mirrors_to_no_refs_and_no_bundle(shared: EmulatorProcess, tmp_path: Path) -> None:
    client = make_app(shared).installation_for(ORG)
    git = Git(tmp_path / "cache", timeout_seconds=60)
    mirror = git.mirror_path(ORG, f"{ORG}/empty")
    assert git.fetch_mirror(mirror, client.git_url(f"{ORG}/empty"), client.git_environment()) == {}
    assert git.create_bundle(mirror, tmp_path / "empty.bundle") is None


def test_tls_emulator_works_with_the_ca_bundle_and_refuses_without(tmp_path: Path) -> None:
    em = start_emulator(tmp_path / "emulator", tls=True)
    try:
        assert em.api_url.startswith("https://")
        client = make_app(em).installation_for(ORG)
        git = Git(tmp_path / "cache", timeout_seconds=60)
        refs = git.fetch_mirror(git.mirror_path(ORG, f"{ORG}/-dash"), client.git_url(f"{ORG}/-dash"),
                                client.git_environment())  # fmt: skip
        assert refs == repo_state(em, ORG)["-dash"]["refs"]

        untrusting = GitHubApp(api_url=em.api_url, app_id=str(em.app_id), private_key=em.private_key)
        with pytest.raises(GitHubError, match="TLS"):
            untrusting.installations()
        env = {k: v for k, v in client.git_environment().items()}
        env["GIT_CONFIG_COUNT"] = "1"  # drop http.sslCAInfo
        with pytest.raises(GitHubError, match="TLS"):
            git.fetch_mirror(tmp_path / "t.git", client.git_url(f"{ORG}/-dash"), env)
    finally:
        em.stop()


def test_requests_made_counts_what_the_emulator_served(shared: EmulatorProcess) -> None:
    client = make_app(shared).installation_for(ORG)
    assert client.requests_made == 0
    client.repositories()
    assert client.requests_made == 2  # one mint, one page
    json.dumps(client.git_environment())  # no request: the token is still fresh
    assert client.requests_made == 2


def test_tokens_never_reach_the_logs_even_at_debug_level(
    shared: EmulatorProcess, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        client = make_app(shared).installation_for(ORG)
        client.labels(f"{ORG}/widgets")
        env = client.git_environment()
        Git(tmp_path / "cache", timeout_seconds=60).fetch_mirror(
            tmp_path / "m.git", client.git_url(f"{ORG}/-dash"), env
        )
    token = client.token()
    assert caplog.records and token not in caplog.text
    assert base64.b64encode(f"x-access-token:{token}".encode()).decode() not in caplog.text


def test_git_environment_scopes_the_header_to_the_git_host(shared: EmulatorProcess) -> None:
    client = make_app(shared).installation_for(ORG)
    env = client.git_environment()
    token = client.token()

    assert env["GIT_CONFIG_COUNT"] == "1" and env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_CONFIG_KEY_0"] == f"http.{shared.git_url}/.extraHeader"
    credentials = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    assert env["GIT_CONFIG_VALUE_0"] == f"Authorization: Basic {credentials}"
    assert client.git_environment(renew=True)["GIT_CONFIG_VALUE_0"] != env["GIT_CONFIG_VALUE_0"]


def test_git_fetch_recovers_from_every_kind_of_fault(fresh_emulator: EmulatorProcess, tmp_path: Path) -> None:
    client = make_app(fresh_emulator).installation_for(ORG)
    git = Git(tmp_path / "cache", timeout_seconds=60, retry_base_seconds=0.05)
    env = client.git_environment()
    expected = repo_state(fresh_emulator, ORG)["widgets"]["refs"]
    for kind in ["secondary", "secondary_429", "502", "503", "reset"]:
        fresh_emulator.control("POST", "faults", {"force": [kind]})
        assert git.fetch_mirror(tmp_path / f"{kind}.git", client.git_url(f"{ORG}/widgets"), env) == expected


def test_threads_sharing_one_client_each_get_their_own_answers(shared: EmulatorProcess) -> None:
    """The assets read repositories in parallel through one installation client: every thread's
    answer is the one it asked for (PyGithub's connection object is not shared between threads)."""
    from concurrent.futures import ThreadPoolExecutor

    client = make_app(shared).installation_for(ORG)
    names = sorted(repo["full_name"] for repo in client.repositories()) * 4
    before = client.requests_made

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(client.repository, names))
        labels = list(pool.map(client.labels, names))

    assert [answer["full_name"] for answer in answers] == names
    assert labels == [client.labels(name) for name in names]
    assert client.requests_made - before == 3 * len(names)  # counted once each, from every thread


def test_threads_of_one_client_wait_out_an_exhausted_rate_limit_and_all_finish(
    fresh_emulator: EmulatorProcess,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    waits: list[float] = []
    client = make_app(fresh_emulator, sleep=_window_resets(fresh_emulator, waits)).installation_for(ORG)
    names = sorted(repo["full_name"] for repo in client.repositories())
    fresh_emulator.control("POST", "rate_limit", {"limit": 5000, "remaining": 2})

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(client.repository, names))

    assert [answer["full_name"] for answer in answers] == names
    assert waits and all(3500 < wait <= 3602 for wait in waits)  # every wait is to the window's reset
