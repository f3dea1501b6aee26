"""Shared fixtures: stores on both backends, the CLI runner, real and synthetic games."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO / "data" / "nba"
REAL_GAMES = REAL_DATA / "nba_2015_16_early.csv"
BACKENDS = ["sqlite", "postgresql"]
# The live-game freeze (default: evenings in New York) would make promotions wait depending on
# when the suite runs; tests of the freeze set their own window and clock.
os.environ["NBALIFE_REGISTRY__FREEZE"] = "none"


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The test PostgreSQL: ``NBALIFE_TEST_PG_URL``, else a throw-away pgserver for this session.

    Under CI a server that cannot be had fails the run instead of skipping.
    """
    url = os.environ.get("NBALIFE_TEST_PG_URL")
    if url:
        return url
    try:
        return _start_pgserver()
    except Exception as exc:  # noqa: BLE001 - any failure to start means no PostgreSQL here
        reason = f"no PostgreSQL: NBALIFE_TEST_PG_URL is not set and pgserver could not start ({exc})"
        if os.environ.get("CI"):
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)


def _start_pgserver() -> str:
    """A real PostgreSQL 16 from the pgserver wheel on a unix socket; stopped and deleted at exit.

    Its folder must be reachable by the unprivileged user pgserver runs the server as under root,
    so it is not under pytest's private temporary folder.
    """
    import tempfile

    import pgserver

    data_dir = Path(tempfile.mkdtemp(prefix="nbalife-pg-"))
    data_dir.chmod(0o755)
    server = pgserver.get_server(data_dir, cleanup_mode="delete")
    return server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nbalife.db'}"
    url = request.getfixturevalue("pg_url")
    from nbalife.store.engine import make_engine

    engine = make_engine(url)
    drop_store(engine)
    engine.dispose()
    return url


def drop_store(engine) -> None:  # noqa: ANN001
    """Drop every table of the store, the schema revision (``alembic_version``) included."""
    from sqlalchemy import text

    from nbalife.store.schema import metadata

    metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture
def engine(db_url: str):  # noqa: ANN201
    """A store at the code's revision, built through the same path as every command."""
    from nbalife.store.engine import make_engine
    from nbalife.store.migrate import open_store

    engine = make_engine(db_url)
    open_store(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


class Cli:
    """Runs ``nbalife`` in process through Typer's CliRunner, with a home and a store."""

    def __init__(self, home: Path, db_url: str | None = None) -> None:
        self.home, self.db_url = home, db_url
        self.runner = CliRunner()

    def __call__(self, *args: str, env: dict[str, str] | None = None):  # noqa: ANN204
        from nbalife.cli.app import app

        base = ["--home", str(self.home)] + (["--db", self.db_url] if self.db_url else [])
        return self.runner.invoke(app, base + [str(a) for a in args], env=env)


@pytest.fixture
def cli(home: Path) -> Cli:
    return Cli(home)


@pytest.fixture
def cli_db(home: Path, db_url: str) -> Cli:
    """The CLI on each backend."""
    return Cli(home, db_url)


@pytest.fixture(scope="session")
def repo_data() -> Path:
    """The real NBA seasons bundled with the project."""
    assert REAL_DATA.is_dir(), f"missing the bundled real seasons {REAL_DATA}"
    return REAL_DATA


@pytest.fixture(scope="session")
def real_games() -> Path:
    assert REAL_GAMES.is_file(), f"missing the real-game fixture {REAL_GAMES}"
    return REAL_GAMES


TINY_MODELS = {"lstm.hidden_size": 4, "lstm.num_layers": 1, "lstm.epochs": 2, "lstm.patience": 1,
               "dejavu.k": 20, "registry.freeze": "none"}


@pytest.fixture(scope="session")
def tiny_model_set(tmp_path_factory: pytest.TempPathFactory, repo_data: Path):  # noqa: ANN201
    """A small model set (tiny LSTM) trained once on the real 2020-21 season and saved to a
    folder; ``.result`` is the TrainResult (metrics, splits) to register it with."""
    import datetime as dt
    from types import SimpleNamespace

    from nbalife.config import load_settings
    from nbalife.interchange import load_games
    from nbalife.services.train import train

    folder = tmp_path_factory.mktemp("tiny-model-set")
    settings = load_settings(None, environ={}, overrides=TINY_MODELS).settings
    result = train(load_games(repo_data / "nba_2020-21.csv"), settings=settings,
                   now=dt.datetime(2021, 6, 1, tzinfo=dt.timezone.utc), out=folder)
    return SimpleNamespace(folder=folder, result=result, settings=settings)


def install_production(home: Path, engine, tiny) -> str:  # noqa: ANN001
    """Register ``tiny_model_set`` in ``home``'s registry and promote it; returns its version."""

    from nbalife.registry import ChangeKind
    from nbalife.services.registry import open_registry
    from nbalife.services.train import model_params

    splits = tiny.result.splits
    window = {"first_date": splits[0].first_date, "last_date": splits[-1].last_date,
              **{s.name: s.games for s in splits}}
    registry = open_registry(home, engine, tiny.settings)
    info = registry.register(tiny.folder, ChangeKind.MANUAL, metrics=tiny.result.metrics,
                             params=model_params(tiny.settings).to_dict(), training_window=window,
                             description="tiny test model set")
    registry.promote(info.version, force=True, reason="test")
    return info.version


def carry_registry(src_home: Path, dst_home: Path, engine) -> None:  # noqa: ANN001
    """Register in ``engine``'s store the versions of ``src_home``'s own SQLite store (same numbers,
    lineage and metadata) and promote its production: a copied home on another store (the
    registry lives in the store, not in the home's folders)."""
    from nbalife.registry import Registry

    source, target = Registry(src_home), Registry(dst_home, engine)
    for info in sorted((source.show(v) for v in source.versions()), key=lambda i: i.created_at):
        files = {f.name: source.path_of(info.version) / f.name for f in info.files}
        target.register(files, info.kind, base=info.parent, metrics=info.metrics, params=info.params,
                        description=info.description, training_window=info.training_window,
                        version=info.version, at=info.created_at)
    current = source.current_version()
    if current is not None:
        target.promote(current, force=True, reason="copied home")
    source.engine.dispose()


def run_nbalife(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
                timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``python -m nbalife`` as a real process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "nbalife", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI a skipped test is a failure: every suite must really run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if os.environ.get("CI") and skipped and exitstatus == 0:
        reporter.write_line(f"CI=true: {skipped} test(s) skipped; failing the run", red=True)
        session.exitstatus = 1


def pin_now(monkeypatch: pytest.MonkeyPatch, moment) -> None:  # noqa: ANN001
    """Every command's clock (``Runtime.now``) reads ``moment``."""
    from nbalife.cli.runtime import Runtime

    monkeypatch.setattr(Runtime, "now", staticmethod(lambda: moment))


def store_seasons(engine, repo_data: Path, names: tuple[str, ...], now, until: str | None = None):  # noqa: ANN001, ANN201
    """The named real season files of ``repo_data`` upserted into the store at ``now``, in one
    transaction (with ``until``, a ``YYYY-MM-DD`` date, only the games up to it); returns the
    frames stored."""
    from nbalife.interchange import load_games
    from nbalife.store.games import upsert_games

    frames = [load_games(repo_data / name) for name in names]
    if until is not None:
        frames = [frame[frame["game_date"] <= until] for frame in frames]
    with engine.begin() as conn:
        for frame in frames:
            upsert_games(conn, frame, now)
    return frames
