"""Session fixtures for the notification tests: a real Prefect server and loopback receivers.

Imported by ``tests/integration/conftest.py``, so every integration test module can ask for them.

* ``prefect_server``: ``prefect server start`` started by :func:`flows.server.start_background`
  (as ``trips server start`` does) on a free loopback port with PREFECT_HOME and SQLite in a tmp
  dir; PREFECT_API_URL is set for this process (and inherited by subprocesses) for the session.
* ``http_receiver``: a loopback HTTP server recording every POST (generic + Slack webhooks).
* ``smtp_receiver``: a loopback SMTP server (aiosmtpd) recording every mail.
* ``notify_settings`` / ``applied_automations``: settings pointing at the receivers, applied.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

__all__ = [
    "Inbox",
    "Received",
    "about_run",
    "applied_automations",
    "closed_port",
    "free_port",
    "http_receiver",
    "notify_settings",
    "prefect_server",
    "prefect_server_settings",
    "smtp_receiver",
    "stand_in_ingest",
    "run_name",
    "read_events",
]

from trips_warehouse.config import Settings, load_settings
from trips_warehouse.processes import free_port


def closed_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    return free_port()


@dataclass
class Received:
    at: float  # time.time() at receipt
    path: str
    subject: str
    body: str
    raw: Any = None


@dataclass
class Inbox:
    """Thread-safe list of received messages with a blocking wait (condition variable)."""

    items: list[Received] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def add(self, item: Received) -> None:
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def matching(self, predicate: Callable[[Received], bool]) -> list[Received]:
        with self.cond:
            return [m for m in self.items if predicate(m)]

    def wait_for(
        self, predicate: Callable[[Received], bool], count: int = 1, timeout: float = 30.0
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [m for m in self.items if predicate(m)]
                remaining = deadline - time.monotonic()
                if len(found) >= count or remaining <= 0:
                    return found
                self.cond.wait(remaining)


@pytest.fixture(scope="session")
def prefect_server_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose data dir holds the session's Prefect server (``$data_dir/prefect``)."""
    return replace(load_settings(), data_dir=tmp_path_factory.mktemp("prefect-data"))


@pytest.fixture(scope="session")
def prefect_server(prefect_server_settings: Settings) -> Iterator[str]:
    from prefect.context import refresh_global_settings_context

    from flows import server

    settings = prefect_server_settings
    saved = {k: os.environ.get(k) for k in ("PREFECT_API_URL", "PREFECT_HOME")}
    os.environ.pop("PREFECT_API_URL", None)
    # No UI in tests: the server skips copying the UI bundle on its first start.
    url = server.start_background(
        settings, port=free_port(), timeout_s=240, extra_env={"PREFECT_UI_ENABLED": "false"}
    )
    os.environ["PREFECT_API_URL"] = url
    os.environ["PREFECT_HOME"] = str(server.server_paths(settings).home)
    refresh_global_settings_context()
    try:
        yield url
    finally:
        server.stop(settings)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        refresh_global_settings_context()


class _Handler(BaseHTTPRequestHandler):
    inbox: Inbox

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        length = int(self.headers.get("content-length", 0))
        data = json.loads(self.rfile.read(length) or b"{}")
        self.send_response(200)
        self.end_headers()
        if "subject" in data:
            subject, body = data["subject"], data.get("body", "")
        else:  # Slack: {"text": "*subject*\nbody"}
            subject, _, body = data.get("text", "").partition("\n")
            subject = subject.strip("*")
        self.inbox.add(Received(time.time(), self.path, subject, body, data))

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class HttpReceiver:
    url: str
    inbox: Inbox


@pytest.fixture(scope="session")
def http_receiver() -> Iterator[HttpReceiver]:
    inbox = Inbox()
    handler = type("Handler", (_Handler,), {"inbox": inbox})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield HttpReceiver(f"http://127.0.0.1:{httpd.server_address[1]}", inbox)
    finally:
        httpd.shutdown()
        httpd.server_close()


@dataclass
class SmtpReceiver:
    host: str
    port: int
    inbox: Inbox


