"""Baseline: the store as it was when migrations were adopted (games, predictions,
lifecycle_events, ab_tests). Frozen: later changes are later revisions."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import sqlite

revision = "0001"
down_revision = None

Identifier = sa.BigInteger().with_variant(sqlite.INTEGER(), "sqlite")
MINUTES = 24


def upgrade() -> None:
    op.create_table(
        "games",
        sa.Column("game_id", sa.String(64), primary_key=True),
        sa.Column("season", sa.String(16), nullable=False),
        sa.Column("game_date", sa.Date, nullable=False),
        sa.Column("home", sa.String(8), nullable=False),
        sa.Column("away", sa.String(8), nullable=False),
        *[sa.Column(f"d{minute}", sa.Integer, nullable=False) for minute in range(MINUTES + 1)],
        sa.Column("final_diff", sa.Integer, nullable=True),
        sa.Column("ingested_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_games_game_date", "games", ["game_date"])
    op.create_index("ix_games_season_date", "games", ["season", "game_date"])

    op.create_table(
        "predictions",
        sa.Column("id", Identifier, primary_key=True, autoincrement=True),
        sa.Column("game_id", sa.String(64), nullable=False),
        sa.Column("arm", sa.String(8), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("forecast", sa.Float, nullable=False),
        sa.Column("lower", sa.Float, nullable=False),
        sa.Column("upper", sa.Float, nullable=False),
        sa.Column("dejavu", sa.Float, nullable=True),
        sa.Column("lstm", sa.Float, nullable=True),
        sa.Column("d18", sa.Float, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("actual", sa.Float, nullable=True),
        sa.Column("error", sa.Float, nullable=True),
        sa.Column("resolved_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_predictions_created_at", "predictions", ["created_at"])
    op.create_index("ix_predictions_game_arm", "predictions", ["game_id", "arm"])
    op.create_index("ix_predictions_version_created", "predictions", ["model_version", "created_at"])
    op.create_index("ix_predictions_unresolved", "predictions", ["actual", "game_id"])

    op.create_table(
        "lifecycle_events",
        sa.Column("id", Identifier, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("version", sa.String(32), nullable=True),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
    )
    op.create_index("ix_events_kind_at", "lifecycle_events", ["kind", "at"])
    op.create_index("ix_events_at", "lifecycle_events", ["at"])

    op.create_table(
        "ab_tests",
        sa.Column("id", Identifier, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("version_a", sa.String(32), nullable=False),
        sa.Column("version_b", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stage", sa.Integer, nullable=False),
        sa.Column("traffic_b", sa.Float, nullable=False),
        sa.Column("salt", sa.String(32), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("stage_started_at", sa.DateTime, nullable=False),
        sa.Column("ended_at", sa.DateTime, nullable=True),
        sa.Column("details", sa.Text, nullable=False),
    )
    op.create_index("ix_ab_tests_status", "ab_tests", ["status"])
