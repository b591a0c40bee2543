"""Source files: path expansion and the one pass over each file's bytes (pure Python, no Spark).

:func:`inspect_source` reads a file once, in chunks: it hashes the bytes (SHA-256, the file's
identity in the ledger) and, in the same pass, gunzips (a ``.gz`` file), decodes the whole
content as strict UTF-8 and scans it for NUL bytes and for quoted fields that span lines. A
file that cannot be read whole — truncated or corrupt gzip, a bad byte anywhere, unreadable or
vanished — is refused with a one-line reason (:class:`SourceError`) before Spark sees it, so
Spark never reads a file it would decode with replacement characters or fail on half-way.
"""

from __future__ import annotations

import codecs
import csv
import glob
import gzip
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

from extract_load.input_csv import CSV_COLUMNS

# what a folder argument picks up (a file or glob argument is taken whatever its name)
CSV_SUFFIXES = (".csv", ".csv.gz")
CHUNK_BYTES = 8 << 20


class SourceError(ValueError):
    """A source file that cannot be ingested at all; the message is the reason, one line.

    ``sha256``/``size_bytes`` are set when the bytes could be read (a file refused for its
    content), None when not even that (permission denied, vanished).
    """

    def __init__(self, reason: str, *, sha256: str | None = None, size_bytes: int | None = None):
        super().__init__(reason)
        self.sha256 = sha256
        self.size_bytes = size_bytes


@dataclass(frozen=True)
class SourceFile:
    path: Path
    size_bytes: int
    sha256: str
    # the header's column names in file order (a permutation of CSV_COLUMNS)
    columns: tuple[str, ...] = CSV_COLUMNS
    # a quoted field holds a line break: Spark must read RFC 4180 multi-line records
    multiline: bool = False
    lines: int = 0

    @property
    def short_hash(self) -> str:
        return self.sha256[:16]

    @property
    def is_gzip(self) -> bool:
        return self.path.name.lower().endswith(".gz")


def expand_paths(paths: list[str] | tuple[str, ...]) -> list[Path]:
    """Files named by ``paths``: files as given, folders searched recursively for .csv and
    .csv.gz files, globs expanded (glob characters in an existing file's name are literal).
    In a folder, dot-names are left out, as globs leave them out: a file being written under a
    dot-name is renamed when complete (the inbox rule of ``trips serve``, docs/pipeline.md).

    Raises SourceError when an argument matches nothing, so a typo never passes silently.
    """
    found: dict[Path, None] = {}
    for arg in paths:
        p = Path(arg)
        if p.is_file():
            found[p.resolve()] = None
        elif p.is_dir():
            matches = sorted(
                f for f in p.rglob("*")
                if f.is_file() and f.name.lower().endswith(CSV_SUFFIXES)
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
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


def file_sha256(path: Path, chunk_size: int = CHUNK_BYTES) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


class _ContentScan:
    """Checks of the decoded content, fed chunk by chunk: strict UTF-8, no NUL byte, the
    header line, and whether a line break falls inside a quoted field.

    Quote tracking counts ``"`` per line: in RFC 4180 an escaped quote is two quotes, so a
    line ends inside a quoted field exactly when the quotes seen so far are odd in number.
    Chunks without a quote (the usual case) only have their line breaks counted.
    """

    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.lines = 0  # line breaks seen
        self.column = 0  # bytes since the last line break
        self.in_quotes = False
        self.multiline_line: int | None = None
        self.head = b""
        self.first = True

    def feed(self, chunk: bytes) -> None:
        if self.first:
            self.first = False
            if chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[len(codecs.BOM_UTF8):]
        if len(self.head) < 65536 and b"\n" not in self.head:
            self.head += chunk[:65536]
        pending = self.decoder.getstate()[0]
        try:
            self.decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            pos = max(exc.start - len(pending), 0)
            bad = exc.object[exc.start:exc.start + 1]
            line, column = self._position(chunk, pos)
            raise SourceError(
                f"not UTF-8: byte 0x{bad.hex().upper()} at line {line}, column {column}"
            ) from None
        nul = chunk.find(b"\x00")
        if nul >= 0:
            line, column = self._position(chunk, nul)
            raise SourceError(f"NUL byte at line {line}, column {column} (not a text file)")
        if self.multiline_line is None and (self.in_quotes or b'"' in chunk):
            self._scan_quotes(chunk)
        breaks = chunk.count(b"\n")
        self.lines += breaks
        self.column = len(chunk) - chunk.rfind(b"\n") - 1 if breaks else self.column + len(chunk)

    def _position(self, chunk: bytes, pos: int) -> tuple[int, int]:
        """1-based line and byte column of ``chunk[pos]``."""
        before = chunk[:pos]
        last = before.rfind(b"\n")
        column = pos - last if last >= 0 else self.column + pos + 1
        return self.lines + before.count(b"\n") + 1, column

    def _scan_quotes(self, chunk: bytes) -> None:
        # a bare CR ends a line for Spark's line reader too (Hadoop's LineRecordReader)
        lines = chunk.replace(b"\r", b"\n").split(b"\n")
        for i, part in enumerate(lines):
            if part.count(b'"') % 2:
                self.in_quotes = not self.in_quotes
            if i < len(lines) - 1 and self.in_quotes:  # a line break inside quotes
                self.multiline_line = self.lines + 1
                return

    def finish(self) -> None:
        try:
            self.decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise SourceError(
                f"not UTF-8: the file ends inside a multi-byte character (line {self.lines + 1})"
            ) from None

    def columns(self) -> tuple[str, ...]:
        """The header's names in file order, checked to be the five expected ones."""
        first = self.head.split(b"\n", 1)[0].decode("utf-8", "replace")
        if not first.strip():
            raise SourceError("file is empty (no header line)")
        header = tuple(h.strip().lower() for h in next(csv.reader([first.rstrip("\r")])))
        if sorted(header) != sorted(CSV_COLUMNS):
            raise SourceError(
                f"wrong header {','.join(header)!r}; expected the columns "
                f"{','.join(CSV_COLUMNS)!r} (any order)"
            )
        return header


class _HashingReader:
    """A binary file object that hashes every byte read through it."""

    def __init__(self, raw) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.digest.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK_BYTES):
            pass


