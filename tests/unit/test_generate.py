"""``trips generate``: determinism, format, realism, malformed-row injection, CLI."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from extract_load.generate import (
    BAD_ROW_KINDS,
    DATASOURCES,
    DEFAULT_SPEC,
    bad_row_count,
    generate_file,
    iter_csv_chunks,
    write_csv,
)
from extract_load.generate.malform import malform
from extract_load.generate.sample import chunk_rng, generate_chunk
from extract_load.generate.write import format_chunk
from extract_load.input_csv import CSV_HEADER, DATETIME_FORMAT
from trips_cli.main import main

NUMBER = r"-?[0-9]{1,3}\.[0-9]+"
WKT = re.compile(rf"POINT \(({NUMBER}) ({NUMBER})\)")
DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
REGIONS = {r.name: r for r in DEFAULT_SPEC.regions}


def generate_bytes(rows: int, seed: int = 0, **options) -> bytes:
    out = io.BytesIO()
    write_csv(out, rows, seed, **options)
    return out.getvalue()


def rows_of(payload: bytes) -> list[list[str]]:
    lines = payload.decode().splitlines()
    assert lines[0] == CSV_HEADER
    return list(csv.reader(lines[1:]))


def problem(row: list[str], start: date, weeks: int) -> str | None:
    """Why ``row`` is not a well-formed trip inside its region's bbox, or None if it is."""
    if len(row) != 5:
        return "columns"
    region, origin, destination, when, source = row
    if region not in REGIONS:
        return "region"
    if source not in DATASOURCES or source not in REGIONS[region].datasource_weights:
        return "datasource"
    for point in (origin, destination):
        match = WKT.fullmatch(point)
        if not match:
            return "wkt"
        lon, lat = float(match[1]), float(match[2])
        if not REGIONS[region].contains(lon, lat):
            return "bbox"
    if not DATETIME.fullmatch(when):
        return "datetime format"
    try:
        moment = datetime.strptime(when, DATETIME_FORMAT)
    except ValueError:
        return "datetime value"
    if not 0 <= (moment.date() - start).days < weeks * 7:
        return "datetime range"
    return None


def test_same_seed_same_bytes_and_different_seed_differs() -> None:
    first = generate_bytes(5_000, seed=7, bad_fraction=0.01)
    assert first == generate_bytes(5_000, seed=7, bad_fraction=0.01)
    assert first != generate_bytes(5_000, seed=8, bad_fraction=0.01)


@pytest.mark.parametrize(
    ("options", "sha256"),
    [
        ({}, "02d6c8327fd969ae9a30aa4f1166d37d5c254372df44154f77f86cda7513b11d"),
        (
            {"bad_fraction": 0.05, "chunk_size": 700},
            "a0d2f5b5961aa8597056608445c561c2327927b474c894aed163eb13374ec366",
        ),
    ],
)
def test_bytes_are_those_recorded(options: dict, sha256: str) -> None:
    """Golden hashes of 2,000 rows at seed 7, recorded before the generator was split into
    modules: a refactor of the sampling, the formatting or the malformed rows keeps the bytes."""
    assert hashlib.sha256(generate_bytes(2_000, seed=7, **options)).hexdigest() == sha256


def test_chunks_stream_the_same_bytes_as_one_pass() -> None:
    """Chunk k depends only on (seed, k): whole chunks are a prefix of a longer run."""
    whole = generate_bytes(2_000, seed=3, chunk_size=1_000)
    assert generate_bytes(4_000, seed=3, chunk_size=1_000).startswith(whole)
    small = generate_bytes(2_500, seed=3, chunk_size=1_000)
    chunks = list(iter_csv_chunks(2_500, seed=3, chunk_size=1_000))
    assert [n for n, _ in chunks] == [0, 1_000, 1_000, 500]
    assert b"".join(payload for _, payload in chunks) == small


def test_header_and_every_row_is_well_formed() -> None:
    rows = rows_of(generate_bytes(20_000, seed=1))
    assert len(rows) == 20_000
    problems = Counter(problem(row, date(2018, 5, 7), 4) for row in rows)
    assert problems == {None: 20_000}


@pytest.mark.parametrize("rows", [0, 1, 999, 1_001])
def test_row_count_is_exact(rows: int) -> None:
    payload = generate_bytes(rows, seed=2, chunk_size=500)
    assert payload.count(b"\n") == rows + 1
    assert payload.endswith(b"\n")


