"""Team strength on real games: does the context component beat persistence, and on which seasons?

For each split, ``TeamRatings`` and ``ContextForecaster`` are fitted on the training games; each
test game gets its ratings as of its date from the training games plus the test file's own
earlier games (never its own result, never a same-day game). Rows: persistence (``d18``),
Dejavu, the context component, and their blend (one weight on ``[0, 1]`` in steps of 0.05,
chosen on the last quarter of the training games by models fitted on the first three quarters,
then refitted on all of them). The last split trains on later seasons: its test season has no
earlier games, so it checks the fitted coefficients on a season they did not see, not the
forecasting setting. With ``--modelset`` the main split also trains the model set
(Dejavu + LSTM ensemble) and blends it with the context the same way. Each model's row gives
its MAE and its paired difference from persistence with the standard error
(``mean(|e_model| - |e_persistence|) ± sd / sqrt(n)``).

Also timed: ``TeamRatings.pregame`` over about 12,000 games (the four real files, each shifted
by 0, 10 and 20 years).

With ``--paths`` it measures instead the model set as ``train`` builds it (context component
inside, splits by ``services.train.time_splits``), as shipped (``CONFIGS``) in one run:
trained on 2020-21 + 2021-22 and tested on 2022-23, and trained on 2020-21 and tested on
2021-22, each test game predicted with its context as of its date (training games plus the test
season's earlier ones), the table of every component with 95% coverage; the in-process latency
of one game's context and forecast as ``predict --game-id ... --matchup --date`` computes them
(from the ratings checkpoint, and from the whole store); and the context's share of training
time on ``--games`` simulated games.

Run: ``.venv/bin/python -m benchmarks.bench_context [--modelset | --paths [--games N]]``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import print_table, write_json
from nbalife.forecast.context import ContextForecaster
from nbalife.forecast.dejavu import Dejavu
from nbalife.forecast.patterns import to_arrays
from nbalife.forecast.ratings import TeamRatings
from nbalife.interchange import load_games

DATA = Path(__file__).resolve().parents[1] / "data" / "nba"
FILES = {"2015-16": "nba_2015_16_early.csv", "2020-21": "nba_2020-21.csv",
         "2021-22": "nba_2021-22.csv", "2022-23": "nba_2022-23.csv"}
WEIGHTS = np.round(np.arange(0.0, 1.0001, 0.05), 2)


@dataclass(frozen=True)
class Row:
    split: str
    model: str
    n: int
    mae: float
    vs_persistence: float
    se: float

    @property
    def t(self) -> float:
        return self.vs_persistence / self.se


def season(name: str) -> pd.DataFrame:
    frame = load_games(DATA / FILES[name])
    frame["final_diff"] = frame["final_diff"].astype(float)
    return frame.sort_values(["game_date", "game_id"], kind="stable").reset_index(drop=True)


def context_forecasts(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    ratings = TeamRatings().fit(train)
    tr, te = to_arrays(train), to_arrays(test)
    model = ContextForecaster().fit(tr.X, tr.y, ratings.pregame(train).edge)
    return model.predict(te.X, ratings.pregame(test, history=train).edge)


def dejavu_forecasts(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    tr, te = to_arrays(train), to_arrays(test)
    return Dejavu().fit(tr.X, tr.moves, tr.game_ids, tr.dates, tr.home, tr.away).predict(te.X)


def blend_weight(train: pd.DataFrame, other) -> float:
    """The context's weight against ``other`` chosen on the last quarter of ``train``."""
    cut = int(len(train) * 0.75)
    fit, valid = train.iloc[:cut], train.iloc[cut:]
    y = valid["d24"].to_numpy(float)
    context, rival = context_forecasts(fit, valid), other(fit, valid)
    errors = [np.abs(y - (w * context + (1 - w) * rival)).mean() for w in WEIGHTS]
    return float(WEIGHTS[int(np.argmin(errors))])


def score(split: str, test: pd.DataFrame, forecasts: dict[str, np.ndarray]) -> list[Row]:
    y = test["d24"].to_numpy(float)
    base = np.abs(y - test["d18"].to_numpy(float))
    rows = []
    for model, forecast in {"persistence": test["d18"].to_numpy(float), **forecasts}.items():
        paired = np.abs(y - forecast) - base
        se = float(paired.std(ddof=1) / np.sqrt(len(paired)))
        rows.append(Row(split, model, len(y), float(np.abs(y - forecast).mean()),
                        float(paired.mean()), se))
    return rows


