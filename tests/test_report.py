"""``nbalife report``: one self-contained HTML page of a window, on both backends; the empty window;
bad input; nothing half-written."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import install_production, run_nbalife
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

# Namespace URIs are the only URLs an inline SVG may carry: they name the XML vocabulary and are
# never fetched.
XMLNS = re.compile(r'\sxmlns(:\w+)?="http://www\.w3\.org/[^"]*"')
FIGURES = 8  # coverage, MAE, width, calibration, residuals, segments, timeline, A/B test
PRE_TEST_GAMES, TEST_GAMES = 150, 160


def external_references(page: str) -> list[str]:
    """Every reference in ``page`` to something outside it (namespace declarations aside)."""
    text = XMLNS.sub("", page)
    return re.findall(r"(?:https?|ftp|wss?)://[^\s\"'<>)]*|<script|<link|<iframe|@import|url\((?!#)"
                      r"|(?:src|href)\s*=\s*[\"']?(?![#\"']|data:)", text, flags=re.IGNORECASE)


def build_season(home: Path, engine, tiny) -> SimpleNamespace:  # noqa: ANN001
    """A production home whose intervals drifted: real games predicted with intervals far too narrow,
    a conformal check that recalibrates (a recalibration marker), then an A/B test of the first
    version (B forecasts better) with its games resolved. Times are real, relative to now."""
    from conftest import REAL_GAMES

    from nbalife.interchange import load_games
    from nbalife.services import abtest, conformal, outcomes
    from nbalife.services.registry import open_registry
    from nbalife.store.games import upsert_games
    from nbalife.store.predictions import Prediction, log_predictions

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    games = load_games(REAL_GAMES).head(PRE_TEST_GAMES + TEST_GAMES)
    with engine.begin() as conn:
        upsert_games(conn, games, now - dt.timedelta(days=9))
    first = install_production(home, engine, tiny)
    registry = open_registry(home, engine, tiny.settings)

    def logged(rows, version: str, arms, start: dt.datetime, step: dt.timedelta, sharp: bool) -> list:  # noqa: ANN001
        out = []
        for i, (row, arm) in enumerate(zip(rows.itertuples(), arms, strict=True)):
            forecast = float(row.d24) + i % 4 - 1.5 if sharp else float(row.d18)
            out.append(Prediction(row.game_id, arm, version, forecast, forecast - 3.0, forecast + 3.0, None, None,
                                  float(row.d18), start + i * step))
        return out

    before = logged(games.head(PRE_TEST_GAMES), first, ["A"] * PRE_TEST_GAMES, now - dt.timedelta(days=8),
                    dt.timedelta(days=6) / PRE_TEST_GAMES, sharp=False)
    with engine.begin() as conn:
        log_predictions(conn, before)
    outcomes.sync(engine, now=now - dt.timedelta(days=2))
    check = conformal.check(engine, registry, tiny.settings, now=now - dt.timedelta(days=2), apply=True)
    assert check.outcome == "drift" and check.recalibration is not None
    champion = registry.current_version()
    test = abtest.start(engine, registry, tiny.settings, home, candidate=first, mode="split", traffic=0.5,
                        min_improvement=None, now=now - dt.timedelta(days=1, hours=12))
    arms = ["A", "B"] * (TEST_GAMES // 2)
    during = games.iloc[PRE_TEST_GAMES:]
    step = dt.timedelta(days=1) / TEST_GAMES
    start = test.started_at + dt.timedelta(minutes=1)
    rows = [p for p in logged(during, champion, arms, start, step, sharp=False) if p.arm == "A"]
    rows += [p for p in logged(during, first, arms, start, step, sharp=True) if p.arm == "B"]
    with engine.begin() as conn:
        log_predictions(conn, rows)
    outcomes.sync(engine, now=now)
    return SimpleNamespace(first=first, patch=check.recalibration.version, test=test.test_id,
                           arm_a=PRE_TEST_GAMES + TEST_GAMES // 2)


@pytest.fixture
def season(cli_db, engine, tiny_model_set) -> SimpleNamespace:  # noqa: ANN001
    return build_season(cli_db.home, engine, tiny_model_set)


def test_report_of_a_home_with_drift_shows_its_recalibration_and_ab_test(cli_db, season, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = cli_db("--json", "report", "--out", out)
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)
    assert written["n"] == season.arm_a and not written["empty"]
    assert written["production"] == season.patch and written["abtests"] == [season.test]
    page = out.read_text()
    assert written["size_bytes"] == len(page.encode())
    assert page.count("<svg") == FIGURES
    timeline = page[page.index("<h2>Version timeline</h2>"):page.index("<h2>A/B test")]
    assert re.search(rf"<td>recalibration</td><td>{re.escape(season.patch)}</td><td>coverage 0\.\d+ on {PRE_TEST_GAMES}",
                     timeline), timeline[-2000:]
    assert f"<td>promotion</td><td>{season.patch}</td>" in timeline
    ab = page[page.index("<h2>A/B test"):]
    assert f"<td>{season.test}</td><td>{season.patch}</td><td>{season.first}</td><td>split</td>" in ab
    mae = {arm: float(value) for arm, value in re.findall(r"<tr><td>([AB])</td><td>\d+</td><td>([\d.]+)</td>", ab)}
    assert mae["B"] == pytest.approx(1.0) and mae["A"] > 2.0
    assert "Last checks" in page and "<td>conformal_check</td>" in page and "<td>drift</td>" in page
    assert external_references(page) == []


def test_a_window_without_predictions_is_a_page_that_says_so(cli_db, tmp_path: Path) -> None:
    out = tmp_path / "empty.html"
    result = cli_db("--json", "report", "--since", "2001-01-01", "--until", "2001-01-31", "--out", out)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["empty"] is True
    page = out.read_text()
    assert "No resolved predictions from 2001-01-01 00:00 EST to 2001-02-01 00:00 EST" in page  # league days
    assert "<svg" not in page and "No A/B test ran in the period." in page and external_references(page) == []


def test_external_references_are_found() -> None:
    """The check the tests rely on finds what a page must not hold, and passes namespaces."""
    svg = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"></svg>'
    assert external_references(svg) == []
    assert external_references(svg + '<img src="https://cdn.example/x.png">') == ['src="', "https://cdn.example/x.png"]
    assert external_references('<script src="a.js"></script>') == ["<script", 'src="']
    assert external_references('<path clip-path="url(#p1)"/><use xlink:href="#m2"/>') == []
    assert external_references('<rect fill="url(x.svg#p)"/>') == ["url("]
    assert external_references("<style>@import 'x.css'</style>") == ["@import"]


@pytest.mark.parametrize("args, message", [
    (["--out", "{tmp}/missing/report.html"], "--out {tmp}/missing/report.html: folder {tmp}/missing does not exist"),
    (["--out", "{tmp}/pages.html"], "--out {tmp}/pages.html: is a folder, not a file"),
    (["--out", "{tmp}/report.pdf"], "--out {tmp}/report.pdf: unknown file type '.pdf' (use .html)"),
    (["--since", "2024-02-01", "--until", "2024-01-01", "--out", "{tmp}/r.html"],
     "--since 2024-02-01 is after --until 2024-01-01"),
    (["--days", "7", "--since", "2024-01-01", "--out", "{tmp}/r.html"], "--days cannot be combined with --since/--until"),
    (["--since", "2024-13-01", "--out", "{tmp}/r.html"], "'2024-13-01' is not a date"),
])
def test_bad_input_is_exit_2_naming_the_value(cli, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "pages.html").mkdir()
    result = cli("report", *[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 2, result.output
    assert message.format(tmp=tmp_path) in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "pages.html"]


@hsettings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(suffix=st.text(alphabet=st.characters(categories=("L", "N")), min_size=0, max_size=6))
def test_only_html_is_written(cli, tmp_path: Path, suffix: str) -> None:
    name = f"r.{suffix}" if suffix else "r"
    result = cli("report", "--out", tmp_path / name)
    if suffix.lower() == "html":
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 2 and "unknown file type" in result.output and not (tmp_path / name).exists()


def test_a_failing_render_leaves_the_old_page(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbalife.report import page

    out = tmp_path / "report.html"
    out.write_text("old page")

    def broken(content: object) -> str:
        raise RuntimeError("render failed")

    monkeypatch.setattr(page, "render", broken)
    result = cli("report", "--out", out)
    assert result.exit_code != 0 and isinstance(result.exception, RuntimeError)
    assert out.read_text() == "old page" and sorted(p.name for p in tmp_path.iterdir()) == ["home", "report.html"]


def test_since_after_until_as_a_process_is_one_line_and_exit_2(home: Path, tmp_path: Path) -> None:
    done = run_nbalife("--home", str(home), "report", "--since", "2024-02-01", "--until", "2024-01-01",
                       "--out", str(tmp_path / "r.html"))
    assert done.returncode == 2
    assert done.stderr == "error: --since 2024-02-01 is after --until 2024-01-01\n"
    assert not (tmp_path / "r.html").exists()


@pytest.fixture(scope="module")
def replay_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A simulated history for the first model, a short season to replay, and a policy that acts."""
    import yaml

    from nbalife.interchange import write_games
    from nbalife.simulate import simulate_season

    folder = tmp_path_factory.mktemp("replay-report")
    policy = {"lstm": {"hidden_size": 4, "num_layers": 1, "epochs": 2, "patience": 1}, "dejavu": {"k": 20},
              "conformal": {"min_samples": 10, "window_days": 4, "auto_apply": True}, "registry": {"freeze": "none"}}
    (folder / "policy.yaml").write_text(yaml.safe_dump(policy))
    return [write_games(simulate_season(300, season="2022-23", seed=1), folder / "history.csv"),
            write_games(simulate_season(90, season="2023-24", seed=2), folder / "season.csv"), folder / "policy.yaml"]


