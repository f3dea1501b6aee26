"""Game data: ingest (validation, one transaction, upsert), export, summary, on both backends."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from nbalife.interchange import DIFF_COLUMNS, load_games, read_frame, validate
from nbalife.store import schema


def count_games(url: str) -> int:
    from nbalife.store.engine import make_engine
    from nbalife.store.migrate import open_store

    engine = make_engine(url)
    open_store(engine)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(schema.games)).scalar_one()
    engine.dispose()
    return n


@pytest.fixture
def games_csv(tmp_path: Path, real_games: Path) -> Path:
    """The first 40 real games as a raw text CSV we can damage."""
    path = tmp_path / "games.csv"
    lines = real_games.read_text().splitlines()[:41]
    path.write_text("\n".join(lines) + "\n")
    return path


def damage(path: Path, row: int, column: str, value: str) -> Path:
    """Set one cell (row is the 1-based file line) and write the file back as text."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[row - 2, column] = value
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_ingest_export_round_trip(cli_db, tmp_path: Path, real_games: Path, suffix: str) -> None:
    result = cli_db("--json", "data", "ingest", str(real_games))
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.stdout)
    assert (report["rows"], report["inserted"], report["updated"], report["rejected"]) == (319, 319, 0, 0)

    out = tmp_path / f"export{suffix}"
    result = cli_db("data", "export", "--out", str(out))
    assert result.exit_code == 0, result.output
    original = load_games(real_games)
    exported = load_games(out)
    pd.testing.assert_frame_equal(
        original.sort_values("game_id").reset_index(drop=True)[exported.columns],
        exported.sort_values("game_id").reset_index(drop=True),
        check_dtype=False,
    )
    # the exported file ingests again as pure updates
    [again] = json.loads(cli_db("--json", "data", "ingest", str(out)).stdout)
    assert (again["inserted"], again["updated"]) == (0, 319)
    assert count_games(cli_db.db_url) == 319


def test_reingest_updates_changed_game(cli_db, games_csv: Path) -> None:
    assert cli_db("data", "ingest", str(games_csv)).exit_code == 0
    damage(games_csv, 2, "final_diff", "29")
    result = cli_db("--json", "data", "ingest", str(games_csv))
    assert json.loads(result.stdout)[0]["updated"] == 40
    out = games_csv.with_name("out.csv")
    cli_db("data", "export", "--out", str(out))
    exported = load_games(out).set_index("game_id")
    assert exported.loc["0021500001", "final_diff"] == 29
    assert count_games(cli_db.db_url) == 40


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("d0", "3", "d0 must be 0"),
        ("d7", "abc", "not a number"),
        ("d7", "", "missing value"),
        ("d24", "nan", "missing value"),
        ("d12", "2.5", "not a whole number"),
        ("d10", "40", "more than 15"),
        ("d3", "inf", "not a finite number"),
        ("game_date", "2015-13-40", "not a valid ISO date"),
        ("game_date", "yesterday", "not a valid ISO date"),
        ("game_date", "2015-11-01xyz", "not a valid ISO date"),
        ("home", "", "missing value"),
        ("game_id", "", "missing value"),
        ("final_diff", "x", "not a number"),
        ("d7", "1_0", "not a number"),
        ("d7", "\uff11\uff15", "not a number"),  # full-width digits: float() takes them
        ("final_diff", "1_2", "not a number"),
        ("final_diff", "1e300", "more than 150 points"),
        ("final_diff", "9223372036854775808", "more than 150 points"),
    ],
)
def test_any_invalid_row_rejects_the_file(cli_db, games_csv: Path, column: str, value: str, reason: str) -> None:
    assert cli_db("data", "ingest", str(games_csv)).exit_code == 0
    before = count_games(cli_db.db_url)
    damage(games_csv, 7, column, value)
    fresh = games_csv.with_name("fresh.csv")
    frame = pd.read_csv(games_csv, dtype=str, keep_default_na=False)
    frame["game_id"] = frame["game_id"].where(frame.index == 5, "NEW" + frame["game_id"])
    frame.to_csv(fresh, index=False)
    result = cli_db("data", "ingest", str(fresh))
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert message.startswith(f"error: {fresh}: row 7 ")
    assert f"column {column} = {value!r}" in message and reason in message
    assert "\n" not in message
    assert count_games(cli_db.db_url) == before  # nothing written


