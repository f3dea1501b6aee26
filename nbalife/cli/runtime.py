"""What every command needs, built lazily from the global options: home, settings, engine."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from nbalife.errors import BadInput

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from nbalife.config import LoadedSettings, Settings


@dataclass
class Runtime:
    """Global options of one invocation; settings and engine are created on first use."""

    home: Path = field(default_factory=Path.cwd)
    home_given: bool = False
    config_path: Path | None = None
    db_url: str | None = None
    json: bool = False
    verbose: bool = False

    @cached_property
    def loaded(self) -> LoadedSettings:
        from nbalife.config import load_settings

        path = self.config_path
        if path is None and (self.home / "config.yaml").is_file():
            path = self.home / "config.yaml"
        return load_settings(path, overrides={"database.url": self.db_url})

    @property
    def settings(self) -> Settings:
        return self.loaded.settings

    @property
    def database_url(self) -> str:
        from nbalife.store.engine import default_url

        return self.settings.database.url or default_url(self.home)

    @cached_property
    def engine(self) -> Engine:
        """The store's engine with the schema created (exit 4 if unreachable)."""
        from nbalife.store.engine import init_schema, make_engine

        database = self.settings.database
        if database.url is None:
            try:
                self.home.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise BadInput(f"--home {self.home}: cannot be used as a home: {exc.strerror}") from None
        engine = make_engine(self.database_url, busy_timeout_s=database.busy_timeout_s,
                             connect_timeout_s=database.connect_timeout_s)
        init_schema(engine)
        return engine

    def lock(self, name: str, wait_s: float = 0.0) -> Any:
        """The run lock ``name`` for this store (file lock or PostgreSQL advisory lock)."""
        from nbalife.locks import run_lock

        return run_lock(name, home=self.home, engine=self.engine, wait_s=wait_s)

    @staticmethod
    def now() -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)


def runtime(ctx: typer.Context) -> Runtime:
    """The invocation's Runtime (a default one when a sub-app is invoked on its own)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Runtime):
        root.obj = Runtime()
    return root.obj
