"""``nbalife replay``: the lifecycle policy over a historical or simulated season, in a temporary
home, next to doing nothing (the first model untouched) and to persistence."""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nbalife.config import DatabaseSettings, Settings
from nbalife.errors import BadInput
from nbalife.services.faults import (Baseline, FalseAlarm, FaultRow, SeasonFaults, check_faults, false_alarms,
                                     fault_section, perturb, served_with_outcomes)

if TYPE_CHECKING:
    import pandas as pd

    from nbalife.forecast.lstm import EpochProgress
    from nbalife.services.season import Action, DayProgress


@dataclass(frozen=True)
class PeriodFigures:
    """One week or month of the replayed games: the policy's served forecasts, the first model
    untouched, and persistence (d18 as the halftime forecast; it has no interval)."""

    period: str
    games: int
    coverage: float
    width: float
    mae: float
    nothing_coverage: float
    nothing_width: float
    nothing_mae: float
    persistence_mae: float
    vs_persistence_se: float | None  # standard error of the paired difference mae - persistence_mae


@dataclass(frozen=True)
class VersionCounts:
    """Distinct versions one kind of job made in the replay: ``registered`` (a version counted
    once, however many days a check reported it waiting), ``promoted`` (it became production),
    ``waiting`` (registered, never production), and the job's runs that registered nothing because
    the candidate was ``rejected``."""

    kind: str
    registered: int
    promoted: int
    waiting: int
    rejected: int


@dataclass(frozen=True)
class AlertCount:
    """How many times a job flagged a cause (a day's metrics check counts each level it
    breached) and on how many days."""

    job: str
    cause: str
    alerts: int
    days: int


@dataclass(frozen=True)
class JobTime:
    """How often a job kind ran in simulated time and the wall-clock seconds it took."""

    job: str
    runs: int
    seconds: float


@dataclass(frozen=True)
class ReplayResult:
    """The replay's inputs, what the policy did, and the figures that resulted."""

    files: list[Path]
    train_games: int
    train_first: str
    train_last: str
    replay_games: int
    replay_first: str
    replay_last: str
    first_production: str
    last_production: str | None
    actions: list[Action]
    action_counts: dict[str, int]  # "job outcome" -> how many actions (a waiting version each day it waits)
    versions: list[VersionCounts]
    alerts: list[AlertCount]
    productions: list[tuple[dt.datetime, str]]  # production's changes, the first model first
    weeks: list[PeriodFigures]
    months: list[PeriodFigures]
    total: PeriodFigures
    jobs: list[JobTime]
    train_seconds: float
    seconds: float
    report: Path | None = None  # the HTML page written with --report
    forecasts: Path | None = None  # the file of every game's forecasts written with --forecasts
    faults: list[FaultRow] = field(default_factory=list)  # one row per --fault
    false_alarms: list[FalseAlarm] | None = None  # without --fault: every guardrail alert (all false)


def load_season_files(files: list[Path]) -> pd.DataFrame:
    """Every file validated (with results), concatenated oldest first; a game id in two files is
    bad input naming it."""
    import pandas as pd

    from nbalife.interchange import load_games

    if not files:
        raise BadInput("--games: give at least one games file")
    frames = []
    for path in files:
        if not Path(path).is_file():
            raise BadInput(f"--games {path}: no such file")
        frames.append(load_games(Path(path)))
    games = pd.concat(frames, ignore_index=True)
    repeated = games["game_id"][games["game_id"].duplicated()]
    if not repeated.empty:
        raise BadInput(f"--games: game id {repeated.iloc[0]!r} appears in more than one row of the files")
    return games.sort_values(["game_date", "game_id"], kind="stable").reset_index(drop=True)


