"""The ingestion flow: every step of the pipeline as a Prefect task, one flow run per ingestion.

    trips ingest data/*.csv   ==   ingest_flow(paths=["data/*.csv"])

Stages: landing (Spark) -> load (COPY) -> dbt build. Each stage emits ``trips.ingestion.*``
events with its counts (see flows/events.py); the final state's message is the run summary;
``raw.ingestion_runs`` records the same so the history is queryable. Ingestions are serialised by
a Postgres advisory lock, so two concurrent runs never interleave loads and dbt builds.
"""

from __future__ import annotations

import signal
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.exceptions import TerminationSignal
from prefect.runtime import flow_run
from prefect.states import Completed, Failed

from extract_load import ledger, pipeline
from extract_load.archive import archive_modelled_batches
from extract_load.loader import analyze_raw
from extract_load.sources import expand_paths
from extract_load.spark import spark_session
from flows.events import FLOW_NAME, emit_stage
from trips_warehouse.config import MARTS_SCHEMA, Settings, load_settings
from trips_warehouse.db import resolve_database_url, vacuum_analyze_schema
from trips_warehouse.lock import pipeline_lock


@dataclass
class IngestSummary(pipeline.Totals):
    """The file and row counts of :class:`pipeline.Totals`, plus dbt counts and timings."""

    run_id: str = ""
    models_built: int = 0
    tests_passed: int = 0
    tests_failed: int = 0
    duration_s: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    # which rows the dbt tests read: "new" (since the last successful checks) or "all"
    checks: str = ""
    # the stage running now (named in the error of an interrupted run)
    stage: str = ""

    @property
    def refused(self) -> list[str]:
        return [f"{o.path}: {o.message}" for o in self.outcomes if o.status == "refused"]

    def message(self) -> str:
        return (
            f"{self.files} file(s): {self.files_loaded} loaded, {self.files_skipped} skipped, "
            f"{self.files_refused} refused; rows read {self.rows_read}, rejected "
            f"{self.rows_rejected}, loaded {self.rows_loaded}"
            f"{f' ({self.rows_duplicate} duplicate rows kept)' if self.rows_duplicate else ''}"
            f"; dbt models built "
            f"{self.models_built}, tests {self.tests_passed} passed / {self.tests_failed} failed"
            f"{f' ({self.checks} rows)' if self.checks else ''}; {self.duration_s:.1f}s"
        )

    def counts(self) -> dict:
        data = asdict(self)
        data.pop("outcomes")
        data.pop("stage")
        return data


@task(name="land-file", cache_policy=NONE)
def land_task(conn, spark, source, settings: Settings, run_id: str):
    return pipeline.land(conn, spark, source, settings, run_id)


@task(name="load-file", cache_policy=NONE)
def load_task(conn, landing, settings: Settings, run_id: str):
    return pipeline.load(conn, landing, settings, run_id)


def _dbt_build(settings: Settings, database_url: str):
    """``dbt build`` with var ``checks`` = TRIPS_DBT_CHECKS; returns (result, checks).

    ``new`` (the default): the tests read only the rows since the last passing checks, which
    dbt records itself, and the full-table ``nightly`` tests are left to the nightly build
    (selector ``ingestion_checks``); ``all``: every test on every row. The one owner of the
    scope: dbt_project/macros/checks_scope.sql.
    """
    from flows.dbt_build import dbt_build

    checks = settings.dbt_checks
    selector = "ingestion_checks" if checks == "new" else None
    return dbt_build(settings, database_url, selector=selector, dbt_vars={"checks": checks}), checks


def _run_id() -> str:
    return str(flow_run.get_id() or uuid.uuid4())


@flow(name=FLOW_NAME, log_prints=True)
def ingest_flow(paths: list[str], run_dbt: bool = True):
    """Ingest trip CSV files (files, folders or globs) end to end."""
    logger = get_run_logger()
    settings = load_settings()
    started = time.monotonic()
    run_id = _run_id()
    summary = IngestSummary(run_id=run_id)
    database_url = resolve_database_url(settings)
    raw = settings.raw_schema

    with psycopg.connect(database_url, autocommit=True) as conn:
        ledger.ensure_raw_schema(conn, raw)
        logger.info("waiting for the pipeline lock (one ingestion at a time)")
        with pipeline_lock(conn):
            for crashed in ledger.mark_crashed_runs(conn, run_id, raw):
                logger.warning("run %s ended without finishing: marked crashed", crashed)
            ledger.start_run(conn, run_id, raw=raw, flow_run_id=run_id, paths=" ".join(paths))
            try:
                _run_stages(conn, settings, database_url, paths, summary, run_dbt, started)
            except BaseException as exc:
                summary.duration_s = time.monotonic() - started
                status, error = _failure(exc, summary.stage)
                ledger.finish_run(conn, run_id, status, raw=raw, error=error,
                                  **_ledger_counts(summary))
                raise
            summary.duration_s = time.monotonic() - started
            if summary.refused:
                # every other file was ingested: the run fails with the reasons, no traceback
                error = (f"{len(summary.refused)} file(s) refused (everything else was "
                         "ingested): " + "; ".join(summary.refused))
                ledger.finish_run(conn, run_id, "failed", raw=raw, error=error,
                                  **_ledger_counts(summary))
                return Failed(message=error, data=summary)
            ledger.finish_run(conn, run_id, "completed", raw=raw, **_ledger_counts(summary))
    logger.info(summary.message())
    return Completed(message=summary.message(), data=summary)


