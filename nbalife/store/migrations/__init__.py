"""Alembic migrations of the store, run through ``nbalife.store.migrate`` (never an ini file)."""
