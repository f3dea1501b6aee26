"""Scoring forecasts against outcomes, next to persistence and the simulator's oracle; each
game forecast with its context as of its date (the store's results plus the file's earlier ones)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nbalife.errors import BadInput
from nbalife.interchange import PATTERN_COLUMNS, Rejection, load_games

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from sqlalchemy import Engine

    from nbalife.forecast.metrics import ModelScore, PartFigure
    from nbalife.forecast.modelset import ModelSet
    from nbalife.services.model_loading import LoadedModelSet


@dataclass(frozen=True)
class EvaluationResult:
    """Every forecaster's score on a file of finished games; ``context`` counts the games by
    the context they were forecast with ("ratings", "unknown-team", "none")."""

    file: Path
    version: str
    games: int
    scores: list[ModelScore]
    context: dict[str, int]
    parts: list[PartFigure] = field(default_factory=list)  # per part and season, on the lattice


def evaluate(path: Path, loaded: LoadedModelSet, engine: Engine | None = None) -> EvaluationResult:
    """Forecast every game in ``path`` (with results) and score all forecasters; with
    ``engine``, the store's finished games count for each game's context too."""
    from collections import Counter

    from nbalife.services.matchups import Matchups, game_context, with_store

    frame = load_games(path)
    if frame.empty:
        raise BadInput(f"{path}: no games to evaluate")
    oracle = _oracle(frame, Path(path)) if "oracle_d24" in frame.columns else None
    matchups = with_store(engine, frame) if engine is not None else Matchups(frame, frame)
    context = game_context(loaded.models, matchups, len(frame))
    scores = score_games(frame, loaded.models, oracle, edge=context.edge)
    return EvaluationResult(Path(path), loaded.version, len(frame), scores, dict(Counter(context.labels)),
                            part_scores(frame, loaded.models, context.edge))


def part_scores(frame: pd.DataFrame, models: ModelSet, edge: np.ndarray | None) -> list[PartFigure]:
    """Per season of ``frame`` (and over all), every part's MAE, paired gain over persistence,
    and its interval on the lattice (the layer's starting radius around each part's forecast):
    coverage, whole-point outcomes held, Winkler score."""
    import numpy as np

    from nbalife.forecast.conformal import lattice_interval
    from nbalife.forecast.metrics import part_figures

    patterns = frame[PATTERN_COLUMNS].to_numpy(dtype=np.float32)
    result = models.predict(patterns, edge)
    forecasts = {"ensemble": result.forecast, "dejavu": result.dejavu, "lstm": result.lstm,
                 **({"context": result.context} if result.context is not None else {})}
    radius = models.conformal.radius()
    intervals = {name: lattice_interval(f, radius) for name, f in forecasts.items()}
    return part_figures(frame["d24"].to_numpy(dtype=float), patterns[:, -1].astype(float), forecasts,
                        intervals, frame["season"].astype(str).to_numpy(), models.conformal.alpha)


def score_games(frame: pd.DataFrame, models: ModelSet, oracle: np.ndarray | None = None,
                edge: np.ndarray | None = None) -> list[ModelScore]:
    """Forecast every game of ``frame`` (with ``d24``) and score all forecasters on it; without
    ``edge``, each game's context comes from the frame's own earlier games."""
    import numpy as np

    from nbalife.forecast.metrics import score_forecasts

    if edge is None:
        pregame = models.pregame(frame)
        edge = None if pregame is None else pregame.edge
    patterns = frame[PATTERN_COLUMNS].to_numpy(dtype=np.float32)
    actual = frame["d24"].to_numpy(dtype=float)
    return score_forecasts(actual, patterns[:, -1].astype(float), models.predict(patterns, edge), oracle)


def _oracle(frame: pd.DataFrame, path: Path) -> np.ndarray:
    """The file's ``oracle_d24`` column as floats; a missing or non-finite value is bad input."""
    import numpy as np
    import pandas as pd

    values = pd.to_numeric(frame["oracle_d24"], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        row = int(bad[0])
        raise BadInput(Rejection(row + 2, str(frame["game_id"].iloc[row]), "oracle_d24",
                                 str(frame["oracle_d24"].iloc[row]), "not a finite number").message(path))
    return values
