"""``trips watch``'s lines and filters, on events built in memory (the live view against a real
Prefect server is tests/integration/test_watch.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from prefect.events.schemas.events import Event

from flows.watch import format_event, is_ingestion_event, is_terminal


def _event(name: str, **payload) -> Event:
    return Event(
        occurred=datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
        event=name,
        resource={"prefect.resource.id": f"trips.ingestion.{uuid4()}",
                  "prefect.resource.name": "brave-otter"},
        payload=payload,
    )


def test_format_stage_event_lists_counts():
    line = format_event(_event("trips.ingestion.landing.completed", stage="landing",
                               status="completed", files=1, rows_read=7, rows_rejected=2,
                               duration_s=1.234))
    assert line.endswith("brave-otter  landing completed  "
                         "(files 1, rows read 7, rows rejected 2, 1.2s)")


def test_state_events_terminal_and_filtered_by_flow_name():
    run = uuid4()
    event = Event(
        occurred=datetime(2026, 1, 1, tzinfo=UTC), event="prefect.flow-run.Failed",
        resource={"prefect.resource.id": f"prefect.flow-run.{run}",
                  "prefect.resource.name": "brave-otter", "prefect.state-name": "Failed",
                  "prefect.state-type": "FAILED", "prefect.state-message": "dbt test x failed"},
        related=[{"prefect.resource.id": "prefect.flow.1", "prefect.resource.role": "flow",
                  "prefect.resource.name": "trips-ingest"}],
    )
    assert is_terminal(event) and is_ingestion_event(event)
    assert not is_ingestion_event(event, flow_name="other-flow")
    assert format_event(event).endswith("brave-otter  Failed: dbt test x failed")
