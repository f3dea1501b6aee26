"""`nbalife db upgrade` of a home written by the folder-registry nbalife (tests/data/main_home), on
both backends: the registry is imported into the store with every checksum verified, and a file
that does not match stops the upgrade with nothing written."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import MetaData, Table, create_engine, insert, select

from nbalife.registry import Registry
from nbalife.store import migrate
from nbalife.store.engine import make_engine
from tests.conftest import Cli

MAIN_HOME = Path(__file__).with_name("data") / "main_home"
DATA_TABLES = ("games", "predictions", "lifecycle_events", "ab_tests")


@pytest.fixture
def old_home(tmp_path: Path, db_url: str) -> tuple[Path, str]:
    """A copy of the home, its store on the test backend at revision 0003 with the home's rows."""
    home = tmp_path / "old"
    shutil.copytree(MAIN_HOME, home, symlinks=True)
    if db_url.startswith("sqlite"):
        return home, f"sqlite:///{home / 'nbalife.db'}"
    engine = make_engine(db_url)
    with migrate.schema_transaction(engine) as conn:
        migrate.migrate(conn, "0003")
    source = create_engine(f"sqlite:///{home / 'nbalife.db'}")
    with source.connect() as old, engine.begin() as new:
        for name in DATA_TABLES:
            rows = [{k: v for k, v in r._mapping.items() if k != "id"}  # PostgreSQL numbers them anew
                    for r in old.execute(select(Table(name, MetaData(), autoload_with=old)))]
            if rows:
                new.execute(insert(Table(name, MetaData(), autoload_with=new)), rows)
    source.dispose()
    engine.dispose()
    return home, db_url


def test_a_folder_registry_is_imported_by_db_upgrade(old_home: tuple[Path, str], tmp_path: Path) -> None:
    home, url = old_home
    cli = Cli(home, url)
    refused = cli("registry", "list")
    assert refused.exit_code == 2 and "run `nbalife db upgrade`" in refused.stderr
    result = cli("--json", "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["applied"] == ["0004", "0005", "0006"]

    listed = {r["version"]: r["status"] for r in json.loads(cli("--json", "registry", "list").stdout)}
    assert listed == {"1.2.0": "candidate", "1.1.0": "deleted", "1.0.1": "deleted", "1.0.0": "production"}
    tomb = json.loads(cli("--json", "registry", "show", "1.0.1").stdout)
    assert tomb["parent"] == "1.0.0" and tomb["kind"] == "recalibration" and tomb["deleted_at"]
    history = json.loads(cli("--json", "registry", "history").stdout)
    assert [(h["action"], h["version"], h["from_version"]) for h in history] == [
        ("promote", "1.0.0", None), ("promote", "1.0.1", "1.0.0"), ("rollback", "1.0.0", "1.0.1")]
    assert cli("registry", "verify", "--all").exit_code == 0

    fresh = tmp_path / "fresh"  # a second host: empty home, same store
    fresh.mkdir()
    served = Cli(fresh, url)("--json", "registry", "current")
    assert served.exit_code == 0 and json.loads(served.stdout)["version"] == "1.0.0"
    engine = make_engine(url)
    production = Registry(fresh, engine).load_production()
    for entry in production.info.files:
        assert (production.path / entry.name).read_bytes() == (MAIN_HOME / "model_registry" / "1.0.0" / entry.name).read_bytes()
    engine.dispose()
    assert os.readlink(fresh / "models" / "current") == "../model_registry/1.0.0"
    again = cli("--json", "db", "upgrade")
    assert again.exit_code == 0 and json.loads(again.stdout)["applied"] == []


def test_a_tampered_folder_stops_the_upgrade_naming_the_file(old_home: tuple[Path, str]) -> None:
    home, url = old_home
    victim = home / "model_registry" / "1.2.0" / "lstm.npz"
    victim.chmod(0o644)
    victim.write_bytes(victim.read_bytes() + b"tampered")
    cli = Cli(home, url)
    result = cli("db", "upgrade")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert f"{victim}: checksum mismatch" in result.stderr and "the registry was not imported" in result.stderr
    engine = make_engine(url)
    assert migrate.revision_of(engine).current == "0003"  # nothing written, the schema change included
    engine.dispose()