def test_start_date_and_weeks_bound_the_timestamps() -> None:
    rows = rows_of(generate_bytes(5_000, seed=4, start=date(2021, 3, 1), weeks=2))
    assert all(problem(row, date(2021, 3, 1), 2) is None for row in rows)
    days = {row[3][:10] for row in rows}
    assert min(days) == "2021-03-01" and max(days) == "2021-03-14"


def test_shape_is_realistic() -> None:
    """Unequal regions, region-dependent datasources, hot spots, rush hours."""
    table = generate_chunk(chunk_rng(0, 0), 100_000)
    regions = Counter(table["region"].to_pylist())
    assert set(regions) == set(REGIONS)
    assert len(set(regions.values())) == len(regions)  # unequal volumes
    assert regions.most_common(1)[0][0] == "Prague"

    pairs = Counter(zip(table["region"].to_pylist(), table["datasource"].to_pylist(), strict=True))
    cheap_mobile_regions = {r for (r, s) in pairs if s == "cheap_mobile"}
    assert cheap_mobile_regions == {"Prague", "Hamburg", "Vienna"}
    assert set(DATASOURCES) == {s for (_, s) in pairs}

    # hot spots: most origins within ~1 km of a hot spot of their region
    lon = table["origin_lon"].to_numpy()
    lat = table["origin_lat"].to_numpy()
    names = np.array(table["region"].to_pylist())
    near = np.zeros(len(lon), dtype=bool)
    for region in DEFAULT_SPEC.regions:
        mask = names == region.name
        for hot in region.hotspots:
            near[mask] |= (np.abs(lon[mask] - hot.lon) < 0.015) & (
                np.abs(lat[mask] - hot.lat) < 0.01
            )
    assert 0.8 < near.mean() < 0.99

    # weekday rush hour beats the small hours by far
    moments = table["datetime"].to_pylist()
    weekday_hours = Counter(m.hour for m in moments if m.weekday() < 5)
    assert weekday_hours[8] > 10 * weekday_hours[3]
    assert weekday_hours[17] > 10 * weekday_hours[3]


@pytest.mark.parametrize("fraction", [0.0, 0.013, 0.5, 1.0])
def test_bad_rows_fraction_gives_the_exact_count_of_malformed_rows(fraction: float) -> None:
    rows = rows_of(generate_bytes(3_000, seed=5, bad_fraction=fraction, chunk_size=700))
    assert len(rows) == 3_000
    bad = [row for row in rows if problem(row, date(2018, 5, 7), 4) is not None]
    assert len(bad) == bad_row_count(3_000, fraction) == int(3_000 * fraction)


def test_every_bad_row_kind_is_injected() -> None:
    payload = generate_bytes(2_000, seed=6, bad_fraction=0.2)
    reasons = Counter(problem(row, date(2018, 5, 7), 4) for row in rows_of(payload))
    assert reasons[None] == 1_600
    assert {"columns", "region", "wkt", "bbox", "datetime value"} <= set(reasons)


@pytest.mark.parametrize("kind", BAD_ROW_KINDS)
def test_malform_breaks_a_good_row(kind: str) -> None:
    good = [
        "Lisbon",
        "POINT (-9.1370000000001 38.7100000000000)",
        "POINT (-9.1350000000000 38.7740000000000)",
        "2018-05-28 09:03:40",
        "baba_car",
    ]
    assert problem(good, date(2018, 5, 7), 4) is None
    for variant in range(6):
        assert problem(malform(list(good), kind, variant), date(2018, 5, 7), 4) is not None


def test_format_chunk_matches_the_drawn_values() -> None:
    table = generate_chunk(chunk_rng(11, 0), 200)
    rows = list(csv.reader(format_chunk(table).decode().splitlines()))
    for row, drawn in zip(rows, table.to_pylist(), strict=True):
        o = WKT.fullmatch(row[1])
        d = WKT.fullmatch(row[2])
        assert row[0] == drawn["region"] and row[4] == drawn["datasource"]
        assert float(o[1]) == pytest.approx(drawn["origin_lon"], abs=1e-12)
        assert float(o[2]) == pytest.approx(drawn["origin_lat"], abs=1e-12)
        assert float(d[1]) == pytest.approx(drawn["destination_lon"], abs=1e-12)
        assert float(d[2]) == pytest.approx(drawn["destination_lat"], abs=1e-12)
        assert row[3] == drawn["datetime"].strftime(DATETIME_FORMAT)


