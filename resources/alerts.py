"""Alert channels: Slack, Microsoft Teams, email, PagerDuty and a generic JSON webhook.

An ``Alert`` says what went wrong and where: kind, one-line summary, customer, date, asset, failing
check and a link to the run in the Dagster UI. Each channel renders it for its medium and delivers it
with a timeout and bounded retries (connection errors, timeouts, 429 and 5xx are retried; other
refusals are not). ``Alerter`` fans one alert out to every configured channel in parallel: one channel
failing never stops the others, and the outcome of each is returned and logged, without secrets.

``alert_channels_from`` builds the channels from the ``BACKHUB_ALERT_*`` values (listed in
docs/audit.md) that ``Settings`` read; ``AlertService`` is what sensors and ops send through.

How the Dagster integrations are used: dagster-msteams' ``TeamsClient`` posts to any hook URL and is used
as is. dagster-slack's ``SlackResource.get_client()`` has no base URL or timeout, so the Slack
channel builds its own ``slack_sdk.WebClient`` with both. dagster-pagerduty posts
through ``pypd.EventV2``, whose URL is a process-wide class attribute, which sends no timeout and logs
the payload (routing key included) at DEBUG, so PagerDuty events are POSTed here, in the Events API v2
format, to a configurable ``events_url``.
"""

from __future__ import annotations

import concurrent.futures
import email.message
import hashlib
import json
import logging
import smtplib
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

import requests
from dagster_msteams.adaptive_card import AdaptiveCard
from dagster_msteams.client import TeamsClient
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from resources.audit import redact, scrub_text
from resources.errors import (
    AlertDeliveryError,
    AlertRefusedError,
    ConfigurationError,
)
from resources.retry import Backoff, retry

log = logging.getLogger(__name__)

DEFAULT_PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
DEFAULT_SLACK_URL = "https://slack.com/api/"
_T = TypeVar("_T")


