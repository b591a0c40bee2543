"""Notification destinations (Prefect blocks) and the message templates the automations render.

The Prefect server sends the notifications, not the flow: an automation's ``send-notification``
action loads one of these blocks and calls its ``notify``. Destinations, by block document name:

* ``trips-webhook`` (generic webhook) and ``trips-slack`` (Slack incoming webhook): Prefect's
  :class:`~prefect.blocks.notifications.CustomWebhookNotificationBlock`, which POSTs a JSON
  template whose ``{{subject}}`` and ``{{body}}`` it fills in, and ``{{<key>}}`` from its
  ``secrets`` (the URL is one: a webhook URL is a credential), through
  :class:`TripsCustomWebhook`, which only adds the failure the server expects. Not Prefect's
  ``SlackWebhook``: it goes through Apprise, which only posts to ``hooks.slack.com/services/...``
  URLs (any other URL leaves it with "no service(s) to notify"), so neither a loopback receiver
  (the tests) nor a Slack-compatible endpoint (Mattermost, Rocket.Chat) can take it; the custom
  webhook sends Slack's own ``{"text": ...}`` payload to any URL.
* ``trips-email``: :class:`TripsSmtpEmail`, Prefect's Apprise block base with Apprise's SMTP
  plugin (Prefect has no SMTP notification block).

The server resolves a block class by its type slug among the classes imported in its process.
Ours are imported through the ``prefect.collections`` entry point declared in pyproject.toml,
the plugin hook Prefect loads in every process (server included) before it looks a block class
up, so a plain ``prefect server start`` where this project is installed can use them.

Delivery errors raise :class:`~prefect.blocks.abstract.NotificationError`: the server records a
failed action (one ``Action failed`` line in its log, a ``prefect.automation.action.failed``
event carrying the error); the ingestion flow never waits on a destination.
"""

from __future__ import annotations

import asyncio
from typing import Literal

import httpx
from prefect.blocks.abstract import NotificationError
from prefect.blocks.notifications import (
    AbstractAppriseNotificationBlock,
    CustomWebhookNotificationBlock,
)
from pydantic import Field, SecretStr

#: Names of the saved block documents that ``trips notify apply`` manages.
WEBHOOK_BLOCK = "trips-webhook"
SLACK_BLOCK = "trips-slack"
EMAIL_BLOCK = "trips-email"

# The webhook URL is a credential: kept in the block's secrets (hidden in the UI and API reads),
# put back into the request by the block's own {{placeholder}} substitution.
_URL_SECRET = "webhook_url"


class TripsCustomWebhook(CustomWebhookNotificationBlock):
    """Prefect's custom webhook block, failing the way the server's notification action expects.

    The request (URL, JSON template, secrets, timeout) is all the library's. What it lacks: its
    ``notify`` lets httpx's exception escape instead of raising ``NotificationError``, the one
    error the server's send-notification action handles (Prefect's Apprise blocks raise it).
    Anything else goes back to the server's message queue: the action is retried four times at
    once (five tracebacks in the server log, none naming the destination), then moved to
    ``$PREFECT_HOME/dlq``, and no ``prefect.automation.action.failed`` event is recorded. Here a
    delivery error becomes one ``NotificationError`` naming the destination (its URL's path
    redacted: it is the secret). Drop this class once the library's block raises it itself.
    """

    _block_type_name = "Trips Custom Webhook"
    _block_type_slug = "trips-custom-webhook"
    _description = "Prefect's Custom Webhook, raising NotificationError when delivery fails."

    async def notify(self, body: str, subject: str | None = None) -> None:
        """Deliver; a failure a retry may get past (:func:`_transient`) is retried after each
        of :data:`RETRY_DELAYS_S`, any other (a wrong URL or token) fails at once."""
        for attempt, delay in enumerate((*RETRY_DELAYS_S, None), start=1):
            try:
                await self.anotify(body, subject)
                return
            except httpx.HTTPError as exc:
                if delay is not None and _transient(exc):
                    self.logger.warning("%s delivery to %s failed (attempt %d), retrying: %s",
                                        self.name, _redact(exc), attempt, _reason(exc))
                    await asyncio.sleep(delay)
                    continue
                log = (f"{self.name} delivery to {_redact(exc)} failed"
                       f"{f' after {attempt} attempts' if attempt > 1 else ''}: {_reason(exc)}")
                self.logger.error(log)
                raise NotificationError(log=log) from exc


