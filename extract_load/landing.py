"""Landing: one source CSV -> partitioned parquet (accepted) + parquet quarantine (rejected).

Layout under ``$TRIPS_LAKE_DIR`` (default ``$TRIPS_DATA_DIR``)::

    landing/trips/source_hash=<sha256>/trip_date=YYYY-MM-DD/part-*.parquet
    quarantine/trips/source_hash=<sha256>/part-*.parquet

Partitioning by source file keeps a re-land of one file from touching any other; by trip date
inside it keeps files a reader can prune by period. The CSV is parsed once: Spark writes all
rows partitioned by ``status`` into a scratch folder that is then moved into place, so a landing
killed half-way leaves nothing that looks landed.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from extract_load.sources import SourceFile
from extract_load.transforms import (
    CORRUPT_COLUMN,
    LANDED_COLUMNS,
    SOURCE_ORDER_COLUMNS,
    landing_frame,
    raw_schema,
    with_source_order,
)


@dataclass(frozen=True)
class LandingResult:
    source: SourceFile
    landed_dir: Path
    quarantine_dir: Path
    rows_accepted: int
    rows_rejected: int
    # accepted rows identical to an earlier accepted row of the same file (all kept: two
    # real trips can share region, points, second and datasource)
    rows_duplicate: int = 0

    @property
    def rows_read(self) -> int:
        return self.rows_accepted + self.rows_rejected


def parquet_files(folder: Path) -> list[Path]:
    """Data files under ``folder`` in a stable order (the order batches are loaded in)."""
    if not folder.exists():
        return []
    return sorted(p for p in folder.rglob("*.parquet") if not p.name.startswith((".", "_")))


def count_rows(folder: Path) -> int:
    """Row count from parquet footers only (no data read)."""
    return sum(pq.ParquetFile(p).metadata.num_rows for p in parquet_files(folder))


def landed_paths(
    landing_root: Path, quarantine_root: Path, source: SourceFile
) -> tuple[Path, Path]:
    name = f"source_hash={source.sha256}"
    return landing_root / name, quarantine_root / name


@dataclass(frozen=True)
class Lake:
    """Where landings go (``$TRIPS_LAKE_DIR``) and how big their parquet files get."""

    landing_dir: Path
    quarantine_dir: Path
    max_records_per_file: int = 1_000_000

    @classmethod
    def of(cls, settings) -> Lake:
        """The lake of the project's settings (:class:`trips_warehouse.config.Settings`)."""
        return cls(settings.landing_dir, settings.quarantine_dir,
                   settings.max_records_per_parquet_file)

    def paths(self, source: SourceFile) -> tuple[Path, Path]:
        """The landed and quarantine folders of ``source``."""
        return landed_paths(self.landing_dir, self.quarantine_dir, source)


def read_source(spark, path: Path, columns: tuple[str, ...] | None = None,
                multiline: bool = False):
    """The CSV as strings with Spark's corrupt-record column; header skipped (checked before).

    ``columns``: the header's names in file order. ``multiline``: the file has quoted fields
    with line breaks (RFC 4180), which only Spark's multi-line mode reads as one record; it
    reads the file in one task, so it is used only for the files that need it.
    """
    return spark.read.csv(
        str(path),
        schema=raw_schema(columns) if columns else raw_schema(),
        header=True,
        multiLine=multiline,
        mode="PERMISSIVE",
        columnNameOfCorruptRecord=CORRUPT_COLUMN,
        encoding="UTF-8",
        quote='"',
        escape='"',
        ignoreLeadingWhiteSpace=False,
        ignoreTrailingWhiteSpace=False,
    )