@pytest.mark.parametrize(
    ("cells", "column", "value", "reason"),
    [
        ({"d3": "x", "d10": "40", "game_date": "soon", "away": " "}, "away", " ", "missing value"),
        ({"d3": "x", "d10": "40", "game_date": "soon"}, "game_date", "soon", "not a valid ISO date"),
        ({"final_diff": "x", "d20": "2.5", "d9": "nan"}, "d9", "nan", "missing value"),
        ({"d0": "1", "d1": "inf"}, "d0", "1", "d0 must be 0"),
        ({"d5": "17", "d6": "-1", "d7": "1e1"}, "d5", "17", "changes by 16 points in one minute (more than 15)"),
        ({"d6": "-6", "d7": "1e1", "d24": "?"}, "d7", "1e1", "changes by 16 points"),  # 1e1 is 10
        ({"d8": " -7 ", "d9": "-7.0", "final_diff": "inf"}, "final_diff", "inf", "not a whole number of points"),
        ({"season": "nan", "game_id": "None"}, "game_id", "None", "missing value"),
    ],
)
def test_a_row_with_several_invalid_cells_reports_its_first(
        games_csv: Path, cells: dict[str, str], column: str, value: str, reason: str) -> None:
    for name, text in cells.items():
        damage(games_csv, 7, name, text)
    _, rejections = validate(read_frame(games_csv))
    (rejection,) = rejections
    assert (rejection.row, rejection.column, rejection.value) == (7, column, value)
    assert reason in rejection.reason


def test_rejections_come_in_row_order_with_duplicates_of_valid_rows_only(games_csv: Path) -> None:
    damage(games_csv, 3, "d4", "30")  # row 3 is invalid: its game id does not count
    damage(games_csv, 5, "game_id", " 0021500002")  # row 3's id: kept (stripped)
    damage(games_csv, 8, "game_id", "0021500002 ")  # a duplicate of row 5
    damage(games_csv, 6, "d2", "")
    damage(games_csv, 10, "game_id", "0021500010")  # row 9's id, row 9 invalid below
    damage(games_csv, 9, "d24", "1.5")
    valid, rejections = validate(read_frame(games_csv))
    assert [(r.row, r.game_id, r.column, r.reason) for r in rejections] == [
        (3, "0021500002", "d4", "changes by 36 points in one minute (more than 15)"),
        (6, "0021500005", "d2", "missing value"),
        (8, "0021500002", "game_id", "duplicate of row 5"),
        (9, "0021500010", "d24", "not a whole number of points"),
    ]
    assert len(valid) == 36 and valid["game_id"].is_unique and isinstance(rejections[0].row, int)


def test_duplicate_game_in_file_rejected(cli, games_csv: Path) -> None:
    damage(games_csv, 9, "game_id", "0021500001")
    result = cli("data", "ingest", str(games_csv))
    assert result.exit_code == 2
    assert "row 9" in result.stderr and "duplicate of row 2" in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("game_id,season\n1,2015-16\n", "missing column(s) game_date, home, away, d0"),
        ("", "cannot read csv"),
    ],
)
def test_unreadable_or_incomplete_files(cli, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    result = cli("data", "ingest", str(path))
    assert result.exit_code == 2
    assert message in result.stderr


def test_missing_file_and_unknown_type(cli, tmp_path: Path) -> None:
    result = cli("data", "ingest", str(tmp_path / "nope.csv"))
    assert result.exit_code == 2 and "no such file" in result.stderr
    other = tmp_path / "games.xlsx"
    other.write_text("x")
    result = cli("data", "ingest", str(other))
    assert result.exit_code == 2 and "unknown file type '.xlsx'" in result.stderr
    corrupt = tmp_path / "games.parquet"
    corrupt.write_bytes(b"PAR1 not really")
    result = cli("data", "ingest", str(corrupt))
    assert result.exit_code == 2 and "cannot read parquet" in result.stderr


def test_skip_invalid_loads_valid_rows_and_writes_rejects(cli_db, games_csv: Path, tmp_path: Path) -> None:
    damage(games_csv, 3, "d5", "x")
    damage(games_csv, 10, "d0", "1")
    rejects = tmp_path / "rejected.csv"
    result = cli_db("--json", "data", "ingest", str(games_csv), "--skip-invalid", "--rejects", str(rejects))
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.stdout)
    assert (report["inserted"], report["rejected"]) == (38, 2)
    rejected = pd.read_csv(rejects)
    assert list(rejected["row"]) == [3, 10]
    assert list(rejected["column"]) == ["d5", "d0"]
    assert count_games(cli_db.db_url) == 38


def test_summary_matches_real_figures(cli_db, real_games: Path) -> None:
    cli_db("data", "ingest", str(real_games))
    result = cli_db("--json", "data", "summary")
    (row,) = json.loads(result.stdout)
    frame = load_games(real_games)
    assert row["season"] == "2015-16" and row["games"] == 319
    assert (row["first_date"], row["last_date"]) == ("2015-10-27", "2015-12-09")
    assert row["halftime_mean"] == pytest.approx(frame["d24"].mean())
    assert row["halftime_sd"] == pytest.approx(frame["d24"].std(), rel=1e-6)


