"""Source files: path expansion, content hashing and header checks (pure Python, no Spark)."""

from __future__ import annotations

import csv
import glob
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

EXPECTED_HEADER = ("region", "origin_coord", "destination_coord", "datetime", "datasource")
CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".txt.gz")


class SourceError(ValueError):
    """A source file that cannot be ingested at all (refused, with the reason)."""


@dataclass(frozen=True)
class SourceFile:
    path: Path
    size_bytes: int
    sha256: str

    @property
    def short_hash(self) -> str:
        return self.sha256[:16]


def expand_paths(paths: list[str] | tuple[str, ...]) -> list[Path]:
    """Files named by ``paths``: files as given, folders searched recursively, globs expanded.

    Raises SourceError when an argument matches nothing, so a typo never passes silently.
    """
    found: dict[Path, None] = {}
    for arg in paths:
        p = Path(arg)
        if p.is_file():
            found[p.resolve()] = None
        elif p.is_dir():
            matches = sorted(
                f for f in p.rglob("*") if f.is_file() and f.name.lower().endswith(CSV_SUFFIXES)
            )
            if not matches:
                raise SourceError(f"{arg}: folder contains no .csv or .csv.gz files")
            found.update((m.resolve(), None) for m in matches)
        else:
            matches = sorted(Path(m) for m in glob.glob(arg, recursive=True) if Path(m).is_file())
            if not matches:
                raise SourceError(f"{arg}: no such file, folder or matching glob")
            found.update((m.resolve(), None) for m in matches)
    return list(found)


def open_text(path: Path):
    """Open a possibly gzip'd UTF-8 text file, stripping a BOM."""
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115


def file_sha256(path: Path, chunk_size: int = 8 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def describe(path: Path) -> SourceFile:
    return SourceFile(path=path, size_bytes=path.stat().st_size, sha256=file_sha256(path))


def check_header(path: Path) -> None:
    """Raise SourceError unless the first line is the expected header (any case, quoted or not)."""
    try:
        with open_text(path) as fh:
            first = fh.readline()
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise SourceError(f"{path}: cannot read as UTF-8 text ({exc})") from exc
    if not first.strip():
        raise SourceError(f"{path}: file is empty (no header line)")
    header = tuple(h.strip().lower() for h in next(csv.reader([first])))
    if header != EXPECTED_HEADER:
        raise SourceError(
            f"{path}: wrong header {','.join(header)!r}; expected {','.join(EXPECTED_HEADER)!r}"
        )
