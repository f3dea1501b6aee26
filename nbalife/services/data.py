"""Game data: ingest, export, summary and simulated seasons."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from nbalife.errors import BadInput
from nbalife.interchange import Rejection, check_output, file_format, load_games, read_frame, validate, write_games
from nbalife.store.engine import reachable, retrying
from nbalife.store.events import record_event
from nbalife.store.games import SeasonSummary, UpsertCounts, read_games, summarize, upsert_games

if TYPE_CHECKING:
    import pandas as pd


# Feed sanity: the second half (24 minutes and any overtime) moves the differential at most this
# much. The largest move on the bundled real seasons (3,856 games) is 39 points; the NBA's record
# comebacks from halftime are about 35. A d24 farther than this from final_diff is a broken feed.
MAX_SECOND_HALF_SWING = 60


def impossible_paths(valid: pd.DataFrame) -> list[tuple[str, int, str]]:
    """(game id, d24, why) of the games whose score path cannot have happened: a halftime ``d24`` more
    than ``MAX_SECOND_HALF_SWING`` points from the final result. (A minute in which the
    differential changes by more than the points possible is already refused by validation,
    naming the game and the minute's column.)"""
    if valid.empty or "final_diff" not in valid:
        return []
    final = valid["final_diff"].astype("Float64")
    swing = (final - valid["d24"]).abs()
    bad = valid[(swing > MAX_SECOND_HALF_SWING).fillna(False)]
    return [(str(g.game_id), int(g.d24), f"d24 {int(g.d24)} but final_diff {int(g.final_diff)}: the second half "
             f"cannot move {abs(int(g.final_diff) - int(g.d24))} points (at most {MAX_SECOND_HALF_SWING})")
            for g in bad.itertuples()]


@dataclass(frozen=True)
class IngestResult:
    """What an ingest did."""

    file: Path
    rows: int
    inserted: int
    updated: int
    rejected: int
    rejects_file: Path | None


def ingest(
    engine: Engine,
    path: Path,
    *,
    now: dt.datetime,
    skip_invalid: bool = False,
    rejects_path: Path | None = None,
) -> IngestResult:
    """Validate every row of ``path`` and load it in one transaction.

    Any invalid row rejects the whole file (nothing is written) unless ``skip_invalid``,
    which loads the valid rows and writes the rejected ones with reasons to ``rejects_path``.
    """
    path = Path(path)
    rejects = Path(rejects_path) if rejects_path else path.with_name(path.stem + ".rejects.csv")
    if skip_invalid:
        check_output(rejects, source=path, option="--rejects")
    frame = read_frame(path)
    valid, rejections = validate(frame)
    impossible = impossible_paths(valid)
    if impossible:
        bad_ids = {game_id for game_id, _, _ in impossible}
        rows = {str(game_id).strip(): index + 2 for index, game_id in enumerate(frame["game_id"])}
        rejections = sorted([*rejections, *(Rejection(rows.get(game_id, 0), game_id, "d24", str(d24), why)
                                            for game_id, d24, why in impossible)], key=lambda r: r.row)
        valid = valid[~valid["game_id"].isin(bad_ids)].reset_index(drop=True)
    if rejections and not skip_invalid:
        raise BadInput(rejections[0].message(path)
                       + (f" (and {len(rejections) - 1} more invalid rows)" if len(rejections) > 1 else ""))
    written: Path | None = None
    if rejections:
        import pandas as pd

        written = write_games(pd.DataFrame([r.__dict__ for r in rejections]), rejects)

    def load() -> UpsertCounts:
        with engine.begin() as conn:
            counts = upsert_games(conn, valid, now)
            record_event(conn, "ingest", "ok", at=now, details={
                "file": str(path), "rows": len(frame), "inserted": counts.inserted,
                "updated": counts.updated, "rejected": len(rejections)})
        return counts

    with reachable(engine):
        counts = retrying(load)  # a deadlock with a concurrent ingest rolls back; load again
    return IngestResult(path, len(frame), counts.inserted, counts.updated, len(rejections), written)


def ingest_files(
    engine: Engine,
    paths: list[Path],
    *,
    now: dt.datetime,
    skip_invalid: bool = False,
    rejects_path: Path | None = None,
) -> list[IngestResult]:
    """Ingest several files in order, each in its own transaction.

    Every file must exist and have a known format before the first is read. A rejected file
    stops the run: the files before it stay loaded and the message names the rejected one.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise BadInput("data ingest: no file given")
    if rejects_path is not None and len(paths) > 1:
        raise BadInput(f"--rejects {rejects_path}: takes one input file, got {len(paths)}")
    for path in paths:
        file_format(path)
        if not path.is_file():
            raise BadInput(f"{path}: no such file")
    results: list[IngestResult] = []
    for path in paths:
        try:
            results.append(ingest(engine, path, now=now, skip_invalid=skip_invalid, rejects_path=rejects_path))
        except BadInput as exc:
            if not results:
                raise
            loaded = ", ".join(f"{r.file.name} ({r.inserted + r.updated} games)" for r in results)
            raise BadInput(f"{exc} [loaded before it: {loaded}]") from exc
    return results


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    file: Path
    games: int


def export(
    engine: Engine,
    path: Path,
    *,
    season: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> ExportResult:
    """Write the stored games (optionally filtered) to a CSV or Parquet file, atomically."""
    check_output(path, option="--out")
    with reachable(engine), engine.connect() as conn:
        frame = read_games(conn, season=season, since=since, until=until)
    write_games(frame, path)
    return ExportResult(Path(path), len(frame))


def summary(engine: Engine) -> list[SeasonSummary]:
    """Games per season, date range, and the halftime differential's mean and SD."""
    with reachable(engine), engine.connect() as conn:
        return summarize(conn)


def read_games_file(path: Path) -> pd.DataFrame:
    """A validated games file, oldest first (extra columns such as ``oracle_d24`` kept)."""
    frame = load_games(path)
    return frame.sort_values(["game_date", "game_id"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class SimulationResult:
    """What a simulation wrote and the figures it shows."""

    file: Path
    games: int
    season: str
    seed: int
    era: str
    first_date: str
    last_date: str
    halftime_mean: float
    halftime_sd: float
    persistence_mae: float
    oracle_mae: float


def simulate(
    path: Path,
    *,
    games: int,
    season: str,
    seed: int,
    start_date: dt.date | None = None,
    drift: str | None = None,
    era: str = "recent",
) -> SimulationResult:
    """Simulate a season with ``nbalife.simulate`` (constants of ``era``) and write it in the
    interchange format."""
    from nbalife.simulate import parse_drift, simulate_season

    check_output(path, option="--out")
    frame = simulate_season(games, season=season, seed=seed, start_date=start_date,
                            drift=parse_drift(drift) if drift else None, era=era)
    write_games(frame, path)
    move = frame["d24"] - frame["d18"]
    return SimulationResult(
        file=Path(path), games=len(frame), season=season, seed=seed, era=era,
        first_date=str(frame["game_date"].min()), last_date=str(frame["game_date"].max()),
        halftime_mean=float(frame["d24"].mean()), halftime_sd=float(frame["d24"].std()),
        persistence_mae=float(move.abs().mean()),
        oracle_mae=float((frame["d24"] - frame["oracle_d24"]).abs().mean()),
    )
