"""The analytics service without a database: the bbox parser, and the SQL `trips answer` runs,
which must be the dbt project's analyses as dbt compiles them (the answers on a built warehouse:
tests/integration/test_analytics.py)."""

from __future__ import annotations

import re

import pytest

from trips_warehouse import analytics


def test_a_box_parses_to_its_edges() -> None:
    assert analytics.BBox.parse("7.6, 45,7.7,45.1") == analytics.BBox(7.6, 45.0, 7.7, 45.1)


@pytest.mark.parametrize(
    "text",
    ["7.7,45,7.6,45.1", "7.6,45.1,7.7,45", "7.6,45,190,45.1", "7.6,-91,7.7,45", "1,2,3", "a,b,c,d"],
)
def test_bad_boxes_are_refused(text: str) -> None:
    with pytest.raises(analytics.AnalyticsInputError):
        analytics.BBox.parse(text)


def test_the_answers_are_the_dbt_projects_analyses_as_dbt_compiles_them(dbt_project) -> None:
    """render_analysis skips dbt (a plain Jinja render): it must read the file dbt reads as
    that analysis, and put each ref() where dbt builds the model."""
    nodes = dbt_project.manifest["nodes"].values()
    analyses = {n["name"]: n for n in nodes if n["resource_type"] == "analysis"}
    relations = {  # '"db"."marts"."fct_trips"' -> marts.fct_trips (the connection's database)
        n["name"]: ".".join(part.strip('"') for part in n["relation_name"].split(".")[1:])
        for n in nodes if n["resource_type"] == "model"
    }
    assert analytics.QUESTION_ANALYSES
    for name in analytics.QUESTION_ANALYSES:
        assert name in analyses, f"{name} is not an analysis of the dbt project"
        raw = analyses[name]["raw_code"]
        refs = re.findall(r"\{\{\s*ref\('(\w+)'\)\s*\}\}", raw)
        assert refs, name
        compiled = re.sub(r"\{\{\s*ref\('(\w+)'\)\s*\}\}", lambda m: relations[m[1]], raw)
        # Jinja drops the file's final newline
        assert analytics.render_analysis(name) == compiled.removesuffix("\n"), name
