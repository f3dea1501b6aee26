"""The one dialect-specific statement: insert-or-update on a key."""

from __future__ import annotations

from sqlalchemy import Connection, Table


def upsert(conn: Connection, table: Table, records: list[dict], *, key: list[str]) -> None:
    """Insert ``records``; rows whose ``key`` exists are updated in place."""
    if not records:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(table)
    updates = {name: statement.excluded[name] for name in records[0] if name not in key}
    conn.execute(statement.on_conflict_do_update(index_elements=key, set_=updates), records)
