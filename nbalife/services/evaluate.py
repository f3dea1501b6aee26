"""Scoring forecasts against outcomes, next to persistence and the simulator's oracle."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nbalife.errors import BadInput
from nbalife.interchange import PATTERN_COLUMNS, Rejection, load_games

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from nbalife.forecast.modelset import Forecasts
    from nbalife.services.model_loading import LoadedModelSet


@dataclass(frozen=True)
class ModelScore:
    """Accuracy of one forecaster on a set of games (interval figures only where it has one)."""

    model: str
    n: int
    mae: float
    rmse: float
    bias: float
    coverage: float | None = None
    width: float | None = None


def score_forecasts(actual: np.ndarray, d18: np.ndarray, result: Forecasts,
                    oracle: np.ndarray | None = None) -> list[ModelScore]:
    """MAE (of absolute errors), RMSE, bias and interval coverage for every forecaster."""
    from nbalife.forecast.metrics import interval_metrics, point_metrics

    def point(name: str, predicted: np.ndarray) -> ModelScore:
        m = point_metrics(actual, predicted)
        return ModelScore(name, int(m["n"]), m["mae"], m["rmse"], m["bias"])

    interval = interval_metrics(actual, result.lower, result.upper)
    ensemble = point("ensemble", result.forecast)
    scores = [
        ModelScore(ensemble.model, ensemble.n, ensemble.mae, ensemble.rmse, ensemble.bias,
                   interval["coverage"], interval["mean_width"]),
        point("dejavu", result.dejavu),
        point("lstm", result.lstm),
        point("persistence", d18),
    ]
    if oracle is not None:
        scores.append(point("oracle", oracle))
    return scores


@dataclass(frozen=True)
class EvaluationResult:
    """Every forecaster's score on a file of finished games."""

    file: Path
    version: str
    games: int
    scores: list[ModelScore]


def evaluate(path: Path, loaded: LoadedModelSet) -> EvaluationResult:
    """Forecast every game in ``path`` (with results) and score all forecasters."""
    import numpy as np

    frame = load_games(path)
    if frame.empty:
        raise BadInput(f"{path}: no games to evaluate")
    patterns = frame[PATTERN_COLUMNS].to_numpy(dtype=np.float32)
    result = loaded.models.predict(patterns)
    oracle = _oracle(frame, Path(path)) if "oracle_d24" in frame.columns else None
    actual = frame["d24"].to_numpy(dtype=float)
    scores = score_forecasts(actual, patterns[:, -1].astype(float), result, oracle)
    return EvaluationResult(Path(path), loaded.version, len(frame), scores)


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
