"""Notification destinations (Prefect blocks) and the message templates the automations render.

The Prefect server sends the notifications, not the flow: an automation's ``send-notification``
action loads one of these blocks and calls :meth:`notify`. The server process must therefore be
able to import this module; :mod:`flows.server` imports it before starting the API, and
``trips notify apply`` registers the block types (``prefect block register -m flows.notifications``
does the same by hand).

Two block types:

* :class:`TripsWebhook` posts JSON to an URL: ``{"subject", "body", "text"}`` for a generic
  webhook, ``{"text": ...}`` for a Slack incoming webhook (Prefect's ``SlackWebhook`` goes through
  Apprise, which only accepts ``hooks.slack.com`` URLs; this one posts to any URL, which is what
  lets the tests use a loopback receiver).
* :class:`TripsSmtpEmail` sends a plain-text mail over SMTP (Prefect has no SMTP block).

Both retry a delivery that failed in a way that may pass (a refused or dropped connection, a
timeout, HTTP 429 or 5xx, an SMTP 4xx reply) twice, and raise on any other error or the third
failure (with a timeout each), so the server records the action as failed and logs it; the
ingestion flow never waits on them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Literal

import httpx
from prefect.blocks.abstract import NotificationBlock, NotificationError
from pydantic import Field, SecretStr

logger = logging.getLogger(__name__)

#: Seconds to wait before each retry of a delivery that failed transiently.
RETRY_DELAYS_S = (1.0, 3.0)

#: Names of the saved block documents that ``trips notify apply`` manages.
WEBHOOK_BLOCK = "trips-webhook"
SLACK_BLOCK = "trips-slack"
EMAIL_BLOCK = "trips-email"


class TripsWebhook(NotificationBlock):
    """POST a notification as JSON to a generic webhook or a Slack incoming webhook."""

    _block_type_name = "Trips Webhook"
    _block_type_slug = "trips-webhook"
    _description = "POST ingestion notifications as JSON (generic or Slack incoming webhook)."

    url: SecretStr = Field(description="Webhook URL (may contain a token).")
    format: Literal["generic", "slack"] = Field(
        default="generic",
        description='"generic": {"subject", "body", "text"}; "slack": {"text"} (mrkdwn).',
    )
    timeout_s: float = Field(default=5.0, description="Connect + read timeout in seconds.")

    def payload(self, body: str, subject: str | None) -> dict[str, str]:
        if self.format == "slack":
            text = f"*{subject}*\n{body}" if subject else body
            return {"text": text}
        text = f"{subject}\n{body}" if subject else body
        return {"subject": subject or "", "body": body, "text": text}

    async def notify(self, body: str, subject: str | None = None) -> None:
        await _delivering(self, lambda: self._post(body, subject), target=_redact(self.url),
                          transient=_transient_http)

    async def _post(self, body: str, subject: str | None) -> None:
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            response = await client.post(
                self.url.get_secret_value(),
                content=json.dumps(self.payload(body, subject)),
                headers={"content-type": "application/json"},
            )
            response.raise_for_status()


class TripsSmtpEmail(NotificationBlock):
    """Send a plain-text email over SMTP (optionally STARTTLS + login)."""

    _block_type_name = "Trips SMTP Email"
    _block_type_slug = "trips-smtp-email"
    _description = "Send ingestion notifications by email over SMTP."

    host: str = Field(description="SMTP server host.")
    port: int = Field(default=25, description="SMTP server port.")
    from_addr: str = Field(default="trips-warehouse@localhost", description="Sender address.")
    to_addrs: list[str] = Field(description="Recipient addresses.")
    starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS.")
    username: str | None = Field(default=None, description="Login user (optional).")
    password: SecretStr | None = Field(default=None, description="Login password (optional).")
    timeout_s: float = Field(default=10.0, description="Socket timeout in seconds.")

    def message(self, body: str, subject: str | None) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.from_addr
        msg["To"] = ", ".join(self.to_addrs)
        msg["Subject"] = subject or "trips warehouse notification"
        msg.set_content(body)
        return msg

    def _send(self, msg: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                password = self.password.get_secret_value() if self.password else ""
                smtp.login(self.username, password)
            smtp.send_message(msg)

    async def notify(self, body: str, subject: str | None = None) -> None:
        message = self.message(body, subject)
        await _delivering(self, lambda: asyncio.to_thread(self._send, message),
                          target=f"smtp://{self.host}:{self.port}", transient=_transient_smtp)


def _redact(url: SecretStr) -> str:
    """Scheme, host and port of a webhook URL (its path often is the secret)."""
    parsed = httpx.URL(url.get_secret_value())
    return f"{parsed.scheme}://{parsed.host}{f':{parsed.port}' if parsed.port else ''}/..."


def _transient_http(exc: Exception) -> bool:
    """A failure a retry may get past: no connection, a timeout, 429 or a server error (not a
    4xx: a wrong URL or token fails the same way every time)."""
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        return code == 429 or code >= 500
    return isinstance(exc, httpx.TransportError)


def _transient_smtp(exc: Exception) -> bool:
    """A failure a retry may get past: no connection, a dropped one, a 4xx (temporary) reply;
    not a 5xx one (a refused login or recipient)."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPServerDisconnected | OSError)


