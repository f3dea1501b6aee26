"""The demo: one simulated season through the whole lifecycle on the embedded default."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from nbalife.config import Settings
from nbalife.interchange import FUTURE_COLUMNS, write_games
from nbalife.services import data, evaluate, outcomes, predict, train
from nbalife.services.evaluate import ModelScore
from nbalife.services.model_loading import load_model_set
from nbalife.services.registry import open_registry
from nbalife.store.engine import default_url, init_schema, make_engine
from nbalife.store.games import SeasonSummary

HISTORY_SHARE = 0.75


@dataclass(frozen=True)
class DemoResult:
    """Where the demo ran, what each step reported, and the forecasters' scores."""

    home: Path
    database: str
    seasons: list[SeasonSummary]
    scores: list[ModelScore]
    steps: dict[str, str] = field(default_factory=dict)


def run_demo(home: Path | None, *, games: int, seed: int, now: dt.datetime,
             settings: Settings | None = None) -> DemoResult:
    """Simulate ``games`` games; ingest the first 75% by date, train, register and promote a
    model set, predict the rest from d0..d18, ingest their results, sync outcomes, evaluate."""
    settings = settings or Settings()
    home = Path(home) if home is not None else Path(tempfile.mkdtemp(prefix="nbalife-demo-"))
    home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(default_url(home))
    init_schema(engine)
    season_file = home / "data" / "season.csv"
    simulated = data.simulate(season_file, games=games, season="2023-24", seed=seed)
    frame = data.read_games_file(season_file)
    cut = int(len(frame) * HISTORY_SHARE)
    history_file = write_games(frame[:cut], home / "data" / "history.csv")
    upcoming_file = write_games(frame[cut:], home / "data" / "upcoming.csv")
    patterns_file = write_games(frame[cut:].drop(columns=FUTURE_COLUMNS), home / "data" / "upcoming-q2-6min.csv")

    ingested = data.ingest(engine, history_file, now=now)
    registry = open_registry(home, engine, settings)
    trained = train.train(train.load_training_games(engine, None, until=None), settings=settings, now=now,
                          registry=registry, promote=True, description="nbalife demo")
    predicted = predict.predict_games(engine, registry, now=now, input_file=patterns_file,
                                      output=home / "data" / "forecasts.csv")
    data.ingest(engine, upcoming_file, now=now)
    synced = outcomes.sync(engine, now=now)
    scored = evaluate.evaluate(upcoming_file, load_model_set(registry))
    by = {s.model: s for s in scored.scores}
    steps = {
        "simulated": f"{simulated.games} games, persistence MAE {simulated.persistence_mae:.2f}, "
                     f"oracle MAE {simulated.oracle_mae:.2f}",
        "ingested": f"{ingested.inserted} games of history",
        "trained": f"model set {trained.version} promoted in {trained.seconds:.1f} s "
                   f"(held-out MAE {trained.metrics['mae']:.2f}, coverage {trained.metrics['coverage']:.3f})",
        "predicted": f"{predicted.logged} upcoming games logged to the prediction log",
        "outcomes": f"{synced.resolved} predictions resolved",
        "evaluated": f"ensemble MAE {by['ensemble'].mae:.2f} vs persistence {by['persistence'].mae:.2f} "
                     f"and oracle {by['oracle'].mae:.2f}; 95% interval coverage {by['ensemble'].coverage:.3f}",
    }
    return DemoResult(home, default_url(home), data.summary(engine), scored.scores, steps)