@pytest.mark.slow  # trains the replay's first model
def test_replay_report_is_the_page_of_the_replayed_season_beside_doing_nothing(cli, replay_files: list[Path],
                                                                              tmp_path: Path) -> None:
    history, season, policy = replay_files
    out = tmp_path / "replay.html"
    result = cli("--json", "replay", "--games", history, "--games", season, "--policy", policy, "--to", "2023-10-26",
                 "--report", out)
    assert result.exit_code == 0, result.output
    replayed = json.loads(result.stdout)
    assert replayed["report"] == str(out)
    page = out.read_text()
    assert "<h1>nbalife replay 2023-10-24 .. " in page and page.count("<svg") >= 6
    nothing = replayed["total"]
    assert (f"<td>do nothing: MAE, coverage, width</td><td>{nothing['nothing_mae']:.3f}, "
            f"{nothing['nothing_coverage']:.3f}, {nothing['nothing_width']:.3f}</td>") in page
    assert f"<td>n (resolved predictions, arm A)</td><td>{replayed['replay_games']}</td>" in page
    assert "<td>recalibration</td>" in page and external_references(page) == []
    alarms = replayed["false_alarms"]  # no --fault: the faults section lists the false alarms
    assert "<h2>Faults</h2>" in page
    assert (f"{len(alarms)} guardrail alert(s), each one false" in page if alarms
            else "no guardrail alert or action" in page)


