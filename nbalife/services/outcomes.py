"""Closing the loop: match logged predictions with the halftime results that arrived, and carry
a corrected result into the predictions it resolved."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Engine

from nbalife.errors import BadInput
from nbalife.registry import Registry
from nbalife.services.conformal import advance_online
from nbalife.store.engine import lock_for_write, reachable
from nbalife.store.events import record_event
from nbalife.store.predictions import (
    Correction,
    changed_results,
    logged_game_ids,
    re_resolve,
    resolve,
    unresolved_game_ids,
)

CORRECTION_EVENT = "correction"


@dataclass(frozen=True)
class SyncResult:
    """How many predictions got their outcome, how many still wait for one, and the games whose
    result changed after their predictions were resolved (re-resolved, ``corrected`` rows)."""

    resolved: int
    pending: int
    corrected: int = 0
    corrections: list[Correction] = field(default_factory=list)


def sync(engine: Engine, *, now: dt.datetime, game_ids: list[str] | None = None,
         registry: Registry | None = None) -> SyncResult:
    """Fill ``actual`` and ``error`` wherever the game's halftime result is stored (idempotent).

    A game whose stored result differs from the ``actual`` its resolved predictions hold (the
    result was corrected after they were resolved) is re-resolved, and a ``correction`` event
    lists each such game with the old and new result. Figures computed before (earlier checks,
    events) are not rewritten; the event says what changed. ``game_ids`` restricts the sync to
    those games; one with no logged prediction is bad input.
    With the ``registry``, the online conformal layers that served the new outcomes advance in
    the same transaction (``services.conformal.advance_online``).
    """
    with reachable(engine), engine.begin() as conn:
        lock_for_write(conn)
        if game_ids:
            unknown = sorted(set(game_ids) - logged_game_ids(conn, game_ids))
            if unknown:
                raise BadInput(f"no logged prediction for game id {unknown[0]!r}"
                               + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""))
        corrections = changed_results(conn, game_ids)
        corrected = re_resolve(conn, sorted({c.game_id for c in corrections}), now=now) if corrections else 0
        if corrections:
            record_event(conn, CORRECTION_EVENT, "ok", at=now, details={
                "games": [{"game_id": c.game_id, "old_actual": c.old_actual, "new_actual": c.new_actual,
                           "predictions": c.predictions} for c in corrections],
                "predictions": corrected})
        resolved = resolve(conn, now=now, game_ids=game_ids)
        pending = len(unresolved_game_ids(conn, game_ids))
        if registry is not None:  # the online conformal layer's state
            advance_online(conn, registry, now=now)
        record_event(conn, "outcomes", "ok", at=now, details={"resolved": resolved, "pending_games": pending,
                                                             "corrected": corrected})
    return SyncResult(resolved, pending, corrected, corrections)
