"""Bad input never becomes wrong data: every failure mode of the README's table, end to end.

Real Spark, real Postgres, a real Prefect server; `trips ingest` runs as users run it (a
process), and each case is checked on what the user sees AND on what the warehouse holds
afterwards: raw.trips, raw.trips_rejected, the ledger (raw.ingestions) and the run row.
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from extract_load import ingest_file, ledger
from extract_load.landing import Lake
from extract_load.sources import SourceFile
from tests.support.csvdata import HEADER, good_rows, write_csv

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
P = "POINT (14.4 50.0)"
ODD_NAME = "odd : ? [x] * sp ace %41 ü.csv"

# trip datetimes at the edges of every representation they pass through: accepted ones must
# arrive in Postgres exactly as written
ACCEPTED_DATETIMES = [
    "1900-01-01 00:00:00",  # first accepted second
    "2100-12-31 23:59:59",  # last accepted second
    "1969-12-31 23:59:59",  # negative epoch offsets
    "1970-01-01 00:00:00",
    "2038-01-19 03:14:08",  # past a 32-bit epoch
    "2018-03-25 02:30:00",  # does not exist in Central Europe (DST gap): UTC has it
]
REJECTED_DATETIMES = [
    "0000-01-01 00:00:00",
    "0001-01-01 00:00:00",  # arrived as 1754-08-30 22:43:41.128655 through INT96 nanoseconds
    "1677-09-21 00:12:43",  # Arrow nanosecond range
    "1899-12-31 23:59:59",
    "2101-01-01 00:00:00",
    "2262-04-11 23:47:17",
    "9999-12-31 23:59:59",
]
OUT_OF_RANGE = "datetime outside the years 1900..2100"


def _gzip_truncated(path: Path) -> Path:
    data = gzip.compress(("\n".join([",".join(HEADER), *[",".join(r) for r in good_rows(500)]])
                          + "\n").encode())
    path.write_bytes(data[: len(data) // 2])
    return path


def _latin1_at_row_901(path: Path) -> Path:
    write_csv(path, good_rows(899, day=5))
    with path.open("ab") as fh:
        fh.write(f"S\xe3o Paulo,{P},{P},2018-05-01 10:00:00,x\n".encode("latin-1"))
    return path


def build_inputs(folder: Path) -> dict[str, dict]:
    """The input folder and, per file, what the ledger must say afterwards."""
    folder.mkdir(parents=True)
    write_csv(folder / "good.csv", good_rows(10))
    write_csv(folder / "same-content-as-good.csv", good_rows(10))
    write_csv(folder / ODD_NAME, good_rows(5, day=2))
    reordered = [(r[4], r[3], r[0], r[2], r[1]) for r in good_rows(4, day=3)]
    write_csv(folder / "reordered.csv", reordered,
              header=("datasource", "datetime", "region", "destination_coord", "origin_coord"))
    write_csv(folder / "dates.csv", [
        ("Prague", P, P, d, "x") for d in ACCEPTED_DATETIMES + REJECTED_DATETIMES])
    (folder / "multiline.csv").write_bytes(
        (",".join(HEADER) + "\n"
         + f'"multi\nline",{P},{P},2018-05-04 10:00:00,x\n'
         + f'"Brno, ""South""",{P},{P},2018-05-04 11:00:00,"cheap\nmobile"\n'
         + f'"Brno, ""South""",{P},{P},2018-05-04 12:00:00,x\n').encode())
    write_csv(folder / "long.csv", [("R" * 10_000, P, P, "2018-05-06 10:00:00", "x"),
                                    ("Prague", P, P, "2018-05-06 10:00:00", "d" * 201)])
    dup = ("Turin", P, P, "2018-05-07 10:00:00", "cheap_mobile")
    write_csv(folder / "duplicates.csv", [dup, dup, dup, *good_rows(2, day=7)])
    _gzip_truncated(folder / "truncated.csv.gz")
    _latin1_at_row_901(folder / "latin1.csv")
    (folder / "empty.csv").write_bytes(b"")
    (folder / "notes.txt").write_text("not a trips file: a folder takes .csv and .csv.gz only")
    n = len(ACCEPTED_DATETIMES)
    return {
        # file: (status, read, rejected, loaded, duplicates, error)
        "good.csv": ("loaded", 10, 0, 10, 0, None),
        "same-content-as-good.csv": None,  # the same content in the same run: counted once
        ODD_NAME: ("loaded", 5, 0, 5, 0, None),
        "reordered.csv": ("loaded", 4, 0, 4, 0, None),
        "dates.csv": ("loaded", n + len(REJECTED_DATETIMES), len(REJECTED_DATETIMES), n, 0,
                      None),
        "multiline.csv": ("loaded", 3, 2, 1, 0, None),
        "long.csv": ("loaded", 2, 2, 0, 0, None),
        "duplicates.csv": ("loaded", 5, 0, 5, 2, None),
        "truncated.csv.gz": ("refused", None, None, None, None, "truncated gzip data after"),
        "latin1.csv": ("refused", None, None, None, None,
                       "not UTF-8: byte 0xE3 at line 901, column 2"),
        "empty.csv": ("refused", None, None, None, None, "file is empty (no header line)"),
    }


