"""The one place configuration is read from: environment variables with documented defaults.

Every component (CLI, Spark landing, COPY loader, dbt profile, Prefect flow) reads its settings
through :func:`load_settings`; nothing else calls ``os.environ`` for project settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DBT_PROFILES_DIR = PROJECT_ROOT / "profiles"
# The schema the dbt project builds its marts in (dbt_project.yml: marts: +schema, used verbatim)
MARTS_SCHEMA = "marts"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    value = _env(name, str(default))
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, not {value!r}") from None


def color_wanted(stream) -> bool:
    """Whether to colour what goes to ``stream``: only a terminal, and not with NO_COLOR set
    (https://no-color.org: any non-empty value) or TERM=dumb."""
    if _env("NO_COLOR") is not None or _env("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def _path_or_none(value: str | None) -> Path | None:
    return Path(value).resolve() if value else None


@dataclass(frozen=True)
class Settings:
    """Runtime settings. Build with :func:`load_settings`; override fields in tests."""

    data_dir: Path
    database_url: str | None = None
    # where the landing writes parquet and the loader reads it (landing/, quarantine/); None =
    # data_dir. On a Spark cluster: a path the driver, every executor and the loader all see
    lake_dir: Path | None = None
    spark_master: str = "local[*]"
    spark_driver_memory: str = "2g"
    load_batch_rows: int = 200_000
    max_records_per_parquet_file: int = 1_000_000
    dbt_target: str = "dev"
    dbt_threads: int = 4
    # rows the dbt tests of an ingestion read: "new" (since the last passing checks; the
    # full-table `nightly` tests run in the nightly build) or "all" (every row, every run)
    dbt_checks: str = "new"
    # what happens to raw.trips rows once the marts have them: "archive" (removed after a
    # build whose tests passed; the landed parquet replays them) or "keep"
    raw_retention: str = "archive"
    raw_schema: str = "raw"
    notify_webhook_url: str | None = None
    notify_slack_webhook_url: str | None = None
    notify_smtp_host: str | None = None
    notify_smtp_port: int = 25
    notify_smtp_from: str = "trips-warehouse@localhost"
    notify_smtp_to: tuple[str, ...] = field(default_factory=tuple)
    notify_on_progress: bool = False
    prefect_ui_url: str | None = None
    # Superset on the embedded defaults (`trips superset up`): its own virtualenv (its
    # SQLAlchemy pin conflicts with Prefect's), a loopback port, the admin it creates and the
    # read-only role it queries the marts with. Unset password = generated once, kept in
    # $TRIPS_DATA_DIR/superset.
    superset_venv: Path | None = None
    superset_port: int = 8088
    superset_admin_user: str = "admin"
    superset_admin_password: str | None = None
    superset_reader_role: str = "trips_superset_reader"
    # the folder `trips serve` watches for new files; None = $TRIPS_DATA_DIR/inbox
    inbox_dir: Path | None = None

    @property
    def inbox(self) -> Path:
        return self.inbox_dir or self.data_dir / "inbox"

    @property
    def lake_root(self) -> Path:
        return self.lake_dir or self.data_dir

    @property
    def landing_dir(self) -> Path:
        return self.lake_root / "landing" / "trips"

    @property
    def quarantine_dir(self) -> Path:
        return self.lake_root / "quarantine" / "trips"

    @property
    def spark_cluster_dir(self) -> Path:
        """State, logs and work folders of the local cluster of ``trips cluster``."""
        return self.data_dir / "spark-cluster"

    @property
    def embedded_pg_dir(self) -> Path:
        return self.data_dir / "pg"

    @property
    def superset_home(self) -> Path:
        return self.data_dir / "superset"

    @property
    def superset_venv_dir(self) -> Path:
        return self.superset_venv or self.superset_home / "venv"


DBT_CHECKS_CHOICES = ("new", "all")
RAW_RETENTION_CHOICES = ("archive", "keep")


def _lake_dir() -> Path | None:
    value = _env("TRIPS_LAKE_DIR")
    if value is None:
        return None
    if "://" in value:
        # the landing moves its output into place with a rename and the loader reads it with
        # local file I/O: an object store must be mounted (docs/scalability.md)
        raise ValueError(
            "TRIPS_LAKE_DIR must be a filesystem path (on a cluster a shared or mounted one), "
            f"not {value!r}"
        )
    return Path(value).resolve()


def load_settings() -> Settings:
    """Read settings from ``TRIPS_*`` environment variables."""
    smtp_to = _env("TRIPS_NOTIFY_SMTP_TO", "") or ""
    dbt_checks = (_env("TRIPS_DBT_CHECKS", "new") or "new").lower()
    if dbt_checks not in DBT_CHECKS_CHOICES:
        raise ValueError(f"TRIPS_DBT_CHECKS must be 'new' or 'all', not {dbt_checks!r}")
    raw_retention = (_env("TRIPS_RAW_RETENTION", "archive") or "archive").lower()
    if raw_retention not in RAW_RETENTION_CHOICES:
        raise ValueError(
            f"TRIPS_RAW_RETENTION must be 'archive' or 'keep', not {raw_retention!r}"
        )
    return Settings(
        data_dir=Path(_env("TRIPS_DATA_DIR", str(PROJECT_ROOT / ".trips"))).resolve(),
        database_url=_env("TRIPS_DATABASE_URL"),
        lake_dir=_lake_dir(),
        spark_master=_env("TRIPS_SPARK_MASTER", "local[*]"),
        spark_driver_memory=_env("TRIPS_SPARK_DRIVER_MEMORY", "2g"),
        load_batch_rows=_env_int("TRIPS_LOAD_BATCH_ROWS", 200000),
        max_records_per_parquet_file=_env_int("TRIPS_MAX_RECORDS_PER_FILE", 1000000),
        dbt_target=_env("TRIPS_DBT_TARGET", "dev"),
        dbt_threads=_env_int("TRIPS_DBT_THREADS", 4),
        dbt_checks=dbt_checks,
        raw_retention=raw_retention,
        notify_webhook_url=_env("TRIPS_NOTIFY_WEBHOOK_URL"),
        notify_slack_webhook_url=_env("TRIPS_NOTIFY_SLACK_WEBHOOK_URL"),
        notify_smtp_host=_env("TRIPS_NOTIFY_SMTP_HOST"),
        notify_smtp_port=_env_int("TRIPS_NOTIFY_SMTP_PORT", 25),
        notify_smtp_from=_env("TRIPS_NOTIFY_SMTP_FROM", "trips-warehouse@localhost"),
        notify_smtp_to=tuple(a.strip() for a in smtp_to.split(",") if a.strip()),
        notify_on_progress=_env("TRIPS_NOTIFY_ON_PROGRESS", "false").lower()
        in {"1", "true", "yes"},
        prefect_ui_url=_env("TRIPS_PREFECT_UI_URL"),
        superset_venv=_path_or_none(_env("TRIPS_SUPERSET_VENV")),
        superset_port=_env_int("TRIPS_SUPERSET_PORT", 8088),
        superset_admin_user=_env("TRIPS_SUPERSET_ADMIN_USER", "admin"),
        superset_admin_password=_env("TRIPS_SUPERSET_ADMIN_PASSWORD"),
        superset_reader_role=_env("TRIPS_SUPERSET_READER", "trips_superset_reader"),
        inbox_dir=_path_or_none(_env("TRIPS_INBOX_DIR")),
    )
