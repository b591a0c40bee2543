"""Small hand-made trip CSV files for tests (quoting, CRLF, BOM, gzip, bad rows)."""

from __future__ import annotations

import gzip
from pathlib import Path

from extract_load.input_csv import CSV_COLUMNS as HEADER


def good_rows(n: int, *, region: str = "Prague", datasource: str = "funny_car", day: int = 1):
    """``n`` valid, distinct rows (minute by minute on 2018-05-<day>)."""
    return [
        (
            region,
            f"POINT ({14.4 + i * 1e-4:.7f} {50.05 + i * 1e-4:.7f})",
            f"POINT ({14.45 - i * 1e-4:.7f} {50.02 + i * 1e-4:.7f})",
            f"2018-05-{day:02d} {i // 60 % 24:02d}:{i % 60:02d}:00",
            datasource,
        )
        for i in range(n)
    ]


_P, _T = "POINT (14.4 50.0)", "2018-05-01 10:00:00"
BAD_ROWS = {
    "bad wkt": ("Prague", "POINT (14.4)", _P, _T, "x"),
    "out of range": ("Prague", "POINT (14.4 95.0)", _P, _T, "x"),
    "bad timestamp": ("Prague", _P, _P, "2018-13-01 10:00:00", "x"),
    "missing column": ("Prague", _P, _P, _T),
    "empty region": ("", _P, _P, _T, "x"),
}


def write_csv(
    path: Path,
    rows,
    *,
    header=HEADER,
    crlf: bool = False,
    bom: bool = False,
    quote: bool = False,
    compress: bool = False,
) -> Path:
    def fmt(fields):
        return ",".join(f'"{f}"' if quote else f for f in fields)

    eol = "\r\n" if crlf else "\n"
    text = "".join(fmt(r) + eol for r in ([header] if header else []) + list(rows))
    data = (("\ufeff" if bom else "") + text).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path
