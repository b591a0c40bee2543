"""Superset configuration for the trips warehouse: every secret comes from the environment.

Two homes, one file: ``trips superset up`` (SQLite metadata, ``SUPERSET_METADATA_URI``) and
the compose stack (metadata in the ``superset`` database of the stack's Postgres). The
warehouse itself is imported as a separate database (read-only role) by ``import_assets.py``.
"""

import os
from urllib.parse import quote

# .env.example's placeholders: starting with one would publish a guessable key/password
PLACEHOLDERS = {"change-me", "changeme", "change_me"}


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} must be set (see .env.example)")
    if value.strip().lower() in PLACEHOLDERS:
        raise RuntimeError(f"{name} is still the .env.example placeholder {value!r}: set it")
    return value


SECRET_KEY = _required("SUPERSET_SECRET_KEY")

SQLALCHEMY_DATABASE_URI = os.environ.get("SUPERSET_METADATA_URI") or (
    "postgresql+psycopg2://{user}:{password}@{host}:{port}/{db}".format(
        user=quote(_required("POSTGRES_USER"), safe=""),
        password=quote(_required("POSTGRES_PASSWORD"), safe=""),
        host=os.environ.get("POSTGRES_HOST", "postgres"),
        port=os.environ.get("POSTGRES_PORT_INTERNAL", "5432"),
        db=os.environ.get("SUPERSET_METADATA_DB", "superset"),
    )
)

# No Redis: a small in-process cache is enough for one Superset instance.
CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 300}
DATA_CACHE_CONFIG = CACHE_CONFIG
FILTER_STATE_CACHE_CONFIG = CACHE_CONFIG
EXPLORE_FORM_DATA_CACHE_CONFIG = CACHE_CONFIG
# rate limits in memory too (no Redis); silences Flask-Limiter's warning
RATELIMIT_STORAGE_URI = "memory://"

# The warehouse is read through a read-only role; SQL Lab stays read-only as well.
PREVENT_UNSAFE_DB_CONNECTIONS = True
SQLLAB_CTAS_NO_LIMIT = False
ROW_LIMIT = 50_000

FEATURE_FLAGS = {"DASHBOARD_RBAC": True}
WTF_CSRF_ENABLED = True
TALISMAN_ENABLED = os.environ.get("SUPERSET_TALISMAN_ENABLED", "false").lower() == "true"
