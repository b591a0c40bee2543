"""The always-on ingestion service behind ``trips serve``.

One long-running process that

* serves two deployments: ``trips-ingest/inbox`` (the ingestion flow: a run per arrival, and
  startable from the UI or API, e.g. ``prefect deployment run trips-ingest/inbox``, whose
  default is the whole inbox) and ``trips-dbt-build/nightly-checks`` (the full checks, on its
  cron schedule);
* watches the inbox (``TRIPS_INBOX_DIR``) with inotify through watchdog, no polling: a file has
  arrived when it is closed after writing (IN_CLOSE_WRITE) or moved or renamed into the inbox
  (IN_MOVED_TO), under a name that ends in .csv or .csv.gz and does not start with a dot. Files
  arriving within :data:`DEBOUNCE_S` of each other share a run; a file that arrives during a
  run waits for the next one;
* at start, ingests every file of the inbox: what arrived while it was down is new, what was
  loaded before is skipped by the ledger (by content hash);
* keeps its resources warm: one SparkSession for its whole life (the flow's landing reuses an
  active session) and one parse of the dbt project (:class:`flows.dbt_build.ParsedProject`);
* stops on SIGTERM or SIGINT: between runs at once; during a run, the run is abandoned as a
  killed ``trips ingest`` is (Prefect reports it Crashed, the ledger ``interrupted``; committed
  batches are kept and the next start resumes the file exactly).

Why not Prefect's ``flow.serve()`` / ``Runner``: it executes every flow run in a freshly
spawned interpreter (``prefect.flow_engine.run_flow_in_subprocess``, multiprocessing "spawn"),
so every run would start its own JVM and parse dbt again, the fixed cost this service exists to
remove. Here the deployments' runs execute in this process through
``prefect.flow_engine.run_flow``, the same engine call the Runner's child makes, so they are
ordinary deployment runs in the UI (states, logs, task runs, artifacts, automations). Like the
Runner, the service asks the API for its deployments' scheduled runs every
``PREFECT_RUNNER_POLL_FREQUENCY`` seconds (which also keeps the deployments "ready"). Unlike it,
a running run cannot be cancelled from the UI (stop the service: the run is abandoned safely)
and runs do not overlap (ingestions hold the pipeline lock one at a time anyway).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from flows.events import CHECKS_FLOW_NAME, FLOW_NAME
from trips_warehouse.config import Settings

log = logging.getLogger(__name__)

INGEST_DEPLOYMENT = "inbox"
CHECKS_DEPLOYMENT = "nightly-checks"
CHECKS_CRON = "30 2 * * *"
# quiet time after an arrival before a run starts: files copied together share the run
DEBOUNCE_S = 0.5
# a steady stream of arrivals starts a run after this long anyway
MAX_DEBOUNCE_S = 5.0
# a run that could not be started (the Prefect API restarting) is tried again after this long
RETRY_S = 10.0
# the names the inbox takes (extract_load.sources.CSV_SUFFIXES)
CSV_SUFFIXES = (".csv", ".csv.gz")


def arrived_name(path: str | Path, inbox: Path) -> Path | None:
    """``path`` if a file of that name in the inbox is one to ingest, else None: directly in
    the inbox (not in a subfolder), a .csv or .csv.gz, not a dot-name (being written)."""
    path = Path(path)
    if path.parent != inbox or path.name.startswith("."):
        return None
    return path if path.name.lower().endswith(CSV_SUFFIXES) else None


def inbox_files(inbox: Path) -> list[Path]:
    """The complete files in the inbox now, oldest first."""
    found = [p for p in inbox.iterdir() if arrived_name(p, inbox) and p.is_file()]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))


@dataclass
class Work:
    """What the service is asked to do next: a batch of arrived files, or a deployment run
    started from the UI, the API or a schedule."""

    files: list[str] = field(default_factory=list)
    flow_run: Any = None  # prefect FlowRun


class Queue:
    """Arrived files and scheduled runs, waiting for the main thread; filled by the watchdog
    thread and the poller, emptied by :meth:`next`. The stop request comes from a signal
    handler in the main thread: the condition's lock is reentrant, so the handler may take it
    while the main thread holds it."""

    def __init__(self, debounce_s: float = DEBOUNCE_S, max_debounce_s: float = MAX_DEBOUNCE_S):
        self.debounce_s = debounce_s
        self.max_debounce_s = max_debounce_s
        self._cond = threading.Condition(threading.RLock())
        self._files: dict[str, None] = {}
        self._first = self._last = 0.0
        self._runs: dict[UUID, Any] = {}
        self.stopping = False

    def add_files(self, paths: list[str | Path]) -> None:
        with self._cond:
            now = time.monotonic()
            if not self._files:
                self._first = now
            self._last = now
            self._files.update((str(p), None) for p in paths)
            self._cond.notify_all()

    def add_run(self, flow_run: Any) -> None:
        with self._cond:
            if flow_run.id not in self._runs:
                self._runs[flow_run.id] = flow_run
                self._cond.notify_all()

    def queued_runs(self) -> set[UUID]:
        with self._cond:
            return set(self._runs)

    def stop(self) -> None:
        with self._cond:
            self.stopping = True
            self._cond.notify_all()

    def pause(self, seconds: float) -> None:
        """Wait ``seconds``, or less if a stop is requested."""
        deadline = time.monotonic() + seconds
        with self._cond:
            while not self.stopping and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)

    def next(self) -> Work | None:
        """The next work, when there is some (files: once quiet for the debounce); None once
        stopping."""
        with self._cond:
            while not self.stopping:
                if self._runs:
                    run_id = next(iter(self._runs))
                    return Work(flow_run=self._runs.pop(run_id))
                if self._files:
                    now = time.monotonic()
                    due = min(self._last + self.debounce_s, self._first + self.max_debounce_s)
                    if now >= due:
                        files, self._files = list(self._files), {}
                        return Work(files=files)
                    self._cond.wait(due - now)
                else:
                    self._cond.wait()
            return None


def _watch(inbox: Path, queue: Queue):
    """Start the inotify watch of the inbox; returns the running observer."""
    from watchdog.events import (
        EventsLostEvent,
        FileClosedEvent,
        FileMovedEvent,
        FileSystemEventHandler,
    )
    from watchdog.observers.inotify import InotifyObserver

    class Arrivals(FileSystemEventHandler):
        def on_closed(self, event) -> None:  # IN_CLOSE_WRITE
            self._arrived(event.src_path)

        def on_moved(self, event) -> None:  # IN_MOVED_TO (from elsewhere: src_path "")
            if event.dest_path:
                self._arrived(event.dest_path)

        def on_events_lost(self, event) -> None:  # the kernel's queue overflowed: look again
            log.warning("inotify lost events: taking every file of the inbox")
            queue.add_files(inbox_files(inbox))

        def _arrived(self, path) -> None:
            name = arrived_name(path, inbox)
            if name is not None:
                log.info("arrived: %s", name)
                queue.add_files([name])

    # full events: a file moved in from another folder is a move (not a "created", which
    # watchdog also reports for a file just opened for writing)
    observer = InotifyObserver(generate_full_events=True)
    observer.schedule(Arrivals(), str(inbox), recursive=False,
                      event_filter=[FileClosedEvent, FileMovedEvent, EventsLostEvent])
    observer.start()
    return observer


@dataclass
class Deployments:
    ingest: UUID
    checks: UUID


def _register(settings: Settings) -> Deployments:
    """Create or update the two deployments this process serves (no work pool: it runs them)."""
    from flows.dbt_build import dbt_build_flow
    from flows.ingest import ingest_flow

    ingest = ingest_flow.to_deployment(
        name=INGEST_DEPLOYMENT,
        parameters={"paths": [str(settings.inbox)]},
        description="Served by `trips serve`: a run per arrival in the inbox; a run started "
        "here takes the whole inbox (files already loaded are skipped).",
        tags=["trips", "ingest"],
    )
    checks = dbt_build_flow.to_deployment(
        name=CHECKS_DEPLOYMENT,
        cron=CHECKS_CRON,
        description="Served by `trips serve`: every model, every data test on every row.",
        tags=["trips", "checks"],
    )
    ids = []
    for deployment in (ingest, checks):
        # cleared after construction so the API clears them too (Runner.add_flow does the same)
        deployment.work_pool_name = None
        deployment.work_queue_name = None
        ids.append(deployment.apply())
    return Deployments(*ids)


def _poll(deployments: Deployments, queue: Queue, every_s: float,
          stopped: threading.Event) -> None:
    """Queue the deployments' due scheduled runs (UI, API, cron) until ``stopped``."""
    from prefect import get_client

    while not stopped.is_set():
        try:
            with get_client(sync_client=True) as client:
                runs = client.get_scheduled_flow_runs_for_deployments(
                    deployment_ids=[deployments.ingest, deployments.checks],
                    scheduled_before=datetime.now(UTC),
                )
            for flow_run in runs:
                queue.add_run(flow_run)
        except Exception as exc:  # the API restarting: the next poll tries again
            log.warning("polling the Prefect API for scheduled runs failed: %s", exc)
        stopped.wait(every_s)


