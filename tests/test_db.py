"""``nbalife db`` and schema revisions on both backends: creation at head, the walk from the
baseline through every later revision with data in the store, refusals, upgrades."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, Table, event, inspect, insert, select, text

from nbalife.errors import BadInput
from nbalife.locks import run_lock
from nbalife.services.db import check
from nbalife.store import migrate
from nbalife.store.engine import make_engine, redact

from tests.conftest import run_nbalife

NOW = dt.datetime(2026, 3, 1, 12, 0)
BASELINE_ROWS = {
    "games": [{"game_id": "0022300001", "season": "2023-24", "game_date": dt.date(2023, 10, 24), "home": "DEN",
               "away": "LAL", **{f"d{m}": m % 7 - 3 for m in range(25)}, "final_diff": 12, "ingested_at": NOW}],
    "predictions": [{"game_id": "0022300001", "arm": "control", "model_version": "1.0.0",
                     "forecast": 1.5, "lower": -18.25, "upper": 21.25, "dejavu": 1.0, "lstm": 2.0, "d18": 0.0,
                     "created_at": NOW, "actual": 3.0, "error": 1.5, "resolved_at": NOW}],
    "lifecycle_events": [{"at": NOW, "kind": "promote", "outcome": "ok", "version": "1.0.0",
                          "details": '{"reason": "baseline data"}', "user": "op", "host": "box"}],
    "ab_tests": [{"name": "first", "version_a": "1.0.0", "version_b": "1.1.0", "status": "running",
                  "stage": 1, "traffic_b": 0.1, "salt": "s", "started_at": NOW, "stage_started_at": NOW,
                  "ended_at": None, "details": "{}"}],
}


def snapshot(engine: Engine) -> dict[str, list[dict]]:
    """Every row of every table (but the revision), by primary key."""
    with engine.connect() as conn:
        meta = MetaData()
        meta.reflect(conn)
        return {name: [dict(r._mapping) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                for name, t in meta.tables.items() if name != migrate.VERSION_TABLE}


def still_there(before: dict[str, list[dict]], after: dict[str, list[dict]]) -> None:
    """Each earlier row is still there with its earlier values (new columns and rows may be added)."""
    for name, rows in before.items():
        assert len(after[name]) >= len(rows), name
        for old, new in zip(rows, after[name]):
            assert {k: new[k] for k in old if k in new} == old, name


def test_every_revision_from_the_baseline_keeps_the_data(db_url: str) -> None:
    engine = make_engine(db_url)
    before = None
    for revision in migrate.revisions():
        with migrate.schema_transaction(engine) as conn:
            migrate.migrate(conn, revision)
            if revision == migrate.BASELINE:
                for name, rows in BASELINE_ROWS.items():
                    conn.execute(insert(Table(name, MetaData(), autoload_with=conn)), rows)
        assert migrate.revision_of(engine).current == revision
        after = snapshot(engine)
        if before is None:
            assert {k: len(v) for k, v in after.items()} == {name: 1 for name in BASELINE_ROWS}
        else:
            still_there(before, after)
        before = after
    migrate.open_store(engine)  # at head: usable
    engine.dispose()


def test_migrations_at_head_build_exactly_schema_py(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from nbalife.store.schema import metadata

    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    assert migrate.revision_of(engine).current == migrate.head()


def test_revisions_are_one_chain_named_by_their_files() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    scripts = list(reversed(list(ScriptDirectory.from_config(config).walk_revisions())))
    assert [s.revision for s in scripts] == migrate.revisions()
    assert [s.down_revision for s in scripts] == [None, *migrate.revisions()[:-1]]
    assert all(Path(s.path).name.startswith(f"{s.revision}_") for s in scripts)
    assert migrate.revisions()[0] == migrate.BASELINE


def test_current_store_is_checked_with_one_query(engine: Engine) -> None:
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    migrate.open_store(engine)
    assert len(statements) == 1 and migrate.VERSION_TABLE in statements[0]


def test_empty_store_is_created_at_head_by_any_command(cli_db) -> None:
    result = cli_db("--json", "data", "summary")
    assert result.exit_code == 0, result.output
    status = json.loads(cli_db("--json", "db", "check").stdout)
    assert (status["revision"], status["head"], status["problem"]) == (migrate.head(), migrate.head(), None)
    assert status["tables"] == {"ab_tests": 0, "conformal_state": 0, "games": 0, "lifecycle_events": 0,
                                "predictions": 0, "quarantined_predictions": 0,
                                "registry_artifacts": 0, "registry_files": 0, "registry_pending": 0,
                                "registry_production": 1, "registry_switches": 0, "registry_versions": 0}
    assert status["backend"] in {"sqlite", "postgresql"} and status["server_version"]


def test_concurrent_first_commands_create_the_store_once(db_url: str) -> None:
    engines = [make_engine(db_url) for _ in range(4)]
    start, failures = threading.Barrier(len(engines)), []

    def first_command(engine: Engine) -> None:
        start.wait()
        try:
            migrate.open_store(engine)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=first_command, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with engines[0].connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [migrate.head()]
    for engine in engines:
        engine.dispose()


def test_failed_schema_change_leaves_nothing(engine: Engine) -> None:
    with pytest.raises(RuntimeError), migrate.schema_transaction(engine) as conn:
        conn.execute(text("CREATE TABLE half_done (x INTEGER)"))
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        raise RuntimeError("migration failed half-way")
    assert "half_done" not in inspect(engine).get_table_names()
    assert migrate.revision_of(engine).current == migrate.head()


def stamp(engine: Engine, revision: str | None) -> None:
    with engine.begin() as conn:
        if revision is None:
            conn.execute(text("DROP TABLE alembic_version"))
        else:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})


def test_store_made_before_migrations_is_refused_until_upgraded(cli_db, db_url: str) -> None:
    engine = make_engine(db_url)
    with migrate.schema_transaction(engine) as conn:  # the baseline tables, as create_all made them
        migrate.migrate(conn, migrate.BASELINE)
        for name, rows in BASELINE_ROWS.items():
            conn.execute(insert(Table(name, MetaData(), autoload_with=conn)), rows)
    stamp(engine, None)
    before = snapshot(engine)

    refused = cli_db("data", "summary")
    assert refused.exit_code == 2
    assert refused.stderr == (f"error: the store at {redact(cli_db.db_url)} has no schema revision (made before "
                              f"migrations), the code needs {migrate.head()}: run `nbalife db upgrade`\n")
    assert cli_db("db", "check").exit_code == 1

    upgraded = cli_db("--json", "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    upgraded = json.loads(upgraded.stdout)
    assert (upgraded["from_revision"], upgraded["to_revision"]) == (None, migrate.head())
    assert upgraded["applied"] == migrate.revisions()[1:]
    still_there(before, snapshot(engine))
    summary = cli_db("--json", "data", "summary")
    assert summary.exit_code == 0 and json.loads(summary.stdout)[0]["games"] == 1
    engine.dispose()


def test_store_behind_the_code_is_refused(cli_db, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    known = migrate.revisions()
    monkeypatch.setattr(migrate, "revisions", lambda: [*known, "9999"])  # the code moved on
    expected = (f"error: the store at {redact(cli_db.db_url)} is at revision {known[-1]}, the code needs 9999: "
                "run `nbalife db upgrade`\n")
    for args in (("data", "summary"), ("history",), ("outcomes", "sync")):
        result = cli_db(*args)
        assert (result.exit_code, result.stderr) == (2, expected), args
    result = cli_db("db", "check")
    assert result.exit_code == 1 and result.stderr == expected


def test_refusal_is_one_line_and_exit_2_in_a_real_process(db_url: str, engine: Engine, tmp_path: Path) -> None:
    stamp(engine, None)
    proc = run_nbalife("--home", str(tmp_path), "--db", db_url, "history")
    assert proc.returncode == 2
    assert proc.stderr == (f"error: the store at {redact(db_url)} has no schema revision (made before migrations), "
                           f"the code needs {migrate.head()}: run `nbalife db upgrade`\n")


def test_store_at_an_unknown_revision_is_refused(cli_db, engine: Engine) -> None:
    stamp(engine, "0000_gone")
    for args in (("data", "summary"), ("db", "upgrade")):
        result = cli_db(*args)
        assert result.exit_code == 2, args
        assert re.fullmatch(r"error: the store at \S+ is at revision 0000_gone, which this nbalife does not "
                            rf"know \(it needs {migrate.head()}\): use the nbalife that upgraded it\n",
                            result.stderr)


def test_foreign_database_is_not_adopted(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE games (x INTEGER)"))
    with pytest.raises(BadInput, match="has no schema revision"):
        migrate.open_store(engine)
    with pytest.raises(BadInput, match="it is not an nbalife store"), migrate.schema_transaction(engine) as conn:
        migrate.migrate(conn)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE games"))
    engine.dispose()


def test_db_upgrade_creates_then_is_a_no_op(cli_db, db_url: str) -> None:
    first = json.loads(cli_db("--json", "db", "upgrade").stdout)
    assert (first["from_revision"], first["to_revision"], first["applied"]) == (
        None, migrate.head(), migrate.revisions())
    engine = make_engine(db_url)
    before = snapshot(engine)
    again = cli_db("db", "upgrade")
    assert again.exit_code == 0 and "Store already current" in again.stdout
    after = snapshot(engine)
    engine.dispose()
    assert {k: v for k, v in after.items() if k != "lifecycle_events"} == \
        {k: v for k, v in before.items() if k != "lifecycle_events"}
    events = json.loads(cli_db("--json", "history", "--kind", "db_upgrade").stdout)
    assert [(e["details"]["from"], e["details"]["applied"]) for e in events] == [
        (migrate.head(), []), (None, migrate.revisions())]


def test_second_concurrent_upgrade_exits_3(cli_db, engine: Engine) -> None:
    with run_lock("db", home=cli_db.home, engine=engine):
        result = cli_db("db", "upgrade")
    assert result.exit_code == 3 and "lock 'db' is held by another run" in result.stderr


def test_check_counts_rows(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(Table("games", MetaData(), autoload_with=conn)), BASELINE_ROWS["games"])
    status = check(engine)
    assert status.tables["games"] == 1 and status.problem is None