def test_replay_report_bad_path_is_exit_2_before_replaying(cli, replay_files: list[Path], tmp_path: Path) -> None:
    history, season, _ = replay_files
    result = cli("replay", "--games", history, "--games", season, "--report", tmp_path / "replay.pdf")
    assert result.exit_code == 2
    assert f"--report {tmp_path / 'replay.pdf'}: unknown file type '.pdf' (use .html)" in result.output


def _row(day: int, actual: float, lower: float, upper: float, version: str = "1.0.0", d18: float | None = 0.0):  # noqa: ANN202
    from nbalife.store.predictions import ResolvedPrediction

    at = dt.datetime(2024, 1, 1, 20, tzinfo=dt.timezone.utc) + dt.timedelta(days=day)
    forecast = (lower + upper) / 2
    return ResolvedPrediction(f"g{day}-{actual}-{lower}", "A", version, at, forecast, lower, upper, None, None, actual,
                              actual - forecast, d18)


@hsettings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.booleans(), st.floats(0, 20)), min_size=1, max_size=40))
def test_rolling_figures_pool_the_predictions_of_the_trailing_days(games: list[tuple[int, bool, float]]) -> None:
    import numpy as np

    from nbalife.report.series import daily

    rows = [_row(day, 1.0 if inside else 9.0, -5.0, 5.0 + width) for day, inside, width in games]
    first = dt.date(2024, 1, 1)
    series = daily(rows, first, first + dt.timedelta(days=12), "America/New_York")
    for index, day in enumerate(series.days):
        for span in (7, 30):
            pooled = [r for r in rows if 0 <= (day - r.created_at.date()).days < span]
            expected = np.mean([r.lower <= r.actual <= r.upper for r in pooled]) if pooled else np.nan
            assert np.isclose(series.coverage[span][index], expected, equal_nan=True)
            mae = np.mean([abs(r.error) for r in pooled]) if pooled else np.nan
            assert np.isclose(series.mae[span][index], mae, equal_nan=True)
        today = [r.upper - r.lower for r in rows if r.created_at.date() == day]
        assert np.isclose(series.width[1][index], np.mean(today) if today else np.nan, equal_nan=True)
    assert series.n.sum() == len(rows)


