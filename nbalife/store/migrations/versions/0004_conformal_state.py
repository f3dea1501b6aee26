"""The online conformal layer's state: one row per layer, written by ``outcomes sync`` and read
by ``predict``; a store without it starts every layer from its recorded starting radius."""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "conformal_state",
        sa.Column("layer", sa.String(64), primary_key=True),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("radius", sa.Float, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("misses", sa.Integer, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("through", sa.DateTime, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
