"""The SQL store: schema, engine and queries (SQLAlchemy Core, SQLite and PostgreSQL)."""
