"""Source discovery, hashing and the whole-file checks of the one pass over each file."""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from extract_load.input_csv import CSV_HEADER
from extract_load.sources import (
    SourceError,
    check_header,
    describe,
    expand_paths,
    inspect_source,
)

HEADER = CSV_HEADER + "\n"


def test_expand_paths_files_folders_globs(tmp_path):
    (tmp_path / "a").mkdir()
    f1 = tmp_path / "a" / "one.csv"
    f2 = tmp_path / "a" / "two.csv.gz"
    f3 = tmp_path / "three.csv"
    for f in (f1, f3):
        f.write_text(HEADER)
    f2.write_bytes(gzip.compress(HEADER.encode()))
    (tmp_path / "a" / "notes.md").write_text("x")
    (tmp_path / "a" / "notes.txt").write_text(HEADER)  # the docs name .csv and .csv.gz only
    # dot-names in a folder are files still being written (the inbox rule), as for a glob
    (tmp_path / "a" / ".part.csv").write_text(HEADER)
    (tmp_path / "a" / ".tmp").mkdir()
    (tmp_path / "a" / ".tmp" / "four.csv").write_text(HEADER)
    assert expand_paths([str(tmp_path / "a")]) == [f1, f2]
    assert expand_paths([str(tmp_path / "a" / ".part.csv")]) == [tmp_path / "a" / ".part.csv"]
    assert expand_paths([str(tmp_path / "*.csv"), str(f1), str(f1)]) == [f3, f1]
    with pytest.raises(SourceError, match="no such file"):
        expand_paths([str(tmp_path / "missing*.csv")])


@pytest.mark.parametrize(
    "content",
    [
        HEADER.encode(),
        HEADER.replace("\n", "\r\n").encode(),
        b"\xef\xbb\xbf" + HEADER.encode(),
        b'"region","origin_coord","destination_coord","datetime","datasource"\n',
        HEADER.upper().encode(),
    ],
)
def test_check_header_accepts_variants(tmp_path, content):
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    check_header(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b"\n\n", "file is empty"),
        (b"region,origin,destination,datetime,datasource\n", "wrong header"),
        (b"region,origin_coord,destination_coord,datetime\n", "wrong header"),
        (b"\xff\xfe\x00garbage", "not UTF-8: byte 0xFF at line 1, column 1"),
        (b"region,origin_coord,destination_coord,datetime,datasource,extra\n", "wrong header"),
        (b"region,region,destination_coord,datetime,datasource\n", "wrong header"),
    ],
)
def test_check_header_refuses(tmp_path, content, message):
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    with pytest.raises(SourceError, match=message):
        check_header(path)


def test_describe_hash_is_content_based(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(HEADER)
    b.write_text(HEADER)
    assert describe(a).sha256 == describe(b).sha256
    assert describe(a).size_bytes == len(HEADER)
    # the content's SHA-256 (not the name's or a constant): one byte more is another file
    assert describe(a).sha256 == hashlib.sha256(HEADER.encode()).hexdigest()
    b.write_text(HEADER + "\n")
    assert describe(b).sha256 != describe(a).sha256


def test_header_in_any_order_gives_the_file_order(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('"Datasource",datetime, REGION ,destination_coord,origin_coord\r\n')
    assert check_header(path) == (
        "datasource", "datetime", "region", "destination_coord", "origin_coord"
    )


def _rows(n: int) -> bytes:
    return b"".join(
        b"Prague,POINT (14.4 50.0),POINT (14.5 50.1),2018-05-01 10:00:00,funny_car\n"
        for _ in range(n)
    )


def test_a_bad_byte_anywhere_refuses_the_file_with_its_line_and_column(tmp_path):
    # the byte sits far past the first chunk Spark or a header check would sample
    body = HEADER.encode() + _rows(899) + b"S\xe3o Paulo,POINT (1 2),POINT (1 2),x,y\n" + _rows(5)
    path = tmp_path / "latin1.csv"
    path.write_bytes(body)
    with pytest.raises(SourceError) as info:
        inspect_source(path)
    assert str(info.value) == "not UTF-8: byte 0xE3 at line 901, column 2"
    assert info.value.sha256 == hashlib.sha256(body).hexdigest()  # the ledger gets its hash
    # the same across a chunk boundary, and in gzip
    gz = tmp_path / "latin1.csv.gz"
    gz.write_bytes(gzip.compress(body))
    with pytest.raises(SourceError, match="byte 0xE3 at line 901, column 2"):
        inspect_source(gz)


def test_a_multibyte_character_split_across_chunks_is_valid(tmp_path, monkeypatch):
    from extract_load import sources

    monkeypatch.setattr(sources, "CHUNK_BYTES", 7)  # every few bytes, mid-character
    path = tmp_path / "t.csv"
    path.write_bytes(HEADER.encode() + "São Paulo,ü,ö,€,😀\n".encode())
    assert inspect_source(path).lines == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (HEADER.encode() + b"Prague,\x00,b,c,d\n", "NUL byte at line 2, column 8"),
        (HEADER.encode() + b"caf\xc3", "ends inside a multi-byte character"),
    ],
)
def test_other_content_refusals(tmp_path, content, message):
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    with pytest.raises(SourceError, match=message):
        inspect_source(path)


