"""Notification plumbing against a real Prefect server, driven by a stand-in flow (no Spark/dbt).

The stand-in has the real flow's name, parameters, stage events and summary message, so these
tests pin the automations, templates, blocks and failure isolation in a few seconds each; the
whole-pipeline checks live in test_notify_ingest.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flows.automations import NAME_PREFIX, apply
from tests.integration.prefect_fixtures import (
    about_run,
    closed_port,
    read_events,
    run_name,
    stand_in_checks,
    stand_in_ingest,
)


def test_apply_is_idempotent(applied_automations, notify_settings, http_receiver):
    assert sorted(applied_automations.blocks) == ["trips-email", "trips-slack", "trips-webhook"]
    # a webhook URL is a credential: the saved block holds it as a secret, not in clear
    for name in ("trips-webhook", "trips-slack"):
        document = read_block_document(name, "trips-custom-webhook")
        assert document["data"]["url"] == "{{webhook_url}}"
        assert http_receiver.url not in json.dumps(document)
    again = apply(notify_settings)
    assert again.created == again.updated == again.deleted == []
    assert sorted(again.unchanged) == [
        f"{NAME_PREFIX}{k}"
        for k in ("checks-crashed", "checks-failed", "completed", "crashed", "failed",
                  "progress", "started")
    ]


def read_block_document(name: str, block_type_slug: str) -> dict:
    """A saved block document as the API returns it to a reader (secrets obfuscated)."""
    from prefect import get_client

    async def read() -> dict:
        async with get_client() as client:
            document = await client.read_block_document_by_name(
                name, block_type_slug, include_secrets=False
            )
        return document.model_dump(mode="json")

    return asyncio.run(read())


def test_success_is_pushed_to_every_destination(applied_automations, http_receiver, smtp_receiver):
    state = stand_in_ingest(["/data/in/a.csv"], return_state=True)
    assert state.is_completed()
    name = run_name(state)

    def completed(m):
        return about_run(name)(m) and "Completed" in m.subject

    posts = http_receiver.inbox.wait_for(completed, count=2)
    assert sorted(m.path for m in posts) == ["/generic", "/slack"]
    generic = next(m for m in posts if m.path == "/generic")
    assert "Files: /data/in/a.csv" in generic.body
    assert "rows read 10, rejected 0, loaded 10" in generic.body
    assert "tests 12 passed / 0 failed" in generic.body
    assert f"/runs/flow-run/{state.state_details.flow_run_id}" in generic.body
    slack = next(m for m in posts if m.path == "/slack")
    assert slack.raw["text"].startswith(f"*[trips] ingestion Completed: {name}*")
    assert smtp_receiver.inbox.wait_for(completed)
    started = http_receiver.inbox.wait_for(
        lambda m: about_run(name)(m) and "Running" in m.subject, count=2
    )
    assert len(started) == 2
    progress = http_receiver.inbox.wait_for(
        lambda m: about_run(name)(m) and m.path == "/generic" and "stage" in m.body, count=6,
        timeout=60,
    )
    assert len(progress) == 6, [(m.path, m.subject) for m in http_receiver.inbox.items]
    assert {m.subject.rsplit(": ", 1)[1] for m in progress} == {
        f"{stage} {status}"
        for stage in ("landing", "load", "dbt_build")
        for status in ("started", "completed")
    }
    landing = next(m for m in progress if m.subject.endswith("landing completed"))
    assert "Rows read: 10" in landing.body and "Rows rejected: 0" in landing.body


def test_failure_names_the_error(applied_automations, http_receiver):
    state = stand_in_ingest(["b.csv"], failing_test="not_null_fct_trips_trip_id",
                            return_state=True)
    assert state.is_failed()
    name = run_name(state)
    (msg,) = http_receiver.inbox.wait_for(
        lambda m: about_run(name)(m) and "Failed" in m.subject and m.path == "/generic"
    )
    assert "Error:" in msg.body and "not_null_fct_trips_trip_id" in msg.body


def test_failed_nightly_checks_are_pushed_and_a_passing_run_is_not(
    applied_automations, http_receiver, smtp_receiver
):
    passed = stand_in_checks(return_state=True)
    failed = stand_in_checks(failing_test="unique_by_sort_fct_trips_trip_id", return_state=True)
    assert passed.is_completed() and failed.is_failed()
    name = run_name(failed)
    posts = http_receiver.inbox.wait_for(
        lambda m: about_run(name)(m) and "warehouse checks Failed" in m.subject, count=2
    )
    assert sorted(m.path for m in posts) == ["/generic", "/slack"]
    generic = next(m for m in posts if m.path == "/generic")
    assert "Error:" in generic.body and "unique_by_sort_fct_trips_trip_id" in generic.body
    assert f"/runs/flow-run/{failed.state_details.flow_run_id}" in generic.body
    assert smtp_receiver.inbox.wait_for(
        lambda m: about_run(name)(m) and "warehouse checks Failed" in m.subject
    )
    # the ingestion automations do not fire for the nightly flow, nor the checks ones for a pass
    quiet = run_name(passed)
    assert not http_receiver.inbox.wait_for(about_run(quiet), timeout=3)
    assert not [m for m in http_receiver.inbox.items
                if about_run(name)(m) and "ingestion" in m.subject]


def test_failed_delivery_is_logged_and_does_not_block_the_run(
    prefect_server, notify_settings, http_receiver, applied_automations
):
    """Generic webhook and SMTP on closed ports: the run completes as fast, Slack still gets it,
    and each failure is one failed action naming the error (not retries into a dead letter)."""
    broken = replace(notify_settings, notify_webhook_url=f"http://127.0.0.1:{closed_port()}/x",
                     notify_smtp_port=closed_port(), notify_on_progress=False)
    apply(broken)
    time.sleep(1)
    try:
        t0 = time.monotonic()
        state = stand_in_ingest(["c.csv"], return_state=True)
        elapsed = time.monotonic() - t0
        assert state.is_completed()
        assert elapsed < 10
        name = run_name(state)
        slack = http_receiver.inbox.wait_for(
            lambda m: about_run(name)(m) and "Completed" in m.subject
        )
        assert [m.path for m in slack] == ["/slack"]

        def failures(block: str) -> list[dict]:
            """Failed actions through the block document named ``block``."""
            return [
                e for e in read_events(prefect_server, "prefect.automation.action.failed")
                if any(r.get("prefect.resource.role") == "block"
                       and r.get("prefect.resource.name") == block for r in e["related"])
            ]

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the server records the failures asynchronously
            webhook, email = failures("trips-webhook"), failures("trips-email")
            if webhook and email:
                break
            time.sleep(0.5)
        assert webhook, "no prefect.automation.action.failed event for the closed webhook port"
        assert email, "no prefect.automation.action.failed event for the closed SMTP port"
        assert "ConnectError" in webhook[0]["payload"]["notification_log"]
        assert "error" in email[0]["payload"]["notification_log"].lower()
        server_log = Path(os.environ["PREFECT_HOME"], "server.log").read_text()
        assert "trips-webhook delivery to http://127.0.0.1:" in server_log
        # failed once, not handed back to the message queue (retried, then dead-lettered)
        assert "Failed in consume_loop" not in server_log
        assert not list(Path(os.environ["PREFECT_HOME"], "dlq").glob("*"))
    finally:
        apply(notify_settings)
        time.sleep(1)


def test_ensure_server_reuses_the_running_server(prefect_server, prefect_server_settings,
                                                 monkeypatch):
    from flows.server import ensure_server, running_api_url

    monkeypatch.delenv("PREFECT_API_URL")
    assert running_api_url(prefect_server_settings) == prefect_server
    assert ensure_server(prefect_server_settings) == prefect_server
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)
    assert ensure_server(replace(prefect_server_settings, data_dir=Path("/nonexistent"))) == (
        prefect_server
    )


def test_cli_apply_and_list(applied_automations, notify_settings, http_receiver, smtp_receiver):
    from click.testing import CliRunner

    from trips_cli.main import main

    env = {
        "TRIPS_NOTIFY_WEBHOOK_URL": notify_settings.notify_webhook_url,
        "TRIPS_NOTIFY_SLACK_WEBHOOK_URL": notify_settings.notify_slack_webhook_url,
        "TRIPS_NOTIFY_SMTP_HOST": notify_settings.notify_smtp_host,
        "TRIPS_NOTIFY_SMTP_PORT": str(notify_settings.notify_smtp_port),
        "TRIPS_NOTIFY_SMTP_TO": ",".join(notify_settings.notify_smtp_to),
        "TRIPS_NOTIFY_ON_PROGRESS": "true",
        "TRIPS_PREFECT_UI_URL": notify_settings.prefect_ui_url,
    }
    result = CliRunner().invoke(main, ["notify", "apply"], env=env)
    assert result.exit_code == 0, result.output
    assert "destinations: trips-webhook, trips-slack, trips-email" in result.output
    assert "unchanged: " in result.output and "created" not in result.output
    listed = CliRunner().invoke(main, ["notify", "list"], env=env)
    assert f"{NAME_PREFIX}crashed  enabled  3 destination(s)" in listed.output
    sent = CliRunner().invoke(main, ["notify", "test"], env=env)
    assert sent.exit_code == 0, sent.output
    assert http_receiver.inbox.wait_for(lambda m: m.subject == "[trips] test", count=2)
    assert smtp_receiver.inbox.wait_for(lambda m: m.subject == "[trips] test")


class _Flaky(BaseHTTPRequestHandler):
    """Answers each POST with the next status of ``statuses`` (then 200), recording them."""

    statuses: list[int]
    seen: list[int]

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        self.rfile.read(int(self.headers.get("content-length", 0)))
        status = self.statuses.pop(0) if self.statuses else 200
        self.seen.append(status)
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize(
    ("statuses", "delivered", "posts"),
    [([503], True, [503, 200]), ([502, 429, 500], False, [502, 429, 500]), ([404], False, [404])],
)
def test_webhook_delivery_retries_transient_failures_only(statuses, delivered, posts):
    """A server error or 429 is retried (twice); a 404 is a wrong URL, failed at once."""
    import asyncio

    from prefect.blocks.abstract import NotificationError

    from flows import notifications

    handler = type("Flaky", (_Flaky,), {"statuses": list(statuses), "seen": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    block = notifications.TripsCustomWebhook(
        name="flaky", url=f"http://127.0.0.1:{httpd.server_address[1]}/hook",
        json_data={"text": "{{subject}} {{body}}"},
    )
    saved = notifications.RETRY_DELAYS_S
    notifications.RETRY_DELAYS_S = (0.05, 0.05)
    try:
        if delivered:
            asyncio.run(block.notify("body", "subject"))
        else:
            with pytest.raises(NotificationError):
                asyncio.run(block.notify("body", "subject"))
    finally:
        notifications.RETRY_DELAYS_S = saved
        httpd.shutdown()
        httpd.server_close()
    assert handler.seen == posts