def test_calibration_rescales_each_interval_by_its_versions_quantile_ratio() -> None:
    from nbalife.forecast.conformal import SplitConformal
    from nbalife.report.series import NOMINAL_LEVELS, calibration, level_ratios

    scores = SplitConformal().fit([float(i) for i in range(1, 100)])
    quantiles = {level: scores.quantile_at(1 - level, finite=True) for level in NOMINAL_LEVELS}
    ratios = level_ratios(quantiles, 0.95)
    assert ratios[0.95] == 1.0 and ratios[0.5] == pytest.approx(quantiles[0.5] / quantiles[0.95])
    assert level_ratios({0.95: 0.0}, 0.95) is None
    # intervals of half-width 10; outcomes 1..10 points from the centre: the 50% interval has
    # half-width 10 * ratio, and covers the outcomes within it
    rows = [_row(0, float(k), -10.0, 10.0) for k in range(1, 11)] + [_row(0, 5.0, -10.0, 10.0, version="9.9.9")]
    points = {p.nominal: p for p in calibration(rows, {"1.0.0": ratios})}
    assert points[0.95].empirical == 1.0 and points[0.95].n == 10
    half = 10.0 * ratios[0.5]
    assert points[0.5].empirical == pytest.approx(sum(k <= half for k in range(1, 11)) / 10)


def test_report_by_arm_lists_every_ab_test_and_the_alerts(cli_db, engine, season, tiny_model_set,  # noqa: ANN001
                                                         tmp_path: Path) -> None:
    """Two A/B tests in the window are both on the page; ``--by arm`` draws A and B apart; the
    conformal check's drift is in the alerts table."""
    from nbalife.services import abtest
    from nbalife.services.registry import open_registry

    now = dt.datetime.now(dt.timezone.utc)
    abtest.stop(engine, cli_db.home, reason="a second test follows", now=now - dt.timedelta(minutes=2))
    registry = open_registry(cli_db.home, engine, tiny_model_set.settings)
    second = abtest.start(engine, registry, tiny_model_set.settings, cli_db.home, candidate=season.first,
                          mode="shadow", traffic=1.0, min_improvement=None, now=now - dt.timedelta(minutes=1))
    out = tmp_path / "arms.html"
    result = cli_db("--json", "report", "--by", "arm", "--out", out)
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)
    assert written["abtests"] == [season.test, second.test_id] and written["alerts"] >= 1
    page = out.read_text()
    assert page.count("<svg") == FIGURES + 2  # the second test's figure and the arms figure
    assert "<h2>A/B tests (2 in the period)</h2>" in page
    arms = page[page.index("<h2>By arm</h2>"):page.index("<h2>Version timeline</h2>")]
    assert re.search(rf"<tr><td>A</td><td>{season.arm_a}</td>", arms) and "<tr><td>B</td><td>80</td>" in arms
    alerts = page[page.index("<h2>Alerts</h2>"):page.index("<h2>A/B tests")]
    assert "<td>conformal_check</td><td>coverage</td><td>1</td><td>1</td>" in alerts
    bad = cli_db("report", "--by", "version", "--out", tmp_path / "x.html")
    assert bad.exit_code == 2 and "--by 'version': use one of arm" in bad.output


