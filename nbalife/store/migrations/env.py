"""Alembic environment: migrations run on the connection and transaction that
``nbalife.store.migrate`` opened and hands over in ``config.attributes["connection"]``."""

from alembic import context

context.configure(connection=context.config.attributes["connection"])
with context.begin_transaction():
    context.run_migrations()