@dataclass(frozen=True)
class Alert:
    kind: str  # "run_failure" | "check_failure" | "missed_backup" | ...
    summary: str  # one line
    customer: str | None = None
    date: str | None = None
    asset: str | None = None
    check: str | None = None
    run_id: str | None = None
    run_url: str | None = None
    details: dict = field(default_factory=dict)

    def clean(self) -> Alert:
        """A copy safe to send anywhere: credential-looking text and secret-named details redacted."""
        details, _where = redact(self.details)
        summary = scrub_text(" ".join(self.summary.split()))
        return Alert(**{**asdict(self), "summary": summary, "details": details})

    @property
    def title(self) -> str:
        where = " ".join(part for part in (self.customer, self.date) if part)
        return f"[backhub] {self.kind.replace('_', ' ')}" + (f" for {where}" if where else "")

    def facts(self) -> list[tuple[str, str]]:
        """(label, value) pairs present on this alert, in reading order."""
        pairs = [
            ("Customer", self.customer),
            ("Date", self.date),
            ("Asset", self.asset),
            ("Check", self.check),
            ("Run", self.run_id),
        ]
        return [(label, value) for label, value in pairs if value]

    def text(self) -> str:
        """Plain text: the title, the summary, the facts, the link to the run, then the details."""
        lines = [self.title, self.summary, ""]
        lines += [f"{label}: {value}" for label, value in self.facts()]
        if self.run_url:
            lines.append(f"Open the run: {self.run_url}")
        for key, value in sorted(self.details.items()):
            lines.append(f"{key}: {value if isinstance(value, str) else json.dumps(value, sort_keys=True)}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def dedup_key(self) -> str:
        """Stable per (kind, customer, date, asset, check): repeats update one incident."""
        parts = (self.kind, self.customer, self.date, self.asset, self.check)
        ident = "|".join(part or "" for part in parts)
        return "backhub:" + hashlib.sha256(ident.encode()).hexdigest()[:32]


def run_url(ui_base_url: str, run_id: str) -> str:
    """The Dagster UI link of a run: ``<ui>/runs/<run_id>``."""
    return f"{ui_base_url.rstrip('/')}/runs/{run_id}"


@runtime_checkable
class AlertChannel(Protocol):
    name: str

    def send(self, alert: Alert) -> None: ...


def _with_retries(name: str, attempts: int, backoff: float, call: Callable[[], _T]) -> _T:
    """Run ``call``; retry AlertDeliveryError up to ``attempts`` times with exponential backoff."""
    try:
        return retry(call, transient=lambda exc: isinstance(exc, AlertDeliveryError), retries=max(attempts, 1) - 1,
                     backoff=Backoff(backoff, jitter=False), what=f"alert {name}", logger=log)
    except AlertDeliveryError as exc:
        raise AlertDeliveryError(f"{exc} (after {attempts} attempts)") from exc


def _http_outcome(name: str, status: int) -> None:
    if 200 <= status < 300:
        return
    if status == 429 or status >= 500 or status == 408:
        raise AlertDeliveryError(f"{name}: HTTP {status}")
    raise AlertRefusedError(f"{name}: refused with HTTP {status}")


def _post_json(
    name: str, url: str, body: Mapping[str, Any], headers: Mapping[str, str], timeout: float
) -> None:
    try:
        response = requests.post(url, json=body, headers=dict(headers), timeout=timeout)
    except requests.Timeout as exc:
        raise AlertDeliveryError(f"{name}: timed out after {timeout}s") from exc
    except requests.RequestException as exc:
        # The exception text names the URL, which may carry a secret (hook tokens): say only what kind.
        raise AlertDeliveryError(f"{name}: {type(exc).__name__}") from exc
    _http_outcome(name, response.status_code)


# --------------------------------------------------------------------------------------------------
# Plain channels


@dataclass
class SlackChannel:
    token: str = field(repr=False)
    channel: str
    base_url: str = DEFAULT_SLACK_URL
    name: str = "slack"
    timeout: float = 10.0
    attempts: int = 3
    backoff: float = 0.5

    def blocks(self, alert: Alert) -> list[dict[str, Any]]:
        facts = [{"type": "mrkdwn", "text": f"*{label}:*\n{value}"} for label, value in alert.facts()]
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": alert.title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": alert.summary[:3000]}},
        ]
        if facts:
            blocks.append({"type": "section", "fields": facts[:10]})
        if alert.run_url:
            blocks.append(
                {"type": "section", "text": {"type": "mrkdwn", "text": f"<{alert.run_url}|Open the run>"}}
            )
        return blocks

    def send(self, alert: Alert) -> None:
        alert = alert.clean()
        client = WebClient(
            token=self.token, base_url=self.base_url, timeout=int(self.timeout), retry_handlers=[]
        )

        def post() -> None:
            try:
                client.chat_postMessage(channel=self.channel, text=alert.text(), blocks=self.blocks(alert))
            except SlackApiError as exc:
                status = exc.response.status_code
                error = exc.response.data.get("error") if isinstance(exc.response.data, dict) else None
                if status == 429 or status >= 500:
                    raise AlertDeliveryError(f"{self.name}: HTTP {status}") from exc
                raise AlertRefusedError(
                    f"{self.name}: Slack refused the message ({error or status})"
                ) from exc
            except ValueError as exc:  # a 5xx page that is not JSON
                raise AlertDeliveryError(f"{self.name}: unreadable answer from Slack") from exc
            except OSError as exc:  # URLError, timeouts, refused connections
                raise AlertDeliveryError(f"{self.name}: {type(exc).__name__}") from exc

        _with_retries(self.name, self.attempts, self.backoff, post)


