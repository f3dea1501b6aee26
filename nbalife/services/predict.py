"""The prediction loop: forecast games with the production model set and log them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from nbalife.errors import BadInput, quoted
from nbalife.interchange import (
    PATTERN_COLUMNS,
    check_output,
    load_games,
    pattern_values,
    write_games,
)
from nbalife.registry import Registry
from nbalife.services.matchups import Matchups, game_context, single_game, with_store
from nbalife.services.model_loading import load_model_set
from nbalife.store.engine import lock_for_write, reachable
from nbalife.store.predictions import Prediction, already_logged, write_predictions
from nbalife.vocab import ARMS

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from nbalife.forecast.dejavu import Analog
    from nbalife.services.model_loading import LoadedModelSet


@dataclass(frozen=True)
class ForecastRow:
    """One game's forecast and whether it was written to the prediction log; ``context`` says
    what pre-game context it used ("ratings", "unknown-team": a team got the mean rating,
    "none": pattern-only) and ``context_forecast`` is the context component's forecast."""

    game_id: str
    forecast: float
    lower: float
    upper: float
    dejavu: float
    lstm: float
    d18: float
    version: str
    arm: str
    logged: bool
    context: str
    context_forecast: float | None


_FORECAST_FIELDS = [f.name for f in dataclasses.fields(ForecastRow)]


@dataclass(frozen=True)
class PredictResult:
    """Forecasts of a batch; ``skipped`` games were already logged (use ``again``)."""

    version: str
    rows: list[ForecastRow]
    logged: int
    skipped: int
    output: Path | None = None
    analogs: list[Analog] = field(default_factory=list)


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


def forecast(
    engine: Engine,
    loaded: LoadedModelSet,
    game_ids: list[str],
    patterns: np.ndarray,
    *,
    now: dt.datetime,
    arm: str = "A",
    again: bool = False,
    matchups: Matchups | None = None,
) -> PredictResult:
    """Forecast every pattern (with each game's context as of its date where ``matchups`` are
    given, else pattern-only), then log one row per game (already-logged games only with
    ``again``)."""
    if arm not in ARMS:
        raise BadInput(f"arm {quoted(arm)} is not one of {', '.join(ARMS)}")
    if len(set(game_ids)) != len(game_ids):
        raise BadInput("the same game_id appears more than once in the input")
    context = game_context(loaded.models, matchups, len(game_ids))
    result = loaded.models.predict(patterns, context.edge)
    strength = [None] * len(game_ids) if result.context is None else [float(v) for v in result.context]
    with reachable(engine), engine.begin() as conn:
        lock_for_write(conn)  # SQLite: what is already logged stays true until this commits
        skip = set() if again else already_logged(conn, game_ids, arm)
        rows = [
            ForecastRow(game_id, float(result.forecast[i]), float(result.lower[i]), float(result.upper[i]),
                        float(result.dejavu[i]), float(result.lstm[i]), float(patterns[i, -1]),
                        loaded.version, arm, game_id not in skip, context.labels[i], strength[i])
            for i, game_id in enumerate(game_ids)
        ]
        written = {p.game_id for p in write_predictions(conn, [
            Prediction(r.game_id, arm, r.version, r.forecast, r.lower, r.upper, r.dejavu, r.lstm, r.d18, now,
                       context=r.context)
            for r in rows if r.logged
        ], again=again)}
    rows = [r if r.logged == (r.game_id in written) else dataclasses.replace(r, logged=r.game_id in written)
            for r in rows]  # a concurrent run may have logged a game first
    logged = len(written)
    return PredictResult(loaded.version, rows, logged, len(rows) - logged)


def _forecast_frame(rows: list[ForecastRow]) -> pd.DataFrame:
    """One column per ``ForecastRow`` field, one row per forecast (built column by column)."""
    import pandas as pd

    return pd.DataFrame({name: [getattr(row, name) for row in rows] for name in _FORECAST_FIELDS})


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
) -> PredictResult:
    """Check the output path and validate the input first, then load production (verified)
    once for the whole batch, so bad input logs nothing.

    Each game's context is its teams' ratings as of its date, from the store's finished games
    plus the input file's own earlier ones; a single ``pattern`` has it only with ``matchup``
    (``AWAY@HOME``) and ``date``, and is forecast pattern-only without them.

    ``explain`` > 0 lists that many Dejavu analog games of a single ``pattern``. With no ``arm``,
    games are routed through the running A/B test (services.abtest), else production logs as arm
    A; an ``arm`` is the expert override: production logs under it, bypassing the test.
    """
    import numpy as np

    from nbalife.services.abtest import forecast_routed

    if output is not None:
        check_output(output, source=input_file)
    if input_file is not None:
        if matchup is not None or date is not None:
            raise BadInput("--matchup and --date go with a single --game-id/--pattern (a file has its own)")
        frame = load_games(input_file, require_future=False)
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
                                              matchups=matchups)
    result = routed or forecast(engine, loaded, ids, patterns, now=now, arm=arm or "A", again=again,
                                matchups=matchups)
    result = dataclasses.replace(result, analogs=analogs)
    return write_forecasts(result, output) if output is not None else result


def _analogs(loaded: LoadedModelSet, pattern: np.ndarray, n: int) -> list[Analog]:
    """The ``n`` nearest analog games of ``pattern``; more than the database holds is bad input."""
    size = loaded.models.dejavu.n_patterns_
    if n > size:
        raise BadInput(f"--explain {n}: the Dejavu database of version {loaded.version} holds {size} games")
    return loaded.models.dejavu.explain(pattern, n)
