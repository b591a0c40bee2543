"""The dashboard as a user sees it: `trips superset up` on a warehouse without marts (the
compose stack's order), generated trips ingested and built, the dashboard opened in headless
Chromium, every chart rendered with data, no second import.

Real components only: Superset 6.1 from its own virtualenv (scripts/test.sh installs it once),
Debian's chromium + chromedriver driven by selenium, the real pipeline on a fresh database.
Nothing here skips: a missing browser or Superset install fails the test, with what to run.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
import uuid

import psycopg
import pytest
from click.testing import CliRunner

from flows.ingest import ingest_flow
from tests.integration.prefect_fixtures import free_port
from trips_cli.main import main
from trips_warehouse import superset
from trips_warehouse.config import PROJECT_ROOT, load_settings

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("TRIPS_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TRIPS_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
# where scripts/test.sh's `trips superset install` put Superset (same settings as the CLI)
SUPERSET_VENV = load_settings().superset_venv_dir
# TRIPS_SUPERSET_SCREENSHOT=docs/superset-dashboard.png refreshes the README's picture
SCREENSHOT = os.environ.get("TRIPS_SUPERSET_SCREENSHOT")
CHARTS = {  # viz type of every chart of the bundle, by title
    "Weekly trips by region": "echarts_timeseries_line",
    "Weekly average trips (Region filter)": "big_number",
    "Datasources by region": "echarts_timeseries_bar",
    "Trips by origin cell": "heatmap_v2",
    "Busiest similar-trip groups": "table",
    "Ingestion history": "table",
}
RENDER_TIMEOUT_S = 120


def _require_components() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    if missing:
        pytest.fail(f"no browser: {missing} missing; scripts/test.sh installs chromium")
    if not (SUPERSET_VENV / "bin" / "superset").exists():
        pytest.fail(f"no Superset in {SUPERSET_VENV}: run `trips superset install` (test.sh does)")


@pytest.fixture
def superset_env(settings, monkeypatch, prefect_server, admin_url):
    """The pipeline's settings plus a Superset of its own: port, data dir, reader role."""
    _require_components()
    role = f"trips_superset_reader_{uuid.uuid4().hex[:8]}"
    for name, value in {
        "TRIPS_DATABASE_URL": settings.database_url,
        "TRIPS_DATA_DIR": str(settings.data_dir),
        "TRIPS_SPARK_MASTER": "local[2]",
        "TRIPS_SUPERSET_VENV": str(SUPERSET_VENV),
        "TRIPS_SUPERSET_PORT": str(free_port()),
        "TRIPS_SUPERSET_READER": role,
        "TRIPS_SUPERSET_ADMIN_PASSWORD": "",
    }.items():
        monkeypatch.setenv(name, value)
    yield load_settings()
    superset.stop(load_settings())
    with psycopg.connect(admin_url, autocommit=True) as admin:
        # the test database is dropped after this; drop what the role owns there first
        if admin.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
            with psycopg.connect(settings.database_url, autocommit=True) as conn:
                conn.execute(f'drop owned by "{role}"')
            admin.execute(f'drop role "{role}"')


def _browser():
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1600,2000", "--hide-scrollbars"):
        options.add_argument(arg)
    return webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)


def _chart_states(driver) -> dict[str, dict]:
    """Per chart on the page: viz type, whether it is still loading, what it shows."""
    return driver.execute_script(
        """
        const out = {};
        for (const holder of document.querySelectorAll('[data-test="chart-grid-component"]')) {
            const title = holder.querySelector('[data-test="editable-title"], .header-title')
            const name = (title ? title.innerText : holder.innerText.split('\\n')[0]).trim();
            const body = holder.querySelector('.chart-container') || holder;
            out[name] = {
                viz: holder.getAttribute('data-test-viz-type'),
                loading: !!body.querySelector('.loading, [aria-label="Loading"]'),
                error: !!holder.querySelector(
                    '[role="alert"], .ant-alert-error, [data-test="error-message"]'),
                text: body.innerText,
                drawn: body.querySelectorAll('canvas, svg path, svg rect').length,
                rows: body.querySelectorAll('tbody tr').length,
            };
        }
        return out;
        """
    )


def _big_number(driver) -> float | None:
    """The figure the big number chart shows (None while it has none)."""
    text = driver.execute_script(
        "const e = document.querySelector("
        "'[data-test-viz-type=\"big_number\"] .header-line');"
        "return e ? e.innerText : null;"
    )
    try:
        return float(text.replace(",", ""))
    except (AttributeError, ValueError):
        return None


def _wait_for_charts(driver) -> dict[str, dict]:
    deadline = time.monotonic() + RENDER_TIMEOUT_S
    states: dict[str, dict] = {}
    while time.monotonic() < deadline:
        states = _chart_states(driver)
        settled = set(states) >= set(CHARTS) and not any(s["loading"] for s in states.values())
        if settled and all(s["drawn"] or s["rows"] or s["text"].strip() for s in states.values()):
            return states
        time.sleep(1)
    raise AssertionError(f"charts not rendered after {RENDER_TIMEOUT_S}s: {states}")


