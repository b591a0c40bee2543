"""Notification automations as code, applied idempotently by ``trips notify apply``.

One automation per kind of news, each with one ``send-notification`` action per configured
destination (generic webhook, Slack incoming webhook, SMTP email; see :mod:`flows.notifications`):

===========  =====================================================  ==========================
kind         trigger (flow runs of the ``trips-ingest`` flow)       enabled
===========  =====================================================  ==========================
started      ``prefect.flow-run.Running``                            always
completed    ``prefect.flow-run.Completed``                          always
failed       ``prefect.flow-run.Failed``                             always
crashed      ``prefect.flow-run.Crashed``                            always
progress     ``trips.ingestion.*`` stage events (flows/events.py)    TRIPS_NOTIFY_ON_PROGRESS
===========  =====================================================  ==========================

and for the nightly warehouse build (flow ``trips-dbt-build``, flows/dbt_build.py), whose full
checks catch what the ingestions' checks of new rows cannot: ``checks-failed`` and
``checks-crashed`` (its ``Failed`` / ``Crashed`` states), always.

Applying saves the destination blocks under fixed names, then creates, updates or deletes the
automations whose names start with :data:`NAME_PREFIX` so that the server matches this file;
running it twice changes nothing. With no destination configured, the automations are removed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from prefect.blocks.abstract import NotificationBlock
from prefect.client.orchestration import get_client
from prefect.events.actions import SendNotification
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

from flows.events import CHECKS_FLOW_NAME, FLOW_NAME
from flows.notifications import (
    EMAIL_BLOCK,
    SLACK_BLOCK,
    WEBHOOK_BLOCK,
    TripsSmtpEmail,
    generic_webhook,
    render_templates,
    slack_webhook,
)
from flows.server import ui_url_for
from trips_warehouse.config import Settings

NAME_PREFIX = "trips-ingest: "
MANAGED_BY = "Managed by `trips notify apply` (flows/automations.py); edits are overwritten."

STATE_EVENTS = {
    "started": "prefect.flow-run.Running",
    "completed": "prefect.flow-run.Completed",
    "failed": "prefect.flow-run.Failed",
    "crashed": "prefect.flow-run.Crashed",
}
# the nightly build's kinds: the state event of a CHECKS_FLOW_NAME run
CHECKS_EVENTS = {
    "checks-failed": STATE_EVENTS["failed"],
    "checks-crashed": STATE_EVENTS["crashed"],
}


def destination_blocks(settings: Settings) -> dict[str, NotificationBlock]:
    """The blocks to save, by block document name, from the ``TRIPS_NOTIFY_*`` settings."""
    blocks: dict[str, NotificationBlock] = {}
    if settings.notify_webhook_url:
        blocks[WEBHOOK_BLOCK] = generic_webhook(settings.notify_webhook_url)
    if settings.notify_slack_webhook_url:
        blocks[SLACK_BLOCK] = slack_webhook(settings.notify_slack_webhook_url)
    if settings.notify_smtp_host and settings.notify_smtp_to:
        blocks[EMAIL_BLOCK] = TripsSmtpEmail(
            host=settings.notify_smtp_host,
            port=settings.notify_smtp_port,
            from_addr=settings.notify_smtp_from,
            to_addrs=list(settings.notify_smtp_to),
        )
    return blocks


def _trigger(kind: str, flow_name: str) -> EventTrigger:
    if kind == "progress":
        return EventTrigger(
            expect={"trips.ingestion.*"},
            match={"prefect.resource.id": "trips.ingestion.*"},
            posture=Posture.Reactive,
            threshold=1,
        )
    if kind in CHECKS_EVENTS:
        expected, flow_name = CHECKS_EVENTS[kind], CHECKS_FLOW_NAME
    else:
        expected = STATE_EVENTS[kind]
    return EventTrigger(
        expect={expected},
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related={"prefect.resource.role": "flow", "prefect.resource.name": flow_name},
        posture=Posture.Reactive,
        threshold=1,
    )


def desired_automations(
    block_ids: list[UUID], ui_url: str, on_progress: bool, flow_name: str = FLOW_NAME
) -> list[AutomationCore]:
    """The automations this repository wants on the server (empty without destinations)."""
    if not block_ids:
        return []
    templates = render_templates(ui_url)
    kinds = [*STATE_EVENTS, *(["progress"] if on_progress else []), *CHECKS_EVENTS]
    automations = []
    for kind in kinds:
        subject, body = templates[kind]
        automations.append(
            AutomationCore(
                name=f"{NAME_PREFIX}{kind}",
                description=MANAGED_BY,
                enabled=True,
                trigger=_trigger(kind, flow_name),
                actions=[
                    SendNotification(block_document_id=block_id, subject=subject, body=body)
                    for block_id in block_ids
                ],
            )
        )
    return automations


@dataclass
class ApplyReport:
    blocks: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"destinations: {', '.join(self.blocks) or 'none configured'}"]
        for label in ("created", "updated", "unchanged", "deleted"):
            names = getattr(self, label)
            if names:
                out.append(f"{label}: {', '.join(names)}")
        return out


def _comparable(automation: AutomationCore) -> dict[str, Any]:
    return AutomationCore.model_validate(automation.model_dump()).model_dump(
        mode="json", include={"name", "description", "enabled", "trigger", "actions"}
    )


async def aapply(settings: Settings, ui_url: str | None = None) -> ApplyReport:
    """Save the destination blocks, then make the server's automations match this file."""
    report = ApplyReport()
    async with get_client() as client:
        block_ids = []
        for name, block in destination_blocks(settings).items():
            block_ids.append(await block.asave(name, overwrite=True, client=client))
            report.blocks.append(name)
        ui = ui_url or settings.prefect_ui_url or ui_url_for(client.api_url.__str__())
        desired = {
            a.name: a for a in desired_automations(block_ids, ui, settings.notify_on_progress)
        }
        existing = {
            a.name: a
            for a in await client.read_automations()
            if a.name.startswith(NAME_PREFIX)
        }
        for name, automation in existing.items():
            if name not in desired:
                await client.delete_automation(automation.id)
                report.deleted.append(name)
        for name, automation in desired.items():
            current = existing.get(name)
            if current is None:
                await client.create_automation(automation)
                report.created.append(name)
            elif _comparable(current) != _comparable(automation):
                await client.update_automation(current.id, automation)
                report.updated.append(name)
            else:
                report.unchanged.append(name)
    return report


def apply(settings: Settings, ui_url: str | None = None) -> ApplyReport:
    return asyncio.run(aapply(settings, ui_url))


async def aremove() -> list[str]:
    """Delete every managed automation (the blocks are left in place)."""
    async with get_client() as client:
        removed = []
        for automation in await client.read_automations():
            if automation.name.startswith(NAME_PREFIX):
                await client.delete_automation(automation.id)
                removed.append(automation.name)
    return removed


def remove() -> list[str]:
    return asyncio.run(aremove())


async def alist() -> list[tuple[str, bool, int]]:
    """(name, enabled, number of actions) of the managed automations on the server."""
    async with get_client() as client:
        return [
            (a.name, a.enabled, len(a.actions))
            for a in await client.read_automations()
            if a.name.startswith(NAME_PREFIX)
        ]