#: Seconds to wait before each retry of a webhook delivery that failed transiently.
RETRY_DELAYS_S = (1.0, 3.0)


def _transient(exc: httpx.HTTPError) -> bool:
    """A failure a retry may get past: no connection, a timeout, 429 or a server error (not a
    4xx: a wrong URL or token fails the same way every time)."""
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        return code == 429 or code >= 500
    return isinstance(exc, httpx.TransportError)


def _redact(exc: httpx.HTTPError) -> str:
    """Scheme, host and port of the request's URL (a webhook URL's path is its secret)."""
    try:
        url = exc.request.url
    except RuntimeError:  # no request attached
        return "?"
    return f"{url.scheme}://{url.host}{f':{url.port}' if url.port else ''}/..."


def _reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.HTTPStatusError):  # its message quotes the whole URL
        return f"HTTP {exc.response.status_code} {exc.response.reason_phrase}"
    return f"{type(exc).__name__}: {exc}"


def generic_webhook(url: str) -> TripsCustomWebhook:
    """POST ``{"subject", "body", "text"}`` as JSON to ``url``."""
    return TripsCustomWebhook(
        name=WEBHOOK_BLOCK,
        url="{{" + _URL_SECRET + "}}",
        json_data={"subject": "{{subject}}", "body": "{{body}}", "text": "{{subject}}\n{{body}}"},
        secrets={_URL_SECRET: url},
    )


def slack_webhook(url: str) -> TripsCustomWebhook:
    """POST a Slack incoming-webhook message, ``{"text": "*subject*\\nbody"}`` (mrkdwn)."""
    return TripsCustomWebhook(
        name=SLACK_BLOCK,
        url="{{" + _URL_SECRET + "}}",
        json_data={"text": "*{{subject}}*\n{{body}}"},
        secrets={_URL_SECRET: url},
    )


class TripsSmtpEmail(AbstractAppriseNotificationBlock):
    """Send a plain-text email over SMTP (optionally STARTTLS or SSL, and a login).

    Our own class because Prefect 3.9 has no SMTP notification block: its only email block,
    ``SendgridEmail``, posts to SendGrid's HTTP API, and the ``prefect-email`` package has an
    SMTP credentials block and a task but no notification block an automation can call. The
    sending is still the library's: this is Prefect's Apprise base class (the one its
    ``SendgridEmail`` uses) given Apprise's SMTP plugin (``mailto://``), so delivery, STARTTLS,
    login and error reporting (``NotificationError`` with Apprise's log, which the server turns
    into a failed action) are theirs; the class only maps these fields to that plugin.
    """

    _block_type_name = "Trips SMTP Email"
    _block_type_slug = "trips-smtp-email"
    _description = "Send ingestion notifications by email over SMTP (Apprise's mailto plugin)."

    host: str = Field(description="SMTP server host.")
    port: int = Field(default=25, description="SMTP server port.")
    from_addr: str = Field(default="trips-warehouse@localhost", description="Sender address.")
    to_addrs: list[str] = Field(description="Recipient addresses.")
    security: Literal["insecure", "starttls", "ssl"] = Field(
        default="insecure", description="Plain SMTP, STARTTLS upgrade, or SMTP over SSL."
    )
    username: str | None = Field(default=None, description="Login user (optional).")
    password: SecretStr | None = Field(default=None, description="Login password (optional).")

    def block_initialization(self) -> None:
        from apprise.plugins.email import NotifyEmail

        url = NotifyEmail(
            host=self.host,
            port=self.port,
            from_addr=self.from_addr,
            targets=self.to_addrs,
            secure_mode=self.security,
            user=self.username,
            password=self.password.get_secret_value() if self.password else None,
            format="text",  # one text/plain part: the bodies are plain text
        ).url()
        self._start_apprise_client(SecretStr(url))


# ---------------------------------------------------------------------------------------------
# Message templates (Jinja, rendered by the Prefect server when an automation fires).
#
# Context: ``event`` (the triggering event) and ``flow_run`` (read from the API). State events'
# resource carries ``prefect.state-name`` and ``prefect.state-message``; the flow's final state
# message is the ingestion summary (counts) or the error. ``{ui}`` is filled in at apply time.
# The server renders these first; the webhook block then substitutes the results for its own
# ``{{subject}}``/``{{body}}`` placeholders (one pass: a rendered body is not re-templated).
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
