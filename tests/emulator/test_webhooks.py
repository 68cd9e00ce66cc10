"""The emulator's App webhook: signed deliveries of every change, GitHub's headers, deliveries kept and
listed through ``/app/hook/deliveries`` (cursor pages, status filter, redelivery), and delivery faults."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from github_emulator.process import EmulatorProcess
from tests.emulator.conftest import app_jwt, mint_token
from tests.fixtures_emulator import start_emulator, timeless_accounts
from tests.servers import WebhookSink

SECRET = "it's a secret to everybody"


@pytest.fixture(scope="module")
def hook_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    proc = start_emulator(tmp_path_factory.mktemp("hook-emulator"))
    yield proc
    proc.stop()


@pytest.fixture
def sink(hook_emulator: EmulatorProcess) -> Iterator[WebhookSink]:
    """A fresh world whose App webhook points at a new sink, with no delivery faults."""
    hook_emulator.control("POST", "reset")
    receiver = WebhookSink()
    hook_emulator.control("POST", "app/hook", {"url": receiver.url, "secret": SECRET})
    yield receiver
    hook_emulator.control("POST", "app/hook", {"url": None})
    receiver.close()


def flush(em: EmulatorProcess) -> None:
    assert em.control("POST", "app/hook/flush", {"timeout": 120})["idle"]


def deliveries(em: EmulatorProcess, **params: Any) -> requests.Response:
    return requests.get(f"{em.api_url}/app/hook/deliveries", params=params,
                        headers={"Authorization": f"Bearer {app_jwt(em)}"}, timeout=30)


def all_deliveries(em: EmulatorProcess, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    response = deliveries(em, **params)
    while True:
        assert response.status_code == 200, response.text
        out += response.json()
        following = response.links.get("next")
        if not following:
            return out
        response = requests.get(following["url"], headers={"Authorization": f"Bearer {app_jwt(em)}"}, timeout=30)


def comment(em: EmulatorProcess, number: int = 1) -> None:
    em.control("POST", "issues/change", {"full_name": "acme-corp/widgets", "number": number, "kind": "comment"})


def test_a_delivery_is_signed_with_the_secret_and_carries_githubs_headers(hook_emulator: EmulatorProcess, sink: WebhookSink) -> None:
    comment(hook_emulator)
    flush(hook_emulator)
    [(headers, body)] = sink.received
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == expected
    assert headers["X-GitHub-Event"] == "issue_comment"
    assert len(headers["X-GitHub-Delivery"]) == 36 and headers["X-GitHub-Delivery"].count("-") == 4
    assert headers["X-GitHub-Hook-ID"].isdigit()
    assert headers["X-GitHub-Hook-Installation-Target-Type"] == "integration"
    assert headers["X-GitHub-Hook-Installation-Target-ID"] == str(hook_emulator.app_id)
    assert headers["User-Agent"].startswith("GitHub-Hookshot/")
    payload = json.loads(body)
    assert payload["action"] == "created"
    assert payload["repository"]["full_name"] == "acme-corp/widgets"
    assert payload["installation"]["id"] == hook_emulator.installation_id("acme-corp")


def test_the_secret_is_never_shown_and_the_info_file_names_the_url(hook_emulator: EmulatorProcess, sink: WebhookSink) -> None:
    shown = hook_emulator.control("GET", "app/hook")
    assert shown["url"] == sink.url and shown["secret_configured"] is True
    assert SECRET not in json.dumps(shown)
    info = hook_emulator.control("GET", "info")
    assert info["app_hook"] == {"url": sink.url, "secret_configured": True}


def test_a_day_of_activity_delivers_each_kind_of_change_in_the_order_it_happened(hook_emulator: EmulatorProcess, sink: WebhookSink) -> None:
    summary = hook_emulator.control("POST", "advance", {"days": 1})
    flush(hook_emulator)
    kinds = {event for event, _ in sink.events()}
    assert {"push", "create", "delete", "issues", "issue_comment", "pull_request", "pull_request_review",
            "pull_request_review_comment", "gollum", "repository"} <= kinds
    pushed_repos = {p["repository"]["full_name"] for e, p in sink.events() if e == "push"}
    assert {b.split(":")[0] for b in summary["branches"]} <= pushed_repos
    assert {f["repo"] for f in summary["force_pushed"]} <= {p["repository"]["full_name"] for e, p in sink.events()
                                                            if e == "push" and p["forced"]}
    listed = all_deliveries(hook_emulator)
    assert [d["guid"] for d in reversed(listed)] == [h["X-GitHub-Delivery"] for h, _ in sink.received]
    assert [d["id"] for d in listed] == sorted((d["id"] for d in listed), reverse=True)


def test_no_webhook_url_means_no_delivery(hook_emulator: EmulatorProcess, sink: WebhookSink) -> None:
    hook_emulator.control("POST", "app/hook", {"url": None})
    comment(hook_emulator)
    flush(hook_emulator)
    assert sink.received == [] and deliveries(hook_emulator).json() == []


def test_failed_deliveries_are_kept_and_filtered_by_status(hook_emulator: EmulatorProcess, sink: WebhookSink) -> None:
    sink.status = 500
    comment(hook_emulator)
    flush(hook_emulator)
    sink.status = 202
    comment(hook_emulator)
    flush(hook_emulator)
    failed, ok = all_deliveries(hook_emulator, status="failure"), all_deliveries(hook_emulator, status="success")
    assert [d["status_code"] for d in failed] == [500] and [d["status_code"] for d in ok] == [202]
    assert failed[0]["event"] == "issue_comment" and failed[0]["action"] == "created"
    assert failed[0]["installation_id"] == hook_emulator.installation_id("acme-corp")
    assert failed[0]["repository_id"] == hook_emulator.state()["accounts"]["acme-corp"]["repositories"]["widgets"]["id"]


def test_deliveries_page_by_cursor_without_loss_or_repeat(hook_emulator: EmulatorProcess, sink: WebhookSink) -> None:
    for _ in range(5):
        comment(hook_emulator)
    flush(hook_emulator)
    first = deliveries(hook_emulator, per_page=2)
    assert 'rel="next"' in first.headers["Link"] and "cursor=v1_" in first.headers["Link"]
    paged = all_deliveries(hook_emulator, per_page=2)
    assert [d["id"] for d in paged] == [d["id"] for d in deliveries(hook_emulator, per_page=100).json()]
    assert len(paged) == 5 and "Link" not in deliveries(hook_emulator, per_page=100).headers
    assert deliveries(hook_emulator, cursor="not-a-cursor").status_code == 400
    assert deliveries(hook_emulator, status="sideways").status_code == 422


def test_one_delivery_shows_its_request_and_response(hook_emulator: EmulatorProcess, sink: WebhookSink) -> None:
    comment(hook_emulator)
    flush(hook_emulator)
    [item] = deliveries(hook_emulator).json()
    got = requests.get(f"{hook_emulator.api_url}/app/hook/deliveries/{item['id']}",
                       headers={"Authorization": f"Bearer {app_jwt(hook_emulator)}"}, timeout=30)
    assert got.status_code == 200
    full = got.json()
    assert full["guid"] == item["guid"] and full["url"] == sink.url
    assert full["request"]["payload"] == json.loads(sink.received[0][1])
    assert full["request"]["headers"]["X-GitHub-Delivery"] == item["guid"]


def test_redelivery_sends_the_same_event_again_as_a_new_delivery(hook_emulator: EmulatorProcess, sink: WebhookSink) -> None:
    comment(hook_emulator)
    flush(hook_emulator)
    [item] = deliveries(hook_emulator).json()
    answer = requests.post(f"{hook_emulator.api_url}/app/hook/deliveries/{item['id']}/attempts",
                           headers={"Authorization": f"Bearer {app_jwt(hook_emulator)}"}, timeout=30)
    assert answer.status_code == 202
    flush(hook_emulator)
    again, original = deliveries(hook_emulator).json()
    assert original["id"] == item["id"] and again["id"] > item["id"]
    assert again["guid"] == item["guid"] and again["redelivery"] is True and original["redelivery"] is False
    assert sink.received[0][1] == sink.received[1][1]


def test_the_deliveries_endpoints_need_the_apps_jwt(hook_emulator: EmulatorProcess, sink: WebhookSink) -> None:
    url = f"{hook_emulator.api_url}/app/hook/deliveries"
    assert requests.get(url, timeout=30).status_code == 401
    token = mint_token(hook_emulator, "acme-corp")
    assert requests.get(url, headers={"Authorization": f"token {token}"}, timeout=30).status_code == 403
    missing = requests.get(f"{url}/1", headers={"Authorization": f"Bearer {app_jwt(hook_emulator)}"}, timeout=30)
    assert missing.status_code == 404


def test_a_dropped_delivery_never_arrives_but_is_listed_as_failed(hook_emulator: EmulatorProcess, sink: WebhookSink) -> None:
    hook_emulator.control("POST", "app/hook/faults", {"force": ["drop"]})
    comment(hook_emulator)
    comment(hook_emulator)
    flush(hook_emulator)
    assert len(sink.received) == 1
    newest, dropped = deliveries(hook_emulator).json()
    assert dropped["status"] == "failed to connect" and dropped["status_code"] == 502
    assert sink.received[0][0]["X-GitHub-Delivery"] == newest["guid"]


def test_a_duplicated_delivery_arrives_twice_with_one_guid(hook_emulator: EmulatorProcess, sink: WebhookSink) -> None:
    hook_emulator.control("POST", "app/hook/faults", {"force": ["duplicate"]})
    comment(hook_emulator)
    flush(hook_emulator)
    assert len(sink.received) == 2
    assert sink.received[0][0]["X-GitHub-Delivery"] == sink.received[1][0]["X-GitHub-Delivery"]
    assert sink.received[0][1] == sink.received[1][1]


def test_a_reordered_delivery_arrives_after_the_next_one(hook_emulator: EmulatorProcess, sink: WebhookSink) -> None:
    hook_emulator.control("POST", "app/hook/faults", {"force": ["reorder"]})
    hook_emulator.control("POST", "advance", {"days": 1})  # many events queued at once
    flush(hook_emulator)
    listed = list(reversed(all_deliveries(hook_emulator)))
    arrived = [h["X-GitHub-Delivery"] for h, _ in sink.received]
    assert sorted(arrived) == sorted(d["guid"] for d in listed)
    assert arrived[:2] == [listed[0]["guid"], listed[1]["guid"]]  # listed in attempt order: second first
    queued = [json.loads(b) for _, b in sink.received]
    assert queued[0] != queued[1]


def test_a_delayed_delivery_still_arrives(hook_emulator: EmulatorProcess, sink: WebhookSink) -> None:
    hook_emulator.control("POST", "app/hook/faults", {"force": ["delay"]})
    comment(hook_emulator)
    flush(hook_emulator)
    assert len(sink.received) == 1


def test_an_unknown_delivery_fault_is_refused(hook_emulator: EmulatorProcess, sink: WebhookSink) -> None:
    with pytest.raises(Exception, match="400"):
        hook_emulator.control("POST", "app/hook/faults", {"force": ["melt"]})


def test_the_world_is_the_same_with_or_without_a_webhook(tmp_path: Path, hook_emulator: EmulatorProcess, sink: WebhookSink) -> None:
    hook_emulator.control("POST", "advance", {"days": 2})
    with_hook = hook_emulator.state()
    hook_emulator.control("POST", "reset")
    hook_emulator.control("POST", "app/hook", {"url": None})
    hook_emulator.control("POST", "advance", {"days": 2})
    without = hook_emulator.state()
    assert timeless_accounts(with_hook) == timeless_accounts(without)


def test_deliveries_are_stamped_in_their_simulated_day_and_forgotten_after_three_days(hook_emulator: EmulatorProcess, sink: WebhookSink) -> None:
    from datetime import datetime, timedelta

    start = datetime.fromisoformat(hook_emulator.state()["now"].replace("Z", "+00:00"))
    hook_emulator.control("POST", "advance", {"days": 4})
    flush(hook_emulator)
    arrived = {h["X-GitHub-Delivery"] for h, _ in sink.received}
    listed = all_deliveries(hook_emulator)
    days = {d["delivered_at"][:10] for d in listed}
    simulated = [(start + timedelta(days=n)).date().isoformat() for n in range(4)]
    assert days and days <= set(simulated[1:])  # the first simulated day is more than three days old
    assert {d["guid"] for d in listed} < arrived


def test_uninstalling_and_installing_the_app_are_delivered_and_change_who_has_access(hook_emulator: EmulatorProcess, sink: WebhookSink) -> None:
    token = mint_token(hook_emulator, "zoe-dev")
    gone = hook_emulator.control("POST", "installations/delete", {"account": "zoe-dev"})
    assert requests.get(f"{hook_emulator.api_url}/installation/repositories",
                        headers={"Authorization": f"token {token}"}, timeout=30).status_code == 401
    assert "zoe-dev" not in [i["account"] for i in hook_emulator.control("GET", "info")["installations"]]
    again = hook_emulator.control("POST", "installations/create", {"account": "zoe-dev"})
    assert again["id"] != gone["deleted"]
    flush(hook_emulator)
    [(event, deleted), (event2, created)] = sink.events()
    assert (event, deleted["action"], deleted["installation"]["id"]) == ("installation", "deleted", gone["deleted"])
    assert (event2, created["action"], created["installation"]["id"]) == ("installation", "created", again["id"])
    repos = hook_emulator.state()["accounts"]["zoe-dev"]["repositories"]
    assert sorted(r["id"] for r in created["repositories"]) == sorted(r["id"] for r in repos.values())
