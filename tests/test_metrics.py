"""``metrics report`` / ``metrics check`` and the rule "the latest row per (game, arm, version) counts"."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st
from sqlalchemy import literal, select

from nbalife.errors import BadInput
from nbalife.interchange import load_games
from nbalife.services.metrics import window
from nbalife.store.engine import make_engine
from nbalife.store.events import list_events
from nbalife.store.games import upsert_games
from nbalife.store.metrics import day_bucket
from nbalife.store.migrate import open_store
from nbalife.store.predictions import Prediction, latest_resolved, log_predictions, resolve
from nbalife.store.schema import metadata
from tests.conftest import Cli, drop_store, run_nbalife

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
FIGURES = ("n", "mae", "rmse", "bias", "coverage", "mean_width", "dejavu_mae", "lstm_mae", "persistence_mae")


def games_frame(real_games: Path, count: int) -> Any:
    return load_games(real_games).head(count)


def prediction(game: Any, i: int, *, hours_ago: float, shift: float = 0.0, arm: str = "A",
               version: str = "1.0.0") -> Prediction:
    """A deterministic forecast of a real game: d18 plus an offset, intervals of varying width."""
    forecast = float(game.d18) + (i % 7) - 3 + shift
    return Prediction(
        game_id=str(game.game_id), arm=arm, model_version=version, forecast=forecast,
        lower=forecast - 4 - (i % 5), upper=forecast + 5, dejavu=forecast + (i % 3) - 1,
        lstm=None if i % 4 == 0 else forecast - 2, d18=float(game.d18),
        created_at=NOW - dt.timedelta(hours=hours_ago),
    )


def seed(engine, real_games: Path, count: int = 40) -> list[Prediction]:  # noqa: ANN001
    """Real games, two arms and versions, re-predictions, one game never resolved; all resolved."""
    frame = games_frame(real_games, count)
    logged: list[Prediction] = []
    for i, game in enumerate(frame.itertuples(index=False)):
        arm, version = ("A", "1.0.0") if i % 3 else ("B", "1.1.0")
        logged.append(prediction(game, i, hours_ago=2 + 3 * i, arm=arm, version=version))
        if i % 5 == 0:  # re-predicted an hour later: only this row counts
            logged.append(prediction(game, i, hours_ago=1 + 3 * i, shift=4.5, arm=arm, version=version))
    with engine.begin() as conn:
        upsert_games(conn, frame.iloc[:-1], NOW)  # the last game's result never arrives
        log_predictions(conn, logged)
        resolve(conn, now=NOW)
    return logged


def reference(logged: list[Prediction], actuals: dict[str, float], since: dt.datetime, until: dt.datetime) -> dict:
    """The figures computed in Python from the logged rows, independently of the SQL."""
    latest: dict[tuple, Prediction] = {}
    for p in logged:  # the row written last counts; logged in time order per key
        latest[(p.game_id, p.arm, p.model_version)] = p
    rows = [p for p in latest.values() if p.game_id in actuals and since <= p.created_at < until]
    errors = [actuals[p.game_id] - p.forecast for p in rows]
    n = len(rows)

    def mae(values: list[float]) -> float:
        return sum(abs(v) for v in values) / len(values)

    return {
        "n": n,
        "mae": mae(errors),
        "rmse": math.sqrt(sum(e * e for e in errors) / n),
        "bias": sum(errors) / n,
        "coverage": sum(p.lower <= actuals[p.game_id] <= p.upper for p in rows) / n,
        "mean_width": sum(p.upper - p.lower for p in rows) / n,
        "dejavu_mae": mae([actuals[p.game_id] - p.dejavu for p in rows]),
        "lstm_mae": mae([actuals[p.game_id] - p.lstm for p in rows if p.lstm is not None]),
        "persistence_mae": mae([actuals[p.game_id] - p.d18 for p in rows]),
    }


def actual_by_game(real_games: Path, count: int = 40) -> dict[str, float]:
    frame = games_frame(real_games, count).iloc[:-1]
    return dict(zip(frame.game_id.astype(str), frame.d24.astype(float)))


def report_json(cli: Cli, *args: str) -> dict:
    result = cli("--json", "metrics", "report", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_latest_resolved_counts_only_the_latest_row(engine, real_games: Path) -> None:  # noqa: ANN001
    frame = games_frame(real_games, 3)
    first, second, third = list(frame.itertuples(index=False))
    rows = [
        prediction(first, 0, hours_ago=10),
        prediction(first, 0, hours_ago=5, shift=2.0),  # supersedes the row above
        prediction(first, 0, hours_ago=9, version="2.0.0"),  # another version counts on its own
        prediction(second, 1, hours_ago=8, arm="B"),
        prediction(third, 2, hours_ago=7),  # its game has no result: never counted
    ]
    with engine.begin() as conn:
        upsert_games(conn, frame.iloc[:2], NOW)
        log_predictions(conn, rows)
        resolve(conn, now=NOW)
        everything = latest_resolved(conn)
        early = latest_resolved(conn, until=NOW - dt.timedelta(hours=6))
        only_b = latest_resolved(conn, arm="B")
        only_v2 = latest_resolved(conn, since=NOW - dt.timedelta(hours=9), version="2.0.0")
    assert [(r.game_id, r.version, r.forecast) for r in everything] == [
        (str(first.game_id), "2.0.0", rows[2].forecast),
        (str(second.game_id), "1.0.0", rows[3].forecast),
        (str(first.game_id), "1.0.0", rows[1].forecast),
    ]
    assert everything[2].actual == first.d24 and everything[2].error == first.d24 - rows[1].forecast
    assert everything[2].d18 == first.d18 and everything[2].created_at == rows[1].created_at
    # a re-prediction replaces the row it supersedes everywhere: a window that ends before it
    # holds no row of that (game, arm, version), never the superseded one
    assert {(r.game_id, r.version, r.forecast) for r in early} == {
        (str(first.game_id), "2.0.0", rows[2].forecast), (str(second.game_id), "1.0.0", rows[3].forecast)}
    assert [r.arm for r in only_b] == ["B"]
    assert [r.version for r in only_v2] == ["2.0.0"]


def test_report_matches_a_python_reference(cli_db: Cli, engine, real_games: Path) -> None:  # noqa: ANN001
    logged = seed(engine, real_games)
    actuals = actual_by_game(real_games)
    for days in (2, 5):
        since = NOW - dt.timedelta(days=days)
        got = report_json(cli_db, "--days", str(days))
        expected = reference(logged, actuals, since, NOW + dt.timedelta(seconds=1))
        assert got["rows"] == [got["total"]] and got["by"] is None
        assert got["total"]["group"] == "serving"
        for name in FIGURES:
            assert got["total"][name] == pytest.approx(expected[name], rel=1e-12), name


def test_groups_add_up_to_the_total(cli_db: Cli, engine, real_games: Path) -> None:  # noqa: ANN001
    seed(engine, real_games)
    for by, groups in [("version", {"1.0.0", "1.1.0"}), ("arm", {"A", "B"}),
                       ("segment", None), ("day", None), ("week", None)]:
        got = report_json(cli_db, "--days", "10", "--by", by)
        names = [row["group"] for row in got["rows"]]
        assert sum(row["n"] for row in got["rows"]) == got["total"]["n"] == 39, by
        total_abs = sum(row["mae"] * row["n"] for row in got["rows"])
        assert total_abs == pytest.approx(got["total"]["mae"] * got["total"]["n"], rel=1e-12)
        if groups is not None:
            assert set(names) == groups
    segments = [row["group"] for row in report_json(cli_db, "--days", "10", "--by", "segment")["rows"]]
    assert segments == [s for s in ("close", "medium", "blowout") if s in segments]
    days = [row["group"] for row in report_json(cli_db, "--days", "10", "--by", "day")["rows"]]
    assert days == sorted(days) and all(dt.date.fromisoformat(d) for d in days)


def test_sqlite_and_postgresql_give_the_same_figures(pg_url: str, tmp_path: Path, real_games: Path) -> None:
    reports = []
    for url in (f"sqlite:///{tmp_path / 'same.db'}", pg_url):
        engine = make_engine(url)
        drop_store(engine)
        open_store(engine)
        seed(engine, real_games)
        engine.dispose()
        home = tmp_path / url.split(":")[0]
        home.mkdir()
        cli = Cli(home, url)
        reports.append([report_json(cli, "--since", (NOW - dt.timedelta(days=6)).date().isoformat(), "--by", by)
                        for by in ("version", "arm", "day", "week", "segment")])
    for sqlite_report, pg_report in zip(*reports):
        assert [r["group"] for r in sqlite_report["rows"]] == [r["group"] for r in pg_report["rows"]]
        for mine, theirs in zip(sqlite_report["rows"] + [sqlite_report["total"]],
                                pg_report["rows"] + [pg_report["total"]]):
            assert mine["first"] == theirs["first"] and mine["last"] == theirs["last"]
            for name in FIGURES:
                assert (mine[name] is None and theirs[name] is None
                        or mine[name] == pytest.approx(theirs[name], rel=1e-12, abs=1e-12)), name


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moment=st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)))
def test_day_and_week_buckets_agree_with_python(engine, moment: dt.datetime) -> None:  # noqa: ANN001
    with engine.connect() as conn:
        stored = literal(moment, type_=metadata.tables["predictions"].c.created_at.type)
        day, week = conn.execute(select(day_bucket(stored, "day", conn.dialect.name),
                                        day_bucket(stored, "week", conn.dialect.name))).one()
    assert day == moment.date().isoformat()
    assert week == (moment.date() - dt.timedelta(days=moment.weekday())).isoformat()


def test_csv_rows(cli_db: Cli, engine, real_games: Path) -> None:  # noqa: ANN001
    seed(engine, real_games)
    result = cli_db("metrics", "report", "--days", "10", "--by", "arm", "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["group"] for r in rows] == ["A", "B"] and all(r["by"] == "arm" for r in rows)
    assert sum(int(r["n"]) for r in rows) == 39 and float(rows[0]["coverage"]) <= 1


def test_empty_window_says_so(cli_db: Cli) -> None:
    result = cli_db("metrics", "report", "--since", "2020-01-01", "--until", "2020-01-31")
    assert result.exit_code == 0 and "no resolved predictions in the window" in result.stdout
    assert report_json(cli_db, "--days", "3")["total"]["n"] == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--days", "0"], "--days 0"),
    (["--days", "-2"], "--days -2"),
    (["--days", "nan"], "--days nan"),
    (["--days", "3", "--since", "2026-01-01"], "--days cannot be combined"),
    (["--since", "2026-02-01", "--until", "2026-01-31"], "--since 2026-02-01 is after --until 2026-01-31"),
    (["--since", "2026-02-30"], "'--since'"),
    (["--until", "yesterday"], "'--until'"),
    (["--by", "month"], "--by 'month'"),
    (["--csv", "--json"], "--csv and --json"),
    (["--since", "2999-01-01"], "--since 2999-01-01 is in the future"),
])
def test_bad_windows_exit_2_naming_the_option(cli: Cli, args: list[str], message: str) -> None:
    result = cli("metrics", "report", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


@given(days=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
       since=st.one_of(st.none(), st.dates()), until=st.one_of(st.none(), st.dates()))
@example(days=1e-300, since=None, until=None)
@example(days=1e9, since=None, until=None)
@example(days=None, since=None, until=dt.date.max)
def test_window_is_sound_or_bad_input(days: float | None, since: dt.date | None, until: dt.date | None) -> None:
    try:
        span = window(NOW, days=days, since=since, until=until)
    except BadInput as exc:
        assert str(exc).startswith(("--days", "--since", "--until"))
        return
    assert span.since is None or span.since < span.until
    if since is None and until is None:
        assert span.until == NOW and NOW - span.since == dt.timedelta(days=days or 30)
    else:
        assert days is None
        assert span.since is None or span.since == dt.datetime.combine(since, dt.time(), dt.timezone.utc)
        assert until is None or span.until - dt.timedelta(days=1) == dt.datetime.combine(until, dt.time(),
                                                                                         dt.timezone.utc)


def test_bad_input_as_a_process(tmp_path: Path) -> None:
    proc = run_nbalife("--home", str(tmp_path), "metrics", "check", "--days", "0")
    assert proc.returncode == 2 and proc.stderr == "error: --days 0: must be a positive number of days\n"


def write_config(home: Path, **monitoring: float) -> None:
    lines = "".join(f"  {key}: {value}\n" for key, value in monitoring.items())
    (home / "config.yaml").write_text(f"monitoring:\n{lines}")


def test_check_passes_alerts_and_records_events(cli_db: Cli, engine, real_games: Path) -> None:  # noqa: ANN001
    seed(engine, real_games)
    write_config(cli_db.home, mae_alert=50, coverage_alert=0.1, min_predictions=5)
    ok = cli_db("metrics", "check", "--days", "10")
    assert ok.exit_code == 0, ok.output
    assert "ok: all figures within the alert levels" in ok.stdout

    write_config(cli_db.home, mae_alert=1, coverage_alert=0.99, min_predictions=1000)
    alert = cli_db("--json", "metrics", "check", "--days", "10")
    assert alert.exit_code == 1, alert.output
    body = json.loads(alert.stdout)
    assert body["outcome"] == "alert" and body["figures"]["n"] == 39
    assert [b.split()[0] for b in body["breaches"]] == ["mae", "coverage"]  # n alone is never an alert
    assert body["causes"] == ["mae", "coverage"] and body["bounds"]["mae_lower"] > 1
    assert body["bounds"]["coverage_upper"] < 0.99 and "mae_alert 1" in alert.stderr

    with engine.connect() as conn:
        events = list_events(conn, kind="metrics_check")
    assert [e.outcome for e in events] == ["alert", "ok"]
    assert events[0].details["n"] == 39 and events[0].details["breaches"] == body["breaches"]


def test_check_window_in_games_or_hours_and_empty_window(cli_db: Cli, engine, real_games: Path) -> None:  # noqa: ANN001
    seed(engine, real_games)  # predictions every 3 hours: 8 of them in the last 24 hours
    write_config(cli_db.home, window_games=10, coverage_alert=0.5)
    result = cli_db("--json", "metrics", "check")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (body["figures"]["n"], body["window_games"], body["arms"]) == (10, 10, "serving")
    write_config(cli_db.home, min_predictions=10, window_hours=24, coverage_alert=0.5)
    result = cli_db("--json", "metrics", "check")
    assert result.exit_code == 0, result.output  # 8 games are fewer than min_predictions: not an alert
    assert json.loads(result.stdout)["figures"]["n"] == 8
    empty = cli_db("metrics", "check", "--days", "0.01")
    assert empty.exit_code == 0 and "empty: no resolved predictions in the window" in empty.stdout
    with engine.connect() as conn:
        assert [e.outcome for e in list_events(conn, kind="metrics_check")] == ["empty", "ok", "ok"]


def test_prometheus_export_parses_and_is_replaced_atomically(cli_db: Cli, engine, real_games: Path,  # noqa: ANN001
                                                           home: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from nbalife.store.events import record_event

    logged = seed(engine, real_games)
    logs = home / "logs"
    logs.mkdir()
    (logs / "metrics-check.exit").write_text("1 1700000000\n")
    (logs / "metrics-check.success").write_text("1700000000\n")
    (logs / "gc.exit").write_text("4 1700000100\n")
    with engine.begin() as conn:
        record_event(conn, "drift_check", "ok", at=NOW, details={"features": {"d18": {"psi": 0.05, "ks_pvalue": 0.4}}})
    out = home / "metrics" / "nbalife.prom"
    out.parent.mkdir()
    result = cli_db("--json", "metrics", "export", "--prometheus", str(out))
    assert result.exit_code == 0, result.output
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(out.read_text()) for s in family.samples}
    actuals = actual_by_game(real_games)
    for label, days in (("1d", 1), ("7d", 7)):
        expected = reference(logged, actuals, NOW - dt.timedelta(days=days), NOW + dt.timedelta(minutes=5))
        window_label = (("window", label),)
        assert samples[("nbalife_predictions_resolved", window_label)] == expected["n"]
        assert samples[("nbalife_mae", window_label)] == pytest.approx(expected["mae"])
        assert samples[("nbalife_coverage", window_label)] == pytest.approx(expected["coverage"])
        assert samples[("nbalife_interval_width", window_label)] == pytest.approx(expected["mean_width"])
    assert samples[("nbalife_production_info", (("version", "none"),))] == 1
    assert samples[("nbalife_job_last_exit_code", (("task", "gc"),))] == 4
    assert samples[("nbalife_job_last_exit_code", (("task", "metrics-check"),))] == 1
    assert samples[("nbalife_job_last_success_timestamp_seconds", (("task", "metrics-check"),))] == 1700000000
    assert ("nbalife_job_last_success_timestamp_seconds", (("task", "gc"),)) not in samples
    assert samples[("nbalife_drift_psi", (("feature", "d18"),))] == 0.05
    assert samples[("nbalife_abtest_active", ())] == 0

    first_inode = out.stat().st_ino
    assert cli_db("metrics", "export", "--prometheus", str(out)).exit_code == 0
    assert out.stat().st_ino != first_inode  # a new file renamed into place, never rewritten in place
    assert sorted(p.name for p in out.parent.iterdir()) == ["nbalife.prom"]


@pytest.mark.parametrize(("name", "message"), [("metrics.txt", "(use .prom)"),
                                               ("file/x.prom", "cannot create folder")])
def test_prometheus_export_bad_path_is_exit_2(cli: Cli, home: Path, name: str, message: str) -> None:
    (home / "file").write_text("not a folder")
    result = cli("metrics", "export", "--prometheus", str(home / name))
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_prometheus_export_creates_its_folder(cli: Cli, home: Path) -> None:
    out = home / "metrics" / "deeper" / "nbalife.prom"
    result = cli("metrics", "export", "--prometheus", str(out))
    assert result.exit_code == 0, result.output
    assert "nbalife_predictions_resolved" in out.read_text()


@given(since=st.one_of(st.none(), st.dates()), until=st.one_of(st.none(), st.dates()))
@example(since=dt.date.max, until=None)
@example(since=dt.date.min, until=dt.date.min)
def test_league_day_window_is_sound_or_bad_input(since: dt.date | None, until: dt.date | None) -> None:
    import zoneinfo

    zone = zoneinfo.ZoneInfo("America/New_York")
    try:
        span = window(NOW, since=since, until=until, zone="America/New_York")
    except BadInput as exc:
        assert str(exc).startswith(("--since", "--until"))
        return
    assert span.since is None or span.since < span.until
    if since is not None:
        assert span.since == dt.datetime.combine(since, dt.time(), zone)
        assert span.since.astimezone(zone).time() == dt.time()
    if until is not None:
        assert span.until == dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), zone)