async def _delivering(block: NotificationBlock, delivery: Callable[[], Awaitable[None]],
                      target: str, transient: Callable[[Exception], bool]) -> None:
    """Deliver, retrying a transient failure (:data:`RETRY_DELAYS_S`); on a lasting error log
    one line and raise :class:`NotificationError`.

    Prefect's send-notification action turns ``NotificationError`` into a failed action: one
    ``Action failed`` warning in the server log and a ``prefect.automation.action.failed`` event
    carrying this log line. Any other exception would be retried and dead-lettered with a full
    traceback per attempt.
    """
    for attempt, delay in enumerate((*RETRY_DELAYS_S, None), start=1):
        try:
            await delivery()
            return
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if delay is not None and transient(exc):
                block.logger.warning("%s delivery to %s failed (attempt %d), retrying: %s",
                                     block.get_block_type_slug(), target, attempt, error)
                await asyncio.sleep(delay)
                continue
            log = (f"{block.get_block_type_slug()} delivery to {target} failed"
                   f"{f' after {attempt} attempts' if attempt > 1 else ''}: {error}")
            block.logger.error(log)
            raise NotificationError(log=log) from exc


BLOCK_TYPES: tuple[type[NotificationBlock], ...] = (TripsWebhook, TripsSmtpEmail)


# ---------------------------------------------------------------------------------------------
# Message templates (Jinja, rendered by the Prefect server when an automation fires).
#
# Context: ``event`` (the triggering event) and ``flow_run`` (read from the API). State events'
# resource carries ``prefect.state-name`` and ``prefect.state-message``; the flow's final state
# message is the ingestion summary (counts) or the error. ``{ui}`` is filled in at apply time.
# ---------------------------------------------------------------------------------------------

_RUN = "{{ event.resource['prefect.resource.name'] }}"
_FILES = "{{ (flow_run.parameters.get('paths') or []) | join(', ') or '-' }}"
_LINK = "{ui}/runs/flow-run/{{{{ flow_run.id }}}}"

STATE_SUBJECT = "[trips] ingestion {{ event.resource['prefect.state-name'] }}: " + _RUN

STATE_BODY = (
    "Ingestion run " + _RUN + " is {{ event.resource['prefect.state-name'] }}.\n"
    "Files: " + _FILES + "\n"
    "{% if event.resource['prefect.state-message'] %}"
    "{% if event.resource['prefect.state-type'] in ('FAILED', 'CRASHED') %}Error{% else %}"
    "Summary{% endif %}: {{ event.resource['prefect.state-message'] }}\n"
    "{% endif %}"
    "Run: {link}\n"
)

CHECKS_SUBJECT = "[trips] warehouse checks {{ event.resource['prefect.state-name'] }}: " + _RUN

CHECKS_BODY = (
    "Warehouse build run " + _RUN + " (every model, every data test on every row) is "
    "{{ event.resource['prefect.state-name'] }}.\n"
    "{% if event.resource['prefect.state-message'] %}"
    "Error: {{ event.resource['prefect.state-message'] }}\n"
    "{% endif %}"
    "Run: {link}\n"
)

PROGRESS_SUBJECT = (
    "[trips] " + _RUN + ": {{ event.payload.stage }} {{ event.payload.status }}"
)

PROGRESS_BODY = (
    "Ingestion run " + _RUN + ": stage {{ event.payload.stage }} {{ event.payload.status }}.\n"
    "Files: " + _FILES + "\n"
    "{% set p = event.payload %}"
    "{% for key in ['files', 'rows_read', 'rows_rejected', 'rows_loaded', 'models_built', "
    "'tests_passed', 'tests_failed', 'checks'] if key in p %}"
    "{{ key | replace('_', ' ') | capitalize }}: {{ p[key] }}\n"
    "{% endfor %}"
    "{% if 'duration_s' in p %}Duration: {{ p.duration_s | float | round(1) }} s\n{% endif %}"
    "{% if p.error %}Error: {{ p.error }}\n{% endif %}"
    "Run: {link}\n"
)


def render_templates(ui_url: str) -> dict[str, tuple[str, str]]:
    """Subject/body templates per notification kind, with the Prefect UI base URL filled in."""
    link = _LINK.format(ui=ui_url.rstrip("/"))
    state = (STATE_SUBJECT, STATE_BODY.replace("{link}", link))
    checks = (CHECKS_SUBJECT, CHECKS_BODY.replace("{link}", link))
    return {
        "started": state,
        "completed": state,
        "failed": state,
        "crashed": state,
        "progress": (PROGRESS_SUBJECT, PROGRESS_BODY.replace("{link}", link)),
        "checks-failed": checks,
        "checks-crashed": checks,
    }
