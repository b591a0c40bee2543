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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # a module outside the tiers (say tests/test_new.py from an older branch) would run in the
    # full suite but in neither tier: refuse it instead of losing it
    stray = sorted({str(item.path.relative_to(TESTS_DIR)) for item in items
                    if item.path.is_relative_to(TESTS_DIR)
                    and item.path.relative_to(TESTS_DIR).parts[0] not in TIERS})
    if stray:
        raise pytest.UsageError(f"test modules outside tests/unit and tests/integration: {stray}")