def inspect_source(path: Path) -> SourceFile:
    """Hash and check one file in a single pass; raise SourceError with the reason if it
    cannot be ingested (the error carries the hash when the bytes could be read)."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise SourceError("vanished before it could be read (no such file)") from None
    except PermissionError:
        raise SourceError("permission denied (cannot open the file for reading)") from None
    except OSError as exc:
        raise SourceError(f"cannot open: {exc.strerror or exc}") from None
    with raw:
        reader = _HashingReader(raw)
        scan = _ContentScan()
        error: SourceError | None = None
        gzipped = path.name.lower().endswith(".gz")
        stream = gzip.GzipFile(fileobj=reader, mode="rb") if gzipped else reader
        try:
            while chunk := stream.read(CHUNK_BYTES):
                scan.feed(chunk)
            scan.finish()
            columns = scan.columns()
        except SourceError as exc:
            error = exc
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            what = "truncated" if isinstance(exc, EOFError) else "corrupt"
            error = SourceError(f"{what} gzip data after {scan.lines} complete lines ({exc})")
        except OSError as exc:  # the file went away or the disk failed while reading
            raise SourceError(f"read failed after {reader.size} bytes: "
                              f"{exc.strerror or exc}") from None
        try:
            reader.drain()  # the hash covers every byte even when decoding stopped early
        except OSError as exc:
            raise SourceError(f"read failed after {reader.size} bytes: "
                              f"{exc.strerror or exc}") from None
    sha256, size = reader.digest.hexdigest(), reader.size
    if error is not None:
        raise SourceError(str(error), sha256=sha256, size_bytes=size)
    return SourceFile(
        path=path, size_bytes=size, sha256=sha256, columns=columns,
        multiline=scan.multiline_line is not None, lines=scan.lines,
    )


def describe(path: Path) -> SourceFile:
    """The file's identity and read plan; raises SourceError if it cannot be ingested."""
    return inspect_source(path)


def check_header(path: Path) -> tuple[str, ...]:
    """The header's column names in file order; SourceError unless they are the five
    expected names (any case and order, quoted or not)."""
    return inspect_source(path).columns