@pytest.fixture(scope="session")
def smtp_receiver() -> Iterator[SmtpReceiver]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
            msg = message_from_bytes(envelope.content)
            body = msg.get_payload(decode=True).decode()
            inbox.add(Received(time.time(), ",".join(envelope.rcpt_tos), msg["Subject"], body, msg))
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpReceiver("127.0.0.1", port, inbox)
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def notify_settings(
    tmp_path_factory: pytest.TempPathFactory,
    http_receiver: HttpReceiver,
    smtp_receiver: SmtpReceiver,
) -> Settings:
    return replace(
        load_settings(),
        data_dir=tmp_path_factory.mktemp("notify-data"),
        notify_webhook_url=f"{http_receiver.url}/generic",
        notify_slack_webhook_url=f"{http_receiver.url}/slack",
        notify_smtp_host=smtp_receiver.host,
        notify_smtp_port=smtp_receiver.port,
        notify_smtp_to=("ops@example.test",),
        notify_on_progress=True,
        prefect_ui_url="http://127.0.0.1:4200",
    )


@pytest.fixture(scope="session")
def applied_automations(prefect_server: str, notify_settings: Settings):
    """The automations applied against the session server, plus a short arming delay."""
    from flows.automations import apply

    report = apply(notify_settings)
    # The triggers service reloads automations on change events; give it a moment.
    time.sleep(2)
    return report


def about_run(run_name: str) -> Callable[[Received], bool]:
    return lambda m: run_name in m.subject or run_name in m.body


# ---------------------------------------------------------------------------------------------
# A stand-in for flows.ingest.ingest_flow with the same name, parameters, events and final state
# message: fast tests of the notification plumbing that need no Spark, Postgres or dbt.
# ---------------------------------------------------------------------------------------------


def _stand_in_flow():
    from prefect import flow
    from prefect.states import Completed

    from flows.events import emit_stage

    @flow(name="trips-ingest")
    def stand_in_ingest(paths: list[str], rejected: int = 0, failing_test: str = "",
                        sleep_s: float = 0.0):
        read = 10 * len(paths)
        emit_stage("landing", "started", files=len(paths))
        time.sleep(sleep_s)
        emit_stage("landing", "completed", files=len(paths), rows_read=read,
                   rows_rejected=rejected, duration_s=0.1)
        emit_stage("load", "started", files=len(paths))
        emit_stage("load", "completed", files=len(paths), rows_loaded=read - rejected,
                   rows_rejected=rejected, duration_s=0.1)
        emit_stage("dbt_build", "started")
        if failing_test:
            emit_stage("dbt_build", "failed", error=f"test {failing_test} failed")
            raise RuntimeError(f"dbt build failed: test {failing_test} failed")
        emit_stage("dbt_build", "completed", models_built=5, tests_passed=12, tests_failed=0,
                    duration_s=0.1)
        return Completed(message=(
            f"{len(paths)} file(s): rows read {read}, rejected {rejected}, loaded "
            f"{read - rejected}; dbt models built 5, tests 12 passed / 0 failed"
        ))

    return stand_in_ingest


stand_in_ingest = _stand_in_flow()


def _stand_in_checks_flow():
    from prefect import flow

    @flow(name="trips-dbt-build")
    def stand_in_checks(failing_test: str = ""):
        """flows.dbt_build.dbt_build_flow (the nightly build) failing as it would."""
        if failing_test:
            raise RuntimeError(f"dbt build: 1 failed; failed: {failing_test}")
        return {"tests_failed": 0}

    return stand_in_checks


stand_in_checks = _stand_in_checks_flow()


def run_name(state) -> str:
    """The flow run name of a final state returned by ``flow(..., return_state=True)``."""
    import asyncio

    from prefect import get_client

    async def read() -> str:
        async with get_client() as client:
            return (await client.read_flow_run(state.state_details.flow_run_id)).name

    return asyncio.run(read())


def read_events(api_url: str, name: str, limit: int = 50) -> list[dict]:
    """Events named ``name`` recorded by the server (newest first)."""
    import httpx

    response = httpx.post(
        f"{api_url}/events/filter",
        json={"filter": {"event": {"name": [name]}, "order": "DESC"}, "limit": limit},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["events"]
