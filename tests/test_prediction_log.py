"""The prediction log's write rules on both backends: one counted row per (game, arm, version)
kept at write time (``superseded_by``), the same rule under concurrent writers, the upgrade that
backfills it, and values the store refuses (non-finite, text, beyond the bound)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from nbalife.errors import BadInput
from nbalife.interchange import FUTURE_COLUMNS, load_games, write_games
from nbalife.store import migrate, schema
from nbalife.store.engine import make_engine
from nbalife.store.predictions import Prediction, log_predictions, write_predictions

from tests.conftest import install_production

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


def row(game: str, *, minutes: int = 0, arm: str = "A", version: str = "1.0.0", forecast: float = 1.0) -> Prediction:
    return Prediction(game, arm, version, forecast, forecast - 9, forecast + 9, forecast, forecast, 0.0,
                      NOW + dt.timedelta(minutes=minutes))


def chain(engine: Engine) -> list[tuple[int, str, str, str, float, int | None]]:
    table = schema.predictions
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(table.c.id, table.c.game_id, table.c.arm, table.c.model_version, table.c.forecast,
                   table.c.superseded_by).order_by(table.c.id))]


def test_each_write_supersedes_the_counted_row_of_its_key(engine: Engine) -> None:
    with engine.begin() as conn:
        assert log_predictions(conn, [row("g1"), row("g2"), row("g1", arm="B")]) == 3
    with engine.begin() as conn:  # g1 twice in one batch: the last one counts
        assert log_predictions(conn, [row("g1", minutes=1, forecast=2.0), row("g1", minutes=2, forecast=3.0)]) == 2
    with engine.begin() as conn:  # without again, a key with a counted row is not written
        written = write_predictions(conn, [row("g1", forecast=9.0), row("g3")], again=False)
    assert [p.game_id for p in written] == ["g3"]
    assert chain(engine) == [
        (1, "g1", "A", "1.0.0", 1.0, 4), (2, "g2", "A", "1.0.0", 1.0, None), (3, "g1", "B", "1.0.0", 1.0, None),
        (4, "g1", "A", "1.0.0", 2.0, 5), (5, "g1", "A", "1.0.0", 3.0, None), (6, "g3", "A", "1.0.0", 1.0, None)]


def test_a_second_counted_row_of_a_key_is_refused_by_the_database(engine: Engine) -> None:
    with engine.begin() as conn:
        log_predictions(conn, [row("g1")])
    values = {**dataclasses.asdict(row("g1")), "created_at": NOW.replace(tzinfo=None)}
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(schema.predictions).values(**values))


BAD_VALUES = [("forecast", 1e308), ("lower", math.inf), ("upper", -math.inf), ("dejavu", 1e5),
              ("actual", math.nan), ("error", 3e4)]


@pytest.mark.parametrize(("column", "value"), BAD_VALUES)
def test_a_value_the_store_refuses_is_bad_input_before_the_write(engine: Engine, column: str, value: float) -> None:
    bad = dataclasses.replace(row("g7"), **{column: value})
    with pytest.raises(BadInput, match=rf"^prediction of game 'g7' \(A, 1.0.0\): {column} = .* is not a finite "
                                       r"number within ±\d+$"), engine.begin() as conn:
        write_predictions(conn, [row("g6"), bad], again=True)
    assert chain(engine) == []  # nothing of the batch was written


@pytest.mark.parametrize(("column", "value"), [*BAD_VALUES, ("forecast", "NaN")])
def test_the_check_constraints_refuse_what_slips_past_the_code(engine: Engine, column: str, value: object) -> None:
    if value == "NaN" and engine.dialect.name == "postgresql":
        value = math.nan  # PostgreSQL parses the text; SQLite would keep it as text
    if engine.dialect.name == "sqlite" and value != value and column == "actual":
        return  # SQLite stores a NaN as NULL: an unresolved prediction, nothing non-finite kept
    values = {**dataclasses.asdict(row("g8")), "created_at": NOW.replace(tzinfo=None), column: value}
    names = ", ".join(f'"{k}"' for k in values)
    statement = text(f"INSERT INTO predictions ({names}) VALUES ({', '.join(':' + k for k in values)})")
    with pytest.raises(IntegrityError, match=f"ck_predictions_{column}_finite|CHECK constraint failed"):
        with engine.begin() as conn:  # untyped text binds: the value reaches the database as is
            conn.execute(statement, values)


def _raw_rows(backend: str) -> list[dict]:
    """Rows of a 0003 store: key (g1, A, 1.0.0) logged three times (two at the same instant: the id
    breaks the tie), g2 once, and three rows an old nbalife could write with values now refused."""
    at = NOW.replace(tzinfo=None)
    base = {"arm": "A", "model_version": "1.0.0", "lower": -9.0, "upper": 9.0, "dejavu": 0.0, "lstm": 0.0,
            "d18": 0.0, "actual": 2.0, "resolved_at": at, "context": None}
    nan_text = "NaN" if backend == "sqlite" else math.nan
    return [
        {**base, "game_id": "g1", "forecast": 1.0, "error": 1.0, "created_at": at + dt.timedelta(minutes=5)},
        {**base, "game_id": "g1", "forecast": 2.0, "error": 0.0, "created_at": at},
        {**base, "game_id": "g2", "forecast": 3.0, "error": -1.0, "created_at": at},
        {**base, "game_id": "g1", "forecast": 4.0, "error": -2.0, "created_at": at},
        {**base, "game_id": "g3", "forecast": 1e308, "error": -1e308, "created_at": at},
        {**base, "game_id": "g4", "forecast": 1.0, "upper": math.inf, "error": 1.0, "created_at": at},
        {**base, "game_id": "g5", "forecast": nan_text, "error": 1.0, "created_at": at},
    ]


def test_upgrade_backfills_superseded_by_and_sets_refused_rows_aside(db_url: str, home: Path) -> None:
    engine = make_engine(db_url)
    with migrate.schema_transaction(engine) as conn:
        migrate.migrate(conn, "0004")
        rows = _raw_rows(engine.dialect.name)
        names = ", ".join(f'"{k}"' for k in rows[0])
        conn.execute(text(f"INSERT INTO predictions ({names}) VALUES ({', '.join(':' + k for k in rows[0])})"),
                     rows)
    upgraded = subprocess.run([sys.executable, "-m", "nbalife", "--home", str(home), "--db", db_url, "--json",
                               "db", "upgrade"], capture_output=True, text=True)
    assert upgraded.returncode == 0, upgraded.stderr
    assert json.loads(upgraded.stdout)["applied"] == migrate.revisions()[migrate.revisions().index("0005"):]
    # by (created_at, id): row 2 then row 4 (same instant), then row 1 (five minutes later) counts
    assert [r[:5] + (r[5],) for r in chain(engine)] == [
        (1, "g1", "A", "1.0.0", 1.0, None), (2, "g1", "A", "1.0.0", 2.0, 4), (3, "g2", "A", "1.0.0", 3.0, None),
        (4, "g1", "A", "1.0.0", 4.0, 1)]
    with engine.connect() as conn:
        kept = conn.execute(select(schema.quarantined_predictions).order_by(schema.quarantined_predictions.c.id))
        kept = [(r.id, r.game_id, r.reason.split(": ", 1)[1]) for r in kept]
    assert [k[:2] for k in kept] == [(5, "g3"), (6, "g4"), (7, "g5")]
    assert kept[0][2].startswith("forecast=1") and "error=-1" in kept[0][2]
    assert kept[1][2].lower().startswith("upper=inf")
    assert kept[2][2].lower() == "forecast=nan"
    # every reader of the log now works on what is left, and says what was set aside
    for args in (("metrics", "report", "--since", "2026-02-01", "--arm", "all"), ("metrics", "report", "--by", "day", "--days", "3650"),
                 ("metrics", "check", "--days", "3650")):
        result = subprocess.run([sys.executable, "-m", "nbalife", "--home", str(home), "--db", db_url, "--json", *args],
                                capture_output=True, text=True)
        assert result.returncode in (0, 1), result.stderr
        figures = json.loads(result.stdout)
        assert figures["quarantined"] == 3, args
    engine.dispose()


def _input_file(real_games: Path, folder: Path, count: int) -> Path:
    frame = load_games(real_games).sort_values("game_date").tail(count)
    return write_games(frame.drop(columns=FUTURE_COLUMNS), folder / "games.csv")


@pytest.mark.slow
def test_two_concurrent_predict_runs_log_each_game_once(db_url: str, home: Path, tmp_path: Path,
                                                        real_games: Path, tiny_model_set) -> None:  # noqa: ANN001
    engine = make_engine(db_url)
    migrate.open_store(engine)
    install_production(home, engine, tiny_model_set)
    games = _input_file(real_games, tmp_path, 300)
    command = [sys.executable, "-m", "nbalife", "--home", str(home), "--db", db_url, "--json", "predict",
               "--input", str(games)]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [run.communicate(timeout=300) for run in runs]  # read while they run: the pipes never fill
    results = [(run.returncode, *output) for run, output in zip(runs, outputs)]
    assert [code for code, *_ in results] == [0, 0, 0], [err[-500:] for *_, err in results]
    logged = [json.loads(out)["logged"] for _, out, _ in results]
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(schema.predictions)).scalar_one()
        keys = conn.execute(text("SELECT COUNT(DISTINCT game_id) FROM predictions")).scalar_one()
    assert (rows, keys, sum(logged)) == (300, 300, 300)
    again = subprocess.run([*command, "--again"], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    with engine.connect() as conn:
        counted = conn.execute(select(func.count()).select_from(schema.predictions)
                               .where(schema.predictions.c.superseded_by.is_(None))).scalar_one()
        rows = conn.execute(select(func.count()).select_from(schema.predictions)).scalar_one()
    assert (rows, counted) == (600, 300)
    engine.dispose()
