"""Shared by both tiers. tests/unit: no services, seconds (``pytest tests/unit``);
tests/integration: real Postgres, Spark, dbt and Prefect (its conftest holds those fixtures).
Helpers shared by test modules live in tests/support, never in another test module."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
TIERS = ("unit", "integration")

# no usage reports from any Prefect server or client a test starts
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


def _tier(item: pytest.Item) -> str | None:
    path = item.path.resolve()
    return path.relative_to(TESTS_DIR).parts[0] if path.is_relative_to(TESTS_DIR) else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # a module outside the tiers (say tests/test_new.py from an older branch) would run in the
    # full suite but in neither tier: refuse it instead of losing it
    stray = sorted({item.path.name for item in items if _tier(item) not in TIERS})
    if stray:
        raise pytest.UsageError(f"test modules outside tests/unit and tests/integration: {stray}")
    # the full run starts with the quick tier: its failures show in seconds, not after the
    # integration tier (a stable sort: modules stay together, in their order)
    items.sort(key=lambda item: _tier(item) != "unit")
