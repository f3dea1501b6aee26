"""The one dialect-specific statement: insert-or-update on a key."""

from __future__ import annotations

from sqlalchemy import Connection, Table, literal_column


def upsert(conn: Connection, table: Table, records: list[dict], *, key: list[str]) -> None:
    """Insert ``records``; rows whose ``key`` exists are updated in place."""
    if records:
        conn.execute(_statement(conn, table, records, key), records)


def upsert_counting(conn: Connection, table: Table, records: list[dict], *, key: list[str]) -> int:
    """``upsert`` in the order of ``key`` (concurrent writers lock rows in the same order, which
    avoids most deadlocks), returning how many rows it inserted, counted by the write itself on
    PostgreSQL (``xmax = 0`` marks a row this statement created). On SQLite the caller must
    hold the write lock (``lock_for_write``) so that the count read before the write stays true."""
    from sqlalchemy import func, select, tuple_

    if not records:
        return 0
    records = sorted(records, key=lambda r: tuple(r[k] for k in key))
    if conn.dialect.name == "postgresql":
        statement = _statement(conn, table, records, key).returning(literal_column("(xmax = 0)"))
        return sum(bool(row[0]) for row in conn.execute(statement, records))
    columns = [table.c[k] for k in key]
    existing = 0
    for start in range(0, len(records), 500):
        chunk = [tuple(r[k] for k in key) for r in records[start : start + 500]]
        match = columns[0].in_([c[0] for c in chunk]) if len(key) == 1 else tuple_(*columns).in_(chunk)
        existing += conn.execute(select(func.count()).select_from(table).where(match)).scalar_one()
    upsert(conn, table, records, key=key)
    return len(records) - existing


def _statement(conn: Connection, table: Table, records: list[dict], key: list[str]):  # noqa: ANN202
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(table)
    updates = {name: statement.excluded[name] for name in records[0] if name not in key}
    return statement.on_conflict_do_update(index_elements=key, set_=updates)
