"""The ingestion flow: land, load, build, record; one flow run per ingestion.

    trips ingest data/*.csv   ==   ingest_flow(paths=["data/*.csv"])

The flow body only sequences small tasks that take and return plain data (paths, settings,
dataclasses) and open their own connections: ``check-file`` and ``land-file`` (Spark) per
file, ``load-file`` (COPY) per landed file, the dbt build (a Prefect task per dbt node for
a full build, none for a build of new rows: flows/dbt_build.py), ``archive-raw``. Each stage emits
``trips.ingestion.*`` events with its counts (flows/events.py);
:func:`flows.summary.summarise` turns what the tasks returned into the run
summary: the final state's message and data, the ``raw.ingestion_runs`` row and the run's
Markdown artifact (key :data:`ARTIFACT_KEY`). Ingestions are serialised by the pipeline lock
(trips_warehouse/lock.py), held by the flow for the whole run.

The work follows the news: a run that leaves no batch unbuilt (every file already loaded)
builds nothing and says so; once a build passed, a build selects what the raw tables reach
(selector :data:`NEWS_SELECTOR`).
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE
from prefect.exceptions import TerminationSignal
from prefect.runtime import flow_run
from prefect.states import Completed, Failed

from extract_load import ingest_file, ledger
from extract_load.archive import ArchiveResult, archive_modelled_batches
from extract_load.ingest_file import FileOutcome
from extract_load.landing import Lake, LandingResult
from extract_load.loader import analyze_raw
from extract_load.sources import SourceFile, expand_paths
from extract_load.spark import spark_session
from flows.events import FLOW_NAME, emit_stage
from flows.summary import BuildCounts, IngestSummary, markdown, summarise
from trips_warehouse.config import MARTS_SCHEMA, Settings, load_settings
from trips_warehouse.db import resolve_database_url, vacuum_analyze_schema
from trips_warehouse.lock import pipeline_lock

# the key of the runs' Markdown artifact (one version per run)
ARTIFACT_KEY = "trips-ingestion"
# what the rows of a run reach (dbt_project/selectors.yml), once a build of the warehouse passed
NEWS_SELECTOR = "ingestion_news"
# where dbt records how far the last passing checks read (dbt_project/macros/checks_scope.sql)
CHECKS_WATERMARK = "dbt_meta.checks_watermark"


def _connection_failed(task, task_run, state) -> bool:
    """Retry a task whose database connection failed or broke (a restart, a network blip);
    not one that failed otherwise, where a retry would only hide the bug. Retrying is exact:
    each step starts from what the ledger says is done."""
    try:
        state.result()
    except psycopg.errors.QueryCanceled:  # a statement timeout is not a connection failure
        return False
    except psycopg.OperationalError:
        return True
    except Exception:
        return False
    return False


# tasks with side effects in the warehouse: never served from a cache, retried after a failed
# database connection only
_TASK = {"cache_policy": NONE, "retries": 2, "retry_delay_seconds": [2, 10],
         "retry_condition_fn": _connection_failed}


@task(name="check-file", **_TASK)
def check_file(path: str, settings: Settings, run_id: str,
               taken: dict[str, str]) -> SourceFile | FileOutcome:
    """Hash and check a file: the source to land, or why there is nothing to do."""
    with _connect(settings) as conn:
        return ingest_file.check(conn, Path(path), raw=settings.raw_schema, run_id=run_id,
                                 taken=taken)


@task(name="land-file", **_TASK)
def land_file(source: SourceFile, settings: Settings, run_id: str) -> LandingResult | FileOutcome:
    """Spark: the CSV to partitioned parquet (bad rows to the quarantine), once per content.

    Uses the run's Spark session (started by the flow before the first landing)."""
    with (
        _connect(settings) as conn,
        _spark(settings) as spark,
    ):
        return ingest_file.land(conn, spark, source, raw=settings.raw_schema,
                                lake=Lake.of(settings), run_id=run_id)


@task(name="load-file", **_TASK)
def load_file(landing: LandingResult, settings: Settings, run_id: str) -> FileOutcome:
    """COPY a landed file into ``raw`` (one transaction per batch) and mark it loaded."""
    with _connect(settings) as conn:
        return ingest_file.load(conn, landing, raw=settings.raw_schema,
                                batch_rows=settings.load_batch_rows, run_id=run_id)


@task(name="archive-raw", **_TASK)
def archive_raw(settings: Settings) -> ArchiveResult:
    """Let ``raw.trips`` drop the batches the marts have (their landed parquet replays them)."""
    with _connect(settings) as conn:
        return archive_modelled_batches(conn, raw=settings.raw_schema, marts=MARTS_SCHEMA)


def _connect(settings: Settings) -> psycopg.Connection:
    """A task's own autocommit connection to the warehouse (each step commits its own work)."""
    return psycopg.connect(resolve_database_url(settings), autocommit=True)