@dataclass
class TeamsChannel:
    hook_url: str = field(repr=False)  # the URL itself is the credential
    name: str = "msteams"
    timeout: float = 10.0
    attempts: int = 3
    backoff: float = 0.5
    client: TeamsClient | None = field(default=None, repr=False)  # e.g. MSTeamsResource.get_client()

    def card(self, alert: Alert) -> dict[str, Any]:
        card = AdaptiveCard()
        card.add_attachment(f"**{alert.title}**")
        card.add_attachment(alert.summary)
        for label, value in alert.facts():
            card.add_attachment(f"**{label}:** {value}")
        if alert.run_url:
            card.add_attachment(f"[Open the run]({alert.run_url})")
        return card.payload

    def send(self, alert: Alert) -> None:
        payload = self.card(alert.clean())
        client = self.client or TeamsClient(hook_url=self.hook_url, timeout=self.timeout, verify=True)

        def post() -> None:
            try:
                client.post_message(payload=payload)
            except requests.RequestException as exc:
                # TeamsClient reports refusals as RequestException(response text) without the
                # status, so every failure is retried; neither the URL nor the text is logged.
                raise AlertDeliveryError(f"{self.name}: {type(exc).__name__}") from exc

        _with_retries(self.name, self.attempts, self.backoff, post)


@dataclass
class EmailChannel:
    smtp_host: str
    sender: str
    recipients: list[str]
    smtp_port: int = 587
    starttls: bool = True
    use_tls: bool = False  # SMTPS (implicit TLS, usually port 465)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    name: str = "email"
    timeout: float = 10.0
    attempts: int = 3
    backoff: float = 0.5

    def message(self, alert: Alert) -> email.message.EmailMessage:
        msg = email.message.EmailMessage()
        msg["Subject"] = f"{alert.title}: {alert.summary}"[:250]
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["X-Backhub-Alert"] = alert.kind
        msg.set_content(alert.text())
        return msg

    def send(self, alert: Alert) -> None:
        if not self.recipients:
            raise ConfigurationError(f"{self.name}: no recipients configured")
        msg = self.message(alert.clean())

        def deliver() -> None:
            context = ssl.create_default_context()
            try:
                if self.use_tls:
                    server: smtplib.SMTP = smtplib.SMTP_SSL(
                        self.smtp_host, self.smtp_port, timeout=self.timeout, context=context
                    )
                else:
                    server = smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.timeout)
                with server:
                    if self.starttls and not self.use_tls:
                        server.starttls(context=context)
                    if self.username:
                        server.login(self.username, self.password or "")
                    server.send_message(msg)
            except smtplib.SMTPAuthenticationError as exc:
                raise AlertRefusedError(f"{self.name}: SMTP login refused ({exc.smtp_code})") from exc
            except smtplib.SMTPResponseException as exc:
                if 400 <= exc.smtp_code < 500:
                    raise AlertDeliveryError(f"{self.name}: SMTP {exc.smtp_code}") from exc
                raise AlertRefusedError(f"{self.name}: SMTP refused with {exc.smtp_code}") from exc
            except smtplib.SMTPRecipientsRefused as exc:
                raise AlertRefusedError(f"{self.name}: every recipient was refused") from exc
            except smtplib.SMTPNotSupportedError as exc:
                raise AlertRefusedError(f"{self.name}: {exc}") from exc
            except (smtplib.SMTPException, OSError) as exc:  # timeouts are OSError
                raise AlertDeliveryError(f"{self.name}: {type(exc).__name__}") from exc

        _with_retries(self.name, self.attempts, self.backoff, deliver)


