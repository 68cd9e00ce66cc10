"""The emulator's webhook against GitHub's own descriptions: every payload it delivers validates against
``@octokit/webhooks-schemas`` (pinned in the Makefile, ``make webhooks-schemas``), and the App webhook
delivery endpoints answer as the OpenAPI description (``@octokit/openapi``) says."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests

from github_emulator.process import EmulatorProcess
from tests.conformance.openapi import REPO_ROOT, validate_response
from tests.emulator.conftest import app_jwt, mint_token
from tests.fixtures_emulator import start_emulator
from tests.servers import WebhookSink

SCHEMAS_ENV = "BACKHUB_WEBHOOKS_SCHEMAS"
SCHEMAS_RELATIVE = ".cache/octokit-webhooks-schemas-7.6.1/node_modules/@octokit/webhooks-schemas/schema.json"
SECRET = "conformance"
# What the emulator's activity, control API and REST writes produce; each must be delivered at least once.
EXPECTED = {
    "push$event", "create$event", "delete$event", "gollum$event", "issues$opened", "issues$edited", "issues$closed",
    "issue_comment$created", "issue_comment$edited", "pull_request$opened", "pull_request$closed",
    "pull_request_review$submitted", "pull_request_review_comment$created", "repository$created",
    "repository$renamed", "repository$deleted", "label$created", "milestone$created", "installation$created",
    "installation$deleted",
}


@functools.cache
def webhook_schemas() -> dict[str, Any]:
    path = Path(os.environ.get(SCHEMAS_ENV) or REPO_ROOT / SCHEMAS_RELATIVE)
    if not path.is_file():
        pytest.fail(f"@octokit/webhooks-schemas is not at {path}: run `make webhooks-schemas`")
    return json.loads(path.read_text("utf-8"))


def schema_key(event: str, payload: dict[str, Any]) -> str:
    return f"{event}${payload['action']}" if "action" in payload else f"{event}$event"


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorProcess, WebhookSink]]:
    """An emulator after a day of activity and one of each write, every event delivered to a sink."""
    webhook_schemas()
    em = start_emulator(tmp_path_factory.mktemp("webhook-conformance"))
    sink = WebhookSink()
    try:
        em.control("POST", "app/hook", {"url": sink.url, "secret": SECRET})
        em.control("POST", "advance", {"days": 1})
        token = mint_token(em, "acme-corp")
        api = f"{em.api_url}/repos/acme-corp/widgets"
        auth = {"Authorization": f"token {token}"}
        created = requests.post(api + "/issues", json={"title": "Delivered?"}, headers=auth, timeout=30)
        assert created.status_code == 201, created.text
        number = created.json()["number"]
        for method, path, body in [
            ("POST", "/labels", {"name": "webhooks", "color": "00ff00"}),
            ("POST", "/milestones", {"title": "Webhooks"}),
            ("PATCH", f"/issues/{number}", {"body": "edited through the API"}),
            ("PATCH", f"/issues/{number}", {"state": "closed"}),
            ("POST", f"/issues/{number}/comments", {"body": "a comment"}),
        ]:
            answer = requests.request(method, api + path, json=body, headers=auth, timeout=30)
            assert answer.status_code in (200, 201), answer.text
        em.control("POST", "repos/rename", {"full_name": "acme-corp/widgets", "new_name": "gadgets"})
        em.control("POST", "issues/change", {"full_name": "acme-corp/gadgets", "number": number, "kind": "edit_comment"})
        em.control("POST", "installations/delete", {"account": "zoe-dev"})
        em.control("POST", "installations/create", {"account": "zoe-dev"})
        assert em.control("POST", "app/hook/flush", {"timeout": 120})["idle"]
        yield em, sink
    finally:
        sink.close()
        em.stop()


def test_every_delivered_payload_validates_against_the_webhook_schemas(delivered: tuple[EmulatorProcess, WebhookSink]) -> None:
    _, sink = delivered
    schemas = webhook_schemas()
    problems = []
    for event, payload in sink.events():
        key = schema_key(event, payload)
        assert key in schemas["definitions"], f"{key}: no such event in @octokit/webhooks-schemas"
        validator = jsonschema.Draft7Validator({**schemas, "$ref": f"#/definitions/{key}"},
                                               format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
        for error in validator.iter_errors(payload):
            problems.append(f"{key} at /{'/'.join(map(str, error.absolute_path))}: {error.message[:300]}")
    assert not problems, "\n".join(problems[:50])


def test_each_kind_of_change_the_emulator_makes_is_delivered(delivered: tuple[EmulatorProcess, WebhookSink]) -> None:
    _, sink = delivered
    seen = {schema_key(event, payload) for event, payload in sink.events()}
    assert EXPECTED <= seen, f"never delivered: {sorted(EXPECTED - seen)}"


def _get(em: EmulatorProcess, url: str, **params: Any) -> requests.Response:
    return requests.get(url, params=params, headers={"Authorization": f"Bearer {app_jwt(em)}"}, timeout=30)


def test_the_delivery_list_and_its_pages_conform(delivered: tuple[EmulatorProcess, WebhookSink]) -> None:
    em, _ = delivered
    url = f"{em.api_url}/app/hook/deliveries"
    for response in (_get(em, url, per_page=3), _get(em, url, per_page=100, status="success")):
        assert response.status_code == 200
        validate_response("GET", "/app/hook/deliveries", 200, response.content, headers=response.headers)
    following = _get(em, url, per_page=3).links["next"]["url"]
    page = requests.get(following, headers={"Authorization": f"Bearer {app_jwt(em)}"}, timeout=30)
    validate_response("GET", "/app/hook/deliveries", 200, page.content, headers=page.headers)
    bad = _get(em, url, status="sideways")
    validate_response("GET", "/app/hook/deliveries", bad.status_code, bad.content, headers=bad.headers)


def test_one_delivery_and_a_redelivery_conform(delivered: tuple[EmulatorProcess, WebhookSink]) -> None:
    em, _ = delivered
    first = _get(em, f"{em.api_url}/app/hook/deliveries", per_page=1).json()[0]
    one = _get(em, f"{em.api_url}/app/hook/deliveries/{first['id']}")
    validate_response("GET", f"/app/hook/deliveries/{first['id']}", 200, one.content, headers=one.headers)
    again = requests.post(f"{em.api_url}/app/hook/deliveries/{first['id']}/attempts",
                          headers={"Authorization": f"Bearer {app_jwt(em)}"}, timeout=30)
    assert again.status_code == 202
    validate_response("POST", f"/app/hook/deliveries/{first['id']}/attempts", 202, again.content, headers=again.headers)
