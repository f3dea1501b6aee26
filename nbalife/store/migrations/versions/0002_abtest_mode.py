"""A/B tests: their mode, minimum improvement and end reason; at most one running test.

The partial unique index makes a second concurrent ``abtest start`` fail in the database
itself, whichever host runs it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

RUNNING = sa.text("status = 'running'")


def upgrade() -> None:
    op.add_column("ab_tests", sa.Column("mode", sa.String(8), nullable=False, server_default="split"))
    op.add_column("ab_tests", sa.Column("min_improvement", sa.Float, nullable=False, server_default="0.5"))
    op.add_column("ab_tests", sa.Column("reason", sa.Text, nullable=True))
    op.create_index("ux_ab_tests_one_running", "ab_tests", ["status"], unique=True,
                    sqlite_where=RUNNING, postgresql_where=RUNNING)
