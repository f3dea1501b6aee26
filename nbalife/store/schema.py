"""Every table and index of the store, on one MetaData."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects import sqlite

from nbalife.interchange import DIFF_COLUMNS

metadata = MetaData()

# A logged figure is a finite number of points within these bounds (a halftime differential is
# a few dozen points): no infinity, NaN, text or 1e308 that would turn a sum into inf.
VALUE_LIMIT = 1e4
ERROR_LIMIT = 2 * VALUE_LIMIT  # error = actual - forecast
PREDICTION_VALUES = ("forecast", "lower", "upper", "dejavu", "lstm", "d18", "actual", "error")
CURRENT = text("superseded_by IS NULL")


def value_limit(name: str) -> float:
    """The bound of ``abs(value)`` for the prediction column ``name``."""
    return ERROR_LIMIT if name == "error" else VALUE_LIMIT


def finite_check(name: str) -> CheckConstraint:
    """``name`` is NULL or a number within its bound: BETWEEN is false for NaN (PostgreSQL orders it
    above every number), for the infinities, and on SQLite for text and blobs (ordered after numbers)."""
    limit = value_limit(name)
    return CheckConstraint(f"{name} IS NULL OR {name} BETWEEN {-limit:.0f} AND {limit:.0f}",
                           name=f"ck_predictions_{name}_finite")


# SQLite only auto-increments an INTEGER PRIMARY KEY, not a BIGINT one.
Identifier = BigInteger().with_variant(sqlite.INTEGER(), "sqlite")

games = Table(
    "games",
    metadata,
    Column("game_id", String(64), primary_key=True),
    Column("season", String(16), nullable=False),
    Column("game_date", Date, nullable=False),
    Column("home", String(8), nullable=False),
    Column("away", String(8), nullable=False),
    *[Column(name, Integer, nullable=False) for name in DIFF_COLUMNS],
    Column("final_diff", Integer, nullable=True),
    Column("ingested_at", DateTime, nullable=False),
    Index("ix_games_game_date", "game_date"),
    Index("ix_games_season_date", "season", "game_date"),
)

predictions = Table(
    "predictions",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column("game_id", String(64), nullable=False),
    Column("arm", String(8), nullable=False),
    Column("model_version", String(32), nullable=False),
    Column("forecast", Float, nullable=False),
    Column("lower", Float, nullable=False),
    Column("upper", Float, nullable=False),
    Column("dejavu", Float, nullable=True),
    Column("lstm", Float, nullable=True),
    Column("d18", Float, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("actual", Float, nullable=True),
    Column("error", Float, nullable=True),
    Column("resolved_at", DateTime, nullable=True),
    Column("context", String(16), nullable=True),
    # The id of the row that re-predicted this (game, arm, version); NULL on the one row that counts.
    # Kept by the insert's own transaction, so "one prediction per game counts" is a filter, not a search.
    Column("superseded_by", BigInteger, nullable=True),
    *[finite_check(name) for name in PREDICTION_VALUES],
    Index("ix_predictions_created_at", "created_at"),
    Index("ix_predictions_game_arm", "game_id", "arm"),
    Index("ix_predictions_version_created", "model_version", "created_at"),
    Index("ix_predictions_unresolved", "actual", "game_id"),
    # At most one counted row per (game, arm, version): a concurrent second writer of the same
    # game conflicts in the database itself, whichever host it runs on.
    Index("ux_predictions_current", "game_id", "arm", "model_version", unique=True,
          sqlite_where=CURRENT, postgresql_where=CURRENT),
    Index("ix_predictions_current_created", "created_at", sqlite_where=CURRENT, postgresql_where=CURRENT),
)

lifecycle_events = Table(
    "lifecycle_events",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("version", String(32), nullable=True),
    Column("details", Text, nullable=False, default="{}"),
    Column("user", String(64), nullable=False),
    Column("host", String(255), nullable=False),
    Index("ix_events_kind_at", "kind", "at"),
    Index("ix_events_at", "at"),
)

ab_tests = Table(
    "ab_tests",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("version_a", String(32), nullable=False),
    Column("version_b", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("stage", Integer, nullable=False),
    Column("traffic_b", Float, nullable=False),
    Column("salt", String(32), nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("stage_started_at", DateTime, nullable=False),
    Column("ended_at", DateTime, nullable=True),
    Column("details", Text, nullable=False, default="{}"),
    Column("mode", String(8), nullable=False, server_default="split"),
    Column("min_improvement", Float, nullable=False, server_default="0.5"),
    Column("reason", Text, nullable=True),
    Index("ix_ab_tests_status", "status"),
    Index("ux_ab_tests_one_running", "status", unique=True,
          sqlite_where=text("status = 'running'"), postgresql_where=text("status = 'running'")),
)

# The online conformal layer's current state, one row per layer (the sha256 identity of a
# ``conformal.json``, shared by the versions that keep it): ``outcomes sync`` writes it, ``predict``
# reads it. It is a pure function of the layer and the resolved predictions it served, so it can
# always be recomputed from the prediction log.
conformal_state = Table(
    "conformal_state",
    metadata,
    Column("layer", String(64), primary_key=True),
    Column("version", String(32), nullable=False),
    Column("radius", Float, nullable=False),
    Column("n", Integer, nullable=False),
    Column("misses", Integer, nullable=False),
    Column("state", Text, nullable=False),
    Column("through", DateTime, nullable=True),
    Column("updated_at", DateTime, nullable=False),
)

# Rows an earlier nbalife logged with a value the store now refuses (non-finite, text, beyond the
# bound), set aside by the upgrade that added the checks: kept for the record, never counted.
quarantined_predictions = Table(
    "quarantined_predictions",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=False),
    Column("game_id", String(64), nullable=False),
    Column("arm", String(8), nullable=False),
    Column("model_version", String(32), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("reason", Text, nullable=False),
    Column("row", Text, nullable=False),
    Column("quarantined_at", DateTime, nullable=False),
)

# The model registry: versions (a deleted one keeps its row, a tombstone), the sha256 and size of
# each file of a version, the artifacts themselves content-addressed by sha256, the production
# pointer (one row, locked by every registry mutation), every switch of production, and the
# promotions a live-game freeze deferred.
registry_versions = Table(
    "registry_versions",
    metadata,
    Column("version", String(32), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("parent", String(32), nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("deleted_at", DateTime, nullable=True),
    Index("ix_registry_versions_parent", "parent"),
    Index("ix_registry_versions_state", "state"),
)

registry_files = Table(
    "registry_files",
    metadata,
    Column("version", String(32), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Index("ix_registry_files_sha256", "sha256"),
)

registry_artifacts = Table(
    "registry_artifacts",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("bytes", LargeBinary, nullable=False),
    Column("size", BigInteger, nullable=False),
)

registry_production = Table(
    "registry_production",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", String(32), nullable=True),
    Column("since", DateTime, nullable=True),
    CheckConstraint("id = 1", name="ck_registry_production_one_row"),
)

registry_switches = Table(
    "registry_switches",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("who", String(64), nullable=False),
    Column("host", String(255), nullable=False),
    Column("action", String(16), nullable=False),
    Column("from_version", String(32), nullable=True),
    Column("to_version", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("forced", Boolean, nullable=False),
    Column("details", Text, nullable=False),
    Index("ix_registry_switches_at", "at"),
)

registry_pending = Table(
    "registry_pending",
    metadata,
    Column("id", Identifier, primary_key=True, autoincrement=True),
    Column("asked_at", DateTime, nullable=False),
    Column("who", String(64), nullable=False),
    Column("host", String(255), nullable=False),
    Column("action", String(16), nullable=False),
    Column("version", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("force", Boolean, nullable=False),
    Column("not_before", DateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("done_at", DateTime, nullable=True),
    Column("outcome", Text, nullable=True),
    Index("ix_registry_pending_state", "state"),
)
