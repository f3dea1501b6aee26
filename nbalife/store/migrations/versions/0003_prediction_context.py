"""Predictions: the pre-game context each forecast used ("ratings", "unknown-team" or "none"
for pattern-only); rows logged before this revision have none recorded (NULL)."""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("predictions", sa.Column("context", sa.String(16), nullable=True))
