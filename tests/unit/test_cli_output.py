"""The pieces of what `trips` writes where, without services: the database error found in a
wrapped exception, the masked URL, when to colour, the stage display on and off a terminal.
(The commands themselves, as processes: tests/integration/test_cli_output.py.)"""

from __future__ import annotations

import io
import logging
import os
import sys

import psycopg

from flows.events import STAGE_RECORD_ATTR
from trips_cli.main import database_error_in
from trips_warehouse.config import color_wanted
from trips_warehouse.db import masked_url


def test_the_pieces(monkeypatch):
    cause = psycopg.OperationalError("connection failed\n  twice")
    try:
        try:
            raise cause
        except psycopg.Error as exc:
            raise RuntimeError("the flow run crashed") from exc
    except RuntimeError as wrapped:
        assert database_error_in(wrapped) is cause
    assert database_error_in(ValueError("x")) is None

    assert masked_url("postgresql://u:pw@h:5/db") == "postgresql://u:***@h:5/db"
    assert masked_url("postgresql://h/db?sslmode=require&password=pw") == (
        "postgresql://h/db?sslmode=require&password=***")
    assert masked_url("host=h password='p w' dbname=db") == "host=h password=*** dbname=db"
    assert masked_url("postgresql://u@h/db") == "postgresql://u@h/db"

    class Tty:
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert color_wanted(Tty())
    with open(os.devnull, "w") as devnull:
        assert not color_wanted(devnull)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not color_wanted(Tty())


def test_the_stage_display_on_a_terminal_and_off_it(monkeypatch):
    from trips_cli.output import stage_display

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    def run(stderr) -> str:
        monkeypatch.setattr(sys, "stderr", stderr)
        with stage_display(lambda run_id: f"http://ui/runs/flow-run/{run_id}") as display:
            for status, payload in (("started", {"files": 1}),
                                    ("completed", {"files": 1, "rows_read": 2000,
                                                   "duration_s": 20.94})):
                display.emit(logging.makeLogRecord({
                    "msg": "x", "flow_run_id": "R1",
                    STAGE_RECORD_ATTR: {"stage": "landing", "status": status, **payload}}))
        return stderr.getvalue()

    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert run(io.StringIO()).splitlines() == [
        "flow run     http://ui/runs/flow-run/R1",
        "landing      started: 1 file",
        "landing      done in 20.9s: 1 file, 2,000 rows read"]
    live = run(Terminal())
    assert "\r\x1b[2Klanding" in live and "\x1b[32mdone\x1b[0m in 20.9s" in live
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[32m" not in run(Terminal())  # the live line stays, without colour