@dataclass
class PagerDutyChannel:
    routing_key: str = field(repr=False)
    events_url: str = DEFAULT_PAGERDUTY_URL
    severity: str = "error"
    source: str = "backhub"
    name: str = "pagerduty"
    timeout: float = 10.0
    attempts: int = 3
    backoff: float = 0.5

    def event(self, alert: Alert) -> dict[str, Any]:
        """An Events API v2 trigger. The routing key travels in the body: the protocol puts it there."""
        custom = {label.lower(): value for label, value in alert.facts()}
        custom.update(alert.details)
        if alert.run_url:
            custom["run_url"] = alert.run_url
        event: dict[str, Any] = {
            "routing_key": self.routing_key,
            "event_action": "trigger",
            "dedup_key": alert.dedup_key,
            "payload": {
                "summary": f"{alert.title}: {alert.summary}"[:1024],
                "source": self.source,
                "severity": self.severity,
                "class": alert.kind,
                "custom_details": custom,
            },
        }
        if alert.asset:
            event["payload"]["component"] = alert.asset
        if alert.customer:
            event["payload"]["group"] = alert.customer
        if alert.run_url:
            event["links"] = [{"href": alert.run_url, "text": "Open the run in Dagster"}]
        return event

    def send(self, alert: Alert) -> None:
        body = self.event(alert.clean())
        _with_retries(
            self.name,
            self.attempts,
            self.backoff,
            lambda: _post_json(self.name, self.events_url, body, {}, self.timeout),
        )


@dataclass
class WebhookChannel:
    url: str = field(repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    name: str = "webhook"
    timeout: float = 10.0
    attempts: int = 3
    backoff: float = 0.5

    def send(self, alert: Alert) -> None:
        body = alert.clean().to_json()
        headers = {"User-Agent": "backhub-alerts", **self.headers}
        _with_retries(
            self.name,
            self.attempts,
            self.backoff,
            lambda: _post_json(self.name, self.url, body, headers, self.timeout),
        )


# --------------------------------------------------------------------------------------------------
# Fan-out


class Alerter:
    """Send one alert to every channel; a failing channel is reported and never stops the others."""

    def __init__(self, channels: Sequence[AlertChannel]) -> None:
        self.channels = list(channels)

    def send(self, alert: Alert) -> dict[str, str]:
        """Per channel name: ``"sent"`` or ``"failed: <reason>"``."""
        names: list[str] = []
        for channel in self.channels:
            name = channel.name
            while name in names:
                name = f"{channel.name}#{len(names) + 1}"
            names.append(name)
        outcome: dict[str, str] = {}
        if not self.channels:
            return outcome
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(self.channels)) as pool:
            futures = {
                pool.submit(channel.send, alert): name
                for channel, name in zip(self.channels, names, strict=True)
            }
            for future in concurrent.futures.as_completed(futures):
                name = futures[future]
                try:
                    future.result()
                    outcome[name] = "sent"
                except (AlertDeliveryError, AlertRefusedError, ConfigurationError) as exc:
                    outcome[name] = f"failed: {exc}"
                except Exception as exc:  # a channel's bug must not stop the others
                    outcome[name] = f"failed: {type(exc).__name__}"
                if outcome[name] != "sent":
                    log.warning("alert %s for %s not delivered: %s", alert.kind, name, outcome[name])
        return {name: outcome[name] for name in names}


# --------------------------------------------------------------------------------------------------
# The alert service the code location hands its sensors and ops


@dataclass(frozen=True)
class AlertService:
    """Where alerts go and what they link to: channels from the ``BACKHUB_ALERT_*`` values that
    ``Settings`` read once (passed in, never read from the environment here), built when an alert is
    sent so a misconfigured channel fails that send, naming the variable. A plain object, not a
    configurable resource: the values hold secrets and resource config is shown in the UI."""

    variables: Mapping[str, str] = field(default_factory=dict, repr=False)
    ui_url: str = "http://127.0.0.1:3000"
    missed_backup_deadline_hours: int = 12  # a customer's snapshot of today is due this long after 00:00 UTC

    def get_alerter(self) -> Alerter:
        return Alerter(alert_channels_from(self.variables))

    def run_url(self, run_id: str) -> str:
        return run_url(self.ui_url, run_id)

    def runs_url(self) -> str:
        return f"{self.ui_url.rstrip('/')}/runs"

    def send(self, alert: Alert) -> dict[str, str]:
        """Per channel: "sent" or "failed: ..."; raises AlertDeliveryError if every channel failed."""
        outcome = self.get_alerter().send(alert)
        if outcome and all(result != "sent" for result in outcome.values()):
            raise AlertDeliveryError(f"alert {alert.kind} not delivered by any channel: {outcome}")
        return outcome