def test_dashboard_renders_every_chart_with_data_in_a_real_browser(superset_env, tmp_path):
    settings = superset_env
    url = settings.database_url
    csv = tmp_path / "in" / "trips.csv"
    runner = CliRunner()
    generated = runner.invoke(
        main, ["generate", "--rows", "3000", "--weeks", "6", "--bad-rows", "0.01", "--out",
               str(csv), "--quiet"]
    )
    assert generated.exit_code == 0, generated.output

    # Superset first, on a warehouse without marts (the compose stack's order: superset-init
    # runs before any ingestion): the bundle imports, and the dashboard must show the data
    # the later build creates without another import
    started = time.monotonic()
    up = runner.invoke(main, ["superset", "up"])
    assert up.exit_code == 0, up.output
    up_seconds = time.monotonic() - started
    assert "dashboard: http://127.0.0.1:" in up.output
    status = runner.invoke(main, ["superset", "status"])
    assert status.exit_code == 0 and "running: http://127.0.0.1:" in status.output

    # land + load through the flow, then build exactly what the dashboard reads (the dbt
    # exposure's selector; cautious: without the tests that also read other marts)
    state = ingest_flow([str(csv)], run_dbt=False, return_state=True)
    assert state.is_completed(), state.message
    built = runner.invoke(main, ["dbt", "build", "-s", "+exposure:trips_dashboard",
                                 "--indirect-selection", "cautious", "--quiet"])
    assert built.exit_code == 0, "dbt build -s +exposure:trips_dashboard failed"

    # the role Superset queries with reads the marts dbt built after it was granted, nothing
    # else, and cannot write
    paths = superset.superset_paths(settings)
    reader = superset.reader_uri(
        url, settings.superset_reader_role, paths.secret("reader-password").read_text()
    ).replace("postgresql+psycopg2://", "postgresql://")
    with psycopg.connect(reader, autocommit=True) as conn:
        assert conn.execute("select count(*) from marts.fct_ingestions").fetchone()[0] == 1
        for statement in ("select count(*) from raw.ingestions",
                          "create table marts.nope (x int)",
                          "delete from marts.trip_groups"):
            with pytest.raises(psycopg.Error):
                conn.execute(statement)

    # the weekly average of every region, and of the region the test picks in the filter
    with psycopg.connect(url) as conn:
        (overall,) = conn.execute(
            "select sum(trip_count)::float / count(distinct iso_week_start)"
            " from marts.agg_weekly_trips_by_region"
        ).fetchone()
        region, average = conn.execute(
            "select region, sum(trip_count)::float / count(distinct iso_week_start)"
            " from marts.agg_weekly_trips_by_region group by region order by 2 desc limit 1"
        ).fetchone()

    port = int(paths.port_file.read_text())
    password = superset.admin_password(settings)
    driver = _browser()
    try:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys
        from selenium.webdriver.support import expected_conditions as ready
        from selenium.webdriver.support.ui import WebDriverWait

        driver.get(f"{superset.base_url(port)}/login/")
        WebDriverWait(driver, 60).until(ready.presence_of_element_located((By.ID, "username")))
        driver.find_element(By.ID, "username").send_keys(settings.superset_admin_user)
        driver.find_element(By.ID, "password").send_keys(password)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(driver, 60).until(lambda d: "/login" not in d.current_url)

        driver.get(superset.dashboard_url(port))
        states = _wait_for_charts(driver)
        every_region = _big_number(driver)
        # pick a region in the Region filter, apply, and the big number follows it
        bar = driver.find_element(By.CSS_SELECTOR, '[data-test="filter-bar"]')
        bar.find_element(By.CSS_SELECTOR, ".ant-select-selector").click()
        search = bar.find_element(By.CSS_SELECTOR, ".ant-select input")
        search.send_keys(region)
        WebDriverWait(driver, 30).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, f'.ant-select-item-option[title="{region}"]')
        )
        search.send_keys(Keys.ENTER)
        driver.find_element(By.CSS_SELECTOR, '[data-test="filter-bar__apply-button"]').click()
        WebDriverWait(driver, 60).until(lambda d: _big_number(d) not in (None, every_region))
        for_region = _big_number(driver)
        states = _wait_for_charts(driver)
        time.sleep(2)  # let the ECharts animations finish before the screenshot
        driver.save_screenshot(str(tmp_path / "dashboard.png"))
        if SCREENSHOT:
            driver.save_screenshot(str(PROJECT_ROOT / SCREENSHOT))
    finally:
        driver.quit()

    assert {name: s["viz"] for name, s in states.items()} == CHARTS
    for name, chart in states.items():
        assert not chart["error"], f"{name}: error box: {chart['text']}"
        assert "No results" not in chart["text"], f"{name}: no data"
        if chart["viz"].startswith(("echarts", "heatmap")):
            assert chart["drawn"] > 0, f"{name}: nothing drawn"
        elif chart["viz"] == "table":
            assert chart["rows"] > 0, f"{name}: no rows"
    assert states["Ingestion history"]["rows"] == 1
    assert "trips.csv" in states["Ingestion history"]["text"]
    assert "2970" in states["Ingestion history"]["text"].replace(",", "")  # rows loaded
    # the big number is the weekly average (running mean over the weeks), shown rounded
    assert every_region == pytest.approx(overall, abs=0.51), (every_region, overall)
    assert for_region == pytest.approx(average, abs=0.51), (region, for_region, average)

    # up again: already running, bundle re-imported, still one of everything
    again = runner.invoke(main, ["superset", "up"])
    assert again.exit_code == 0 and "already running" in again.output, again.output
    with sqlite3.connect(paths.metadata_db) as meta:
        counts = {
            table: meta.execute(f"select count(*) from {table}").fetchone()[0]
            for table in ("dbs", "tables", "slices", "dashboards")
        }
    assert counts == {"dbs": 1, "tables": 5, "slices": 6, "dashboards": 1}

    down = runner.invoke(main, ["superset", "down"])
    assert down.exit_code == 0 and "stopped" in down.output
    assert runner.invoke(main, ["superset", "status"]).exit_code == 1
    print(f"superset up (first start) {up_seconds:.0f}s")
