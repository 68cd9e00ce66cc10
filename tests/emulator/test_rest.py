"""Reading and writing through the REST API: pagination, since, conditional requests, limits, writes."""

from __future__ import annotations

import github
import pytest
import requests
from github.GithubRetry import GithubRetry

from github_emulator.process import EmulatorProcess
from tests.emulator.conftest import installation_client, mint_token
from tests.fixtures_emulator import start_emulator


def test_pagination_links_every_page_exactly_as_github_does(emulator: EmulatorProcess) -> None:
    token = mint_token(emulator, "acme-corp")
    headers = {"Authorization": f"token {token}"}
    repo_id = requests.get(f"{emulator.api_url}/repos/acme-corp/widgets", headers=headers, timeout=10).json()["id"]
    first = requests.get(f"{emulator.api_url}/repos/acme-corp/widgets/issues", headers=headers,
                         params={"state": "all", "per_page": 5}, timeout=10)
    total = len(emulator.state()["accounts"]["acme-corp"]["repositories"]["widgets"]["issues"])
    last = -(-total // 5)
    assert last > 3
    base = f"{emulator.api_url}/repositories/{repo_id}/issues?state=all&per_page=5"
    assert first.headers["Link"] == f'<{base}&page=2>; rel="next", <{base}&page={last}>; rel="last"'
    numbers = [i["number"] for i in first.json()]
    url = first.links["next"]["url"]
    pages = 1
    while url:
        page = requests.get(url, headers=headers, timeout=10)
        numbers += [i["number"] for i in page.json()]
        pages += 1
        if pages == 2:
            assert page.headers["Link"] == (
                f'<{base}&page=1>; rel="prev", <{base}&page=3>; rel="next", '
                f'<{base}&page={last}>; rel="last", <{base}&page=1>; rel="first"'
            )
        url = page.links.get("next", {}).get("url")
    assert pages == last
    assert sorted(numbers) == list(range(1, total + 1))


def test_single_page_has_no_link_header(emulator: EmulatorProcess) -> None:
    token = mint_token(emulator, "acme-corp")
    response = requests.get(f"{emulator.api_url}/repos/acme-corp/widgets/labels", headers={"Authorization": f"token {token}"}, timeout=10)
    assert response.status_code == 200 and "Link" not in response.headers


def test_pygithub_walks_all_pages_and_sees_pull_requests_among_issues(emulator: EmulatorProcess) -> None:
    gh = installation_client(emulator, "acme-corp", per_page=7)
    repo = gh.get_repo("acme-corp/widgets")
    truth = emulator.state()["accounts"]["acme-corp"]["repositories"]["widgets"]["issues"]
    issues = list(repo.get_issues(state="all"))
    assert len(issues) == len(truth)
    assert {i.number for i in issues if i.pull_request} == {int(n) for n, t in truth.items() if t["pull_request"]}
    assert sum(i.comments for i in issues) == sum(t["comments"] for t in truth.values())
    assert len(list(repo.get_issues_comments())) == sum(t["comments"] for t in truth.values())
    pulls = list(repo.get_pulls(state="all"))
    assert sum(p.get_reviews().totalCount for p in pulls) == sum(t["reviews"] for t in truth.values())
    assert len(list(repo.get_pulls_review_comments())) == sum(t["review_comments"] for t in truth.values())


def test_since_returns_only_what_changed_after_it(emulator: EmulatorProcess) -> None:
    gh = installation_client(emulator, "acme-corp")
    repo = gh.get_repo("acme-corp/widgets")
    everything = list(repo.get_issues(state="all"))
    cut = sorted(i.updated_at for i in everything)[len(everything) // 2]
    recent = list(repo.get_issues(state="all", since=cut))
    assert recent and len(recent) < len(everything)
    assert all(i.updated_at >= cut for i in recent)
    comments = list(repo.get_issues_comments(since=cut))
    assert all(c.updated_at >= cut for c in comments)


def test_not_modified_costs_no_rate_limit(emulator: EmulatorProcess) -> None:
    token = mint_token(emulator, "zoe-dev")
    headers = {"Authorization": f"token {token}"}
    url = f"{emulator.api_url}/repos/zoe-dev/notes/issues"
    first = requests.get(url, headers=headers, timeout=10)
    assert first.status_code == 200 and first.headers["ETag"]
    again = requests.get(url, headers={**headers, "If-None-Match": first.headers["ETag"]}, timeout=10)
    assert again.status_code == 304
    assert again.headers["x-ratelimit-remaining"] == first.headers["x-ratelimit-remaining"]
    assert again.headers["x-ratelimit-used"] == first.headers["x-ratelimit-used"]
    third = requests.get(url, headers=headers, timeout=10)
    assert int(third.headers["x-ratelimit-remaining"]) == int(first.headers["x-ratelimit-remaining"]) - 1


def test_not_modified_without_authorization_still_costs_rate_limit(emulator: EmulatorProcess) -> None:
    url = f"{emulator.api_url}/repos/acme-corp/widgets"  # public: anonymous clients may read it
    first = requests.get(url, timeout=10)
    assert first.status_code == 200
    again = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=10)
    assert again.status_code == 304
    assert int(again.headers["x-ratelimit-remaining"]) == int(first.headers["x-ratelimit-remaining"]) - 1


def test_release_asset_downloads_through_a_redirect_on_the_same_host(emulator: EmulatorProcess) -> None:
    token = mint_token(emulator, "acme-corp")
    headers = {"Authorization": f"token {token}"}
    releases = requests.get(f"{emulator.api_url}/repos/acme-corp/widgets/releases", headers=headers, timeout=10).json()
    asset = releases[0]["assets"][0]
    raw = requests.get(asset["url"], headers={**headers, "Accept": "application/octet-stream"}, allow_redirects=False, timeout=10)
    assert raw.status_code == 302
    assert raw.headers["Location"].startswith(emulator.git_url + "/")
    data = requests.get(asset["url"], headers={**headers, "Accept": "application/octet-stream"}, timeout=10).content
    assert len(data) == asset["size"]
    assert requests.get(asset["browser_download_url"], timeout=10).content == data


def test_milestones_with_state_all_include_closed_ones(emulator: EmulatorProcess) -> None:
    repo = installation_client(emulator, "acme-corp").get_repo("acme-corp/widgets")
    assert {m.state for m in repo.get_milestones(state="all")} == {"open", "closed"}
    assert {m.state for m in repo.get_milestones()} == {"open"}


def test_large_unicode_issue_body_round_trips(emulator: EmulatorProcess) -> None:
    issue = installation_client(emulator, "acme-corp").get_repo("acme-corp/widgets").get_issue(3)
    assert len(issue.body.encode()) >= 1_000_000 and "ünïcødé" in issue.body


def test_writes_create_repository_labels_milestones_issues_and_comments(fresh_emulator: EmulatorProcess) -> None:
    gh = installation_client(fresh_emulator, "acme-corp")
    org = gh.get_organization("acme-corp")
    repo = org.create_repo("restored-ünï", description="restore target", private=True)
    assert repo.name == "restored--n-"  # each character outside [A-Za-z0-9._-] becomes a dash
    label = repo.create_label("🐛 bug", "d73a4a", "broken")
    milestone = repo.create_milestone("v1 — ✨", state="closed")
    issue = repo.create_issue("Ünïcode title", body="body ✓", labels=[label], milestone=milestone)
    issue.create_comment("first comment 🚀")
    issue.edit(state="closed")
    truth = fresh_emulator.state()["accounts"]["acme-corp"]["repositories"][repo.name]
    assert truth["issues"]["1"] == {"pull_request": False, "state": "closed", "updated_at": truth["issues"]["1"]["updated_at"],
                                    "comments": 1, "reviews": 0, "review_comments": 0}
    assert "🐛 bug" in truth["labels"] and truth["milestones"] == [1]


def test_user_repository_is_created_for_a_user_installation(fresh_emulator: EmulatorProcess) -> None:
    token = mint_token(fresh_emulator, "zoe-dev")
    response = requests.post(f"{fresh_emulator.api_url}/user/repos", headers={"Authorization": f"token {token}"},
                             json={"name": "restored"}, timeout=10)
    assert response.status_code == 201
    assert response.json()["full_name"] == "zoe-dev/restored"


def test_renamed_repository_answers_301_to_its_new_home(fresh_emulator: EmulatorProcess) -> None:
    fresh_emulator.control("POST", "repos/rename", {"full_name": "acme-corp/rename-me", "new_name": "renamed"})
    token = mint_token(fresh_emulator, "acme-corp")
    old = requests.get(f"{fresh_emulator.api_url}/repos/acme-corp/rename-me/issues", headers={"Authorization": f"token {token}"},
                       allow_redirects=False, timeout=10)
    assert old.status_code == 301
    repo_id = fresh_emulator.state()["accounts"]["acme-corp"]["repositories"]["renamed"]["id"]
    assert old.headers["Location"] == f"{fresh_emulator.api_url}/repositories/{repo_id}/issues"
    assert installation_client(fresh_emulator, "acme-corp").get_repo("acme-corp/rename-me").full_name == "acme-corp/renamed"


def test_exhausted_rate_limit_answers_403_with_githubs_message(fresh_emulator: EmulatorProcess) -> None:
    token = mint_token(fresh_emulator, "acme-corp")
    fresh_emulator.control("POST", "rate_limit", {"remaining": 0})
    response = requests.get(f"{fresh_emulator.api_url}/repos/acme-corp/widgets", headers={"Authorization": f"token {token}"}, timeout=10)
    assert response.status_code == 403
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert response.json()["message"].startswith("API rate limit exceeded for installation ID")


def test_pygithub_retries_a_secondary_rate_limit(fresh_emulator: EmulatorProcess) -> None:
    gh = installation_client(fresh_emulator, "acme-corp", retry=GithubRetry(total=5, secondary_rate_wait=1))
    repo = gh.get_repo("acme-corp/widgets")
    fresh_emulator.control("POST", "faults", {"force": ["secondary"]})
    assert repo.get_issue(1).number == 1
    assert fresh_emulator.control("POST", "faults", {})["injected"] == 1


def test_faults_are_recovered_by_retrying(fresh_emulator: EmulatorProcess) -> None:
    gh = installation_client(fresh_emulator, "acme-corp", retry=GithubRetry(total=30, backoff_factor=0.01, secondary_rate_wait=1))
    fresh_emulator.control("POST", "faults", {"rate": 0.3, "kinds": ["502", "503", "reset", "secondary"]})
    issues = list(gh.get_repo("acme-corp/widgets").get_issues(state="all"))
    stats = fresh_emulator.control("POST", "faults", {"rate": 0})
    assert len(issues) == len(fresh_emulator.state()["accounts"]["acme-corp"]["repositories"]["widgets"]["issues"])
    assert stats["injected"] > 0


def test_https_with_pygithub_trusting_the_emulators_certificate(tmp_path) -> None:
    em = start_emulator(tmp_path / "tls", tls=True)
    try:
        assert em.api_url.startswith("https://")
        for base in (em.api_url, f"{em.api_url}/api/v3"):
            repo = installation_client(em, "acme-corp", base_url=base).get_repo("acme-corp/widgets")
            assert repo.url.startswith(base) and repo.get_issues().totalCount > 0
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{em.api_url}/rate_limit", timeout=10)
    finally:
        em.stop()


def test_anonymous_requests_see_public_repositories_only(emulator: EmulatorProcess) -> None:
    assert requests.get(f"{emulator.api_url}/repos/acme-corp/widgets", timeout=10).status_code == 200
    assert requests.get(f"{emulator.api_url}/repos/acme-corp/empty", timeout=10).status_code == 404
    assert github.Github(base_url=emulator.api_url).get_rate_limit().resources.core.limit == 60
