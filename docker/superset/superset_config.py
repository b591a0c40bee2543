"""Superset configuration for the trips warehouse stack: every secret comes from the environment.

Superset's own metadata lives in the ``superset`` database of the stack's Postgres; the warehouse
is registered as a separate database (read-only role) by ``register_warehouse.py``.
"""

import os
from urllib.parse import quote


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} must be set (see .env.example)")
    return value


SECRET_KEY = _required("SUPERSET_SECRET_KEY")

SQLALCHEMY_DATABASE_URI = "postgresql+psycopg2://{user}:{password}@{host}:{port}/{db}".format(
    user=quote(_required("POSTGRES_USER"), safe=""),
    password=quote(_required("POSTGRES_PASSWORD"), safe=""),
    host=os.environ.get("POSTGRES_HOST", "postgres"),
    port=os.environ.get("POSTGRES_PORT_INTERNAL", "5432"),
    db=os.environ.get("SUPERSET_METADATA_DB", "superset"),
)

# No Redis in the compose stack: a small in-process cache is enough for one Superset instance.
CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 300}
DATA_CACHE_CONFIG = CACHE_CONFIG

# The warehouse is read through a read-only role; SQL Lab stays read-only as well.
PREVENT_UNSAFE_DB_CONNECTIONS = True
SQLLAB_CTAS_NO_LIMIT = False
ROW_LIMIT = 50_000

FEATURE_FLAGS = {"DASHBOARD_RBAC": True}
WTF_CSRF_ENABLED = True
TALISMAN_ENABLED = os.environ.get("SUPERSET_TALISMAN_ENABLED", "false").lower() == "true"
