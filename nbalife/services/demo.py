"""The demo: a season through the whole lifecycle on the embedded default, simulated or real."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from nbalife.config import Settings
from nbalife.errors import BadInput
from nbalife.interchange import FUTURE_COLUMNS, write_games
from nbalife.services import data, evaluate, outcomes, predict, train
from nbalife.forecast.metrics import ModelScore
from nbalife.services.lifecycle import BUNDLED_DATA, LifecycleResult
from nbalife.services.model_loading import load_model_set
from nbalife.services.registry import open_registry
from nbalife.store.engine import default_url, make_engine
from nbalife.store.games import SeasonSummary
from nbalife.store.migrate import open_store

HISTORY_SHARE = 0.75
REAL_SEASONS = ("nba_2020-21.csv", "nba_2021-22.csv", "nba_2022-23.csv")  # the last one is predicted


@dataclass(frozen=True)
class DemoResult:
    """Where the demo ran, what each step reported, and the forecasters' scores."""

    home: Path
    database: str
    seasons: list[SeasonSummary]
    scores: list[ModelScore]
    steps: dict[str, str] = field(default_factory=dict)


def run_demo(home: Path | None, *, games: int, seed: int, now: dt.datetime,
             settings: Settings | None = None, force: bool = False) -> DemoResult:
    """Simulate ``games`` games; ingest the first 75% by date, train, register and promote a
    model set, predict the rest from d0..d18, ingest their results, sync outcomes, evaluate.
    A given ``home`` that is not empty is refused unless ``force``."""
    settings = settings or Settings()
    home, engine = _open_home(home, force=force)
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
                          registry=registry, engine=engine, promote=True, description="nbalife demo")
    predicted = predict.predict_games(engine, registry, now=now, input_file=patterns_file,
                                      output=home / "data" / "forecasts.csv")
    data.ingest(engine, upcoming_file, now=now)
    synced = outcomes.sync(engine, now=now)
    scored = evaluate.evaluate(upcoming_file, load_model_set(registry))
    steps = {
        "simulated": f"{simulated.games} games, persistence MAE {simulated.persistence_mae:.2f}, "
                     f"oracle MAE {simulated.oracle_mae:.2f}",
        "ingested": f"{ingested.inserted} games of history",
        "trained": _trained_step(trained),
        "predicted": f"{predicted.logged} upcoming games logged to the prediction log",
        "outcomes": f"{synced.resolved} predictions resolved",
        "evaluated": _evaluated_step(scored.scores),
    }
    return DemoResult(home, default_url(home), data.summary(engine), scored.scores, steps)


def run_real_demo(home: Path | None, data_dir: Path, *, now: dt.datetime,
                  settings: Settings | None = None, days: int | None = None, force: bool = False) -> DemoResult:
    """Train on the earlier real seasons in ``data_dir``, then play the last one day by day:
    predict each day's games from d0..d18, ingest their results, sync outcomes; evaluate.

    ``days`` stops after that many game days of the last season; a given ``home`` that is not
    empty is refused unless ``force``.
    """
    settings = settings or Settings()
    check_demo_home(home, force=force)
    files = [Path(data_dir) / name for name in REAL_SEASONS]
    for path in files:
        if not path.is_file():
            raise BadInput(f"{path}: bundled real season missing (nbalife demo --real needs {', '.join(REAL_SEASONS)})")
    history = [data.read_games_file(path) for path in files[:-1]]
    season = data.read_games_file(files[-1])
    home, engine = _open_home(home, force=force)
    loaded = data.ingest_files(engine, files[:-1], now=now)
    registry = open_registry(home, engine, settings)
    trained = train.train(train.load_training_games(engine, None, until=None), settings=settings, now=now,
                          registry=registry, engine=engine, promote=True, description="nbalife demo --real")
    dates = sorted(season["game_date"].unique())[:days]
    played = season[season["game_date"].isin(dates)]
    day_file, patterns_file = home / "data" / "day.csv", home / "data" / "day-q2-6min.csv"
    logged = resolved = 0
    for date in dates:
        day = played[played["game_date"] == date]
        at = dt.datetime.combine(dt.date.fromisoformat(str(date)[:10]), dt.time(23, 0))
        write_games(day.drop(columns=FUTURE_COLUMNS), patterns_file)
        logged += predict.predict_games(engine, registry, now=at, input_file=patterns_file).logged
        write_games(day, day_file)
        data.ingest(engine, day_file, now=at)
        resolved += outcomes.sync(engine, now=at).resolved
    played_file = write_games(played, home / "data" / "played.csv")
    scored = evaluate.evaluate(played_file, load_model_set(registry))
    steps = {
        "history": f"{sum(r.inserted + r.updated for r in loaded)} real games of "
                   f"{', '.join(str(f['season'].iloc[0]) for f in history)}",
        "trained": _trained_step(trained),
        "played": f"{len(dates)} game days of {season['season'].iloc[0]} ({dates[0]} .. {dates[-1]}): "
                  f"{logged} games predicted at 6:00 left in Q2, {resolved} outcomes synced",
        "evaluated": _evaluated_step(scored.scores),
    }
    return DemoResult(home, default_url(home), data.summary(engine), scored.scores, steps)


def check_demo_home(home: Path | None, *, force: bool) -> None:
    """BadInput unless the demo may use ``home``: none given (a new temporary one), a missing or
    empty folder (a ``config.yaml`` alone counts as empty), or ``force``: the demo replaces the
    games of the store and promotes its own model set."""
    if home is None or force or not Path(home).is_dir():
        return
    held = sorted(entry.name for entry in Path(home).iterdir() if entry.name != "config.yaml")
    if held:
        shown = ", ".join(held[:5]) + (", …" if len(held) > 5 else "")
        raise BadInput(f"--home {home}: is not empty ({shown}); the demo would overwrite its games and "
                       "production: give an empty folder, or --force")


def _open_home(home: Path | None, *, force: bool) -> tuple[Path, Engine]:
    """The demo's home (a new temporary folder unless given) and its SQLite store."""
    check_demo_home(home, force=force)
    home = Path(home) if home is not None else Path(tempfile.mkdtemp(prefix="nbalife-demo-"))
    (home / "data").mkdir(parents=True, exist_ok=True)
    engine = make_engine(default_url(home))
    open_store(engine)
    return home, engine


def _trained_step(trained: train.TrainResult) -> str:
    return (f"model set {trained.version} promoted in {trained.seconds:.1f} s "
            f"(held-out MAE {trained.metrics['mae']:.2f}, coverage {trained.metrics['coverage']:.3f})")


def _evaluated_step(scores: list[ModelScore]) -> str:
    by = {s.model: s for s in scores}
    oracle = f" and oracle {by['oracle'].mae:.2f}" if "oracle" in by else ""
    return (f"ensemble MAE {by['ensemble'].mae:.2f} vs persistence {by['persistence'].mae:.2f}{oracle}; "
            f"95% interval coverage {by['ensemble'].coverage:.3f}")


def run_lifecycle_demo(home: Path | None, *, quick: bool, real: bool, seed: int, settings: Settings,
                       force: bool = False, data_dir: Path = BUNDLED_DATA) -> LifecycleResult:
    """The whole lifecycle (``services.lifecycle``) in a fresh demo home: train, a season of
    scheduled jobs in simulated time, an A/B test of a retrained candidate, a rollback."""
    from nbalife.services.lifecycle import run_lifecycle

    home, engine = _open_home(home, force=force)
    return run_lifecycle(home, engine, settings, quick=quick, real=real, seed=seed, data_dir=data_dir)
