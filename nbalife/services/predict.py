"""The prediction loop: forecast games with the production model set and log them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from nbalife.errors import BadInput
from nbalife.interchange import (
    PATTERN_COLUMNS,
    check_output,
    load_games,
    pattern_values,
    write_games,
)
from nbalife.registry import Registry
from nbalife.services.forecasting import FORECAST_FIELDS, ForecastRow, PredictResult, forecast, forecast_routed
from nbalife.services.matchups import single_game, with_store
from nbalife.services.model_loading import load_model_set

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from nbalife.forecast.dejavu import Analog
    from nbalife.services.model_loading import LoadedModelSet


def parse_pattern(game_id: str, text: str) -> list[float]:
    """``"0,2,-1,…"`` (19 numbers, d0..d18) as floats, by the interchange format's rules; bad
    input names the game, the column and the value."""
    if not game_id.strip():
        raise BadInput("--game-id is empty")
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != len(PATTERN_COLUMNS):
        raise BadInput(f"--pattern for game {game_id} has {len(parts)} values, expected "
                       f"{len(PATTERN_COLUMNS)} (d0..d18)")
    return pattern_values(parts, f"--pattern for game {game_id}")


def _forecast_frame(rows: list[ForecastRow]) -> pd.DataFrame:
    """One column per ``ForecastRow`` field, one row per forecast (built column by column)."""
    import pandas as pd

    return pd.DataFrame({name: [getattr(row, name) for row in rows] for name in FORECAST_FIELDS})


def write_forecasts(result: PredictResult, path: Path) -> PredictResult:
    """Write the forecasts to CSV or Parquet atomically."""
    write_games(_forecast_frame(result.rows), path)
    return dataclasses.replace(result, output=Path(path))


def predict_games(
    engine: Engine,
    registry: Registry,
    *,
    now: dt.datetime,
    input_file: Path | None = None,
    game_id: str | None = None,
    pattern: str | None = None,
    matchup: str | None = None,
    date: str | None = None,
    output: Path | None = None,
    arm: str | None = None,
    again: bool = False,
    explain: int = 0,
    log: bool = True,
) -> PredictResult:
    """Check the output path and validate the input first, then load production (verified)
    once for the whole batch, so bad input logs nothing.

    Each game's context is its teams' ratings as of its date, from the store's finished games
    plus the input file's own earlier ones; a single ``pattern`` has it only with ``matchup``
    (``AWAY@HOME``) and ``date``, and is forecast pattern-only without them.

    ``explain`` > 0 lists that many Dejavu analog games of a single ``pattern``. With no ``arm``,
    games are routed through the running A/B test (services.abtest), else production logs as arm
    A; an ``arm`` is the expert override: production logs under it, bypassing the test. Without
    ``log`` the same forecasts are made and nothing is written to the prediction log.
    """
    import numpy as np

    if output is not None:
        check_output(output, source=input_file, option="--output")
    if input_file is not None:
        if matchup is not None or date is not None:
            raise BadInput("--matchup and --date go with a single --game-id/--pattern (a file has its own)")
        frame = load_games(input_file, require_future=False, allow_empty=True)
        ids, patterns = list(frame["game_id"]), frame[PATTERN_COLUMNS].to_numpy(dtype=np.float32)
        games = frame
    elif game_id and pattern is not None:
        ids, patterns = [game_id], np.asarray([parse_pattern(game_id, pattern)], dtype=np.float32)
        games = single_game(game_id, matchup, date)
    else:
        raise BadInput("give either an input file or a game id with its pattern")
    if explain and pattern is None:
        raise BadInput("--explain works with a single --game-id/--pattern")
    loaded = load_model_set(registry)
    analogs = _analogs(loaded, patterns[0], explain) if explain else []
    matchups = None if games is None else with_store(engine, games, loaded.models)
    routed = None if arm else forecast_routed(engine, registry, loaded, ids, patterns, now=now, again=again,
                                              matchups=matchups, log=log)
    result = routed or forecast(engine, loaded, ids, patterns, now=now, arm=arm or "A", again=again,
                                matchups=matchups, log=log)
    result = dataclasses.replace(result, analogs=analogs)
    return write_forecasts(result, output) if output is not None else result


def _analogs(loaded: LoadedModelSet, pattern: np.ndarray, n: int) -> list[Analog]:
    """The ``n`` nearest analog games of ``pattern``; more than the database holds is bad input."""
    size = loaded.models.dejavu.n_patterns_
    if n > size:
        raise BadInput(f"--explain {n}: the Dejavu database of version {loaded.version} holds {size} games")
    return loaded.models.dejavu.explain(pattern, n)