def test_truncated_and_corrupt_gzip_are_refused_with_their_hash(tmp_path):
    data = gzip.compress(HEADER.encode() + _rows(2000))
    truncated = tmp_path / "t.csv.gz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match="truncated gzip data after") as info:
        inspect_source(truncated)
    assert info.value.sha256 == hashlib.sha256(data[: len(data) // 2]).hexdigest()
    corrupt = tmp_path / "c.csv.gz"
    corrupt.write_bytes(data[:-8] + b"\x00" * 8)  # wrong CRC and length
    with pytest.raises(SourceError, match="corrupt gzip data"):
        inspect_source(corrupt)


def test_quoted_line_breaks_are_detected(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_bytes(HEADER.encode() + b'"Prague","POINT (1 2)",b,"say ""hi""",d\n')
    assert not inspect_source(plain).multiline
    multi = tmp_path / "multi.csv"
    multi.write_bytes(HEADER.encode() + _rows(3) + b'"multi\nline",a,b,c,d\n')
    source = inspect_source(multi)
    assert source.multiline and source.lines == 6
    bare_cr = tmp_path / "cr.csv"  # Spark's line reader splits on a lone CR as well
    bare_cr.write_bytes(HEADER.encode() + b'"a\rb",a,b,c,d\n')
    assert inspect_source(bare_cr).multiline


def test_vanished_file_is_refused_without_a_hash(tmp_path):
    with pytest.raises(SourceError, match="vanished") as info:
        inspect_source(tmp_path / "gone.csv")
    assert info.value.sha256 is None


PERMISSION_CHECK = """
import os, sys
from pathlib import Path
from extract_load.sources import SourceError, inspect_source
os.setgid(65534); os.setuid(65534)  # after the imports: the interpreter is root's
try:
    inspect_source(Path(sys.argv[1]))
except SourceError as exc:
    print(exc, exc.sha256)
"""


def test_permission_denied_is_refused(tmp_path):
    folder = Path(tempfile.mkdtemp())  # a folder the unprivileged user can enter
    try:
        folder.chmod(0o755)
        path = folder / "secret.csv"
        path.write_text(HEADER)
        path.chmod(0o000)
        if os.geteuid() == 0:  # root reads anything: check as nobody
            out = subprocess.run(
                [sys.executable, "-c", PERMISSION_CHECK, str(path)], capture_output=True,
                text=True, check=True, cwd=Path(__file__).parents[2],
            ).stdout
        else:
            with pytest.raises(SourceError) as info:
                inspect_source(path)
            out = f"{info.value} {info.value.sha256}"
        assert out.strip() == "permission denied (cannot open the file for reading) None"
    finally:
        path.unlink()
        folder.rmdir()