def trips_cli(*args: str, env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "trips_cli", *args], env=env, cwd=ROOT,
        capture_output=True, text=True, timeout=timeout, check=False,
    )


@pytest.fixture
def cli_env(settings, prefect_server) -> dict:
    return {
        **os.environ,
        "TRIPS_DATABASE_URL": settings.database_url,
        "TRIPS_DATA_DIR": str(settings.data_dir),
        "TRIPS_SPARK_MASTER": "local[1]",
        "TRIPS_SPARK_DRIVER_MEMORY": "1g",
        "PREFECT_API_URL": prefect_server,
    }


def test_every_bad_file_is_refused_alone_and_the_rest_is_exact(cli_env, tmp_path):
    folder = tmp_path / "in"
    expected = build_inputs(folder)
    done = trips_cli("ingest", str(folder), "--no-dbt", "--no-server", env=cli_env)

    # what the user sees: the summary on stdout, one line per refused file on stderr
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    refused_lines = [line for line in done.stderr.splitlines() if line.startswith("refused ")]
    assert sorted(refused_lines) == sorted(
        f"refused {folder / name}: {what[5]}" if name != "truncated.csv.gz"
        else next(line for line in refused_lines if "truncated.csv.gz" in line)
        for name, what in expected.items() if what and what[0] == "refused"
    )
    assert any("truncated gzip data after" in line for line in refused_lines)
    read = sum(w[1] for w in expected.values() if w and w[0] == "loaded")
    rejected = sum(w[2] for w in expected.values() if w and w[0] == "loaded")
    loaded = sum(w[3] for w in expected.values() if w and w[0] == "loaded")
    assert f"rows read    {read:,}\n" in done.stdout
    assert f"loaded       {loaded:,}  (2 identical to another row of their file, kept)" \
        in done.stdout
    assert "files        11 (7 loaded, 1 skipped: loaded before or a copy, 3 refused)" \
        in done.stdout

    with psycopg.connect(cli_env["TRIPS_DATABASE_URL"]) as conn:
        rows = conn.execute(
            "select file_path, status, rows_read, rows_rejected, rows_loaded, rows_duplicate,"
            " error from raw.ingestions"
        ).fetchall()
        ledger_rows = {Path(r[0]).name: r[1:] for r in rows}
        for name, what in expected.items():
            if what is None:
                assert name not in ledger_rows
                continue
            status, n_read, n_rejected, n_loaded, n_dup, error = what
            got = ledger_rows[name]
            assert got[:5] == (status, n_read, n_rejected, n_loaded, n_dup), name
            assert (got[5] is None) if error is None else (error in got[5]), (name, got[5])
        assert "notes.txt" not in ledger_rows
        assert len(ledger_rows) == len(expected) - 1

        # raw holds exactly the accepted rows, as written
        assert conn.execute("select count(*) from raw.trips").fetchone()[0] == loaded
        stored = [r[0] for r in conn.execute(
            "select to_char(trip_datetime, 'YYYY-MM-DD HH24:MI:SS.US') from raw.trips t"
            " join raw.load_batches b using (batch_id) join raw.ingestions i using (file_hash)"
            " where i.file_path like '%%dates.csv' order by 1"
        )]
        assert stored == sorted(f"{d}.000000" for d in ACCEPTED_DATETIMES)
        regions = {r[0] for r in conn.execute("select distinct region from raw.trips")}
        assert regions == {"Prague", 'Brno, "South"', "Turin"}  # no stray quote or line break
        assert conn.execute(
            "select count(*) from raw.trips where region = 'Turin'").fetchone()[0] == 3
        # the quarantine holds exactly the rejected rows, each with its reason
        reasons = sorted(conn.execute(
            "select rejection_reason, coalesce(datetime, '') from raw.trips_rejected"
        ).fetchall())
        assert reasons == sorted(
            [(OUT_OF_RANGE, d) for d in REJECTED_DATETIMES]
            + [("region contains a line break, control character or U+FFFD",
                "2018-05-04 10:00:00"),
               ("datasource contains a line break, control character or U+FFFD",
                "2018-05-04 11:00:00"),
               ("region longer than 200 characters", "2018-05-06 10:00:00"),
               ("datasource longer than 200 characters", "2018-05-06 10:00:00")]
        )
        assert conn.execute(
            "select region from raw.trips_rejected where datetime = '2018-05-04 10:00:00'"
        ).fetchone()[0] == "multi\nline"  # the field as written, whole
        assert conn.execute(
            "select count(*) from raw.trips_rejected where raw_record like '%\ufffd%'"
        ).fetchone()[0] == 0

        run = conn.execute(
            "select status, files_total, files_loaded, files_skipped, files_refused,"
            " rows_read, rows_rejected, rows_loaded, rows_duplicate, error"
            " from raw.ingestion_runs"
        ).fetchall()
    assert len(run) == 1
    assert run[0][:9] == ("failed", 11, 7, 1, 3, read, rejected, loaded, 2)
    assert run[0][9].startswith("3 file(s) refused (everything else was ingested): ")