# --------------------------------------------------------------------------------------------------
# From the BACKHUB_ALERT_* variables


def alert_channels_from(variables: Mapping[str, str]) -> list[AlertChannel]:
    """The channels the ``BACKHUB_ALERT_*`` variables configure; none when none are set."""
    env = {key: value for key, value in variables.items() if key.startswith("BACKHUB_ALERT_") and value}

    def need(variable: str, because: str) -> str:
        if variable not in env:
            raise ConfigurationError(f"{because} is set but {variable} is not")
        return env[variable]

    channels: list[AlertChannel] = []
    if "BACKHUB_ALERT_SLACK_TOKEN" in env or "BACKHUB_ALERT_SLACK_CHANNEL" in env:
        channels.append(
            SlackChannel(
                token=need("BACKHUB_ALERT_SLACK_TOKEN", "BACKHUB_ALERT_SLACK_CHANNEL"),
                channel=need("BACKHUB_ALERT_SLACK_CHANNEL", "BACKHUB_ALERT_SLACK_TOKEN"),
                base_url=env.get("BACKHUB_ALERT_SLACK_BASE_URL", DEFAULT_SLACK_URL),
            )
        )
    if "BACKHUB_ALERT_TEAMS_URL" in env:
        channels.append(TeamsChannel(env["BACKHUB_ALERT_TEAMS_URL"]))
    if "BACKHUB_ALERT_SMTP_HOST" in env:
        port_text = env.get("BACKHUB_ALERT_SMTP_PORT", "587")
        if not port_text.isdigit():
            raise ConfigurationError(f"BACKHUB_ALERT_SMTP_PORT must be a port number, got {port_text!r}")
        port = int(port_text)
        security = env.get("BACKHUB_ALERT_SMTP_SECURITY", "ssl" if port == 465 else "starttls").lower()
        if security not in {"starttls", "ssl", "none"}:
            raise ConfigurationError(
                f"BACKHUB_ALERT_SMTP_SECURITY must be starttls, ssl or none, got {security!r}"
            )
        recipients = [r.strip() for r in need("BACKHUB_ALERT_SMTP_TO", "BACKHUB_ALERT_SMTP_HOST").split(",")]
        channels.append(
            EmailChannel(
                smtp_host=env["BACKHUB_ALERT_SMTP_HOST"],
                sender=need("BACKHUB_ALERT_SMTP_FROM", "BACKHUB_ALERT_SMTP_HOST"),
                recipients=[r for r in recipients if r],
                smtp_port=port,
                starttls=security == "starttls",
                use_tls=security == "ssl",
                username=env.get("BACKHUB_ALERT_SMTP_USERNAME"),
                password=env.get("BACKHUB_ALERT_SMTP_PASSWORD"),
            )
        )
    if "BACKHUB_ALERT_PAGERDUTY_ROUTING_KEY" in env:
        channels.append(
            PagerDutyChannel(
                routing_key=env["BACKHUB_ALERT_PAGERDUTY_ROUTING_KEY"],
                events_url=env.get("BACKHUB_ALERT_PAGERDUTY_URL", DEFAULT_PAGERDUTY_URL),
            )
        )
    if "BACKHUB_ALERT_WEBHOOK_URL" in env:
        headers = {}
        if "BACKHUB_ALERT_WEBHOOK_AUTHORIZATION" in env:
            headers["Authorization"] = env["BACKHUB_ALERT_WEBHOOK_AUTHORIZATION"]
        channels.append(WebhookChannel(env["BACKHUB_ALERT_WEBHOOK_URL"], headers))
    return channels
