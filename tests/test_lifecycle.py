"""The lifecycle demo (services.lifecycle): a small run in which a scoring-variance drift makes
the daily conformal check recalibrate, and the demo ends with a rollback."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from nbalife.services import lifecycle

TINY = lifecycle.Size(history_games=500, season_games=200, season_days=None, lstm_hidden=4, lstm_epochs=2)


def test_variance_drift_fires_a_recalibration_and_the_demo_rolls_back(
        tmp_path: Path, engine, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from nbalife.config import Settings
    from nbalife.services.registry import open_registry

    monkeypatch.setattr(lifecycle, "QUICK", TINY)
    home = tmp_path / "demo-home"
    seen_days: list[tuple[int, int]] = []
    result = lifecycle.run_lifecycle(home, engine, Settings(), quick=True, real=False, seed=3,
                                     days=lambda done, total: seen_days.append((done, total)))

    assert [s.name for s in result.steps] == ["data", "train", "season", "abtest", "rollback"]
    assert all(s.description for s in result.steps)
    assert seen_days and seen_days[-1][0] == seen_days[-1][1]
    drift_starts = _drift_start(seed=3)
    applied = [a for a in result.actions if a.job == "conformal-check" and a.outcome == "applied"]
    widened = [a for a in applied if _quantiles(a.detail)[1] > _quantiles(a.detail)[0]]
    assert widened, [dataclasses.astuple(a) for a in result.actions if a.job != "metrics-check"]
    assert drift_starts <= widened[0].at.date().isoformat()
    registry = open_registry(home, engine, lifecycle.demo_policy(Settings(), TINY))
    assert registry.current_version() == result.production
    assert result.steps[-1].description.endswith(f"to {result.production}")


def _drift_start(seed: int) -> str:
    """The date of the first game of the demo's production stretch that plays with the drift."""
    from nbalife.simulate import parse_drift, simulate_season

    drift = parse_drift(lifecycle.DRIFT)
    season = simulate_season(TINY.season_games, season="2023-24", seed=seed + 1, drift=drift)
    return str(season["game_date"].iloc[int(drift.at * TINY.season_games)])


def _quantiles(detail: str) -> tuple[float, float]:
    """``quantile A -> B`` of a recalibration's line."""
    old, _, new = detail.partition("quantile ")[2].partition(" -> ")
    return float(old), float(new.split()[0])