def evaluate_split(split: str, train: pd.DataFrame, test: pd.DataFrame,
                   modelset: bool) -> tuple[list[Row], dict[str, float]]:
    context = context_forecasts(train, test)
    dejavu = dejavu_forecasts(train, test)
    weight = blend_weight(train, dejavu_forecasts)
    forecasts = {"dejavu": dejavu, "context": context,
                 "blend(dejavu,context)": weight * context + (1 - weight) * dejavu}
    weights = {"dejavu": weight}
    if modelset:
        weights["ensemble"] = ensemble_weight = blend_weight(train, ensemble_forecasts)
        ensemble = ensemble_forecasts(train, test)
        forecasts["ensemble"] = ensemble
        forecasts["blend(ensemble,context)"] = ensemble_weight * context \
            + (1 - ensemble_weight) * ensemble
    return score(split, test, forecasts), weights


def ensemble_forecasts(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """The model set's ensemble, trained as ``train`` does: the last 20% validates."""
    from nbalife.forecast.modelset import ModelSet

    cut = int(len(train) * 0.8)
    fit, valid = train.iloc[:cut], train.iloc[cut:]
    models = ModelSet.fit(fit, valid, valid)
    return models.predict(to_arrays(test).X).forecast


def time_pregame(frames: list[pd.DataFrame]) -> tuple[int, float]:
    shifted = []
    for years in (0, 10, 20):
        for frame in frames:
            first = frame["season"].str[:4].astype(int) + years
            shifted.append(frame.assign(
                game_id=frame["game_id"] + f"+{years}",
                season=first.astype(str) + "-" + ((first + 1) % 100).astype(str).str.zfill(2),
                game_date=(pd.to_datetime(frame["game_date"]) + pd.DateOffset(years=years))
                .dt.strftime("%Y-%m-%d")))
    games = pd.concat(shifted, ignore_index=True)
    ratings = TeamRatings().fit(frames[1])
    best = np.inf
    for _ in range(3):
        started = time.perf_counter()
        ratings.pregame(games)
        best = min(best, time.perf_counter() - started)
    return len(games), best


CONFIGS = {"shipped": {}}  # weights and layer out of fold over whole seasons (``ModelSet.fit``)


def modelset_split(train: pd.DataFrame, test: pd.DataFrame, split: str, config: str, params
                   ) -> tuple[list[Row], dict]:
    """The model set trained as ``train`` does on ``train`` with ``CONFIGS[config]``, every
    ``test`` game predicted with its context as of its date: rows and fitted facts."""
    from dataclasses import replace

    from nbalife.config import Settings
    from nbalife.forecast.modelset import ModelSet
    from nbalife.services.train import time_splits

    settings = Settings()
    p = replace(params, **CONFIGS[config])
    started = time.perf_counter()
    models = ModelSet.fit(*time_splits(train, settings.training.validation_fraction,
                                       settings.training.calibration_fraction, alpha=p.alpha), p)
    fit_seconds = time.perf_counter() - started
    edge = models.pregame(test, history=train).edge
    te = to_arrays(test)
    result = models.predict(te.X, edge)
    forecasts = {"dejavu": result.dejavu, "lstm": result.lstm, "context": result.context,
                 "ensemble": result.forecast, "ensemble, pattern-only": models.predict(te.X).forecast}
    covered = float(((result.lower <= te.y) & (te.y <= result.upper)).mean())
    facts = {"split": split, "config": config, "coverage": covered,
             "weights": models.ensemble.weights_, "validation_mae": models.ensemble.validation_mae_,
             "context_coef": models.context.to_dict()["coef"],
             "ratings": {k: v for k, v in models.ratings.to_dict().items() if k != "params"},
             "fit_seconds": fit_seconds}
    return score(f"{split} [{config}]", test, forecasts), {**facts, "models": models}


def paths(n_games: int) -> None:
    """The model set before and after (``CONFIGS``) on 2022-23 after 2020-22 and on 2021-22
    after 2020-21; one-prediction latency; training-time growth."""
    from nbalife.config import Settings
    from nbalife.forecast import modelset
    from nbalife.services.train import model_params

    params = model_params(Settings())
    s20, s21, s22 = season("2020-21"), season("2021-22"), season("2022-23")
    cases = {"2022-23 | 2020-22": (pd.concat([s20, s21], ignore_index=True), s22),
             "2021-22 | 2020-21": (s20, s21)}
    rows, facts = [], []
    for split, (train, test) in cases.items():
        for config in CONFIGS:
            found, fact = modelset_split(train, test, split, config, params)
            rows.extend(found)
            facts.append(fact)
    main_train = cases["2022-23 | 2020-22"][0]
    latency = one_prediction_ms(facts[1].pop("models"), main_train, s22)
    for fact in facts:
        fact.pop("models", None)
    growth = training_growth(n_games, params)
    print_table("Model set, each test game with its context as of its date; vs persistence = "
                "paired mean difference ± SE", ["split [config]", "model", "n", "MAE",
                                                "vs persistence", "SE", "t"],
                [(r.split, r.model, r.n, r.mae, r.vs_persistence, r.se,
                  "-" if r.model == "persistence" else f"{r.t:+.1f}") for r in rows])
    print_table("Model sets", ["split", "config", "95% coverage", "weights", "context coef",
                               "fit s"],
                [(f["split"], f["config"], f["coverage"], f["weights"], f["context_coef"],
                  f["fit_seconds"]) for f in facts])
    print_table("Speed", ["what", "value"], [*latency.items(), *growth.items()])
    write_json("context_paths", {
        "configs": CONFIGS,
        "rows": [{**r.__dict__, "t": None if r.model == "persistence" else r.t} for r in rows],
        "model_sets": facts, "latency": latency, "training_growth": growth,
        "files": list(modelset.FILES)})


def one_prediction_ms(models, train: pd.DataFrame, test: pd.DataFrame) -> dict[str, float]:
    """Median ms (wall and CPU), over 100 games of 2022-23 spread over the season, of one game's
    context and forecast in process as ``predict --game-id --pattern --matchup --date`` does it (warm model
    set, a SQLite store holding the three seasons' results): ``with_store`` (checkpoint check
    and read) + ``game_context`` + ``ModelSet.predict``; the same without the checkpoint (the
    whole store replayed, as before); and ``ModelSet.predict`` alone, pattern-only."""
    import datetime as dt
    import tempfile
    from dataclasses import replace

    from nbalife.services.matchups import game_context, with_store
    from nbalife.store.engine import make_engine
    from nbalife.store.games import upsert_games
    from nbalife.store.migrate import open_store

    te = to_arrays(test)
    plain_models = replace(models, ratings=copy_without_checkpoint(models.ratings))
    timings: dict[str, list[float]] = {f"{name}{unit}": [] for name in
                                       ("checkpoint", "whole_store", "pattern_only")
                                       for unit in ("_ms", "_cpu_ms")}
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/store.db")
        open_store(engine)
        with engine.begin() as conn:
            upsert_games(conn, pd.concat([train, test], ignore_index=True),
                         dt.datetime.now(dt.timezone.utc))
        for i in range(0, len(test), max(1, len(test) // 100)):
            game = test.iloc[i:i + 1].assign(final_diff=np.nan)
            for name, loaded in (("checkpoint", models), ("whole_store", plain_models)):
                started, cpu = time.perf_counter(), time.process_time()
                context = game_context(loaded, with_store(engine, game, loaded), 1)
                loaded.predict(te.X[i], context.edge)
                timings[f"{name}_ms"].append(time.perf_counter() - started)
                timings[f"{name}_cpu_ms"].append(time.process_time() - cpu)
            started, cpu = time.perf_counter(), time.process_time()
            models.predict(te.X[i])
            timings["pattern_only_ms"].append(time.perf_counter() - started)
            timings["pattern_only_cpu_ms"].append(time.process_time() - cpu)
        engine.dispose()
    return {name: float(np.median(values) * 1e3) for name, values in timings.items()}


def copy_without_checkpoint(ratings):
    """The same fitted ratings without their checkpoint."""
    from nbalife.forecast.ratings import TeamRatings

    data = ratings.to_dict()
    data.pop("checkpoint")
    return TeamRatings.from_dict(data)


def training_growth(n_games: int, params) -> dict[str, float]:
    """Seconds of the context parts of ``ModelSet.fit`` (ratings, pregame edges, median
    regression, each twice, and the checkpoint) against those of the pattern-only fit, on
    ``n_games`` simulated games."""
    from dataclasses import replace

    from nbalife.forecast.modelset import ModelSet, _fit_context
    from nbalife.simulate import simulate_season

    per_season = 1230
    frames = [simulate_season(per_season, season=f"{2000 + k}-{(k + 1) % 100:02d}", seed=k)
              for k in range(int(np.ceil(n_games / per_season)))]
    games = pd.concat(frames, ignore_index=True).iloc[:n_games]
    games = games.sort_values(["game_date", "game_id"], kind="stable").reset_index(drop=True)
    cut1, cut2 = int(n_games * 0.65), int(n_games * 0.8)
    splits = (games.iloc[:cut1], games.iloc[cut1:cut2], games.iloc[cut2:])
    started = time.perf_counter()
    team = _fit_context(games, np.ones(len(games), dtype=bool))[0]  # as ModelSet.fit does
    team.checkpoint(games)
    context = time.perf_counter() - started
    quick = replace(params, lstm=replace(params.lstm, epochs=min(params.lstm.epochs, 3)))
    started = time.perf_counter()
    ModelSet.fit(*(frame.drop(columns="final_diff") for frame in splits), quick)
    pattern_only = time.perf_counter() - started
    return {"games": n_games, "context_seconds": context, "pattern_only_seconds": pattern_only,
            "lstm_epochs": quick.lstm.epochs, "growth": context / pattern_only}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--modelset", action="store_true",
                        help="also train the model set (LSTM) on the main split")
    parser.add_argument("--paths", action="store_true",
                        help="measure the model set with its context component instead")
    parser.add_argument("--games", type=int, default=50_000,
                        help="simulated games for the training-time growth (with --paths)")
    args = parser.parse_args()
    if args.paths:
        paths(args.games)
        return
    s15, s20, s21, s22 = (season(name) for name in FILES)
    half = s21["game_date"] >= s21["game_date"].iloc[len(s21) // 2]
    splits = {
        "2022-23 | 2020-22 (main)": (pd.concat([s20, s21], ignore_index=True), s22),
        "2021-22 | 2020-21": (s20, s21),
        "2021-22 2nd half | 2020-21 + 1st half": (pd.concat([s20, s21[~half]], ignore_index=True),
                                                  s21[half].reset_index(drop=True)),
        "2015-16 | 2020-23 (no history)": (pd.concat([s20, s21, s22], ignore_index=True), s15),
        "2020-21 | 2021-23 (no history, later model)": (pd.concat([s21, s22], ignore_index=True),
                                                        s20),
    }
    rows: list[Row] = []
    weights: dict[str, dict[str, float]] = {}
    for i, (split, (train, test)) in enumerate(splits.items()):
        found, weights[split] = evaluate_split(split, train, test, args.modelset and i == 0)
        rows.extend(found)
    fitted = TeamRatings().fit(splits["2022-23 | 2020-22 (main)"][0])
    n_games, seconds = time_pregame([s15, s20, s21, s22])
    print_table("MAE on real games; vs persistence = paired mean difference ± SE (t = ratio)",
                ["split", "model", "n", "MAE", "vs persistence", "SE", "t"],
                [(r.split, r.model, r.n, r.mae, r.vs_persistence, r.se,
                  "-" if r.model == "persistence" else f"{r.t:+.1f}") for r in rows])
    print_table("Fitted", ["what", "value"],
                [("ratings (main split)", fitted.to_dict()), ("blend weights of context", weights),
                 (f"pregame for {n_games} games (s, best of 3)", seconds)])
    write_json("context", {
        "args": vars(args),
        "rows": [{**r.__dict__, "t": None if r.model == "persistence" else r.t} for r in rows],
        "context_weights": weights, "ratings_main_split": fitted.to_dict(),
        "pregame_games": n_games, "pregame_seconds": seconds,
    })


if __name__ == "__main__":
    main()