def test_export_filters(cli, real_games: Path, tmp_path: Path) -> None:
    cli("data", "ingest", str(real_games))
    out = tmp_path / "nov.csv"
    result = cli("--json", "data", "export", "--out", str(out), "--since", "2015-11-01", "--until", "2015-11-30")
    assert result.exit_code == 0
    exported = load_games(out)
    assert json.loads(result.stdout)["games"] == len(exported) > 0
    assert exported["game_date"].min() >= "2015-11-01" and exported["game_date"].max() <= "2015-11-30"
    bad = cli("data", "export", "--out", str(out), "--since", "11/01/2015")
    assert bad.exit_code == 2 and "'11/01/2015' is not a date" in bad.output


def test_stored_values_are_integers(engine, real_games: Path) -> None:
    import datetime as dt

    from nbalife.services.data import ingest

    ingest(engine, real_games, now=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    with engine.connect() as conn:
        row = conn.execute(select(schema.games).where(schema.games.c.game_id == "0021500002")).one()
    assert [row._mapping[c] for c in DIFF_COLUMNS][:4] == [0, -4, -4, -6]
    assert row.game_date == dt.date(2015, 10, 27)


def test_simulate_cli_is_deterministic_and_ingestible(cli, tmp_path: Path) -> None:
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    for out in (a, b):
        result = cli("--json", "data", "simulate", "--games", "300", "--seed", "5", "--out", str(out))
        assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["games"] == 300 and report["oracle_mae"] < report["persistence_mae"]
    pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b))
    [ingested] = json.loads(cli("--json", "data", "ingest", str(a)).stdout)
    assert (ingested["inserted"], ingested["rejected"]) == (300, 0)


def test_simulate_cli_rejects_bad_drift(cli, tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    result = cli("data", "simulate", "--games", "10", "--drift", "speed=2", "--out", str(out))
    assert result.exit_code == 2 and "speed" in result.stderr
    assert not out.exists()


def test_rejects_file_may_not_be_the_input(cli, games_csv: Path) -> None:
    damage(games_csv, 7, "d7", "abc")
    before = games_csv.read_bytes()
    result = cli("data", "ingest", str(games_csv), "--skip-invalid", "--rejects", str(games_csv))
    assert result.exit_code == 2 and "is the input file" in result.stderr
    assert games_csv.read_bytes() == before
    missing = games_csv.parent / "no-such-folder" / "rejects.csv"
    result = cli("data", "ingest", str(games_csv), "--skip-invalid", "--rejects", str(missing))
    assert result.exit_code == 2 and "does not exist" in result.stderr
    assert count_games(f"sqlite:///{cli.home / 'nbalife.db'}") == 0  # nothing ingested


def test_a_repeated_csv_column_is_refused(cli, games_csv: Path) -> None:
    lines = games_csv.read_text().splitlines()
    doubled = games_csv.with_name("doubled.csv")
    doubled.write_text("\n".join([lines[0] + ",d24"] + [line + ",99" for line in lines[1:]]) + "\n")
    result = cli("data", "ingest", str(doubled))
    assert result.exit_code == 2 and result.stderr == f"error: {doubled}: column d24 appears more than once\n"


def test_written_files_get_the_usual_permissions(cli, games_csv: Path) -> None:
    import os
    import stat

    assert cli("data", "ingest", str(games_csv)).exit_code == 0
    out = games_csv.with_name("out.csv")
    assert cli("data", "export", "--out", str(out)).exit_code == 0
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask


def test_ingest_several_files_reports_each(cli_db, repo_data: Path) -> None:
    files = [repo_data / "nba_2015_16_early.csv", repo_data / "nba_2020-21.csv"]
    result = cli_db("--json", "data", "ingest", *map(str, files))
    assert result.exit_code == 0, result.output
    reports = json.loads(result.stdout)
    assert [(Path(r["file"]).name, r["inserted"]) for r in reports] == [
        ("nba_2015_16_early.csv", 319), ("nba_2020-21.csv", 1080)]
    assert count_games(cli_db.db_url) == 319 + 1080


def test_ingest_rejected_second_file_keeps_the_first(cli_db, real_games: Path, games_csv: Path) -> None:
    damage(games_csv, 3, "d5", "x")
    result = cli_db("data", "ingest", str(real_games), str(games_csv))
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and str(games_csv) in message
    assert "nba_2015_16_early.csv (319 games)" in message
    assert count_games(cli_db.db_url) == 319


def test_ingest_missing_file_among_several_reads_nothing(cli, real_games: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    result = cli("data", "ingest", str(real_games), str(missing))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {missing}: no such file"
    summary = json.loads(cli("--json", "data", "summary").stdout)
    assert summary == []


def test_rejects_with_several_files_is_usage_error(cli, real_games: Path, games_csv: Path, tmp_path: Path) -> None:
    result = cli("data", "ingest", str(real_games), str(games_csv), "--skip-invalid",
                 "--rejects", str(tmp_path / "r.csv"))
    assert result.exit_code == 2 and "--rejects" in result.stderr