@dataclass
class Service:
    """The parts of a running service that the main loop uses."""

    settings: Settings
    queue: Queue
    deployments: Deployments
    project: Any  # flows.dbt_build.ParsedProject
    runs: int = 0
    on_run: Callable[[Any, Any], None] | None = None  # (flow run, final state)

    def execute(self, work: Work) -> None:
        """Run one piece of work in this process (in the main thread, where Prefect turns a
        SIGTERM into the run's TerminationSignal)."""
        from prefect import get_client
        from prefect.flow_engine import run_flow
        from prefect.states import Pending

        from flows.dbt_build import building_with, dbt_build_flow
        from flows.ingest import ingest_flow

        with get_client(sync_client=True) as client:
            if work.files:
                flow_run = client.create_flow_run_from_deployment(
                    self.deployments.ingest, parameters={"paths": work.files},
                    state=Pending(), tags=["inbox"],
                )
            else:
                # Pending claims it: a run cancelled or taken meanwhile is not executed
                result = client.set_flow_run_state(work.flow_run.id, Pending())
                if result.status.value != "ACCEPT":
                    log.info("scheduled run %s not taken: %s", work.flow_run.name,
                             result.details)
                    return
                flow_run = client.read_flow_run(work.flow_run.id)
        if flow_run.deployment_id == self.deployments.checks:
            state = run_flow(dbt_build_flow, flow_run=flow_run, return_type="state")
        else:
            with building_with(self.project):
                state = run_flow(ingest_flow, flow_run=flow_run, return_type="state")
        self.runs += 1
        log.info("run %s %s: %s", flow_run.name, state.name, state.message)
        if self.on_run is not None:
            self.on_run(flow_run, state)


