"""``GET /search/issues`` behaves as GitHub documents it (docs.github.com/rest/search/search and
docs.github.com/search-github/searching-on-github/searching-issues-and-pull-requests): ``updated``
bounds to the second, scoped to what the token can see, 1,000 results at most, ``incomplete_results``,
and a budget of its own (30 a minute)."""

from __future__ import annotations

from typing import Any

import requests

from github_emulator.process import EmulatorProcess
from tests.emulator.conftest import mint_token


def _search(em: EmulatorProcess, token: str, q: str, **params: Any) -> requests.Response:
    return requests.get(f"{em.api_url}/search/issues", params={"q": q, **params},
                        headers={"Authorization": f"token {token}"}, timeout=30)


def test_updated_bounds_to_the_second_and_sees_a_new_comment_and_review(fresh_emulator: EmulatorProcess) -> None:
    token = mint_token(fresh_emulator, "acme-corp")
    now = fresh_emulator.control("POST", "clock", json={"offset_days": 1})["now"]
    assert _search(fresh_emulator, token, f"org:acme-corp updated:>={now}").json()["total_count"] == 0
    repo = fresh_emulator.control("GET", "state")["accounts"]["acme-corp"]["repositories"]["widgets"]
    pull = next(int(n) for n, i in repo["issues"].items() if i["pull_request"])
    issue = next(int(n) for n, i in repo["issues"].items() if not i["pull_request"])
    fresh_emulator.control("POST", "issues/change", json={"full_name": "acme-corp/widgets", "number": issue, "kind": "comment"})
    fresh_emulator.control("POST", "issues/change", json={"full_name": "acme-corp/widgets", "number": pull, "kind": "review"})

    found = _search(fresh_emulator, token, f"org:acme-corp updated:>={now}", sort="updated", order="asc")

    assert found.status_code == 200, found.text
    body = found.json()
    assert body["incomplete_results"] is False and body["total_count"] == 2
    assert sorted(item["number"] for item in body["items"]) == sorted([issue, pull])
    assert all(item["repository_url"].endswith("/repos/acme-corp/widgets") for item in body["items"])
    assert found.headers["x-ratelimit-resource"] == "search"
    # A date alone is the whole day: ">" that day excludes it, ">=" includes it.
    day = now[:10]
    assert _search(fresh_emulator, token, f"org:acme-corp updated:>{day}").json()["total_count"] == 0
    assert _search(fresh_emulator, token, f"org:acme-corp updated:>={day}").json()["total_count"] == 2


def test_results_are_scoped_to_the_tokens_repositories(fresh_emulator: EmulatorProcess) -> None:
    token = mint_token(fresh_emulator, "zoe-dev")
    state = fresh_emulator.control("GET", "state")["accounts"]
    private = [r["full_name"] for r in state["acme-corp"]["repositories"].values() if r["private"] and r["issues"]]
    assert private
    items = _search(fresh_emulator, token, "org:acme-corp", per_page=100).json()["items"]
    assert not any(item["repository_url"].endswith(f"/repos/{name}") for item in items for name in private)
    assert _search(fresh_emulator, token, f"repo:{private[0]}").json()["total_count"] == 0


def test_the_result_cap_and_incomplete_results_are_reported(fresh_emulator: EmulatorProcess) -> None:
    token = mint_token(fresh_emulator, "acme-corp")
    everything = _search(fresh_emulator, token, "org:acme-corp").json()["total_count"]
    fresh_emulator.control("POST", "search", json={"result_cap": 5, "incomplete_results": True})
    first = _search(fresh_emulator, token, "org:acme-corp", per_page=3)
    body = first.json()
    assert body["total_count"] == everything > 5 and body["incomplete_results"] is True
    last = requests.get(first.links["last"]["url"], headers={"Authorization": f"token {token}"}, timeout=30).json()
    assert len(body["items"]) + len(last["items"]) == 5  # pages stop at the cap, total_count does not


def test_an_unmodelled_qualifier_is_refused_not_ignored(fresh_emulator: EmulatorProcess) -> None:
    token = mint_token(fresh_emulator, "acme-corp")
    refused = _search(fresh_emulator, token, "org:acme-corp label:bug")
    assert refused.status_code == 422 and refused.json()["message"] == "Validation Failed"


def test_search_has_its_own_budget_of_thirty_a_minute(fresh_emulator: EmulatorProcess) -> None:
    token = mint_token(fresh_emulator, "acme-corp")
    answers = [_search(fresh_emulator, token, "org:acme-corp updated:>=2000-01-01", per_page=1) for _ in range(31)]
    assert [a.status_code for a in answers[:30]] == [200] * 30
    assert answers[30].status_code == 403 and answers[30].headers["x-ratelimit-remaining"] == "0"
    core = requests.get(f"{fresh_emulator.api_url}/repos/acme-corp/widgets",
                        headers={"Authorization": f"token {token}"}, timeout=30)
    assert core.status_code == 200 and core.headers["x-ratelimit-resource"] == "core"
