"""A model set: Dejavu, LSTM, the context component, their ensemble and its conformal layer,
fitted and saved together.

Training pools the time-ordered splits and forecasts every game out of fold
(``oof_forecasts``): with several seasons, each season by Dejavu, an LSTM and the context
regression fitted on the other seasons (leave one season out), else each of three blocks of
consecutive dates by parts fitted on the other two. On those forecasts, thousands of games over
whole seasons rather than one validation split of a few hundred, the ensemble weights are chosen
(non-negative, on the simplex, against the best single part: ``Ensemble(reference="best")``) and
the conformal layer takes its scores and starting radius (the ensemble's out-of-fold absolute
residuals). Then the parts that serve are fitted on all the games: Dejavu's database, the
ratings and the context regression on every split, the LSTM on the training split with early
stopping on the validation split. Each game's pre-game edge is its ratings as of its date: only
results of earlier dates count (``TeamRatings.pregame``).

A model set saved before the context component (no ``ratings.json``/``context.json``) loads
and predicts pattern-only; so does ``predict`` without edges (the context weight is shared
between Dejavu and the LSTM, ``Ensemble.pattern_weights``).

torch is imported only when the LSTM is trained; loading and predicting run in numpy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nbalife.errors import BadInput
from nbalife.forecast import conformal, context, dejavu, ensemble, lstm, ratings
from nbalife.forecast.conformal import AdaptiveConformal, OnlineState
from nbalife.forecast.context import ContextForecaster
from nbalife.forecast.dejavu import Dejavu
from nbalife.forecast.ensemble import Ensemble
from nbalife.forecast.lstm import LSTMForecaster
from nbalife.forecast.lstm_schedule import Schedule
from nbalife.forecast.patterns import check_patterns, to_arrays
from nbalife.forecast.ratings import Pregame, TeamRatings
from nbalife.vocab import DEFAULT_K

if TYPE_CHECKING:
    import pandas as pd

    from nbalife.forecast.lstm import EpochProgress

MIN_FOLD = 200  # games a season needs to be its own fold
TIME_FOLDS = 3  # folds of consecutive dates when the games are not several seasons
OOF_VALIDATION = 0.15  # share of a fold's training games the LSTM stops early on

FILES = (dejavu.NPZ_FILE, dejavu.JSON_FILE, lstm.NPZ_FILE, lstm.JSON_FILE, conformal.JSON_FILE,
         ensemble.JSON_FILE)
CONTEXT_FILES = (ratings.JSON_FILE, context.JSON_FILE)


@dataclass(frozen=True)
class ModelSetParams:
    """Hyper-parameters of every part (defaults justified in each part's docstring)."""

    dejavu_k: int = DEFAULT_K
    dejavu_aggregation: str = "median"
    lstm: Schedule = Schedule()
    alpha: float = 0.05
    conformal_halflife: float | None = None
    aci_gamma: float = 0.005
    online: str = "quantile"
    online_step: float = 1.0
    ensemble_step: float = 0.01
    ensemble_move_se: float = 2.0

    def to_dict(self) -> dict[str, Any]:
        """The parameters as a registered version records them: flat, the LSTM's prefixed
        ``lstm_`` (the keys of every set registered before ``lstm`` became a ``Schedule``)."""
        flat = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "lstm"}
        return {**flat, **{f"lstm_{name}": value for name, value in asdict(self.lstm).items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSetParams:
        """The parameters recorded by ``to_dict``; keys it does not know are ignored (a derived
        version adds its own records), missing ones take their defaults."""
        known = {f.name for f in fields(cls)} - {"lstm"}
        schedule = {f.name: data[f"lstm_{f.name}"] for f in fields(Schedule) if f"lstm_{f.name}" in data}
        return cls(**{k: v for k, v in data.items() if k in known}, lstm=Schedule(**schedule))


@dataclass(frozen=True)
class Forecasts:
    """Per game: the ensemble forecast, its interval, and the components (float64 arrays);
    ``context`` is None when the forecast is pattern-only."""

    forecast: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    dejavu: np.ndarray
    lstm: np.ndarray
    context: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.forecast)


@dataclass(frozen=True)
class ModelSet:
    """The fitted parts; replace one with ``dataclasses.replace`` (e.g. a recalibration).
    ``ratings`` and ``context`` are None in a pattern-only set."""

    dejavu: Dejavu
    lstm: LSTMForecaster
    ensemble: Ensemble
    conformal: AdaptiveConformal
    ratings: TeamRatings | None = None
    context: ContextForecaster | None = None

    @classmethod
    def fit(cls, train: pd.DataFrame, validation: pd.DataFrame, calibration: pd.DataFrame,
            params: ModelSetParams | None = None,
            progress: EpochProgress | None = None) -> ModelSet:
        """Fit every part (games frames in ``nbalife.interchange`` format, time-ordered); the
        ratings keep a checkpoint after the three splits' results.

        The ensemble weights and the conformal layer's scores come from out-of-fold forecasts
        over all the games (``oof_forecasts``: each fold, a whole season where the games span
        several, forecast by components fitted without it). The parts that serve are then
        fitted on all the games (Dejavu's database, ratings, context), the LSTM on ``train``
        with early stopping on ``validation``.

        ``progress(epoch, epochs, train_loss, val_loss)`` follows the final LSTM's training.
        """
        return cls.fit_out_of_fold(train, validation, calibration, params, progress)[0]

    @classmethod
    def fit_out_of_fold(cls, train: pd.DataFrame, validation: pd.DataFrame, calibration: pd.DataFrame,
                        params: ModelSetParams | None = None, progress: EpochProgress | None = None
                        ) -> tuple[ModelSet, OutOfFold]:
        """``fit``, also returning the out-of-fold forecasts the weights and the layer came from."""
        import pandas as pd

        p = params if params is not None else ModelSetParams()
        frames = [train, validation, calibration]
        games = pd.concat(frames, ignore_index=True)
        oof = oof_forecasts(games, p)
        weights = Ensemble(step=p.ensemble_step, move_se=p.ensemble_move_se, reference="best").fit(
            oof.y, oof.dejavu, oof.lstm, oof.context)
        combined = weights.predict(oof.dejavu, oof.lstm, oof.context)
        layer = AdaptiveConformal(alpha=p.alpha, gamma=p.aci_gamma, halflife=p.conformal_halflife,
                                  online=p.online, step=p.online_step).fit(
            np.abs(oof.y - combined), oof.ages)
        everything = to_arrays(games)
        tr, va = to_arrays(train), to_arrays(validation)
        analogs = Dejavu(k=p.dejavu_k, aggregation=p.dejavu_aggregation).fit(
            everything.X, everything.moves, everything.game_ids, everything.dates,
            everything.home, everything.away)
        network = _lstm(p).fit(tr.X, tr.moves, va.X, va.moves, progress=progress)
        team, regression, _ = _fit_context(games, np.ones(len(games), dtype=bool))
        if team is not None:
            team.checkpoint(games)
        return cls(dejavu=analogs, lstm=network, ensemble=weights, conformal=layer,
                   ratings=team, context=regression), oof

    def pregame(self, games: pd.DataFrame, history: pd.DataFrame | None = None,
                start: bool = False) -> Pregame | None:
        """Each game's ratings as of its date (``TeamRatings.pregame``, from the ratings'
        checkpoint with ``start``); None when pattern-only."""
        return None if self.ratings is None else self.ratings.pregame(games, history, start)

    def predict(self, X: object, edge: object = None, state: OnlineState | None = None) -> Forecasts:
        """Forecasts for patterns ``X`` (``d0..d18`` rows, or one pattern) and, optionally, each
        game's pre-game ``edge``; without it (or without a context component) pattern-only.
        The interval is the conformal layer's at the online ``state`` (its start when None)."""
        patterns = check_patterns(X)
        analog = self.dejavu.predict(patterns)
        network = self.lstm.predict(patterns)
        strength = None
        if edge is not None and self.context is not None:
            strength = self.context.predict(patterns, edge)
        forecast = self.ensemble.predict(analog, network, strength)
        lower, upper = self.conformal.interval(forecast, state)
        return Forecasts(forecast=forecast, lower=lower, upper=upper, dejavu=analog, lstm=network,
                         context=strength)

    def save(self, directory: Path) -> list[Path]:
        """Write ``FILES`` (and ``CONTEXT_FILES`` where fitted) into ``directory``, each
        atomically; returns their paths."""
        directory = Path(directory)
        extra = [] if self.ratings is None or self.context is None else [
            *self.ratings.save(directory), *self.context.save(directory)]
        return [*self.dejavu.save(directory), *self.lstm.save(directory),
                *self.conformal.save(directory), *self.ensemble.save(directory), *extra]

    @classmethod
    def load(cls, directory: Path) -> ModelSet:
        """Read a saved model set (no torch); a missing or damaged file is BadInput naming it."""
        directory = Path(directory)
        if not directory.is_dir():
            raise BadInput(f"{directory}: no such model directory")
        present = [(directory / name).exists() for name in CONTEXT_FILES]
        if any(present) and not all(present):
            missing = CONTEXT_FILES[present.index(False)]
            raise BadInput(f"{directory / missing}: missing (the model set has the other "
                           "context file)")
        models = cls(
            dejavu=Dejavu.load(directory),
            lstm=LSTMForecaster.load(directory),
            ensemble=Ensemble.load(directory),
            conformal=AdaptiveConformal.load(directory),
            ratings=TeamRatings.load(directory) if all(present) else None,
            context=ContextForecaster.load(directory) if all(present) else None,
        )
        if (models.context is None) == ("context" in models.ensemble.weights_):
            raise BadInput(f"{directory / ensemble.JSON_FILE}: its components do not match the "
                           "model set's files")
        return models


def _has_margins(games: pd.DataFrame) -> bool:
    import pandas as pd

    return "final_diff" in games.columns and bool(np.isfinite(
        pd.to_numeric(games["final_diff"], errors="coerce").to_numpy(np.float64, na_value=np.nan)).any())


def _fit_context(games: pd.DataFrame, fit: np.ndarray
                 ) -> tuple[TeamRatings | None, ContextForecaster | None, np.ndarray | None]:
    """Ratings and the context regression fitted on the games where ``fit`` is True, and every
    game's pre-game edge (ratings as of each game's date over all ``games``, which are in date
    order); pattern-only (None, None, None) when the fitted games carry no final margins."""
    chosen = games[fit]
    if not _has_margins(chosen):
        return None, None, None
    team = TeamRatings().fit(chosen.reset_index(drop=True))
    edge = team.pregame(games).edge
    arrays = to_arrays(chosen)
    return team, ContextForecaster().fit(arrays.X, arrays.y, edge[fit]), edge


def _lstm(p: ModelSetParams) -> LSTMForecaster:
    return LSTMForecaster(**asdict(p.lstm))


@dataclass(frozen=True)
class OutOfFold:
    """Every game's out-of-fold forecasts (``context`` None when pattern-only), its outcome,
    its fold and its age in days before the newest game."""

    y: np.ndarray
    d18: np.ndarray
    dejavu: np.ndarray
    lstm: np.ndarray
    context: np.ndarray | None
    folds: np.ndarray
    ages: np.ndarray
    seasons: np.ndarray | None = None  # each game's season label, where the games have one

    def parts(self) -> dict[str, np.ndarray]:
        """The components' forecasts by name (``context`` where there is one)."""
        return {"dejavu": self.dejavu, "lstm": self.lstm,
                **({"context": self.context} if self.context is not None else {})}

    def intervals(self, forecast: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """Leave-one-fold-out lattice intervals of ``forecast``: each fold's radius the conformal
        quantile of the other folds' absolute residuals (an honest coverage estimate)."""
        from nbalife.forecast.conformal import conformal_quantile, lattice_interval

        lower, upper = np.empty(len(forecast)), np.empty(len(forecast))
        scores = np.abs(self.y - forecast)
        for fold in np.unique(self.folds):
            here = self.folds == fold
            others = scores[~here] if (~here).any() else scores
            low, high = lattice_interval(forecast[here], conformal_quantile(others, alpha, finite=True))
            lower[here], upper[here] = low, high
        return lower, upper


def season_folds(games: pd.DataFrame, min_games: int = MIN_FOLD) -> np.ndarray:
    """Each game's fold: its season where at least two seasons have ``min_games`` games each
    (smaller seasons join the next one), else one of ``TIME_FOLDS`` blocks of consecutive dates."""
    seasons = games["season"].astype(str).to_numpy() if "season" in games.columns else None
    if seasons is not None:
        names, counts = np.unique(seasons, return_counts=True)
        big = [name for name, count in zip(names, counts) if count >= min_games]
        if len(big) >= 2:
            order = {name: i for i, name in enumerate(sorted(big))}
            # a small season (a partial file) joins the first big season after it, else the last
            index = np.array([order.get(s, next((order[b] for b in sorted(big) if b > s),
                                                len(big) - 1)) for s in seasons])
            return index
    return np.minimum(np.arange(len(games)) * TIME_FOLDS // max(len(games), 1), TIME_FOLDS - 1)


def oof_forecasts(games: pd.DataFrame, params: ModelSetParams) -> OutOfFold:
    """Leave-one-fold-out forecasts of every component for ``games`` (in date order): each fold
    forecast by Dejavu, the LSTM (early stopping on the last ``validation`` share of the other
    folds' games) and the context regression fitted on the other folds only."""
    arrays = to_arrays(games)
    folds = season_folds(games)
    n = len(games)
    dejavu_f, lstm_f = np.empty(n), np.empty(n)
    context_f = np.empty(n) if _has_margins(games) else None
    for fold in np.unique(folds):
        held_out = folds == fold
        rest = np.flatnonzero(~held_out)
        cut = max(1, int(round(len(rest) * (1 - OOF_VALIDATION))))
        fit_idx, stop_idx = rest[:cut], rest[cut:]
        if len(stop_idx) == 0:
            stop_idx = fit_idx[-1:]
        X = arrays.X
        analogs = Dejavu(k=min(params.dejavu_k, len(rest)), aggregation=params.dejavu_aggregation).fit(
            X[rest], arrays.moves[rest], arrays.game_ids[rest], arrays.dates[rest],
            arrays.home[rest], arrays.away[rest])
        dejavu_f[held_out] = analogs.predict(X[held_out])
        network = _lstm(params).fit(X[fit_idx], arrays.moves[fit_idx], X[stop_idx],
                                    arrays.moves[stop_idx])
        lstm_f[held_out] = network.predict(X[held_out])
        if context_f is not None:
            _, regression, edge = _fit_context(games, ~held_out)
            if regression is None:
                context_f = None
            else:
                context_f[held_out] = regression.predict(X[held_out], edge[held_out])
    ages = (arrays.dates.max() - arrays.dates).astype(np.float64)
    seasons = games["season"].astype(str).to_numpy() if "season" in games.columns else None
    return OutOfFold(arrays.y, arrays.X[:, -1].astype(np.float64), dejavu_f, lstm_f, context_f,
                     folds, ages, seasons)
