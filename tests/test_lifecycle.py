"""The lifecycle demo (services.lifecycle): a small run in which a scoring-variance drift makes
the daily conformal check recalibrate, every version and event carries the simulated time, and
the demo ends with a rollback."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from nbalife.services import lifecycle
from nbalife.simulate import parse_drift

TINY = lifecycle.Size(history_games=500, season_games=200, season_days=None, lstm_hidden=4, lstm_epochs=2)
NOW = dt.datetime(2024, 1, 10, 15, 30, tzinfo=dt.timezone.utc)  # 10:30 in New York


def test_variance_drift_fires_a_recalibration_and_the_demo_rolls_back(
        tmp_path: Path, engine, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from nbalife.config import Settings
    from nbalife.services.registry import open_registry

    monkeypatch.setattr(lifecycle, "QUICK", TINY)
    home = tmp_path / "demo-home"
    seen_days: list[tuple[int, int]] = []
    told: list[lifecycle.Step] = []
    result = lifecycle.run_lifecycle(home, engine, Settings(), quick=True, real=False, seed=3, now=NOW,
                                     days=lambda done, total: seen_days.append((done, total)), on_step=told.append)

    assert told == result.steps
    assert [s.name for s in result.steps] == ["data", "train", "season", "abtest", "rollback"]
    assert all(s.description for s in result.steps)
    assert seen_days and seen_days[-1][0] == seen_days[-1][1]
    (history, season), _line = lifecycle._simulated(TINY, 3, NOW, Settings().league.timezone)
    assert season["game_date"].iloc[-1] == "2024-01-09" and result.status.now == NOW
    assert dt.date.fromisoformat(history["game_date"].iloc[-1]) == (
        dt.date.fromisoformat(season["game_date"].iloc[0]) - lifecycle.OFFSEASON)
    assert not set(history["game_id"]) & set(season["game_id"])
    drift_starts = season["game_date"].iloc[int(parse_drift(lifecycle.DRIFT).at * len(season))]
    applied = [a for a in result.actions if a.job == "conformal-check" and a.outcome == "applied"]
    widened = [a for a in applied if _quantiles(a.detail)[1] > _quantiles(a.detail)[0]]
    assert widened, [dataclasses.astuple(a) for a in result.actions if a.job != "metrics-check"]
    assert drift_starts <= widened[0].at.date().isoformat()
    registry = open_registry(home, engine, lifecycle.demo_policy(Settings(), TINY))
    assert registry.current_version() == result.production
    assert f"to {result.production} (the one before it)" in result.steps[-1].description
    assert result.status.production == result.production
    # the demo's status reads its home, as `nbalife status` does: the cron table is there (no wrapper ran)
    assert result.status.cron is not None and result.status.cron.jobs == []
    assert {r.version for r in result.versions} == set(registry.versions())
    _assert_simulated_times(registry, result, dt.date.fromisoformat(season["game_date"].iloc[0]))


def test_the_simulated_stretch_ends_the_day_before_now_in_the_configured_league_time() -> None:
    """05:30 UTC is already the next day in New York but still the evening before in Los Angeles."""
    now = dt.datetime(2024, 1, 10, 5, 30, tzinfo=dt.timezone.utc)
    ends = {zone: lifecycle._simulated(TINY, 3, now, zone)[0][1]["game_date"].iloc[-1]
            for zone in ("America/New_York", "America/Los_Angeles")}
    assert ends == {"America/New_York": "2024-01-09", "America/Los_Angeles": "2024-01-08"}


def _assert_simulated_times(registry, result: lifecycle.LifecycleResult, first_day: dt.date) -> None:  # noqa: ANN001
    """Versions are created, and switched, at the simulated time of the job that made them."""
    by_version = {r.version: r.created_at for r in result.versions}
    for action in result.actions:
        if action.job in ("dejavu-update", "conformal-check") and action.outcome == "applied" or (
                action.job == "dejavu-update" and action.outcome == "promoted"):
            assert by_version[action.version] == action.at
    assert all(r.created_at.date() < first_day for r in result.versions if r.version == "1.0.0")
    switches = [e for e in registry.history() if e.action in ("promote", "rollback")]
    assert switches[-1].action == "rollback" and switches[-1].time == NOW - dt.timedelta(seconds=1)
    assert [e.time for e in switches] == sorted(e.time for e in switches)


def _quantiles(detail: str) -> tuple[float, float]:
    """``quantile A -> B`` of a recalibration's line."""
    old, _, new = detail.partition("quantile ")[2].partition(" -> ")
    return float(old), float(new.split()[0])