def land_file(
    spark,
    source: SourceFile,
    landing_root: Path,
    quarantine_root: Path,
    max_records_per_file: int = 1_000_000,
) -> LandingResult:
    """Land one source file; replaces any earlier (partial) landing of the same content."""
    landed_dir, quarantine_dir = landed_paths(landing_root, quarantine_root, source)
    scratch = landing_root.parent / "_scratch" / f"{source.sha256}-{uuid.uuid4().hex[:8]}"
    link = safe_input_link(source, scratch.with_name(scratch.name + ".input"))
    try:
        frame = landing_frame(
            with_source_order(read_source(spark, link, source.columns, source.multiline)),
            source.columns,
        )
        # microsecond timestamps: Spark's default INT96 is read back by Arrow as nanoseconds,
        # which wrap outside 1677..2262 (0001-01-01 would arrive in Postgres as 1754-08-30). Set
        # here, on whatever session the caller passes, not only in build_spark_session
        spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        (
            # no shuffle: each input split writes its own files per (status, date), instead
            # of every row crossing the network; sorted by the rows' place in the source so a
            # landed file's order (the loader's trip ids are row numbers) depends neither on
            # where the task ran nor on how its sort spilled. The splits themselves do not
            # depend on the cluster's size either (minPartitionNum, extract_load/spark.py).
            frame.sortWithinPartitions("status", "trip_date", *SOURCE_ORDER_COLUMNS)
            .drop(*SOURCE_ORDER_COLUMNS)
            .write.option("maxRecordsPerFile", max_records_per_file)
            .partitionBy("status", "trip_date")
            .parquet(str(scratch))
        )
    finally:
        shutil.rmtree(link.parent, ignore_errors=True)
    for target in (landed_dir, quarantine_dir):
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
    accepted, rejected = scratch / "status=accepted", scratch / "status=rejected"
    if accepted.exists():
        accepted.rename(landed_dir)
    else:
        landed_dir.mkdir()
    if rejected.exists():
        rejected.rename(quarantine_dir)
    else:
        quarantine_dir.mkdir()
    shutil.rmtree(scratch, ignore_errors=True)
    return LandingResult(
        source=source,
        landed_dir=landed_dir,
        quarantine_dir=quarantine_dir,
        rows_accepted=count_rows(landed_dir),
        rows_rejected=count_rows(quarantine_dir),
        rows_duplicate=count_duplicates(spark, landed_dir),
    )


def safe_input_link(source: SourceFile, folder: Path) -> Path:
    """The source under a name Hadoop reads literally: ``source.csv[.gz]`` in ``folder``.

    Spark treats its path as a URI and a glob, so ``:``, ``?``, ``[``, ``*``, ``%``... in a
    file name make it fail or read something else. A hard link costs nothing and keeps the
    content readable even if the original is deleted meanwhile; across file systems a
    symbolic link does the same job.
    """
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / ("source.csv.gz" if source.is_gzip else "source.csv")
    try:
        os.link(source.path, link)
    except OSError:
        if not source.path.exists():
            raise
        link.symlink_to(source.path.absolute())
    return link


def count_duplicates(spark, landed_dir: Path) -> int:
    """Accepted rows equal in every column to another accepted row of the file, beyond the
    first of each group (they are all loaded; the count goes to the ledger and summary).

    Two passes, both exact: rows whose 64-bit hash of every column is shared by another row
    (shuffling 8 bytes a row, not the row), then a grouping of those suspects only by their
    columns. Grouping every row by its columns shuffled the whole file a second time.
    """
    if not parquet_files(landed_dir):
        return 0
    from pyspark.sql import functions as F

    rows = spark.read.parquet(str(landed_dir)).select(
        *LANDED_COLUMNS, F.xxhash64(*LANDED_COLUMNS).alias("_row_hash")
    )
    shared = rows.groupBy("_row_hash").count().where(F.col("count") > 1).select("_row_hash")
    groups = (
        rows.join(shared, "_row_hash", "left_semi")
        .groupBy(*LANDED_COLUMNS)
        .count()
        .where(F.col("count") > 1)
        .agg(F.sum(F.col("count") - 1).alias("extra"))
        .first()
    )
    return int(groups["extra"] or 0)