def split_window(games: pd.DataFrame, since: dt.date | None, until: dt.date | None,
                 train_until: dt.date | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training games (before the window, up to ``train_until``) and the replayed ones.

    With no ``since``, the window starts the day after ``train_until``, or else at the last
    season of the files (the earlier seasons train)."""
    if since is not None and until is not None and since > until:
        raise BadInput(f"--from {since} is after --to {until}")
    if since is None:
        if train_until is not None:
            since = train_until + dt.timedelta(days=1)
        else:
            last_season = games["season"].iloc[-1]
            first = games.loc[games["season"] == last_season, "game_date"].min()
            if first == games["game_date"].iloc[0]:
                raise BadInput(f"--games: only season {last_season}; give --from or --train-until to "
                               "say which games train the first model")
            since = dt.date.fromisoformat(first)
    train_until = train_until or since - dt.timedelta(days=1)
    if train_until >= since:
        raise BadInput(f"--train-until {train_until} is not before the replay's first day {since}")
    dates = games["game_date"]
    replayed = games[(dates >= since.isoformat()) & ((dates <= until.isoformat()) if until else True)]
    training = games[dates <= train_until.isoformat()]
    if replayed.empty:
        raise BadInput(f"--from {since}" + (f" --to {until}" if until else "") + ": no game in the files is dated "
                       "in that window")
    return training.reset_index(drop=True), replayed.reset_index(drop=True)


def replay(files: list[Path], *, settings: Settings, since: dt.date | None = None, until: dt.date | None = None,
           train_until: dt.date | None = None, db_url: str | None = None, abtest_mode: str = "split",
           progress: DayProgress | None = None, epochs: EpochProgress | None = None,
           report: Path | None = None, forecasts: Path | None = None, faults: list[str] | None = None,
           baseline: Baseline | None = None) -> ReplayResult:
    """Train the first model on the games before the window in a temporary home (or on the
    empty store at ``db_url``), promote it, then play the window day by day under ``settings``
    (services.season). The user's home and store are never touched. ``report``: also write the
    ``nbalife report`` page of the replayed season, the policy beside doing nothing. ``forecasts``:
    also write each game's served forecast (version, arm, context) and the first model's.
    ``faults``: ``KIND@DATE[:PARAM]`` specs injected into the season (services.faults); ``guard
    check --apply`` runs every simulated morning either way; ``baseline``: the same window already
    replayed without faults (else it is replayed for the faults' damage)."""
    from nbalife.files import check_output_path
    from nbalife.services.season import run_season
    from nbalife.services.abtest import MODES

    if abtest_mode not in MODES:
        raise BadInput(f"--abtest-mode {abtest_mode!r}: expected one of {', '.join(MODES)}")
    if report is not None:
        report = check_output_path(report, option="--report", suffixes=(".html",))
    if forecasts is not None:
        forecasts = check_output_path(forecasts, option="--forecasts", suffixes=(".csv", ".parquet"))
    games = load_season_files(files)
    training, replayed = split_window(games, since, until, train_until)
    specs = check_faults(list(faults or ()), replayed)
    settings = dataclasses.replace(settings, database=DatabaseSettings())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nbalife-replay-") as tmp:
        home = Path(tmp)
        engine = _open_store(db_url or f"sqlite:///{home / 'nbalife.db'}")
        try:
            registry, train_seconds = _first_model(engine, home, training, replayed, settings, epochs)
            hook = SeasonFaults(engine, registry, settings, home, specs, seed=settings.lstm.seed)
            run = run_season(perturb(replayed, specs), engine=engine, registry=registry, settings=settings, home=home,
                             abtest_mode=abtest_mode, progress=progress, day_step=hook.play)
            nothing = _untouched(engine, registry, run.first_production, replayed)
            page = _report_content(engine, registry, settings, replayed, nothing) if report is not None else None
        finally:
            engine.dispose()
    if specs and baseline is None:
        baseline = baseline_run(training, replayed, settings, abtest_mode)
    rows, alarms = fault_section(specs, hook, run, replayed, baseline)
    if page is not None:
        from nbalife.services.report import write_content

        write_content(report, dataclasses.replace(page, faults=rows, false_alarms=alarms))
    weeks, months, total = _periods(replayed, run.served, nothing)
    if forecasts is not None:
        _write_forecasts(forecasts, replayed, run.served, nothing)
    counts = Counter(f"{a.job} {a.outcome}" for a in run.actions)
    jobs = [JobTime(job, run.job_runs[job], run.job_seconds[job]) for job in sorted(run.job_runs)]
    return ReplayResult([Path(f) for f in files], len(training), str(training["game_date"].iloc[0]),
                        str(training["game_date"].iloc[-1]), len(replayed), str(replayed["game_date"].iloc[0]),
                        str(replayed["game_date"].iloc[-1]), run.first_production, run.last_production,
                        run.actions, dict(sorted(counts.items())), version_counts(run.actions, run.productions),
                        alert_counts(run.actions, settings.league.timezone), run.productions, weeks, months, total,
                        [JobTime("train", 1, train_seconds), *jobs], train_seconds, time.perf_counter() - started,
                        report, forecasts, rows, alarms)


def baseline_run(training: pd.DataFrame, replayed: pd.DataFrame, settings: Settings, abtest_mode: str) -> Baseline:
    """Replay the window without faults in a temporary home, the guard checking every morning:
    what the faults' damage is measured against, and the guardrails' false alarms."""
    from nbalife.services.season import run_season

    settings = dataclasses.replace(settings, database=DatabaseSettings())
    with tempfile.TemporaryDirectory(prefix="nbalife-replay-baseline-") as tmp:
        home = Path(tmp)
        engine = _open_store(f"sqlite:///{home / 'nbalife.db'}")
        try:
            registry, _ = _first_model(engine, home, training, replayed, settings, None)
            hook = SeasonFaults(engine, registry, settings, home, [], seed=settings.lstm.seed)
            run = run_season(replayed, engine=engine, registry=registry, settings=settings, home=home,
                             abtest_mode=abtest_mode, day_step=hook.play)
        finally:
            engine.dispose()
    return Baseline(served_with_outcomes(run.served, replayed), false_alarms(hook))


def _write_forecasts(path: Path, replayed: pd.DataFrame, served: pd.DataFrame, nothing: pd.DataFrame) -> None:
    """One row per game: its date, d18, d24, the forecast that served it (version, arm, context)
    and the first model's untouched forecast (``*_first``); written atomically."""
    from nbalife.interchange import write_games

    frame = replayed[["game_id", "game_date", "d18", "d24"]].merge(
        served[["game_id", "version", "arm", "context", "forecast", "lower", "upper"]], on="game_id").merge(
        nothing.rename(columns={c: f"{c}_first" for c in ("forecast", "lower", "upper")}), on="game_id")
    write_games(frame, path)


KINDS = {"conformal-check": "recalibration", "dejavu-update": "Dejavu update", "lstm-retrain": "LSTM retrain"}
MADE = ("registered", "applied", "promoted", "refused")  # outcomes whose version exists in the registry


def version_counts(actions: list[Action], productions: list[tuple[dt.datetime, str]]) -> list[VersionCounts]:
    """Per kind of job: the distinct versions it registered, how many became production and how
    many never did, and the runs whose candidate was rejected before registering."""
    served = {version for _, version in productions[1:]}
    rows = []
    for job, kind in KINDS.items():
        made = {a.version for a in actions if a.job == job and a.outcome in MADE and a.version}
        rejected = sum(a.job == job and a.outcome == "rejected" for a in actions)
        rows.append(VersionCounts(kind, len(made), len(made & served), len(made - served), rejected))
    return rows


def alert_counts(actions: list[Action], zone: str) -> list[AlertCount]:
    """Alerts by job and cause: how many, and on how many league days (in ``zone``)."""
    from collections import defaultdict
    from zoneinfo import ZoneInfo

    days: dict[tuple[str, str], list[dt.date]] = defaultdict(list)
    for action in actions:
        for cause in action.causes:
            days[(action.job, cause)].append(action.at.astimezone(ZoneInfo(zone)).date())
    return [AlertCount(job, cause, len(dates), len(set(dates))) for (job, cause), dates in sorted(days.items())]


def _report_content(engine, registry, settings: Settings, replayed: pd.DataFrame,  # noqa: ANN001, ANN202
                    nothing: pd.DataFrame):
    """The report page's content of the replayed season, from the replay's store before it is
    deleted; written once the faults' rows are known."""
    from nbalife.services.report import replay_content

    untouched = {g: (float(f), float(lo), float(hi)) for g, f, lo, hi in nothing[["game_id", "forecast", "lower", "upper"]].itertuples(
        index=False)}
    return replay_content(engine, registry, settings, first=dt.date.fromisoformat(replayed["game_date"].iloc[0]),
                          last=dt.date.fromisoformat(replayed["game_date"].iloc[-1]), untouched=untouched)


def _open_store(url: str):  # noqa: ANN202 - an Engine
    from nbalife.store.engine import make_engine
    from nbalife.store.migrate import open_store

    engine = make_engine(url)
    open_store(engine)
    return engine


def _first_model(engine, home: Path, training: pd.DataFrame, replayed: pd.DataFrame,  # noqa: ANN001
                 settings: Settings, epochs: EpochProgress | None) -> tuple[object, float]:
    """Store the training games, train, register and promote the first production model."""
    from nbalife.interchange import write_games
    from nbalife.services.data import ingest
    from nbalife.services.registry import open_registry
    from nbalife.services.train import train

    first_day = dt.date.fromisoformat(replayed["game_date"].iloc[0])
    now = dt.datetime.combine(first_day - dt.timedelta(days=1), dt.time(12), dt.timezone.utc)
    ingest(engine, write_games(training, home / "training-games.csv"), now=now)
    registry = open_registry(home, engine, settings)
    trained = train(training, settings=settings, now=now, registry=registry, engine=engine, promote=True,
                    progress=epochs, description="nbalife replay: the first model")
    return registry, trained.seconds


def _untouched(engine, registry, version: str, replayed: pd.DataFrame) -> pd.DataFrame:  # noqa: ANN001
    """The first model's forecasts of every replayed game, without any job, through the path that
    served the season (each game with its teams' strength as of its date)."""
    import numpy as np
    import pandas as pd

    from nbalife.interchange import PATTERN_COLUMNS
    from nbalife.services.forecasting import forecast_games
    from nbalife.services.matchups import with_store
    from nbalife.services.model_loading import load_model_set

    models = load_model_set(registry, version).models
    result, _ = forecast_games(models, replayed[PATTERN_COLUMNS].to_numpy(dtype=np.float32),
                               with_store(engine, replayed, models))
    return pd.DataFrame({"game_id": replayed["game_id"].to_numpy(), "forecast": result.forecast,
                         "lower": result.lower, "upper": result.upper})


def _periods(replayed: pd.DataFrame, served: pd.DataFrame, nothing: pd.DataFrame
             ) -> tuple[list[PeriodFigures], list[PeriodFigures], PeriodFigures]:
    """Weekly (by Monday), monthly and whole-window figures of the three forecasters."""
    import pandas as pd

    frame = replayed[["game_id", "game_date", "d18", "d24"]].merge(
        served[["game_id", "forecast", "lower", "upper"]], on="game_id").merge(
        nothing, on="game_id", suffixes=("", "_nothing"))
    days = pd.to_datetime(frame["game_date"])
    frame["week"] = (days - pd.to_timedelta(days.dt.day_of_week, unit="D")).dt.strftime("%Y-%m-%d")
    frame["month"] = days.dt.strftime("%Y-%m")

    def figures(label: str, part: pd.DataFrame) -> PeriodFigures:
        y = part["d24"]
        paired = (y - part["forecast"]).abs() - (y - part["d18"]).abs()
        return PeriodFigures(
            label, len(part), float(((part["lower"] <= y) & (y <= part["upper"])).mean()),
            float((part["upper"] - part["lower"]).mean()), float((y - part["forecast"]).abs().mean()),
            float(((part["lower_nothing"] <= y) & (y <= part["upper_nothing"])).mean()),
            float((part["upper_nothing"] - part["lower_nothing"]).mean()),
            float((y - part["forecast_nothing"]).abs().mean()), float((y - part["d18"]).abs().mean()),
            float(paired.std(ddof=1) / len(paired) ** 0.5) if len(paired) > 1 else None)

    weeks = [figures(str(k), g) for k, g in frame.groupby("week", sort=True)]
    months = [figures(str(k), g) for k, g in frame.groupby("month", sort=True)]
    return weeks, months, figures("all", frame)
