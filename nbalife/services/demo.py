"""``nbalife demo``: the whole lifecycle (``services.lifecycle``) in a fresh SQLite home."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from nbalife.config import Settings
from nbalife.errors import BadInput
from nbalife.services.lifecycle import BUNDLED_DATA, LifecycleResult, Step

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from nbalife.forecast.lstm import EpochProgress
    from nbalife.services.season import DayProgress


def run_demo(home: Path | None, *, quick: bool, real: bool, seed: int, settings: Settings, now: dt.datetime,
             force: bool = False,
             data_dir: Path = BUNDLED_DATA, epochs: EpochProgress | None = None, days: DayProgress | None = None,
             on_step: Callable[[Step], None] | None = None) -> LifecycleResult:
    """Train, a production stretch of scheduled jobs in simulated time, the A/B test of a retrained
    candidate to a decision, a rollback, the simulated stretch ending at ``now``; in ``home`` (a new
    temporary folder when None; one that is not empty is refused unless ``force``)."""
    from nbalife.services.lifecycle import run_lifecycle

    home, engine = _open_home(home, force=force)
    return run_lifecycle(home, engine, settings, quick=quick, real=real, seed=seed, now=now, data_dir=data_dir,
                         epochs=epochs, days=days, on_step=on_step)


def check_demo_home(home: Path | None, *, force: bool) -> None:
    """BadInput unless the demo may use ``home``: none given (a new temporary one), a missing or
    empty folder (a ``config.yaml`` alone counts as empty), or ``force``: the demo replaces the
    games of the store and promotes its own model sets."""
    if home is None or force or not Path(home).is_dir():
        return
    held = sorted(entry.name for entry in Path(home).iterdir() if entry.name != "config.yaml")
    if held:
        shown = ", ".join(held[:5]) + (", …" if len(held) > 5 else "")
        raise BadInput(f"--home {home}: is not empty ({shown}); the demo would overwrite its games and "
                       "production: give an empty folder, or --force")


def _open_home(home: Path | None, *, force: bool) -> tuple[Path, Engine]:
    """The demo's home (a new temporary folder unless given) and its SQLite store."""
    from nbalife.store.engine import default_url, make_engine
    from nbalife.store.migrate import open_store

    check_demo_home(home, force=force)
    home = Path(home) if home is not None else Path(tempfile.mkdtemp(prefix="nbalife-demo-"))
    (home / "data").mkdir(parents=True, exist_ok=True)
    engine = make_engine(default_url(home))
    open_store(engine)
    return home, engine
