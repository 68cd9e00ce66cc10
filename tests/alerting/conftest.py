"""Every alert channel pointed at a local receiver (HTTP) and a local SMTP server, by BACKHUB_ALERT_* values."""

import email
import urllib.parse
from dataclasses import dataclass

import pytest

from tests.alerts.conftest import Mailbox, Receiver, mailbox, receiver  # noqa: F401 - fixtures
from tests.pipeline.conftest import backhub  # noqa: F401 - a fixture

UI = "http://ui.test:3000"
HTTP_CHANNELS = {"slack": "/slack/", "msteams": "/teams", "pagerduty": "/pagerduty", "webhook": "/hook"}


@dataclass
class Channels:
    receiver: Receiver
    mailbox: Mailbox
    variables: dict[str, str]  # the BACKHUB_ALERT_* values that configure every channel

    def delivered(self) -> dict[str, list[str]]:
        """channel -> the text of each message it received (HTTP bodies URL-decoded, mail bodies parsed)."""
        got = {name: [urllib.parse.unquote_plus(r.body.decode()) for r in self.receiver.to(path)]
               for name, path in HTTP_CHANNELS.items()}
        got["email"] = []
        for _sender, _to, raw in self.mailbox.messages:
            message = email.message_from_bytes(raw)
            got["email"].append(f"{message['Subject']}\n{message.get_payload(decode=True).decode()}")
        return got

    def assert_each_channel_got(self, count: int, *facts: str) -> None:
        for channel, messages in self.delivered().items():
            assert len(messages) == count, (channel, messages)
            for message in messages[-count:] if count else []:
                for fact in facts:
                    assert fact in message, (channel, fact, message[:2000])


@pytest.fixture
def channels(receiver, mailbox) -> Channels:  # noqa: F811 - the imported fixtures
    variables = {
        "BACKHUB_ALERT_SLACK_TOKEN": "xoxb-test-token",
        "BACKHUB_ALERT_SLACK_CHANNEL": "#backups",
        "BACKHUB_ALERT_SLACK_BASE_URL": f"{receiver.url}/slack/",
        "BACKHUB_ALERT_TEAMS_URL": f"{receiver.url}/teams",
        "BACKHUB_ALERT_PAGERDUTY_ROUTING_KEY": "routing-key-test",
        "BACKHUB_ALERT_PAGERDUTY_URL": f"{receiver.url}/pagerduty",
        "BACKHUB_ALERT_WEBHOOK_URL": f"{receiver.url}/hook",
        "BACKHUB_ALERT_SMTP_HOST": mailbox.host,
        "BACKHUB_ALERT_SMTP_PORT": str(mailbox.port),
        "BACKHUB_ALERT_SMTP_SECURITY": "none",
        "BACKHUB_ALERT_SMTP_FROM": "backhub@example.test",
        "BACKHUB_ALERT_SMTP_TO": "oncall@example.test",
        "BACKHUB_ALERT_SMTP_USERNAME": "alerts",
        "BACKHUB_ALERT_SMTP_PASSWORD": "smtp-secret",
    }
    return Channels(receiver, mailbox, variables)
