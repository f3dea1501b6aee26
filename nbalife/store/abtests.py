"""Queries on the A/B tests table."""

from __future__ import annotations

from sqlalchemy import Connection, select

from nbalife.store import schema

ACTIVE = ("running",)


def active_versions(conn: Connection) -> set[str]:
    """Versions taking part in an A/B test that has not ended (protected from gc)."""
    table = schema.ab_tests
    rows = conn.execute(select(table.c.version_a, table.c.version_b).where(table.c.status.in_(ACTIVE))).all()
    return {version for row in rows for version in row}
