"""The demo: a simulated season through the whole pipeline on the embedded default."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from nbalife.services import data
from nbalife.store.engine import default_url, init_schema, make_engine
from nbalife.store.games import SeasonSummary


@dataclass(frozen=True)
class DemoResult:
    """Where the demo ran and what each step reported."""

    home: Path
    database: str
    seasons: list[SeasonSummary]
    steps: dict[str, str] = field(default_factory=dict)


def run_demo(home: Path | None, *, games: int, seed: int, now: dt.datetime) -> DemoResult:
    """Simulate ``games`` games, ingest them into ``home`` (a new temp dir when None)."""
    home = Path(home) if home is not None else Path(tempfile.mkdtemp(prefix="nbalife-demo-"))
    home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(default_url(home))
    init_schema(engine)
    season_file = home / "data" / "season.csv"
    simulated = data.simulate(season_file, games=games, season="2023-24", seed=seed)
    ingested = data.ingest(engine, season_file, now=now)
    steps = {
        "simulated": f"{simulated.games} games, persistence MAE {simulated.persistence_mae:.2f}, "
                     f"oracle MAE {simulated.oracle_mae:.2f}",
        "ingested": f"{ingested.inserted} new, {ingested.updated} updated",
    }
    return DemoResult(home, default_url(home), data.summary(engine), steps)