def test_days_are_game_days_in_league_time() -> None:
    """A game of 2024-01-01 in New York, predicted at 20:15 there (01:15 UTC the next day), counts
    on its own date."""
    from nbalife.report.series import daily, league_day
    from nbalife.store.predictions import ResolvedPrediction

    at = dt.datetime(2024, 1, 2, 1, 15, tzinfo=dt.timezone.utc)
    row = ResolvedPrediction("g", "A", "1.0.0", at, 0.0, -5.0, 5.0, None, None, 1.0, 1.0, 0.0)
    assert league_day(at, "America/New_York") == dt.date(2024, 1, 1)
    assert daily([row], dt.date(2024, 1, 1), dt.date(2024, 1, 2), "America/New_York").n.tolist() == [1, 0]


@pytest.mark.parametrize(("zone", "day"), [("America/New_York", dt.date(2024, 1, 2)),
                                           ("America/Los_Angeles", dt.date(2024, 1, 1))])
def test_the_reports_days_follow_the_configured_league_timezone(engine, home: Path, tiny_model_set,  # noqa: ANN001
                                                                  zone: str, day: dt.date) -> None:
    """A prediction at 05:30 UTC is 00:30 in New York, the next day, and 21:30 the evening before in
    Los Angeles: the page counts it on the day ``league.timezone`` gives it."""
    import dataclasses

    from conftest import REAL_GAMES

    from nbalife.interchange import load_games
    from nbalife.services import outcomes
    from nbalife.services.registry import open_registry
    from nbalife.services.report import gather
    from nbalife.store.games import upsert_games
    from nbalife.store.predictions import Prediction, log_predictions

    at = dt.datetime(2024, 1, 2, 5, 30, tzinfo=dt.timezone.utc)
    game = next(load_games(REAL_GAMES).head(1).itertuples())
    with engine.begin() as conn:
        upsert_games(conn, load_games(REAL_GAMES).head(1), at - dt.timedelta(days=1))
    version = install_production(home, engine, tiny_model_set)
    with engine.begin() as conn:
        log_predictions(conn, [Prediction(game.game_id, "A", version, float(game.d18), float(game.d18) - 3.0,
                                          float(game.d18) + 3.0, None, None, float(game.d18), at)])
    outcomes.sync(engine, now=at + dt.timedelta(hours=1))
    base = tiny_model_set.settings
    settings = dataclasses.replace(base, league=dataclasses.replace(base.league, timezone=zone))
    content = gather(engine, open_registry(home, engine, settings), settings, now=at + dt.timedelta(hours=2), days=3)
    assert content.zone == zone
    assert content.daily is not None and list(content.daily.days) == [day] and content.daily.n.tolist() == [1]


@pytest.mark.parametrize("value", [22.2253, 0.0, -3.5, 1e6])
def test_a_constant_series_gets_a_readable_axis(value: float) -> None:
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from nbalife.report.figures import _readable_y

    figure = Figure()
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    series = np.full(30, value) + np.linspace(0, 1e-12, 30)  # constant up to rounding
    ax.plot(range(30), series)
    _readable_y(ax, series)
    figure.canvas.draw()
    low, high = ax.get_ylim()
    assert low < value < high and high - low >= 1.0
    assert ax.yaxis.get_major_formatter().get_offset() == ""  # no "1e-11+2.2253e1"
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and all("e" not in label for label in labels)


def _markers(kinds: list[str], start: dt.datetime, step: dt.timedelta) -> list:
    from nbalife.report.content import Marker

    return [Marker(start + i * step, kind, f"1.{i}.0", "") for i, kind in enumerate(kinds)]


def test_time_axes_draw_a_line_only_where_production_changed() -> None:
    from matplotlib.figure import Figure

    from nbalife.report.figures import _time_axis

    start = dt.datetime(2024, 1, 1, 8, tzinfo=dt.timezone.utc)
    markers = _markers(["promotion", "retrain", "update", "recalibration", "rollback", "update"], start,
                       dt.timedelta(days=3))
    ax = Figure().subplots()
    _time_axis(ax, dt.date(2024, 1, 1), dt.date(2024, 1, 31), markers, "America/New_York")
    assert len(ax.lines) == 2  # the promotion and the rollback


