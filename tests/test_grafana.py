"""``scripts/grafana/nbalife.json``: every metric the dashboard queries is one that
``metrics export --prometheus`` writes, on a real home, and every figure it writes is shown."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import REPO, Cli, install_production

DASHBOARD = REPO / "scripts" / "grafana" / "nbalife.json"
WRAPPER = REPO / "scripts" / "nbalife-cron"
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
DRIFT_NOW = dt.datetime(2022, 1, 15, 12, tzinfo=dt.timezone.utc)  # mid 2021-22, after the training season
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
            "offset", "inf", "nan"}
STRINGS = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
NUMBERS = re.compile(r"\b0[xX][0-9a-fA-F]+\b|\b(?:\d+(?:ms|[smhdwy]))+\b|\b\d*\.?\d+(?:[eE][+-]?\d+)?\b")
IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
LABEL_VALUES = re.compile(r"\s*label_values\(\s*(?:(.*),)?\s*\w+\s*\)\s*")
LEGEND_LABELS = re.compile(r"\{\{\s*(\w+)\s*\}\}")
REPLACED_LABEL = re.compile(r',\s*"(\w+)",\s*"[^"]*",\s*"\w+",\s*"[^"]*"\s*\)')  # label_replace's target


def queried_metrics(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions (followed by
    ``(``), keywords, label names (inside ``{}`` or ``by (...)``-style lists), strings, numbers,
    durations, ranges or Grafana variables."""
    text = STRINGS.sub(" ", expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers (their values are gone already)
    text = LABEL_LISTS.sub(" ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges, subqueries, Grafana's [[var]]
    text = re.sub(r"\$\{[^}]*\}|\$\w+", " ", text)  # Grafana variables and macros
    text = NUMBERS.sub(" ", text)
    return {m.group() for m in IDENTIFIER.finditer(text)
            if m.group().lower() not in KEYWORDS and not re.match(r"\s*\(", text[m.end():])}


def variable_metrics(query: str) -> set[str]:
    """Metric names in a template variable's query: ``label_values(METRIC, label)`` or PromQL."""
    match = LABEL_VALUES.fullmatch(query)
    if match:
        return queried_metrics(match.group(1)) if match.group(1) else set()
    return queried_metrics(query)


def panels(dashboard: dict) -> Iterator[dict]:
    """Every panel, those inside (collapsed) rows too."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries(dashboard: dict) -> Iterator[tuple[str, set[str]]]:
    """(where, metric names) for every panel target's ``expr`` and every variable's query."""
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            yield f"panel {panel.get('title')!r} {target.get('refId')}", queried_metrics(target["expr"])
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        query = query.get("query", "") if isinstance(query, dict) else query or ""
        yield f"variable {variable['name']!r}", variable_metrics(query)


def unwritten(dashboard: dict, written: set[str]) -> dict[str, set[str]]:
    """Where the dashboard queries a metric that is not in ``written``, and which."""
    return {where: names - written for where, names in queries(dashboard) if names - written}


def written_series(prom_text: str) -> dict[str, set[str]]:
    """Sample name -> its label names, as Prometheus would store them after a scrape. Sample
    names, not family names: an Info ``nbalife_production`` is stored as
    ``nbalife_production_info``, a counter ``x`` as ``x_total`` and ``x_created``."""
    from prometheus_client.parser import text_string_to_metric_families

    series: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(prom_text):
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return series


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, tiny_model_set: Any, repo_data: Path) -> str:
    """The textfile that the real exporter writes for a small real home: a production model set
    trained on 2020-21, real 2021-22 games predicted an hour ago and resolved, a drift check of
    2021-22 against 2020-21, and one job run through the cron wrapper."""
    from nbalife.interchange import PATTERN_COLUMNS, load_games
    from nbalife.registry import Registry
    from nbalife.services.drift import check as drift_check
    from nbalife.services.model_loading import load_model_set
    from nbalife.services.outcomes import sync
    from nbalife.services.predict import forecast
    from nbalife.store.engine import make_engine
    from nbalife.store.games import upsert_games
    from nbalife.store.migrate import open_store

    home = tmp_path_factory.mktemp("grafana-home")
    url = f"sqlite:///{home / 'nbalife.db'}"
    engine = make_engine(url)
    open_store(engine)
    install_production(home, engine, tiny_model_set)
    trained_on, games = (load_games(repo_data / name) for name in ("nba_2020-21.csv", "nba_2021-22.csv"))
    with engine.begin() as conn:
        upsert_games(conn, trained_on, NOW)
        upsert_games(conn, games, NOW)
    sample = games.iloc[:30]
    forecast(engine, load_model_set(Registry(home, engine)), list(sample["game_id"]),
             sample[PATTERN_COLUMNS].to_numpy("float32"), now=NOW - dt.timedelta(hours=1))
    assert sync(engine, now=NOW).resolved == 30
    drift_check(engine, Registry(home, engine), tiny_model_set.settings.drift, days=30, now=DRIFT_NOW)
    engine.dispose()
    job = subprocess.run([str(WRAPPER), "metrics-check", "--", sys.executable, "-m", "nbalife", "--home",
                          str(home), "--db", url, "metrics", "check"],
                         env={**os.environ, "NBALIFE_HOME": str(home)}, capture_output=True, text=True,
                         timeout=120, check=False)
    assert job.returncode in (0, 1), (home / "logs" / "metrics-check.log").read_text()
    out = home / "nbalife.prom"
    result = Cli(home, url)("metrics", "export", "--prometheus", str(out))
    assert result.exit_code == 0, result.output
    return out.read_text()


def test_every_queried_metric_is_written_by_the_exporter(dashboard: dict, exported: str) -> None:
    series = written_series(exported)
    assert unwritten(dashboard, set(series)) == {}
    queried = set().union(*(names for _, names in queries(dashboard)))
    assert len(queried) >= 8, queried  # the extraction is not vacuous
    assert all(name.startswith("nbalife_") for name in queried)


def test_every_written_metric_is_on_the_dashboard(dashboard: dict, exported: str) -> None:
    """The other direction: a figure the exporter adds must get a panel."""
    queried = set().union(*(names for _, names in queries(dashboard)))
    assert set(written_series(exported)) - queried == set()


def test_legends_name_labels_the_series_have(dashboard: dict, exported: str) -> None:
    series = written_series(exported)
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            labels = set(REPLACED_LABEL.findall(target["expr"]))
            for name in queried_metrics(target["expr"]):
                labels |= series[name]
            legend = set(LEGEND_LABELS.findall(target.get("legendFormat", "")))
            assert legend <= labels, (panel["title"], legend - labels)


def test_a_made_up_or_misnamed_metric_is_caught(dashboard: dict, exported: str) -> None:
    written = set(written_series(exported))
    broken = copy.deepcopy(dashboard)
    first, second = [p for p in panels(broken) if p.get("targets")][:2]
    first["targets"][0]["expr"] = 'sum by (window) (nbalife_made_up_metric{window="7d"}) / nbalife_mae'
    second["targets"][0]["expr"] = 'max by (version) (nbalife_production{instance=~"$instance"})'
    assert unwritten(broken, written) == {
        f"panel {first['title']!r} A": {"nbalife_made_up_metric"},
        f"panel {second['title']!r} A": {"nbalife_production"},  # the Info's name without ``_info``
    }
    broken["templating"]["list"][0]["query"]["query"] = "label_values(nbalife_no_such_info, instance)"
    assert unwritten(broken, written)["variable 'instance'"] == {"nbalife_no_such_info"}


def test_the_dashboard_imports_anywhere(dashboard: dict) -> None:
    """One data source input, used by every panel and query; unique panel ids; a 24-column grid."""
    assert [(i["name"], i["type"], i["pluginId"]) for i in dashboard["__inputs"]] == [
        ("DS_PROMETHEUS", "datasource", "prometheus")]
    assert dashboard["schemaVersion"] >= 36 and dashboard["id"] is None and dashboard["uid"]
    source = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"] == source and panel["targets"], panel["title"]
            assert all(t["datasource"] == source for t in panel["targets"]), panel["title"]
    assert all(v["datasource"] == source for v in dashboard["templating"]["list"])


@pytest.mark.parametrize(("expr", "names"), [
    ('time() - max by (job) (nbalife_job_last_success_timestamp_seconds{job!="gc"})',
     {"nbalife_job_last_success_timestamp_seconds"}),
    ("rate(http_requests_total[5m] offset 1h30m) > bool 0.5e-3 and on (instance) up",
     {"http_requests_total", "up"}),
    ('sum(x:recorded:rate5m) without (le) / ignoring (a) group_left (b) y_info * 0x1f',
     {"x:recorded:rate5m", "y_info"}),
    ('label_replace(a{instance=~"$instance"}, "task", "$1", "job", "(.*)") unless b[$__rate_interval:1m]',
     {"a", "b"}),
    ("histogram_quantile(0.9, sum by (le) (rate(h_bucket[${window}]))) or vector(Inf) or NaN", {"h_bucket"}),
])
def test_the_extraction_on_known_expressions(expr: str, names: set[str]) -> None:
    assert queried_metrics(expr) == names


METRIC = st.from_regex(r"m_[a-z][a-z0-9_]{0,8}", fullmatch=True)
LABEL = st.sampled_from(["job", "window", "instance", "le", "by", "rate", "sum", "version"])
VALUE = st.from_regex(r"[A-Za-z0-9_ ().:${}\[\]-]{0,10}", fullmatch=True).map(lambda v: v.replace('"', ""))


@st.composite
def expressions(draw: st.DrawFn) -> tuple[str, set[str]]:
    """A random PromQL expression and the metric names it queries."""
    names = draw(st.lists(METRIC, min_size=1, max_size=4))
    parts = []
    for name in names:
        matchers = draw(st.lists(st.tuples(LABEL, st.sampled_from(["=", "!=", "=~"]), VALUE), max_size=2))
        selector = name + ("{" + ", ".join(f'{label}{op}"{value}"' for label, op, value in matchers) + "}"
                           if matchers else "")
        wrap = draw(st.sampled_from(["{}", "rate({}[5m])", "sum by ({l}) ({})", "max({}) without ({l})",
                                     "{} offset 1d", 'label_replace({}, "t", "$1", "{l}", "(.*)")',
                                     "avg_over_time({}[$__interval:30s])", "time() - {}"]))
        parts.append(wrap.replace("{l}", draw(LABEL)).replace("{}", selector, 1))
    ops = draw(st.lists(st.sampled_from([" + ", " / on (job) ", " > bool ", " and ", " * 1e3 * "]),
                        min_size=len(parts) - 1, max_size=len(parts) - 1))
    expr = parts[0] + "".join(op + part for op, part in zip(ops, parts[1:]))
    return expr, set(names)


@settings(max_examples=80, deadline=None)
@given(expressions())
def test_the_extraction_finds_exactly_the_metrics_of_random_expressions(case: tuple[str, set[str]]) -> None:
    expr, names = case
    assert queried_metrics(expr) == names, expr
