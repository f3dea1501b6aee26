"""Fixtures: random walks with a per-game drift (so the future is partly predictable) and the
real 2015-16 games."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbalife.interchange import DIFF_COLUMNS, load_games

REAL_GAMES = Path(__file__).resolve().parents[2] / "data" / "nba" / "nba_2015_16_early.csv"
TEAMS = ["ATL", "BOS", "CHI", "DAL", "GSW", "LAL", "MIA", "NYK"]


def random_walk_games(n: int, seed: int = 0, *, drift_sd: float = 0.6, step_sd: float = 2.0,
                      start: str = "2023-10-24", id_prefix: str = "RW") -> pd.DataFrame:
    """``n`` games in the interchange format: whole-point steps ``round(N(mu, step_sd))`` with a
    per-game drift ``mu ~ N(0.05, drift_sd)`` points a minute, about 8 games a day."""
    rng = np.random.default_rng(seed)
    drift = rng.normal(0.05, drift_sd, (n, 1))
    steps = np.round(rng.normal(drift, step_sd, (n, len(DIFF_COLUMNS))))
    steps[:, 0] = 0
    diffs = np.cumsum(steps, axis=1).astype(np.int64)
    home = rng.integers(0, len(TEAMS), n)
    away = (home + rng.integers(1, len(TEAMS), n)) % len(TEAMS)
    frame = pd.DataFrame(diffs, columns=DIFF_COLUMNS)
    frame.insert(0, "game_id", [f"{id_prefix}{seed}-{i:06d}" for i in range(n)])
    frame.insert(1, "season", "2023-24")
    frame.insert(2, "game_date", (np.datetime64(start) + np.arange(n) // 8).astype(str))
    frame.insert(3, "home", np.array(TEAMS)[home])
    frame.insert(4, "away", np.array(TEAMS)[away])
    frame["final_diff"] = diffs[:, -1] + np.round(rng.normal(0, 8, n)).astype(np.int64)
    return frame


@pytest.fixture(scope="session")
def walks() -> pd.DataFrame:
    """3,000 random-walk games in date order."""
    return random_walk_games(3000, seed=1)


@pytest.fixture(scope="session")
def real_frame() -> pd.DataFrame:
    """The 319 real games of the 2015-16 season."""
    return load_games(REAL_GAMES)


def damage_file(path: Path, how: str) -> None:
    """Truncate a file to half, overwrite it with garbage, or delete it."""
    if how == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "garbage":
        path.write_bytes(b"\x00not a model\xff")
    else:
        path.unlink()
