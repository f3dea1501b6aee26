"""What every command needs, built lazily from the global options: home, settings, engine."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from nbalife.errors import BadInput

# Commands that write state may create a missing home; any other command refuses it (exit 2),
# so a mistyped --home is never created by a read-only command.
CREATES_HOME = frozenset({
    "train", "predict", "demo", "replay", "data ingest", "db upgrade", "outcomes sync", "conformal check",
    "dejavu update", "lstm retrain", "abtest start", "abtest advance", "abtest stop", "registry register",
    "registry promote", "registry rollback", "registry gc",
})
# Commands that need neither settings nor a home: they print the defaults or check a given file.
WITHOUT_CONFIG = frozenset({"config validate", "config defaults"})

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
    # where a value came from, as a refusal names it: the option, or the environment variable
    home_origin: str = "--home"
    config_origin: str = "--config"
    db_origin: str = "--db"
    json: bool = False
    verbose: bool = False
    command: str = ""  # the running command, e.g. "conformal check" (set by ``runtime``)

    @cached_property
    def loaded(self) -> LoadedSettings:
        from nbalife.config import load_settings

        path = self.config_path
        if path is None and (self.home / "config.yaml").is_file():
            path = self.home / "config.yaml"
        try:
            return load_settings(path, overrides={"database.url": self.db_url},
                                 origins={"database.url": self.db_origin})
        except BadInput as exc:
            from_env = self.config_path is not None and self.config_origin.startswith("environment ")
            if from_env and str(exc).startswith(f"{path}:"):
                raise BadInput(f"{self.config_origin}: {exc}") from None
            raise

    @property
    def settings(self) -> Settings:
        return self.loaded.settings

    @property
    def database_url(self) -> str:
        from nbalife.store.engine import default_url

        return self.settings.database.url or default_url(self.home)

    @cached_property
    def unchecked_engine(self) -> Engine:
        """The store's engine at whatever schema revision it is (for the ``db`` commands)."""
        from nbalife.store.engine import make_engine

        database = self.settings.database
        if database.url is None:
            try:
                self.home.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise BadInput(f"{self.home_origin} {self.home}: cannot be used as a home: {exc.strerror}") from None
        return make_engine(self.database_url, busy_timeout_s=database.busy_timeout_s,
                           connect_timeout_s=database.connect_timeout_s)

    @cached_property
    def engine(self) -> Engine:
        """The store's engine once the store is at the code's schema revision: an empty store is
        created, one at another revision refused (exit 2), an unreachable one is exit 4."""
        from nbalife.store.migrate import open_store

        open_store(self.unchecked_engine)
        return self.unchecked_engine

    @staticmethod
    def now() -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)

    def start(self, command: str) -> None:
        """Begin ``command``: a bad configuration stops it (exit 2) unless it needs none, and a
        missing home is refused unless the command creates one."""
        self.command = command
        if command in WITHOUT_CONFIG:
            return
        self.loaded  # noqa: B018 - load and validate now, before the command does anything
        if self.home.exists() and not self.home.is_dir():
            raise BadInput(f"{self.home_origin} {self.home}: cannot be used as a home: not a folder")
        if not self.home.exists() and command not in CREATES_HOME:
            raise BadInput(f"{self.home_origin} {self.home}: no such folder "
                           f"({command or 'this command'} does not create one)")


def runtime(ctx: typer.Context) -> Runtime:
    """The invocation's Runtime (a default one when a sub-app is invoked on its own)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Runtime):
        root.obj = Runtime()
    names, here = [], ctx
    while here.parent is not None:  # the command's names below the root, e.g. "data ingest"
        names.append(here.info_name or "")
        here = here.parent
    root.obj.start(" ".join(reversed(names)))
    return root.obj
