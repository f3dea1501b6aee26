"""The registry's rows in the SQL store: versions, files, artifacts, the production pointer, the
switches and the deferred promotions. Every function takes the caller's Connection, so the
caller's transaction decides what is kept; rows become records before they leave this module.

One code path for SQLite and PostgreSQL. ``lock`` starts a mutation: ``SELECT ... FOR UPDATE``
of the pointer row on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite, so mutations from any number of
homes and hosts run one after the other.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError

from nbalife.errors import LockHeld
from nbalife.registry.records import FileEntry, Pending, SwitchRecord, VersionInfo
from nbalife.store import schema
from nbalife.store.engine import lock_for_write, sqlstate
from nbalife.store.times import from_db_time, to_db_time
from nbalife.versions import ChangeKind, newest_first

V, F, A, P, S, Q = (schema.registry_versions, schema.registry_files, schema.registry_artifacts,
                    schema.registry_production, schema.registry_switches, schema.registry_pending)
CANDIDATE, PRODUCTION, RETIRED, DELETED = "candidate", "production", "retired", "deleted"
LOCK_NOT_AVAILABLE = "55P03"


def lock(conn: Connection, wait_s: float | None = None) -> str | None:
    """Take the registry's write lock for the rest of ``conn``'s transaction, waiting at most
    ``wait_s`` seconds on PostgreSQL (then LockHeld; SQLite waits its busy timeout); returns
    production."""
    lock_for_write(conn)
    query = select(P.c.version).where(P.c.id == 1)
    if conn.dialect.name != "sqlite":
        if wait_s is not None:
            conn.execute(select(func.set_config("lock_timeout", f"{max(int(wait_s * 1000), 1)}ms", True)))
        query = query.with_for_update()
    try:
        row = conn.execute(query).first()
    except DBAPIError as exc:
        if sqlstate(exc) == LOCK_NOT_AVAILABLE:
            raise LockHeld(f"another registry change held the store's registry lock for more than {wait_s:g} s "
                           "(registry.lock_wait_s); nothing was written, run it again") from None
        raise
    if row is None:  # a store created at this revision always has it; be tolerant of a bare table
        conn.execute(insert(P).values(id=1, version=None, since=None))
        return None
    return row.version


def production(conn: Connection) -> str | None:
    """The version the pointer names (None: no production)."""
    return conn.execute(select(P.c.version).where(P.c.id == 1)).scalar_one_or_none()


def set_production(conn: Connection, version: str, at: dt.datetime) -> None:
    conn.execute(update(P).where(P.c.id == 1).values(version=version, since=to_db_time(at)))


# ------------------------------------------------------------------------------ versions

def _info(row: Any, files: Sequence[FileEntry], root: Path) -> VersionInfo:
    meta = json.loads(row.metadata)
    return VersionInfo(
        version=row.version, created_at=from_db_time(row.created_at), parent=row.parent,
        description=row.description, kind=ChangeKind.parse(row.kind), metrics=meta.get("metrics") or {},
        params=meta.get("params") or {}, training_window=meta.get("training_window"),
        nbalife_version=meta.get("nbalife_version", ""), files=tuple(files), path=root / row.version,
        state=row.state, deleted_at=None if row.deleted_at is None else from_db_time(row.deleted_at),
        created_by=row.created_by,
    )


def deleted_on(conn: Connection) -> dict[str, dt.datetime]:
    """When gc deleted each tombstone, by version (one query, no metadata)."""
    query = select(V.c.version, V.c.deleted_at).where(V.c.deleted_at.is_not(None))
    return {row.version: from_db_time(row.deleted_at) for row in conn.execute(query)}


def version(conn: Connection, number: str, root: Path) -> VersionInfo | None:
    """One version (a tombstone too) with its files, or None when it was never registered."""
    row = conn.execute(select(V).where(V.c.version == number)).first()
    if row is None:
        return None
    files = [FileEntry(r.name, r.sha256, int(r.size))
             for r in conn.execute(select(F).where(F.c.version == number).order_by(F.c.name))]
    return _info(row, files, root)


def all_versions(conn: Connection, root: Path, *, with_files: bool = False) -> list[VersionInfo]:
    """Every version ever registered (tombstones too), newest first by semver."""
    files: dict[str, list[FileEntry]] = {}
    if with_files:
        for r in conn.execute(select(F).order_by(F.c.version, F.c.name)):
            files.setdefault(r.version, []).append(FileEntry(r.name, r.sha256, int(r.size)))
    infos = {r.version: _info(r, files.get(r.version, ()), root) for r in conn.execute(select(V))}
    return [infos[v] for v in newest_first(infos)]


def used_numbers(conn: Connection) -> set[str]:
    """Every version number ever taken (a deleted version's number is never reused)."""
    return set(conn.execute(select(V.c.version)).scalars())


def insert_version(conn: Connection, info: VersionInfo, blobs: dict[str, bytes]) -> None:
    """The version row, its file rows and any artifact the store does not hold yet."""
    meta = {"metrics": info.metrics, "params": info.params, "training_window": info.training_window,
            "nbalife_version": info.nbalife_version}
    conn.execute(insert(V).values(
        version=info.version, kind=info.kind.value, parent=info.parent, created_at=to_db_time(info.created_at),
        created_by=info.created_by[:64], description=info.description,
        metadata=json.dumps(meta, sort_keys=True, allow_nan=False), state=info.state, deleted_at=None))
    held = set(conn.execute(select(A.c.sha256).where(A.c.sha256.in_([f.sha256 for f in info.files]))).scalars())
    for entry in info.files:
        if entry.sha256 not in held:
            conn.execute(insert(A).values(sha256=entry.sha256, bytes=blobs[entry.sha256], size=entry.size))
            held.add(entry.sha256)
    conn.execute(insert(F), [{"version": info.version, "name": f.name, "sha256": f.sha256, "size": f.size}
                             for f in info.files])


def set_state(conn: Connection, versions: Iterable[str], state: str, *, at: dt.datetime | None = None) -> None:
    names = list(versions)
    if names:
        values: dict[str, Any] = {"state": state}
        if state == DELETED:
            values["deleted_at"] = to_db_time(at) if at is not None else None
        conn.execute(update(V).where(V.c.version.in_(names)).values(**values))


def drop_unreferenced_artifacts(conn: Connection, candidates: Iterable[str]) -> int:
    """Delete the artifacts among ``candidates`` (sha256) that no live version lists."""
    shas = sorted(set(candidates))
    if not shas:
        return 0
    live = (select(F.c.sha256).join(V, V.c.version == F.c.version)
            .where(V.c.state != DELETED, F.c.sha256.in_(shas)))
    keep = set(conn.execute(live).scalars())
    doomed = [s for s in shas if s not in keep]
    if doomed:
        conn.execute(delete(A).where(A.c.sha256.in_(doomed)))
    return len(doomed)


def artifacts(conn: Connection, shas: Iterable[str]) -> dict[str, bytes]:
    """The bytes the store holds for each of ``shas`` (absent ones are left out)."""
    wanted = sorted(set(shas))
    if not wanted:
        return {}
    return {r.sha256: bytes(r.bytes) for r in conn.execute(select(A.c.sha256, A.c.bytes).where(A.c.sha256.in_(wanted)))}


def artifact_bytes_total(conn: Connection) -> tuple[int, int]:
    """(artifacts, bytes) the store holds."""
    row = conn.execute(select(func.count(), func.coalesce(func.sum(A.c.size), 0)).select_from(A)).one()
    return int(row[0]), int(row[1])


def predicted_since(conn: Connection, cutoff: dt.datetime) -> set[str]:
    """Versions that logged a prediction at or after ``cutoff``."""
    table = schema.predictions
    query = select(table.c.model_version).where(table.c.created_at >= to_db_time(cutoff)).distinct()
    return set(conn.execute(query).scalars())


# ------------------------------------------------------------------------------ switches

def _switch(row: Any) -> SwitchRecord:
    return SwitchRecord(int(row.id), from_db_time(row.at), row.who, row.host, row.action, row.from_version,
                        row.to_version, row.reason, bool(row.forced), json.loads(row.details))


def switches(conn: Connection) -> list[SwitchRecord]:
    """Every switch of production, oldest first."""
    return [_switch(r) for r in conn.execute(select(S).order_by(S.c.id))]


def insert_switch(conn: Connection, *, at: dt.datetime, who: str, host: str, action: str, frm: str | None,
                  to: str, reason: str, forced: bool, details: dict[str, Any]) -> None:
    conn.execute(insert(S).values(at=to_db_time(at), who=who[:64], host=host[:255], action=action,
                                  from_version=frm, to_version=to, reason=reason, forced=forced,
                                  details=json.dumps(details, default=str, sort_keys=True)))


# ------------------------------------------------------------------------------ deferred promotions

def _pending(row: Any) -> Pending:
    return Pending(int(row.id), from_db_time(row.asked_at), row.who, row.host, row.action, row.version,
                   row.reason, bool(row.force), from_db_time(row.not_before), row.state,
                   None if row.done_at is None else from_db_time(row.done_at), row.outcome)


def add_pending(conn: Connection, *, asked_at: dt.datetime, who: str, host: str, action: str, version: str,
                reason: str, force: bool, not_before: dt.datetime) -> Pending:
    result = conn.execute(insert(Q).values(
        asked_at=to_db_time(asked_at), who=who[:64], host=host[:255], action=action, version=version,
        reason=reason, force=force, not_before=to_db_time(not_before), state="waiting"))
    row = conn.execute(select(Q).where(Q.c.id == result.inserted_primary_key[0])).one()
    return _pending(row)


def pending(conn: Connection, *, waiting_only: bool = True) -> list[Pending]:
    """Deferred promotions, oldest first (only those still waiting by default)."""
    query = select(Q).order_by(Q.c.id)
    if waiting_only:
        query = query.where(Q.c.state == "waiting")
    return [_pending(r) for r in conn.execute(query)]


def any_waiting(conn: Connection) -> bool:
    """One cheap query: is any deferred promotion waiting?"""
    return conn.execute(select(Q.c.id).where(Q.c.state == "waiting").limit(1)).first() is not None


def settle_pending(conn: Connection, number: int, state: str, at: dt.datetime, outcome: str) -> bool:
    """Mark a waiting promotion done, refused or cancelled; False when it was not waiting."""
    result = conn.execute(update(Q).where(Q.c.id == number, Q.c.state == "waiting")
                          .values(state=state, done_at=to_db_time(at), outcome=outcome[:2000]))
    return result.rowcount == 1
