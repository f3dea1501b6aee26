"""Closing the loop: match logged predictions with the halftime results that arrived."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine

from nbalife.errors import BadInput
from nbalife.registry import Registry
from nbalife.services.conformal import advance_online
from nbalife.store.engine import reachable
from nbalife.store.events import record_event
from nbalife.store.predictions import logged_game_ids, resolve, unresolved_game_ids


@dataclass(frozen=True)
class SyncResult:
    """How many predictions got their outcome, and how many still wait for one."""

    resolved: int
    pending: int


def sync(engine: Engine, *, now: dt.datetime, game_ids: list[str] | None = None,
         registry: Registry | None = None) -> SyncResult:
    """Fill ``actual`` and ``error`` wherever the game's halftime result is stored (idempotent).

    ``game_ids`` restricts the sync to those games; one with no logged prediction is bad input.
    With the ``registry``, the online conformal layers that served the new outcomes advance in
    the same transaction (``services.conformal.advance_online``).
    """
    with reachable(engine), engine.begin() as conn:
        if game_ids:
            unknown = sorted(set(game_ids) - logged_game_ids(conn, game_ids))
            if unknown:
                raise BadInput(f"no logged prediction for game id {unknown[0]!r}"
                               + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""))
        resolved = resolve(conn, now=now, game_ids=game_ids)
        pending = len(unresolved_game_ids(conn, game_ids))
        if registry is not None:  # the online conformal layer's state
            advance_online(conn, registry, now=now)
        record_event(conn, "outcomes", "ok", at=now, details={"resolved": resolved, "pending_games": pending})
    return SyncResult(resolved, pending)