@hsettings(max_examples=15, deadline=None)
@given(changes=st.integers(1, 120), hours=st.integers(1, 72))
def test_version_labels_on_the_timeline_never_overlap(changes: int, hours: int) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from nbalife.report.figures import timeline_figure

    start = dt.datetime(2024, 1, 1, 8, tzinfo=dt.timezone.utc)
    markers = _markers(["promotion", "recalibration"] * changes, start, dt.timedelta(hours=hours))
    last = (markers[-1].at + dt.timedelta(days=1)).date()
    figure = timeline_figure(markers, dt.date(2024, 1, 1), last, "America/New_York")
    FigureCanvasAgg(figure)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in figure.axes[0].texts]
    assert boxes  # the first change of production is always labelled
    whole = figure.bbox
    for i, box in enumerate(boxes):
        assert whole.x0 <= box.x0 and box.x1 <= whole.x1  # inside the figure
        assert not any(box.overlaps(other) for other in boxes[i + 1:])


def _replay_page(**faults) -> str:  # noqa: ANN003
    """A replay page with no resolved prediction, rendered straight from its content."""
    from nbalife.report.content import ReportContent
    from nbalife.report.page import render
    from nbalife.services.metrics import MetricsRow

    until = dt.datetime(2024, 1, 31, 14, tzinfo=dt.timezone.utc)
    total = MetricsRow("all", 0, None, None, None, None, None, None, None, None, None, None)
    return render(ReportContent("nbalife replay", until, None, until, "1.0.0", "A", total, 0.9, 0.02, 0.85, [], [],
                                None, None, None, [], [], "America/New_York", **faults))


def test_the_replay_page_lists_the_faults_or_the_false_alarms() -> None:
    from nbalife.services.faults import Damage, FalseAlarm, FaultRow

    at = dt.datetime(2024, 1, 10, 17, tzinfo=dt.timezone.utc)
    row = FaultRow("bias@2024-01-10:<BOS>", "bias", at, at + dt.timedelta(days=2), "guard <coverage>", 14, 2.0,
                   "rollback", at + dt.timedelta(days=3), Damage(20, 6.25, 0.7, 5.5, 0.9))
    page = _replay_page(faults=[row], false_alarms=None)
    assert "<h2>Faults</h2>" in page and external_references(page) == []
    assert ("<tr><td>bias@2024-01-10:&lt;BOS&gt;</td><td>bias</td><td>2024-01-10 12:00 EST</td>"
            "<td>2024-01-12 12:00 EST</td><td>guard &lt;coverage&gt;</td><td>14</td><td>2.000</td><td>rollback</td>"
            "<td>2024-01-13 12:00 EST</td><td>20</td><td>6.250 / 5.500</td><td>0.700 / 0.900</td></tr>") in page
    assert "<BOS>" not in page and "no guardrail alert" not in page
    undetected = FaultRow("stale-model@2024-01-10", "stale-model", at, None, None, None, None, None, None,
                          Damage(0, None, None, None, None))
    assert "<td>stale-model</td><td>2024-01-10 12:00 EST</td><td>-</td><td>-</td>" in _replay_page(faults=[undetected])

    alarm = FalseAlarm("coverage", at, at + dt.timedelta(hours=12), 2, None, "coverage 0.8 < 0.85 & <n>")
    page = _replay_page(faults=[], false_alarms=[alarm])
    assert "1 guardrail alert(s), each one false" in page
    assert ("<tr><td>coverage</td><td>2024-01-10 12:00 EST</td><td>2024-01-11 00:00 EST</td><td>2</td><td>-</td>"
            "<td>coverage 0.8 &lt; 0.85 &amp; &lt;n&gt;</td></tr>") in page
    assert "no guardrail alert or action" in _replay_page(faults=[], false_alarms=[])
    assert "<h2>Faults</h2>" not in _replay_page()  # `nbalife report`: no faults section
