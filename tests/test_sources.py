"""Source discovery, hashing and header checks."""

from __future__ import annotations

import gzip

import pytest

from extract_load.sources import SourceError, check_header, describe, expand_paths

HEADER = "region,origin_coord,destination_coord,datetime,datasource\n"


def test_expand_paths_files_folders_globs(tmp_path):
    (tmp_path / "a").mkdir()
    f1 = tmp_path / "a" / "one.csv"
    f2 = tmp_path / "a" / "two.csv.gz"
    f3 = tmp_path / "three.csv"
    for f in (f1, f3):
        f.write_text(HEADER)
    f2.write_bytes(gzip.compress(HEADER.encode()))
    (tmp_path / "a" / "notes.md").write_text("x")
    assert expand_paths([str(tmp_path / "a")]) == [f1, f2]
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
        (b"\xff\xfe\x00garbage", "cannot read as UTF-8"),
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
