"""A season of fixed-clock metrics checks on the real 2022-23 season, nothing wrong: production
serves every game, every result arrives and is synced the same night. With the shipped monitoring
defaults the checks must alert fewer than once a week (a check that paged for a quiet night's
few games, or judged coverage by a point estimate of a handful of games, alerts most days)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.conftest import install_production

CHECK_HOURS = (dt.time(6), dt.time(12), dt.time(18))  # besides the season runner's own at 23:59


@pytest.mark.slow
def test_a_season_of_checks_on_real_2022_23_alerts_fewer_than_once_a_week(
        tiny_model_set, repo_data: Path, engine, tmp_path: Path) -> None:  # noqa: ANN001
    from nbalife.interchange import load_games
    from nbalife.ops.schedule import local_at
    from nbalife.services import metrics
    from nbalife.services.data import ingest
    from nbalife.services.registry import open_registry
    from nbalife.services.season import Season, play_day, run_season

    settings = tiny_model_set.settings  # the shipped defaults, but a tiny LSTM for the monthly retrain
    zone = settings.league.timezone
    games = load_games(repo_data / "nba_2022-23.csv")
    ingest(engine, repo_data / "nba_2020-21.csv", now=dt.datetime(2021, 6, 1, tzinfo=dt.timezone.utc))  # its training
    install_production(tmp_path, engine, tiny_model_set)
    registry = open_registry(tmp_path, engine, settings)
    extra: list[metrics.MetricsCheck] = []

    def day(season: Season, date: dt.date) -> None:
        play_day(season, date)  # ends with the day's 23:59 check, an action when it alerts
        extra.extend(metrics.check(engine, settings.monitoring, now=local_at(date, at, zone), zone=zone,
                                   repeat_hours=settings.notify.repeat_hours) for at in CHECK_HOURS)

    run = run_season(games, engine=engine, registry=registry, settings=settings, home=tmp_path, day_step=day)

    weeks = len({(dt.date.fromisoformat(d) - dt.timedelta(days=dt.date.fromisoformat(d).weekday()))
                 for d in games["game_date"]})
    nightly = [a for a in run.actions if a.job == "metrics-check"]
    alerts = nightly + [c for c in extra if c.outcome == "alert"]
    notified = [c for c in extra if c.notify]
    checks = run.days + len(extra)
    print(f"\n{checks} fixed-clock checks over {run.days} days ({weeks} weeks of games, {len(games)} games): "
          f"{len(alerts)} alerts ({len(nightly)} at 23:59), {len(notified)} of the others notified; "
          f"causes {sorted({c for a in nightly for c in a.causes} | {c for x in extra for c in x.causes})}")
    assert run.days == 174 and checks == 4 * 174 and all(c.outcome in ("ok", "alert") for c in extra[len(CHECK_HOURS):])
    assert len(run.served) == len(games)  # nothing wrong: every game was served
    assert len(alerts) < weeks


def test_the_season_checks_metrics_in_the_league_zone_with_the_repeat_hours(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner's nightly check counts missing games by league day in ``league.timezone`` and
    repeats notifications after ``notify.repeat_hours``, as ``nbalife metrics check`` does."""
    from types import SimpleNamespace

    from nbalife.config import load_settings
    from nbalife.services import season as season_module

    settings = load_settings(None, environ={}, overrides={"league.timezone": "America/Los_Angeles",
                                                          "notify.repeat_hours": 6}).settings
    seen = {}

    def check(engine, monitoring, **kwargs):  # noqa: ANN001, ANN202
        seen.update(kwargs)
        return SimpleNamespace(outcome="ok")

    monkeypatch.setattr(season_module.metrics, "check", check)
    at = dt.datetime(2023, 1, 10, 7, 59, tzinfo=dt.timezone.utc)
    season = SimpleNamespace(engine=None, settings=settings, zone=settings.league.timezone)
    assert season_module._metrics(season, at) is None
    assert seen == {"now": at, "zone": "America/Los_Angeles", "repeat_hours": 6}