def test_gzip_output_is_readable_and_deterministic(tmp_path: Path) -> None:
    first = generate_file(tmp_path / "a" / "trips.csv.gz", 3_000, seed=9)
    second = generate_file(tmp_path / "b" / "trips.csv.gz", 3_000, seed=9)
    assert first.rows == 3_000
    raw = (tmp_path / "a" / "trips.csv.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    assert raw == (tmp_path / "b" / "trips.csv.gz").read_bytes() and second == first
    assert gzip.decompress(raw) == generate_bytes(3_000, seed=9)
    assert not list(tmp_path.rglob("*.part"))


def test_invalid_arguments_are_rejected() -> None:
    with pytest.raises(ValueError):
        list(iter_csv_chunks(-1))
    with pytest.raises(ValueError):
        list(iter_csv_chunks(10, bad_fraction=1.5))
    with pytest.raises(ValueError):
        generate_chunk(chunk_rng(0, 0), 10, weeks=0)


def test_cli_writes_plain_and_gzip_by_suffix(tmp_path: Path) -> None:
    runner = CliRunner()
    plain = tmp_path / "trips.csv"
    result = runner.invoke(
        main, ["generate", "--rows", "1500", "--out", str(plain), "--seed", "3", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert plain.read_bytes() == generate_bytes(1_500, seed=3)

    packed = tmp_path / "trips.csv.gz"
    result = runner.invoke(
        main,
        ["generate", "-n", "1500", "-o", str(packed), "--seed", "3", "--bad-rows", "0.1"],
    )
    assert result.exit_code == 0, result.output
    assert "1,500 rows (150 malformed" in result.output
    assert gzip.decompress(packed.read_bytes()) == generate_bytes(1_500, seed=3, bad_fraction=0.1)

    forced = tmp_path / "forced.csv"
    result = runner.invoke(main, ["generate", "-n", "10", "-o", str(forced), "--gzip", "-q"])
    assert result.exit_code == 0, result.output
    assert forced.read_bytes()[:2] == b"\x1f\x8b"


def test_cli_start_date_weeks_and_stdout() -> None:
    result = CliRunner().invoke(
        main,
        ["generate", "-n", "50", "-o", "-", "--start-date", "2019-01-07", "--weeks", "1", "-q"],
    )
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout_bytes)
    assert len(rows) == 50
    assert all(problem(row, date(2019, 1, 7), 1) is None for row in rows)


def test_cli_region_restricts_the_mix_and_refuses_unknown_names() -> None:
    runner = CliRunner()
    result = runner.invoke(
        main, ["generate", "-n", "400", "-o", "-", "--region", "Prague", "--region", "Lisbon", "-q"]
    )
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout_bytes)
    assert all(problem(row, date(2018, 5, 7), 4) is None for row in rows)
    counts = Counter(row[0] for row in rows)
    # both regions, in their relative weights (Prague 0.27 vs Lisbon 0.07)
    assert set(counts) == {"Prague", "Lisbon"} and counts["Prague"] > 2 * counts["Lisbon"]

    bad = runner.invoke(main, ["generate", "-n", "5", "-o", "-", "--region", "Atlantis"])
    assert bad.exit_code == 2
    assert "unknown region(s) Atlantis; known: Prague, Hamburg" in bad.output


def test_only_keeps_a_regions_trips_identical_in_shape() -> None:
    prague = DEFAULT_SPEC.only(["Prague"])
    assert [r.name for r in prague.regions] == ["Prague"]
    assert prague.region("Prague") is DEFAULT_SPEC.region("Prague")
    with pytest.raises(ValueError, match="none given"):
        DEFAULT_SPEC.only([])


def test_cli_rejects_bad_options(tmp_path: Path) -> None:
    runner = CliRunner()
    out = str(tmp_path / "x.csv")
    assert runner.invoke(main, ["generate", "-n", "-1", "-o", out]).exit_code == 2
    assert runner.invoke(main, ["generate", "-n", "5", "-o", out, "--bad-rows", "2"]).exit_code == 2
    assert runner.invoke(main, ["generate", "-o", out]).exit_code == 2


def test_generate_file_writes_into_devices_without_replacing_them(tmp_path):
    """Regression: an atomic rename onto /dev/null once turned it into a regular file."""
    import os
    import stat

    from extract_load.generate import generate_file

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    import threading

    received = bytearray()

    def drain():
        with open(fifo, "rb") as fh:
            received.extend(fh.read())

    reader = threading.Thread(target=drain)
    reader.start()
    generate_file(fifo, 10, seed=1)
    reader.join(timeout=10)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert received.count(b"\n") == 11
