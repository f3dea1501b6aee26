"""``nbalife demo``: the whole lifecycle in simulated time on a fresh home, simulated and real
(a tiny size: the real sizes are measured in README)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from nbalife.services import lifecycle
from tests.conftest import pin_now, run_nbalife

SEASONS = (*lifecycle.REAL_HISTORY, lifecycle.REAL_SEASON)
TINY = lifecycle.Size(history_games=500, season_games=200, season_days=None, lstm_hidden=4, lstm_epochs=2)
STEPS = ["data", "train", "season", "abtest", "rollback"]
NOW = dt.datetime(2024, 1, 10, 15, 30, tzinfo=dt.timezone.utc)


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--quick`` at a size a test can afford."""
    monkeypatch.setattr(lifecycle, "QUICK", TINY)


def test_demo_json_reports_steps_actions_versions_and_status_up_to_now(cli, home: Path, tiny: None,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    pin_now(monkeypatch, NOW)
    result = cli("--json", "demo", "--quick", "--seed", "3")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["home"] == str(home.resolve()) and (home / "nbalife.db").is_file()
    assert [s["name"] for s in report["steps"]] == STEPS
    # the online interval absorbs the demo's drift, so the metrics check (bounded evidence) stays quiet
    assert {a["job"] for a in report["actions"]} >= {"dejavu-update", "conformal-check"}
    listed = json.loads(cli("--json", "registry", "list").stdout)
    assert [v["version"] for v in report["versions"]] == [v["version"] for v in listed]
    # the simulated stretch ends the day before now, so the home is current: `status` now sees it
    status = json.loads(cli("--json", "status").stdout)
    assert status == report["status"] and status["production"] == report["production"]
    assert status["windows"][0]["days"] == 7 and status["windows"][0]["n"] > 0
    assert report["steps"][0]["description"].split("; ")[0].endswith("..2024-01-09)")
    created = sorted(dt.datetime.fromisoformat(v["created_at"]) for v in report["versions"])
    assert created[-1] < NOW and created[0] < NOW - dt.timedelta(days=100)


def test_demo_refuses_a_home_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    proc = run_nbalife("--home", str(tmp_path), "demo", "--quick")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"error: --home {tmp_path}: is not empty (notes.txt); the demo would overwrite "
                                   "its games and production: give an empty folder, or --force")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.fixture
def real_slice(tmp_path: Path, repo_data: Path) -> Path:
    """A small slice of the bundled real seasons, in the bundled file names."""
    folder = tmp_path / "nba"
    folder.mkdir()
    for name, rows in zip(SEASONS, (400, 150, 80)):
        pd.read_csv(repo_data / name, dtype=str).head(rows).to_csv(folder / name, index=False)
    return folder


def test_real_demo_tells_each_step_and_ends_with_registry_list_and_status(cli, home: Path, tiny: None,
                                                                         real_slice: Path) -> None:
    result = cli("demo", "--quick", "--real", "--data", str(real_slice))
    assert result.exit_code == 0, result.output
    numbered = [line for line in result.stdout.splitlines() if line[:1].isdigit()]
    assert [line.split(":")[0] for line in numbered] == [f"{i}. {name}" for i, name in enumerate(STEPS, 1)]
    last = pd.read_csv(real_slice / SEASONS[-1], dtype=str)
    days = sorted(last["game_date"].unique())
    history_end = _last_date(real_slice / SEASONS[1])
    assert numbered[0].startswith(
        f"1. data: real history: 550 games of {', '.join(SEASONS[:2])} (2020-12-22..{history_end}); "
        f"production stretch: the first {len(days)} game days of {SEASONS[2]} (80 games, {days[0]}..{days[-1]}) [")
    assert numbered[1].startswith("2. train: trained 1.0.0 on the history, registered and promoted it")
    assert numbered[2].startswith(f"3. season: played {_days(days)} simulated days: predicted each of 80 games "
                                  "at minute 18")
    current = json.loads(cli("--json", "registry", "current").stdout)["version"]
    assert f" to {current} (the one before it)" in numbered[-1]
    assert "Model registry" in result.stdout and "Retrain triggers now" in result.stdout


def test_real_demo_with_missing_data_names_the_path(tmp_path: Path) -> None:
    empty = tmp_path / "nowhere"
    empty.mkdir()
    proc = run_nbalife("--home", str(tmp_path / "home"), "demo", "--real", "--data", str(empty))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"error: {empty / SEASONS[0]}: bundled real season missing "
                                   f"(nbalife demo --real needs {', '.join(SEASONS)})")


def test_real_demo_with_damaged_data_names_the_file(cli, real_slice: Path) -> None:
    damaged = real_slice / SEASONS[1]
    damaged.write_text(damaged.read_text().replace(",0,", ",x,", 1))
    result = cli("demo", "--real", "--data", str(real_slice))
    assert result.exit_code == 2
    assert str(damaged) in result.stderr and len(result.stderr.strip().splitlines()) == 1


def _last_date(path: Path) -> str:
    return str(pd.read_csv(path, dtype=str)["game_date"].iloc[-1])


def _days(game_days: list[str]) -> int:
    return (dt.date.fromisoformat(game_days[-1]) - dt.date.fromisoformat(game_days[0])).days + 1
