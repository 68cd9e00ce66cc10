"""Each channel delivers a readable alert to its local receiver, and keeps secrets out of the body."""

from __future__ import annotations

import email
import email.policy

from resources.alerts import (
    Alert,
    EmailChannel,
    PagerDutyChannel,
    SlackChannel,
    TeamsChannel,
    WebhookChannel,
)
from tests.alerts.conftest import Mailbox, Receiver

RUN_URL = "http://dagster.local:3000/runs/6f1c2a"
ALERT = Alert(
    kind="check_failure",
    summary="2 blobs do not decrypt",
    customer="acme",
    date="2024-03-01",
    asset="repositories",
    check="blobs_decrypt",
    run_id="6f1c2a",
    run_url=RUN_URL,
    details={"failed_blobs": 2},
)
NAMED = ("acme", "2024-03-01", "repositories", "blobs_decrypt", RUN_URL)
SLACK_TOKEN = "xoxb-1111-2222-slacksecret"
ROUTING_KEY = "R0UTINGKEY0123456789abcdef012345"


def _assert_named(text: str) -> None:
    for value in NAMED:
        assert value in text, f"{value!r} missing from the message"


def test_slack_posts_the_alert_with_the_token_only_in_the_header(receiver: Receiver) -> None:
    SlackChannel(token=SLACK_TOKEN, channel="#backups", base_url=f"{receiver.url}/api/").send(ALERT)
    [request] = receiver.to("/api/chat.postMessage")
    assert request.headers["Authorization"] == f"Bearer {SLACK_TOKEN}"
    body = request.json()
    assert body["channel"] == "#backups"
    _assert_named(body["text"])
    _assert_named(str(body["blocks"]))
    assert f"<{RUN_URL}|Open the run>" in str(body["blocks"])
    assert SLACK_TOKEN not in request.body.decode()


def test_teams_posts_an_adaptive_card_to_the_hook(receiver: Receiver) -> None:
    TeamsChannel(hook_url=f"{receiver.url}/workflows/hook-secret").send(ALERT)
    [request] = receiver.to("/workflows/hook-secret")
    card = request.json()
    assert card["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    text = " ".join(block["text"] for block in card["attachments"][0]["content"]["body"])
    _assert_named(text)
    assert f"[Open the run]({RUN_URL})" in text
    assert "hook-secret" not in request.body.decode()


def test_pagerduty_triggers_an_event_deduplicated_per_customer_date_asset_and_check(
    receiver: Receiver,
) -> None:
    receiver.answer("/v2/enqueue", (202, '{"status": "success"}', 0))
    channel = PagerDutyChannel(routing_key=ROUTING_KEY, events_url=f"{receiver.url}/v2/enqueue")
    channel.send(ALERT)
    channel.send(ALERT)
    channel.send(Alert(**{**ALERT.to_json(), "check": "refs_match"}))
    first, again, other = (r.json() for r in receiver.to("/v2/enqueue"))
    assert first["routing_key"] == ROUTING_KEY  # the Events API carries the key in the body
    assert first["event_action"] == "trigger"
    assert first["payload"]["severity"] == "error"
    assert (first["payload"]["group"], first["payload"]["component"], first["payload"]["class"]) == (
        "acme",
        "repositories",
        "check_failure",
    )
    assert first["links"] == [{"href": RUN_URL, "text": "Open the run in Dagster"}]
    _assert_named(str(first["payload"]))
    assert first["dedup_key"] == again["dedup_key"] != other["dedup_key"]


def test_webhook_posts_the_alert_as_json_with_its_headers(receiver: Receiver) -> None:
    WebhookChannel(
        url=f"{receiver.url}/hooks/backhub", headers={"Authorization": "Token hook-secret"}
    ).send(ALERT)
    [request] = receiver.to("/hooks/backhub")
    assert request.headers["Authorization"] == "Token hook-secret"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == ALERT.to_json()


def test_email_is_delivered_over_smtp_with_login(mailbox: Mailbox) -> None:
    EmailChannel(
        smtp_host=mailbox.host,
        smtp_port=mailbox.port,
        starttls=False,
        sender="backhub@example.com",
        recipients=["ops@example.com", "oncall@example.com"],
        username="alerts",
        password="smtp-secret",
    ).send(ALERT)
    [(sender, recipients, raw)] = mailbox.messages
    assert (sender, recipients, mailbox.logins) == (
        "backhub@example.com",
        ["ops@example.com", "oncall@example.com"],
        ["alerts"],
    )
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "[backhub] check failure for acme 2024-03-01: 2 blobs do not decrypt"
    body = message.get_content()
    _assert_named(body)
    assert "smtp-secret" not in raw.decode()


def test_credentials_in_an_alert_are_redacted_before_sending(receiver: Receiver) -> None:
    leaky = Alert(
        kind="run_failure",
        summary="git fetch https://x-access-token:ghs_abcdefghijklmnopqrstuvwxyz0123@github.com/acme/app failed",
        customer="acme",
        details={"token": "ghs_abcdefghijklmnopqrstuvwxyz0123", "error": "exit 128"},
    )
    WebhookChannel(url=f"{receiver.url}/hooks").send(leaky)
    body = receiver.to("/hooks")[0].json()
    assert "ghs_" not in str(body)
    assert body["summary"] == "git fetch https://<redacted>@github.com/acme/app failed"
    assert body["details"] == {"token": "<redacted>", "error": "exit 128"}