def _failure(exc: BaseException, stage: str) -> tuple[str, str]:
    """The run's status and one-line error for an exception that ended it."""
    if isinstance(exc, TerminationSignal | KeyboardInterrupt):
        number = getattr(exc, "signal", signal.SIGINT)
        return "interrupted", (
            f"interrupted by {signal.Signals(number).name} during {stage or 'start-up'};"
            " committed batches are kept and a re-run resumes"
        )
    return "failed", f"{type(exc).__name__}: {exc}"  # whole: a dbt failure lists its tests


def _ledger_counts(summary: IngestSummary) -> dict:
    """The summary's counts as ``raw.ingestion_runs`` columns."""
    counts = summary.counts()
    counts["files_total"] = counts.pop("files")
    for key in ("run_id", "stage_seconds", "checks"):
        counts.pop(key)
    return counts


@contextmanager
def _stage(summary: IngestSummary, name: str, **started_payload):
    """Time a stage and emit its started / completed (with the counts put in the yielded dict)
    or failed (with the error) event."""
    t0 = time.monotonic()
    summary.stage = name
    emit_stage(name, "started", **started_payload)
    counts: dict = {}
    try:
        yield counts
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        emit_stage(name, "failed", error=error, duration_s=time.monotonic() - t0)
        raise
    summary.stage_seconds[name] = time.monotonic() - t0
    emit_stage(name, "completed", duration_s=summary.stage_seconds[name], **counts)


def _run_stages(conn, settings, database_url, paths, summary, run_dbt, started) -> None:
    logger = get_run_logger()
    run_id = summary.run_id
    files = expand_paths(paths)

    # landing (Spark): hash, check and land every file not loaded yet
    # Spark (and its JVM) lives for this stage only, started at the first file to land
    with _stage(summary, "landing", files=len(files)) as counts, ExitStack() as spark_scope:
        landed = []
        spark = None
        seen: dict[str, str] = {}
        for path in files:
            source, outcome = pipeline.prepare(conn, path, settings, run_id, seen)
            if outcome is not None:
                logger.warning("%s %s: %s", outcome.status, path, outcome.message)
                summary.add(outcome)
                continue
            if spark is None:
                spark = spark_scope.enter_context(
                    spark_session(
                        settings.spark_master,
                        driver_memory=settings.spark_driver_memory,
                        java_wrapper_dir=settings.data_dir / "java",
                    )
                )
            result = land_task(conn, spark, source, settings, run_id)
            if isinstance(result, pipeline.FileOutcome):
                logger.warning("%s %s: %s", result.status, path, result.message)
                summary.add(result)
                continue
            landed.append(result)
        counts.update(
            files=len(landed),
            rows_read=sum(x.rows_read for x in landed),
            rows_rejected=sum(x.rows_rejected for x in landed),
        )

    # load (COPY)
    with _stage(summary, "load", files=len(landed)) as counts:
        for landing in landed:
            summary.add(load_task(conn, landing, settings, run_id))
        if summary.rows_loaded:
            # the first checks of the new rows plan on these statistics: without them a
            # freshly COPYed raw.trips is estimated at a few hundred distinct trip ids, and
            # the unique test's hash aggregate spilled for >10 min at 10M rows
            analyze_raw(conn, settings.raw_schema)
        counts.update(
            files=summary.files_loaded,
            rows_loaded=summary.rows_loaded,
            rows_rejected=summary.rows_rejected,
        )

    # dbt build (fails the flow on any model or test failure)
    if run_dbt:
        with _stage(summary, "dbt_build") as counts:
            result, summary.checks = _dbt_build(settings, database_url)
            # statistics + visibility map for the marts' index-only scans (see db.py)
            vacuum_analyze_schema(database_url, MARTS_SCHEMA)
            summary.models_built = result.models_built
            summary.tests_passed = result.tests_passed
            summary.tests_failed = result.tests_failed
            counts.update(
                models_built=result.models_built,
                tests_passed=result.tests_passed,
                tests_failed=result.tests_failed,
                checks=summary.checks,
            )
        if settings.raw_retention == "archive":
            # the marts have the new batches and their tests passed: raw.trips lets them go
            with _stage(summary, "archive") as counts:
                archived = archive_modelled_batches(
                    conn, raw=settings.raw_schema, marts=MARTS_SCHEMA
                )
                counts.update(batches_archived=archived.batches, rows_archived=archived.rows)
    summary.duration_s = time.monotonic() - started


if __name__ == "__main__":  # pragma: no cover
    import sys

    ingest_flow([str(Path(p)) for p in sys.argv[1:]])