def _spark(settings: Settings):
    """The run's Spark session; a session is started (and stopped on exit) only if none runs."""
    return spark_session(settings.spark_master, driver_memory=settings.spark_driver_memory,
                         java_wrapper_dir=settings.data_dir / "java")


def build_marts(settings: Settings, database_url: str, watermarked: bool = False) -> BuildCounts:
    """``dbt build`` of what the new rows reach, then statistics for the marts' index-only
    scans (see db.py). ``watermarked``: a build passed before (the first builds everything)."""
    result, checks = _dbt_build(settings, database_url, watermarked)
    vacuum_analyze_schema(database_url, MARTS_SCHEMA)
    return BuildCounts(result.models_built, result.tests_passed, result.tests_failed, checks,
                       slowest=tuple(result.slowest))


def _dbt_build(settings: Settings, database_url: str, watermarked: bool):
    """``dbt build`` with var ``checks`` = TRIPS_DBT_CHECKS; returns (result, checks).

    ``new`` (the default): the tests read only the rows since the last passing checks, which
    dbt records itself, and the full-table ``nightly`` tests are left to the nightly build
    (selector ``ingestion_checks``; once a build passed, ``ingestion_news``: only what the raw
    tables reach, without unit tests); ``all``: every test on every row. The one owner of the
    scope: dbt_project/macros/checks_scope.sql.
    """
    from flows.dbt_build import dbt_build

    checks = settings.dbt_checks
    if checks == "new" and watermarked:
        # no Prefect task per node: for a build of a file's rows they cost more than the build
        # (docs/pipeline.md); the artifact names the slowest nodes instead
        return dbt_build(settings, database_url, selector=NEWS_SELECTOR,
                         dbt_vars={"checks": checks}, per_node_tasks=False), checks
    selector = "ingestion_checks" if checks == "new" else None
    return dbt_build(settings, database_url, selector=selector, dbt_vars={"checks": checks}), checks


def _run_id() -> str:
    return str(flow_run.get_id() or uuid.uuid4())


@dataclass
class _Run:
    """What the run's tasks returned so far (the summary of a run that fails is made of it)."""

    id: str
    started: float = field(default_factory=time.monotonic)
    outcomes: list[FileOutcome] = field(default_factory=list)
    build: BuildCounts | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    stage: str = ""  # the stage running now (named in the error of an interrupted run)

    def summary(self) -> IngestSummary:
        return summarise(self.id, self.outcomes, self.build, stage_seconds=self.stage_seconds,
                         duration_s=time.monotonic() - self.started)


@flow(name=FLOW_NAME, log_prints=True)
def ingest_flow(paths: list[str], run_dbt: bool = True):
    """Ingest trip CSV files (files, folders or globs) end to end."""
    settings = load_settings()
    run = _Run(_run_id())
    files = [str(p) for p in expand_paths(paths)]
    with _recorded(settings, run, paths):
        with _stage(run, "landing", files=len(files)) as counts:
            landed = _land(files, settings, run)
            counts.update(files=len(landed), rows_read=sum(x.rows_read for x in landed),
                          rows_rejected=sum(x.rows_rejected for x in landed))
        with _stage(run, "load", files=len(landed)) as counts:
            loaded = [load_file(landing, settings, run.id) for landing in landed]
            run.outcomes += loaded
            if any(o.rows_loaded for o in loaded):
                _analyze_raw(settings)
            counts.update(files=len(loaded), rows_loaded=sum(o.rows_loaded for o in loaded),
                          rows_rejected=sum(o.rows_rejected for o in loaded))
        unbuilt = _batches_unbuilt(settings) if run_dbt else None
        if unbuilt == 0:
            run.build = BuildCounts(skipped="no new rows since the last build")
            get_run_logger().info("dbt build skipped: no new rows since the last build")
        elif run_dbt:
            with _stage(run, "dbt_build") as counts:
                run.build = build_marts(settings, resolve_database_url(settings),
                                        watermarked=unbuilt is not None)
                counts.update(models_built=run.build.models_built, checks=run.build.checks,
                              tests_passed=run.build.tests_passed,
                              tests_failed=run.build.tests_failed)
            if settings.raw_retention == "archive":
                with _stage(run, "archive") as counts:
                    archived = archive_raw(settings)
                    counts.update(batches_archived=archived.batches, rows_archived=archived.rows)
    summary = run.summary()
    if summary.refused:  # every other file was ingested: the run fails with the reasons
        return Failed(message=_refused_error(summary), data=summary)
    get_run_logger().info(summary.message())
    return Completed(message=summary.message(), data=summary)


