"""When production's LSTM should be retrained: the triggers ``lstm retrain`` acts on and
``status`` shows, computed from the registry's lineage, the games table and the prediction log.

The LSTM production carries was fitted by the nearest version in its lineage whose kind refits
it (``lstm_retrain``, ``train``, ``manual``): a recalibration or a Dejavu update copies it
unchanged. That version's creation time is "the last retrain" and the last game date of its
training window is the cutoff new games are counted from.

Importing this module imports neither torch nor scipy (``status`` must stay quick).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import Engine

from nbalife.config import Settings
from nbalife.errors import BadInput
from nbalife.registry import ChangeKind, Registry, VersionInfo
from nbalife.store.engine import reachable
from nbalife.store.games import count_games

KEEPS_LSTM = (ChangeKind.RECALIBRATION, ChangeKind.DEJAVU_UPDATE)
NAMES = ("time", "volume", "degradation", "drift", "force")


@dataclass(frozen=True)
class Trigger:
    """One retrain trigger: whether it fires now and why (figures and levels in words)."""

    name: str
    fired: bool
    reason: str


@dataclass(frozen=True)
class LstmAge:
    """Production's LSTM: the version that fitted it, when, its last training game, and how
    many days and games have passed since."""

    version: str
    trained_at: dt.datetime
    cutoff: str | None
    days: float
    games: int


def lineage(registry: Registry, info: VersionInfo) -> list[VersionInfo]:
    """``info`` and its ancestors, newest first; stops at a parent that is no longer registered."""
    chain = [info]
    seen = {info.version}
    while chain[-1].parent is not None and chain[-1].parent not in seen:
        try:
            chain.append(registry.show(chain[-1].parent))
        except BadInput:
            break
        seen.add(chain[-1].version)
    return chain


def lstm_origin(chain: list[VersionInfo]) -> VersionInfo:
    """The version in a lineage (newest first) whose LSTM the first one carries."""
    for info in chain:
        if info.kind not in KEEPS_LSTM:
            return info
    return chain[-1]


def lstm_age(engine: Engine, chain: list[VersionInfo], now: dt.datetime) -> LstmAge:
    """Days since the LSTM was fitted and finished games in the store after its cutoff."""
    origin = lstm_origin(chain)
    cutoff = (origin.training_window or {}).get("last_date")
    try:
        after = None if cutoff is None else dt.date.fromisoformat(str(cutoff))
    except ValueError:
        raise BadInput(f"version {origin.version}: training window last_date {cutoff!r} is not a date") from None
    with reachable(engine), engine.connect() as conn:
        games = count_games(conn, after=after, until=now.date())
    days = (now - origin.created_at).total_seconds() / 86400
    return LstmAge(origin.version, origin.created_at, None if after is None else str(after), days, games)


def validation_mae(chain: list[VersionInfo]) -> float | None:
    """The held-out MAE recorded by the newest version of the lineage that has one."""
    for info in chain:
        value = info.metrics.get("mae")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def degradation(engine: Engine, chain: list[VersionInfo], settings: Settings, now: dt.datetime) -> Trigger:
    """Recent MAE of production's predictions against its validation MAE plus the margin."""
    from nbalife.services.metrics import window_metrics

    lstm, monitoring = settings.lstm, settings.monitoring
    reference = validation_mae(chain)
    recent = window_metrics(engine, now - dt.timedelta(days=lstm.degradation_days), now, version=chain[0].version)
    window = f"last {lstm.degradation_days:g} days"
    if reference is None:
        return Trigger("degradation", False, f"production {chain[0].version} records no validation MAE")
    if recent.n < monitoring.min_predictions or recent.mae is None:
        return Trigger("degradation", False, f"{recent.n} resolved predictions in the {window}, fewer than "
                                             f"monitoring.min_predictions {monitoring.min_predictions}")
    level = reference + lstm.degradation_margin
    fired = recent.mae > level
    return Trigger("degradation", fired, f"MAE {recent.mae:.3f} over {recent.n} predictions in the {window} "
                                         f"{'>' if fired else '<='} validation MAE {reference:.3f} + margin "
                                         f"{lstm.degradation_margin:g}")


def evaluate(engine: Engine, chain: list[VersionInfo], settings: Settings, *, now: dt.datetime, drift: Trigger,
             force: bool) -> tuple[LstmAge, list[Trigger]]:
    """Every trigger in ``NAMES`` order; ``drift`` is judged by the caller (fresh or from the last check)."""
    lstm = settings.lstm
    age = lstm_age(engine, chain, now)
    time_fired = age.days >= lstm.retrain_every_days
    volume_fired = age.games >= lstm.min_new_games
    since = f"since {age.version} fitted the LSTM"
    triggers = [
        Trigger("time", time_fired, f"{age.days:.1f} days {since} ({'>=' if time_fired else '<'} "
                                    f"lstm.retrain_every_days {lstm.retrain_every_days:g})"),
        Trigger("volume", volume_fired, f"{age.games} new games after its cutoff {age.cutoff} "
                                        f"({'>=' if volume_fired else '<'} lstm.min_new_games {lstm.min_new_games})"),
        degradation(engine, chain, settings, now),
        drift,
        Trigger("force", force, "--force given" if force else "no --force"),
    ]
    return age, triggers
