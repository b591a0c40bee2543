"""``trips watch``: live status of ingestion runs, pushed by the Prefect server over its websocket.

No polling: :func:`watch` subscribes to the event stream (``get_events_subscriber``) with a filter
on the flow-run state events and the ``trips.ingestion.*`` stage events, and prints a line per
event. On connect the server replays the last minute of matching events; those (anything that
occurred before the watch started) are dropped, as are duplicates after a reconnect.

Events reach the server by two paths (state changes are emitted by the server, stage events by
the flow's events client), so they can arrive a few milliseconds out of order; a short hold-back
window (:data:`REORDER_WINDOW_S`) re-sorts them by occurrence time before printing.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from prefect.events.clients import get_events_subscriber
from prefect.events.filters import EventAnyResourceFilter, EventFilter, EventNameFilter
from prefect.events.schemas.events import Event

from flows.events import FLOW_NAME

REORDER_WINDOW_S = 0.25
TERMINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
#: State types worth a line (Pending/Scheduled and heartbeats are noise for a status view).
SHOWN_STATES = TERMINAL_STATES | {"RUNNING", "CANCELLING", "PAUSED"}
_COUNT_ORDER = (
    "files",
    "rows_read",
    "rows_rejected",
    "rows_loaded",
    "models_built",
    "tests_passed",
    "tests_failed",
    "checks",
)


def event_filter(run_id: UUID | None) -> EventFilter:
    filt = EventFilter(event=EventNameFilter(prefix=["prefect.flow-run.", "trips.ingestion."]))
    if run_id is not None:
        filt.any_resource = EventAnyResourceFilter(id=[f"prefect.flow-run.{run_id}"])
    return filt


def flow_run_id_of(event: Event) -> str | None:
    """The flow run an event is about (its resource, or its related ``flow-run``)."""
    if event.resource.id.startswith("prefect.flow-run."):
        return event.resource.id.removeprefix("prefect.flow-run.")
    for related in event.related:
        if related.role == "flow-run":
            return related.id.removeprefix("prefect.flow-run.")
    return None


def is_ingestion_event(event: Event, flow_name: str = FLOW_NAME) -> bool:
    """A stage event, or a shown state change of a run of ``flow_name``."""
    if event.event.startswith("trips.ingestion."):
        return True
    if event.resource.get("prefect.state-type") not in SHOWN_STATES:
        return False  # heartbeats, Pending, Scheduled
    return any(r.role == "flow" and r.name == flow_name for r in event.related)


def format_counts(payload: dict[str, Any]) -> str:
    parts = [f"{key.replace('_', ' ')} {payload[key]}" for key in _COUNT_ORDER if key in payload]
    if "duration_s" in payload:
        parts.append(f"{float(payload['duration_s']):.1f}s")
    if payload.get("error"):
        parts.append(f"error: {payload['error']}")
    return ", ".join(parts)


def format_event(event: Event) -> str:
    """One human line: time, run name, stage/state, counts or state message."""
    at = event.occurred.astimezone().strftime("%H:%M:%S")
    if event.event.startswith("trips.ingestion."):
        payload = event.payload
        run = event.resource.get("prefect.resource.name", "?")
        what = f"{payload.get('stage', '?')} {payload.get('status', '?')}"
        counts = format_counts(payload)
        return f"{at}  {run}  {what}" + (f"  ({counts})" if counts else "")
    run = event.resource.get("prefect.resource.name", "?")
    state = event.resource.get("prefect.state-name", event.event.rsplit(".", 1)[-1])
    message = event.resource.get("prefect.state-message") or ""
    return f"{at}  {run}  {state}" + (f": {message}" if message else "")


def is_terminal(event: Event) -> bool:
    return (
        event.event.startswith("prefect.flow-run.")
        and event.resource.get("prefect.state-type", "") in TERMINAL_STATES
    )


async def watch(
    run_id: UUID | None = None,
    *,
    exit_on_end: bool = False,
    echo: Callable[[str], None] = print,
    flow_name: str = FLOW_NAME,
    ready: Callable[[], None] | None = None,
) -> int:
    """Print ingestion events as they happen; return the number of events printed.

    With ``run_id``, only that run, and return when it reaches a terminal state. Without it, all
    ``trips-ingest`` runs until interrupted, or until the first run seen ends if ``exit_on_end``.
    """
    started_at = datetime.now(UTC)
    queue: asyncio.Queue[Event] = asyncio.Queue()
    seen: set[UUID] = set()

    async with get_events_subscriber(filter=event_filter(run_id)) as subscriber:
        if ready is not None:
            ready()

        async def read() -> None:
            async for event in subscriber:
                if event.id in seen or event.occurred < started_at:
                    continue  # replayed backlog on (re)connect
                seen.add(event.id)
                if is_ingestion_event(event, flow_name):
                    await queue.put(event)

        reader = asyncio.create_task(read())
        printed = 0
        seq = 0
        pending: list[tuple[datetime, int, Event]] = []
        flush_at: float | None = None
        first_run: str | None = str(run_id) if run_id else None
        loop = asyncio.get_running_loop()
        try:
            while True:
                timeout = None if flush_at is None else max(0.0, flush_at - loop.time())
                get = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait(
                    {get, reader}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                if get in done:
                    event = get.result()
                    heapq.heappush(pending, (event.occurred, seq, event))
                    seq += 1
                    if flush_at is None:
                        flush_at = loop.time() + REORDER_WINDOW_S
                    continue
                get.cancel()
                if reader in done:
                    reader.result()  # re-raise a subscriber error
                    return printed
                # Hold-back window elapsed: print what arrived, in occurrence order.
                flush_at = None
                while pending:
                    _, _, event = heapq.heappop(pending)
                    echo(format_event(event))
                    printed += 1
                    run = flow_run_id_of(event)
                    if first_run is None:
                        first_run = run
                    if is_terminal(event) and run == first_run and (run_id or exit_on_end):
                        return printed
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