def _land(files: list[str], settings: Settings, run: _Run) -> list[LandingResult]:
    """Check every file, then land the new ones in one Spark session (started only if any)."""
    logger = get_run_logger()
    taken: dict[str, str] = {}
    sources = []
    for path in files:
        checked = check_file(path, settings, run.id, taken)
        if isinstance(checked, FileOutcome):
            logger.warning("%s %s: %s", checked.status, path, checked.message)
            run.outcomes.append(checked)
        else:
            taken[checked.sha256] = path
            sources.append(checked)
    landed = []
    with _spark(settings) if sources else nullcontext():
        for source in sources:
            result = land_file(source, settings, run.id)
            if isinstance(result, FileOutcome):
                logger.warning("%s %s: %s", result.status, source.path, result.message)
                run.outcomes.append(result)
            else:
                landed.append(result)
    return landed


def _batches_unbuilt(settings: Settings) -> int | None:
    """The raw batches no passing build has seen (this run's, or those of a run whose build
    failed or never came): above the newest checks watermark dbt recorded. None when no build
    passed yet."""
    with _connect(settings) as conn:
        if conn.execute("select to_regclass(%s)", (CHECKS_WATERMARK,)).fetchone()[0] is None:
            return None
        marks, newest = conn.execute(
            f"select count(*), coalesce(max(checked_batch_id), 0) from {CHECKS_WATERMARK}"
        ).fetchone()
        if marks == 0:
            return None
        return conn.execute(
            f"select count(*) from {settings.raw_schema}.load_batches where batch_id > %s",
            (newest,),
        ).fetchone()[0]


def _analyze_raw(settings: Settings) -> None:
    # the first checks of the new rows plan on these statistics: without them a freshly
    # COPYed raw.trips is estimated at a few hundred distinct trip ids (see docs/pipeline.md)
    with _connect(settings) as conn:
        analyze_raw(conn, settings.raw_schema)


@contextmanager
def _recorded(settings: Settings, run: _Run, paths: list[str]) -> Iterator[None]:
    """Hold the pipeline lock and record the run in ``raw.ingestion_runs``: started, then
    completed, failed (a refused file, an error) or interrupted, with its counts."""
    logger = get_run_logger()
    raw = settings.raw_schema
    with _connect(settings) as conn:
        ledger.ensure_raw_schema(conn, raw)
        logger.info("waiting for the pipeline lock (one ingestion at a time)")
        with pipeline_lock(conn):
            for crashed in ledger.mark_crashed_runs(conn, run.id, raw):
                logger.warning("run %s ended without finishing: marked crashed", crashed)
            ledger.start_run(conn, run.id, raw=raw, flow_run_id=run.id, paths=" ".join(paths))
            try:
                yield
            except BaseException as exc:
                status, error = _failure(exc, run.stage)
                ledger.finish_run(conn, run.id, status, raw=raw, error=error,
                                  **run.summary().ledger_counts())
                if status != "interrupted":  # a stopping process does not wait on the API
                    _publish(settings, run.summary(), status, error)
                raise
            summary = run.summary()
            status, error = ("failed", _refused_error(summary)) if summary.refused else (
                "completed", None)
            ledger.finish_run(conn, run.id, status, raw=raw, error=error,
                              **summary.ledger_counts())
            _publish(settings, summary, status, error)


def _publish(settings: Settings, summary: IngestSummary, status: str, error: str | None) -> None:
    """The run's Markdown artifact; one that cannot be saved is logged, the run stands."""
    try:
        create_markdown_artifact(
            markdown=markdown(summary, quarantine_dir=str(settings.quarantine_dir),
                              raw_schema=settings.raw_schema, status=status, error=error),
            key=ARTIFACT_KEY,
            description=summary.message(),
        )
    except Exception:
        get_run_logger().warning("the run's artifact could not be saved", exc_info=True)


def _refused_error(summary: IngestSummary) -> str:
    return (f"{len(summary.refused)} file(s) refused (everything else was ingested): "
            + "; ".join(summary.refused))


def _failure(exc: BaseException, stage: str) -> tuple[str, str]:
    """The run's status and one-line error for an exception that ended it."""
    if isinstance(exc, TerminationSignal | KeyboardInterrupt):
        number = getattr(exc, "signal", signal.SIGINT)
        return "interrupted", (
            f"interrupted by {signal.Signals(number).name} during {stage or 'start-up'};"
            " committed batches are kept and a re-run resumes"
        )
    return "failed", f"{type(exc).__name__}: {exc}"  # whole: a dbt failure lists its tests


@contextmanager
def _stage(run: _Run, name: str, **started_payload) -> Iterator[dict]:
    """Time a stage and emit its started / completed (with the counts put in the yielded dict)
    or failed (with the error) event."""
    t0 = time.monotonic()
    run.stage = name
    emit_stage(name, "started", **started_payload)
    counts: dict = {}
    try:
        yield counts
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        emit_stage(name, "failed", error=error, duration_s=time.monotonic() - t0)
        raise
    run.stage_seconds[name] = time.monotonic() - t0
    emit_stage(name, "completed", duration_s=run.stage_seconds[name], **counts)


if __name__ == "__main__":  # pragma: no cover
    import sys

    ingest_flow([str(Path(p)) for p in sys.argv[1:]])
