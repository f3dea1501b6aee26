"""Predictions: ``superseded_by`` marks every row but the one that counts per (game, arm,
version); a partial unique index allows one counted row per key; CHECK constraints refuse a
non-finite, non-numeric or out-of-bound value.

Existing rows: those with a value the checks refuse are moved to ``quarantined_predictions``
(kept as text, never counted); then ``superseded_by`` is backfilled as the next row of the same
key by (created_at, id), the order "latest" had before.
"""

import datetime as dt
import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

VALUES = ("forecast", "lower", "upper", "dejavu", "lstm", "d18", "actual", "error")
VALUE_LIMIT = 1e4
CURRENT = sa.text("superseded_by IS NULL")


def _limit(name: str) -> float:
    return 2 * VALUE_LIMIT if name == "error" else VALUE_LIMIT


def _ok(name: str) -> str:
    return f"{name} IS NULL OR {name} BETWEEN {-_limit(name):.0f} AND {_limit(name):.0f}"


def _quarantine(conn: sa.Connection) -> None:
    op.create_table(
        "quarantined_predictions",
        sa.Column("id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), primary_key=True,
                  autoincrement=False),
        sa.Column("game_id", sa.String(64), nullable=False),
        sa.Column("arm", sa.String(8), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("row", sa.Text, nullable=False),
        sa.Column("quarantined_at", sa.DateTime, nullable=False),
    )
    bad = " OR ".join(f"NOT ({_ok(name)})" for name in VALUES)
    texts = ", ".join(f"CAST({name} AS TEXT) AS {name}" for name in VALUES)
    flags = ", ".join(f"CASE WHEN {_ok(name)} THEN 1 ELSE 0 END AS ok_{name}" for name in VALUES)
    rows = conn.execute(sa.text(f"SELECT id, game_id, arm, model_version, created_at, {texts}, {flags} "
                                f"FROM predictions WHERE {bad} ORDER BY id")).mappings().all()
    if not rows:
        return
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    records = []
    for row in rows:
        values = {name: row[name] for name in VALUES}
        failed = [name for name in VALUES if not row[f"ok_{name}"]]
        records.append({"id": row["id"], "game_id": row["game_id"], "arm": row["arm"],
                        "model_version": row["model_version"], "created_at": row["created_at"],
                        "reason": "not a finite number within ±limit: " + ", ".join(
                            f"{name}={values[name]}" for name in failed)[:500],
                        "row": json.dumps(values), "quarantined_at": now})
    table = sa.table("quarantined_predictions", *[sa.column(k) for k in records[0]])
    conn.execute(sa.insert(table), records)
    ids = [r["id"] for r in records]
    for start in range(0, len(ids), 500):
        conn.execute(sa.text("DELETE FROM predictions WHERE id IN :ids").bindparams(
            sa.bindparam("ids", expanding=True)), {"ids": ids[start:start + 500]})


def upgrade() -> None:
    conn = op.get_bind()
    _quarantine(conn)
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("superseded_by", sa.BigInteger, nullable=True))
        for name in VALUES:
            batch.create_check_constraint(f"ck_predictions_{name}_finite", sa.text(_ok(name)))
    conn.execute(sa.text(
        "UPDATE predictions SET superseded_by = nxt.next_id FROM ("
        " SELECT id, LEAD(id) OVER (PARTITION BY game_id, arm, model_version ORDER BY created_at, id) AS next_id"
        " FROM predictions) AS nxt"
        " WHERE nxt.id = predictions.id AND nxt.next_id IS NOT NULL"))
    op.create_index("ux_predictions_current", "predictions", ["game_id", "arm", "model_version"], unique=True,
                    sqlite_where=CURRENT, postgresql_where=CURRENT)
    op.create_index("ix_predictions_current_created", "predictions", ["created_at"],
                    sqlite_where=CURRENT, postgresql_where=CURRENT)