@contextmanager
def _stop_signals(queue: Queue, running: Callable[[], bool]) -> Iterator[None]:
    """SIGTERM / SIGINT stop the service. Between runs the main loop stops at once; during a
    run SIGTERM is the flow engine's (it raises TerminationSignal in the run) and SIGINT raises
    KeyboardInterrupt the same way, so the run is abandoned as an interrupted one."""

    def handler(number, frame) -> None:
        queue.stop()
        if number == signal.SIGINT and running():
            raise KeyboardInterrupt

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def serve(settings: Settings, *, ready: Callable[[str], None] | None = None,
          on_run: Callable[[Any, Any], None] | None = None,
          debounce_s: float = DEBOUNCE_S) -> int:
    """Run the service until SIGTERM or SIGINT; returns the number of runs executed.

    ``ready(message)`` is called once the inbox is watched, Spark is up, the dbt project is
    parsed and the deployments are registered (the files already in the inbox are queued).
    """
    from prefect.exceptions import TerminationSignal
    from prefect.settings import get_current_settings

    from extract_load.spark import spark_session
    from flows.dbt_build import ParsedProject
    from trips_warehouse.db import resolve_database_url

    inbox = settings.inbox
    inbox.mkdir(parents=True, exist_ok=True)
    queue = Queue(debounce_s=debounce_s)
    running = threading.Event()
    with _stop_signals(queue, running.is_set):
        observer = _watch(inbox, queue)  # first, so nothing that arrives from now is missed
        stopped = threading.Event()
        poller = None
        try:
            waiting = inbox_files(inbox)
            queue.add_files(waiting)
            with spark_session(settings.spark_master,
                               driver_memory=settings.spark_driver_memory,
                               java_wrapper_dir=settings.data_dir / "java"):
                project = ParsedProject(settings, resolve_database_url(settings))
                project.manifest()
                deployments = _register(settings)
                poll_s = float(get_current_settings().runner.poll_frequency)
                poller = threading.Thread(target=_poll, name="trips-serve-poll", daemon=True,
                                          args=(deployments, queue, poll_s, stopped))
                poller.start()
                service = Service(settings, queue, deployments, project, on_run=on_run)
                if ready is not None:
                    ready(f"watching {inbox} ({len(waiting)} file(s) waiting); deployments "
                          f"{FLOW_NAME}/{INGEST_DEPLOYMENT}, {CHECKS_FLOW_NAME}/"
                          f"{CHECKS_DEPLOYMENT}")
                while (work := queue.next()) is not None:
                    running.set()
                    try:
                        service.execute(work)
                    except (TerminationSignal, KeyboardInterrupt):
                        log.warning("stopping: the run in progress was abandoned (the next "
                                    "start resumes it)")
                        break
                    except Exception:  # no run was made: the API is down, or refused it
                        log.exception("the run could not be started; trying again in %.0f s",
                                      RETRY_S)
                        queue.pause(RETRY_S)
                        if work.files:
                            queue.add_files(work.files)
                    finally:
                        running.clear()
                return service.runs
        finally:
            stopped.set()
            observer.stop()
            observer.join(timeout=10)
            if poller is not None:
                poller.join(timeout=10)
