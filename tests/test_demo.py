"""``nbalife demo``: the lifecycle end to end on the embedded default, simulated and real."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run_nbalife

FAST = "lstm:\n  epochs: 2\n  hidden_size: 8\n  num_layers: 1\n  patience: 1\ndejavu:\n  k: 20\n"
SEASONS = ("nba_2020-21.csv", "nba_2021-22.csv", "nba_2022-23.csv")


def test_demo_runs_on_a_given_home(cli, home: Path) -> None:
    result = cli("--json", "demo", "--games", "500")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["home"] == str(home.resolve())
    assert report["seasons"][0]["games"] == 500
    assert (home / "nbalife.db").is_file()
    expected = {"ensemble", "dejavu", "lstm", "persistence", "oracle"}
    assert expected <= {s["model"] for s in report["scores"]} <= expected | {"context"}
    assert report["steps"]["predicted"].startswith("125 upcoming games logged")
    assert report["steps"]["outcomes"] == "125 predictions resolved"
    assert json.loads(cli("--json", "registry", "current").stdout)["version"] == "1.0.0"



@pytest.fixture
def real_slice(tmp_path: Path, repo_data: Path) -> Path:
    """A small slice of the bundled real seasons, in the bundled file names."""
    folder = tmp_path / "nba"
    folder.mkdir()
    for name, rows in zip(SEASONS, (400, 150, 40)):
        pd.read_csv(repo_data / name, dtype=str).head(rows).to_csv(folder / name, index=False)
    return folder


def test_real_demo_trains_on_earlier_seasons_and_plays_the_last_day_by_day(cli, home: Path,
                                                                         real_slice: Path) -> None:
    (home / "config.yaml").write_text(FAST)
    result = cli("--json", "demo", "--real", "--data", str(real_slice), "--days", "3")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    last = pd.read_csv(real_slice / SEASONS[-1], dtype=str)
    days = sorted(last["game_date"].unique())[:3]
    played = int(last["game_date"].isin(days).sum())
    assert [(s["season"], s["games"]) for s in report["seasons"]] == [
        ("2020-21", 400), ("2021-22", 150), ("2022-23", played)]
    assert report["steps"]["played"].startswith(f"3 game days of 2022-23 ({days[0]} .. {days[-1]}): "
                                                f"{played} games predicted")
    assert report["steps"]["played"].endswith(f"{played} outcomes synced")
    expected = {"ensemble", "dejavu", "lstm", "persistence"}
    assert expected <= {s["model"] for s in report["scores"]} <= expected | {"context"}
    assert all(s["n"] == played for s in report["scores"])
    assert json.loads(cli("--json", "registry", "current").stdout)["version"] == "1.0.0"


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


def test_lifecycle_demo_runs_every_step(cli, home: Path) -> None:
    result = cli("--json", "demo", "--lifecycle", "--quick")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [s["name"] for s in report["steps"]] == ["data", "train", "season", "abtest", "rollback"]
    assert {a["job"] for a in report["actions"]} >= {"metrics-check", "dejavu-update"}
    assert report["steps"][-1]["description"].startswith("rolled production back")
    assert json.loads(cli("--json", "registry", "current").stdout)["version"] == report["production"]


def test_quick_without_lifecycle_is_a_usage_error(cli) -> None:
    result = cli("demo", "--quick")
    assert result.exit_code == 2 and "--quick" in result.stderr
