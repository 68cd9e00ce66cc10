"""One failing channel never stops the others; failures are bounded, retried when worth it, reported."""

from __future__ import annotations

import logging
import time

import pytest

from resources.alerts import (
    Alert,
    Alerter,
    EmailChannel,
    PagerDutyChannel,
    SlackChannel,
    TeamsChannel,
    WebhookChannel,
    alert_channels_from,
)
from resources.errors import ConfigurationError
from tests.alerts.conftest import Mailbox, Receiver
from tests.servers import free_port

ALERT = Alert(
    kind="missed_backup",
    summary="no committed snapshot by 06:00 UTC",
    customer="acme",
    date="2024-03-02",
    run_url="http://ui/runs/r1",
)
FAST = {"attempts": 2, "backoff": 0.01, "timeout": 2.0}


def test_a_failing_channel_does_not_stop_the_others(
    receiver: Receiver, mailbox: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.answer("/api/", (500, "upstream exploded", 0))
    dead_port = free_port()  # nothing listens here: the connection is refused
    channels = [
        SlackChannel(token="xoxb-dead-secret", channel="#c", base_url=f"{receiver.url}/api/", **FAST),
        WebhookChannel(url=f"http://127.0.0.1:{dead_port}/hook-secret-path", **FAST),
        TeamsChannel(hook_url=f"{receiver.url}/teams", **FAST),
        PagerDutyChannel(routing_key="pd-secret-key", events_url=f"{receiver.url}/pd", **FAST),
        EmailChannel(
            mailbox.host, "a@example.com", ["b@example.com"], smtp_port=mailbox.port, starttls=False, **FAST
        ),
    ]
    with caplog.at_level(logging.INFO):
        outcome = Alerter(channels).send(ALERT)
    assert outcome == {
        "slack": "failed: slack: HTTP 500 (after 2 attempts)",
        "webhook": "failed: webhook: ConnectionError (after 2 attempts)",
        "msteams": "sent",
        "pagerduty": "sent",
        "email": "sent",
    }
    assert len(receiver.to("/api/chat.postMessage")) == 2  # retried, but bounded
    assert len(mailbox.messages) == 1
    for secret in ("xoxb-dead-secret", "hook-secret-path", "pd-secret-key"):
        assert secret not in caplog.text
    assert "missed_backup for slack not delivered" in caplog.text


def test_a_passing_fault_is_retried_until_delivered(receiver: Receiver) -> None:
    receiver.answer("/hook", (503, "", 0), (429, "", 0), (200, "{}", 0))
    channel = WebhookChannel(url=f"{receiver.url}/hook", attempts=3, backoff=0.01)
    assert Alerter([channel]).send(ALERT) == {"webhook": "sent"}
    assert len(receiver.to("/hook")) == 3


def test_a_refusal_is_not_retried(receiver: Receiver) -> None:
    receiver.answer("/pd", (400, '{"status": "invalid event"}', 0))
    channel = PagerDutyChannel(routing_key="k", events_url=f"{receiver.url}/pd", attempts=3, backoff=0.01)
    assert Alerter([channel]).send(ALERT) == {"pagerduty": "failed: pagerduty: refused with HTTP 400"}
    assert len(receiver.to("/pd")) == 1


def test_slack_refusing_the_token_is_reported_by_its_error_code(receiver: Receiver) -> None:
    receiver.answer("/api/", (200, '{"ok": false, "error": "invalid_auth"}', 0))
    channel = SlackChannel(token="xoxb-bad", channel="#c", base_url=f"{receiver.url}/api/", **FAST)
    assert Alerter([channel]).send(ALERT) == {
        "slack": "failed: slack: Slack refused the message (invalid_auth)"
    }
    assert len(receiver.to("/api/")) == 1


def test_a_slow_channel_times_out_within_its_bound(receiver: Receiver) -> None:
    receiver.answer("/slow", (200, "{}", 3.0))
    channels = [
        WebhookChannel(url=f"{receiver.url}/slow", timeout=0.3, attempts=2, backoff=0.01),
        WebhookChannel(url=f"{receiver.url}/fast", name="fast"),
    ]
    started = time.monotonic()
    outcome = Alerter(channels).send(ALERT)
    assert time.monotonic() - started < 2.5
    assert outcome == {"webhook": "failed: webhook: timed out after 0.3s (after 2 attempts)", "fast": "sent"}


def test_channels_are_configured_from_the_environment(receiver: Receiver) -> None:
    env = {
        "BACKHUB_ALERT_SLACK_TOKEN": "xoxb-env",
        "BACKHUB_ALERT_SLACK_CHANNEL": "#ops",
        "BACKHUB_ALERT_SLACK_BASE_URL": f"{receiver.url}/api/",
        "BACKHUB_ALERT_TEAMS_URL": f"{receiver.url}/teams",
        "BACKHUB_ALERT_SMTP_HOST": "smtp.example.com",
        "BACKHUB_ALERT_SMTP_PORT": "465",
        "BACKHUB_ALERT_SMTP_FROM": "backhub@example.com",
        "BACKHUB_ALERT_SMTP_TO": "a@example.com, b@example.com",
        "BACKHUB_ALERT_PAGERDUTY_ROUTING_KEY": "pd-key",
        "BACKHUB_ALERT_PAGERDUTY_URL": f"{receiver.url}/pd",
        "BACKHUB_ALERT_WEBHOOK_URL": f"{receiver.url}/hook",
        "BACKHUB_ALERT_WEBHOOK_AUTHORIZATION": "Bearer env-secret",
        "UNRELATED": "x",
    }
    channels = alert_channels_from(env)
    assert [c.name for c in channels] == ["slack", "msteams", "email", "pagerduty", "webhook"]
    email_channel = channels[2]
    assert isinstance(email_channel, EmailChannel)
    assert (email_channel.use_tls, email_channel.starttls, email_channel.recipients) == (
        True,
        False,
        ["a@example.com", "b@example.com"],
    )
    outcome = Alerter([c for c in channels if c.name != "email"]).send(ALERT)
    assert set(outcome.values()) == {"sent"}
    assert receiver.to("/hook")[0].headers["Authorization"] == "Bearer env-secret"
    assert "xoxb-env" not in repr(channels) and "env-secret" not in repr(channels)


def test_no_variables_means_no_channels() -> None:
    assert alert_channels_from({"HOME": "/root"}) == []


def test_a_half_configured_channel_names_the_missing_variable() -> None:
    with pytest.raises(ConfigurationError, match="BACKHUB_ALERT_SLACK_CHANNEL"):
        alert_channels_from({"BACKHUB_ALERT_SLACK_TOKEN": "xoxb-x"})
    with pytest.raises(ConfigurationError, match="BACKHUB_ALERT_SMTP_FROM"):
        alert_channels_from({"BACKHUB_ALERT_SMTP_HOST": "h", "BACKHUB_ALERT_SMTP_TO": "a@b"})