def test_a_file_that_vanishes_or_cannot_be_read_by_spark_is_refused(spark, settings, tmp_path):
    path = write_csv(tmp_path / "soon-gone.csv", good_rows(3))
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        ledger.ensure_raw_schema(conn)
        source = ingest_file.check(conn, path, raw="raw", run_id="run-1")
        assert isinstance(source, SourceFile), source
        path.unlink()  # gone between the check and Spark
        result = ingest_file.land(
            conn, spark, source, raw=settings.raw_schema, lake=Lake.of(settings),
            run_id="run-1",
        )
        assert isinstance(result, ingest_file.FileOutcome) and result.status == "refused"
        assert result.message == "vanished before Spark could read it"
        row = ledger.get_ingestion(conn, source.sha256)
        assert (row["status"], row["error"]) == ("refused", result.message)
        # gone before it could even be hashed: refused, keyed by its path
        outcome = ingest_file.check(conn, path, raw="raw", run_id="run-1")
        assert outcome.status == "refused"
        assert outcome.message == "vanished before it could be read (no such file)"
        assert outcome.file_hash == ingest_file.unreadable_key(path)
        assert ledger.get_ingestion(conn, outcome.file_hash)["status"] == "refused"
        assert conn.execute("select count(*) from raw.trips").fetchone()[0] == 0


def _wait_for(conn, sql: str, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if conn.execute(sql).fetchone()[0]:
                return
        except psycopg.errors.UndefinedTable:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {sql}")


def test_sigkilled_run_is_marked_crashed_and_sigterm_says_so(cli_env, tmp_path):
    url = cli_env["TRIPS_DATABASE_URL"]
    rows = [r for day in range(1, 11) for r in good_rows(200, day=day)]
    big = write_csv(tmp_path / "in" / "big.csv", rows)
    with psycopg.connect(url, autocommit=True) as conn:
        # SIGKILL during landing: the run row stays 'running' ...
        proc = subprocess.Popen(
            [sys.executable, "-m", "trips_cli", "ingest", str(big), "--no-dbt",
             "--no-server"], env=cli_env, cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        _wait_for(conn, "select count(*) from raw.ingestions where status = 'landing'")
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        (killed,) = conn.execute("select run_id from raw.ingestion_runs").fetchone()
        assert conn.execute("select status from raw.ingestion_runs").fetchone()[0] == "running"

        # ... until the next run takes the lock; SIGTERM during its landing is one clear line
        proc = subprocess.Popen(
            [sys.executable, "-m", "trips_cli", "ingest", str(big), "--no-dbt",
             "--no-server"], env=cli_env, cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        _wait_for(conn, "select count(*) from raw.ingestion_runs where status = 'crashed'")
        _wait_for(conn, "select count(*) from raw.ingestions where status = 'landing'"
                        " and updated_at > (select max(started_at) from raw.ingestion_runs)")
        time.sleep(1)  # inside Spark's job
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode != 0
        assert "KeyError" not in stderr and "Traceback" not in stderr, stderr
        assert "Execution was aborted by a termination signal" in stderr
        runs = dict(conn.execute("select run_id, status from raw.ingestion_runs").fetchall())
        assert runs.pop(killed) == "crashed"
        assert list(runs.values()) == ["interrupted"]
        error = conn.execute(
            "select error from raw.ingestion_runs where status = 'interrupted'").fetchone()[0]
        assert error == ("interrupted by SIGTERM during landing; committed batches are kept"
                         " and a re-run resumes")
        crashed_error = conn.execute(
            "select error from raw.ingestion_runs where status = 'crashed'").fetchone()[0]
        assert crashed_error.startswith("ended without finishing (process killed?)")

    # and a third run ingests the file exactly once
    done = trips_cli("ingest", str(big), "--no-dbt", "--no-server", env=cli_env)
    assert done.returncode == 0, done.stderr
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from raw.trips").fetchone()[0] == 2000
        statuses = sorted(r[0] for r in conn.execute("select status from raw.ingestion_runs"))
    assert statuses == ["completed", "crashed", "interrupted"]


def test_unreachable_database_and_huge_limit_are_one_line(cli_env):
    env = {**cli_env, "TRIPS_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    for args in (["groups"], ["ingest", str(ROOT / "README.md"), "--no-server"]):
        done = trips_cli(*args, env=env, timeout=120)
        assert done.returncode == 1, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("Error: database postgresql://nobody@127.0.0.1:1/none: ")
    done = trips_cli("groups", "--limit", "99999999999999999999", env=cli_env, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "Error: Invalid value for '--limit': 99999999999999999999 is not in the range"
        " 0<=x<=9223372036854775807."]
