"""What the ``trips`` command writes where: the result on stdout, everything else on stderr.

* stdout carries only the result (with ``--json`` only the JSON document);
* logs go to stderr through one handler: warnings and errors by default (a run's full log is
  in the Prefect UI), ``-v`` adds INFO and tracebacks, ``-vv`` DEBUG;
* the ingestion's stages are shown on stderr as they start and end: a live line on a terminal,
  plain lines otherwise (:class:`StageDisplay`);
* no escape codes unless stderr is a terminal and NO_COLOR is unset (Prefect's and dbt's
  colours included: PREFECT_LOGGING_COLORS, dbt's ``--no-use-colors`` in flows/dbt_build.py).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from trips_warehouse.config import color_wanted

_HANDLER_NAME = "trips-console"


class _Terminal:
    """stderr with at most one live status line at the bottom (on a terminal only): every
    other line is written above it, so logs and the status never garble each other."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.status: str | None = None

    @property
    def live(self) -> bool:
        return _isatty(sys.stderr) and os.environ.get("TERM") != "dumb"

    def _clear(self) -> None:
        if self.status is not None:
            sys.stderr.write("\r\x1b[2K")

    def _draw(self) -> None:
        if self.status is not None:
            width = max(shutil.get_terminal_size().columns - 1, 20)
            sys.stderr.write(self.status[:width])
        sys.stderr.flush()

    def line(self, text: str) -> None:
        with self.lock:
            self._clear()
            sys.stderr.write(text + "\n")
            self._draw()

    def set_status(self, text: str | None) -> None:
        with self.lock:
            self._clear()
            self.status = text if self.live else None
            self._draw()


TERMINAL = _Terminal()


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class ConsoleHandler(logging.Handler):
    """Log records as lines on stderr, above any live status line; tracebacks only when
    asked for (``-v``): without them an error is its one message line.

    Public name on purpose: Prefect's logging setup keeps a root handler it takes for the
    user's, which excludes classes whose name starts with ``_``."""

    def __init__(self, level: int, tracebacks: bool) -> None:
        super().__init__(level)
        self.name = _HANDLER_NAME
        self.tracebacks = tracebacks
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def format(self, record: logging.LogRecord) -> str:
        if self.tracebacks or not (record.exc_info or record.exc_text):
            return super().format(record)
        bare = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        return super().format(bare)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            TERMINAL.line(self.format(record))
        except Exception:
            self.handleError(record)


def setup(verbosity: int) -> None:
    """Logging and colours for this process, once per command (before Prefect is imported)."""
    if not color_wanted(sys.stderr):
        # Prefect's console handlers (ours replaces the root one) and the servers it starts
        os.environ.setdefault("PREFECT_LOGGING_COLORS", "false")
    level = logging.DEBUG if verbosity >= 2 else logging.INFO if verbosity else logging.WARNING
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.name == _HANDLER_NAME]:
        root.removeHandler(handler)
    root.addHandler(ConsoleHandler(level, tracebacks=verbosity > 0))
    # other libraries stay at WARNING unless -vv (an HTTP request per Prefect API call is
    # INFO); Prefect's loggers have their own level and the handler's level decides what
    # reaches stderr, so the Prefect UI still gets the runs' INFO logs
    root.setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)
    for package in _OUR_PACKAGES:
        logging.getLogger(package).setLevel(logging.INFO if verbosity == 1 else logging.NOTSET)


_OUR_PACKAGES = ("trips_cli", "flows", "extract_load", "trips_warehouse")


class StageDisplay(logging.Handler):
    """Shows the ingestion flow's stage records on stderr, and the flow run's UI link first.

    On a terminal, the running stage is a live line with its elapsed time and each finished
    stage a line; otherwise one plain line when a stage starts and one when it ends.
    """

    def __init__(self, run_url: Callable[[str], str] | None = None, stages: bool = True) -> None:
        super().__init__(logging.INFO)
        self.run_url = run_url
        self.stages = stages
        self.shown_run: str | None = None
        self.current: tuple[str, str, float] | None = None  # stage, counts, started
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self.colors = color_wanted(sys.stderr)

    def _paint(self, text: str, color: str) -> str:
        return f"\x1b[{color}m{text}\x1b[0m" if self.colors else text

    def emit(self, record: logging.LogRecord) -> None:
        try:
            run_id = getattr(record, "flow_run_id", None)
            if run_id and self.shown_run is None and self.run_url is not None:
                self.shown_run = str(run_id)
                TERMINAL.line(f"flow run     {self.run_url(self.shown_run)}")
            from flows.events import STAGE_RECORD_ATTR  # the flow imported it already

            event = getattr(record, STAGE_RECORD_ATTR, None)
            if self.stages and isinstance(event, dict):
                self._stage(event)
        except Exception:
            self.handleError(record)

    def _stage(self, event: dict) -> None:
        from flows.events import describe_counts

        stage, status = event.get("stage", "?"), event.get("status", "?")
        counts = describe_counts(event)
        if status == "started":
            with TERMINAL.lock:
                self.current = (stage, counts, time.monotonic())
            if TERMINAL.live:
                self._start_ticker()
            else:
                TERMINAL.line(f"{stage:<12} started{f': {counts}' if counts else ''}")
            return
        with TERMINAL.lock:  # no tick redraws the stage once it ended
            self.current = None
            TERMINAL.set_status(None)
        seconds = float(event.get("duration_s") or 0.0)
        if status == "failed":
            error = str(event.get("error") or "").splitlines()
            why = f": {error[0]}" if error else ""
            TERMINAL.line(f"{stage:<12} {self._paint('failed', '31')} after {seconds:.1f}s{why}")
        else:
            TERMINAL.line(f"{stage:<12} {self._paint('done', '32')} in {seconds:.1f}s"
                          f"{f': {counts}' if counts else ''}")

    def _start_ticker(self) -> None:
        self._tick()
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._run_ticker, daemon=True,
                                            name="trips-stage-ticker")
            self._ticker.start()

    def _tick(self) -> None:
        with TERMINAL.lock:
            if self.current is not None:
                stage, counts, started = self.current
                TERMINAL.set_status(f"{stage:<12} {time.monotonic() - started:5.0f}s"
                                    f"{f'  {counts}' if counts else ''}")

    def _run_ticker(self) -> None:
        while not self._stop.wait(0.5):
            self._tick()

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
        TERMINAL.set_status(None)
        super().close()


@contextmanager
def stdout_kept_for_the_result() -> Iterator[None]:
    """Point file descriptor 1 at stderr for the block, so that only the result reaches
    stdout: what child processes started here write to their stdout (Prefect's ephemeral API
    server, Spark's JVM) and any stray print. They keep stderr as their stdout after the
    block; ``sys.stdout`` is stdout again."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no stdout to keep
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@contextmanager
def stage_display(
    run_url: Callable[[str], str] | None = None, stages: bool = True
) -> Iterator[StageDisplay]:
    """Show the stages of the flow run started in this block (records of Prefect's run
    loggers, which propagate to ``prefect``); ``stages=False``: only its link (``-v``: the
    log lines say the same)."""
    display = StageDisplay(run_url, stages)
    logger = logging.getLogger("prefect")
    logger.addHandler(display)
    try:
        yield display
    finally:
        logger.removeHandler(display)
        display.close()
