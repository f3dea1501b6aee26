"""``metrics check`` as an operator meets it, on both backends: the serving arms only (a shadow
test counts each game once), games played with no prediction, results not synced, one
notification per finding until it clears or ``notify.repeat_hours`` pass; ``outcomes sync``
carrying a corrected result into the log; days as game dates."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from pathlib import Path
from typing import Any

from nbalife.interchange import load_games
from nbalife.store.events import list_events
from nbalife.store.games import upsert_games
from nbalife.store.predictions import Prediction, log_predictions, resolve
from tests.conftest import Cli

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
LEAGUE = zoneinfo.ZoneInfo("America/New_York")


def games(real_games: Path, count: int, *, day: dt.date, prefix: str = "T") -> Any:
    """``count`` real games moved to ``day`` under new ids."""
    frame = load_games(real_games).head(count).copy()
    frame["game_id"] = [f"{prefix}{i:04d}" for i in range(count)]
    frame["game_date"] = day
    return frame


def predict(frame: Any, *, arm: str = "A", version: str = "1.0.0", hours_ago: float = 1.0,
            width: float = 40.0) -> list[Prediction]:
    return [Prediction(g.game_id, arm, version, float(g.d18), float(g.d18) - width / 2, float(g.d18) + width / 2,
                       float(g.d18), float(g.d18), float(g.d18), NOW - dt.timedelta(hours=hours_ago))
            for g in frame.itertuples(index=False)]


def config(home: Path, text: str) -> None:
    (home / "config.yaml").write_text(text)


def check(cli: Cli) -> tuple[int, dict, str]:
    result = cli("--json", "metrics", "check")
    return result.exit_code, json.loads(result.stdout), result.stderr


def test_a_shadow_test_counts_each_game_once(cli_db: Cli, engine, real_games: Path) -> None:  # noqa: ANN001
    frame = games(real_games, 9, day=dt.date(2015, 11, 2))
    with engine.begin() as conn:
        upsert_games(conn, frame, NOW)
        log_predictions(conn, predict(frame) + predict(frame, arm="shadow", version="1.1.0", width=2.0))
        resolve(conn, now=NOW)
    code, body, _ = check(cli_db)
    assert code == 0 and body["figures"]["n"] == 9 and body["figures"]["coverage"] == 1.0
    shadow = json.loads(cli_db("--json", "metrics", "check", "--arm", "shadow").stdout)
    assert shadow["figures"]["n"] == 9 and shadow["arms"] == "shadow"
    report = json.loads(cli_db("--json", "metrics", "report", "--days", "2", "--by", "arm").stdout)
    assert [(r["group"], r["n"]) for r in report["rows"]] == [("A", 9), ("shadow", 9)]
    assert (report["total"]["group"], report["total"]["n"]) == ("serving", 9)
    everything = json.loads(cli_db("--json", "metrics", "report", "--days", "2", "--arm", "all").stdout)
    assert everything["total"]["n"] == 18


def test_missing_predictions_and_unsynced_results_alert(cli_db: Cli, engine, real_games: Path) -> None:  # noqa: ANN001
    today = NOW.astimezone(LEAGUE).date()
    played = games(real_games, 6, day=today)
    old = games(real_games, 3, day=today - dt.timedelta(days=5), prefix="OLD")  # before the lookback
    waiting = games(real_games, 2, day=today, prefix="W")  # predicted, result never ingested
    with engine.begin() as conn:
        upsert_games(conn, played, NOW)
        upsert_games(conn, old, NOW)
        log_predictions(conn, predict(played.iloc[:4], hours_ago=30) + predict(waiting, hours_ago=13))
        resolve(conn, now=NOW)
    code, body, err = check(cli_db)
    assert code == 1, err
    assert body["causes"] == ["missing_predictions", "unsynced_results"]
    assert body["missing_games"] == ["T0004", "T0005"] and body["unsynced_games"] == ["W0000", "W0001"]
    assert "2 game(s) played with no logged prediction: T0004, T0005" in err
    assert "2 game(s) with no synced result after outcome_lag_hours 12: W0000, W0001" in err
    config(cli_db.home, "monitoring:\n  outcome_lag_hours: 14\n  missing_days: 1\n")
    code, body, _ = check(cli_db)
    assert body["causes"] == ["missing_predictions"] and body["unsynced_games"] == []


def test_a_repeated_finding_is_notified_once_until_it_clears(cli_db: Cli, engine, real_games: Path,  # noqa: ANN001
                                                             tmp_path: Path) -> None:
    sent = tmp_path / "sent.txt"
    config(cli_db.home, f"notify:\n  command: cat >> {sent}; echo >> {sent}\n  repeat_hours: 24\n")
    today = NOW.astimezone(LEAGUE).date()
    frame = games(real_games, 3, day=today)
    with engine.begin() as conn:
        upsert_games(conn, frame, NOW)
        log_predictions(conn, predict(frame.iloc[:1], hours_ago=2))
        resolve(conn, now=NOW)

    def notified() -> int:
        return len(sent.read_text().splitlines()) if sent.exists() else 0

    first = cli_db("metrics", "check")
    second = cli_db("metrics", "check")
    assert (first.exit_code, second.exit_code) == (1, 1)
    assert notified() == 1 and "note: not notified: already notified at" in second.stderr
    with engine.begin() as conn:  # the missed games are predicted after all: the finding clears
        log_predictions(conn, predict(frame.iloc[1:], hours_ago=1))
        resolve(conn, now=NOW)
    assert cli_db("metrics", "check").exit_code == 0
    with engine.begin() as conn:
        upsert_games(conn, games(real_games, 1, day=today, prefix="X"), NOW)
    assert cli_db("metrics", "check").exit_code == 1 and notified() == 2  # cleared since: notified again
    with engine.connect() as conn:
        events = list_events(conn, kind="metrics_check")
    assert [(e.outcome, e.details["notify"]) for e in events] == [("alert", True), ("ok", False),
                                                                  ("alert", False), ("alert", True)]


def test_a_corrected_result_reaches_the_log(cli_db: Cli, engine, real_games: Path) -> None:  # noqa: ANN001
    frame = games(real_games, 4, day=dt.date(2015, 11, 2))
    with engine.begin() as conn:
        upsert_games(conn, frame, NOW)
        log_predictions(conn, predict(frame) + predict(frame.iloc[:1], hours_ago=0.5))
    assert json.loads(cli_db("--json", "outcomes", "sync").stdout)["resolved"] == 5
    before = json.loads(cli_db("--json", "metrics", "report", "--days", "2").stdout)["total"]
    corrected = frame.copy()
    old = float(corrected.loc[0, "d24"])
    corrected.loc[0, "d24"] = old + 5
    with engine.begin() as conn:
        upsert_games(conn, corrected.iloc[:1], NOW)
    synced = json.loads(cli_db("--json", "outcomes", "sync").stdout)
    assert (synced["resolved"], synced["corrected"]) == (0, 2)  # both rows of the game, superseded one too
    assert synced["corrections"] == [{"game_id": "T0000", "old_actual": old, "new_actual": old + 5,
                                      "predictions": 2}]
    after = json.loads(cli_db("--json", "metrics", "report", "--days", "2").stdout)["total"]
    assert after["bias"] == before["bias"] + 5 / 4
    with engine.connect() as conn:
        (event,) = list_events(conn, kind="correction")
    assert event.details["games"] == synced["corrections"]
    assert json.loads(cli_db("--json", "outcomes", "sync").stdout)["corrected"] == 0  # idempotent


def test_days_are_game_dates(cli_db: Cli, engine, real_games: Path) -> None:  # noqa: ANN001
    frame = games(real_games, 2, day=dt.date(2023, 1, 13))
    late = dt.datetime(2023, 1, 14, 3, 30, tzinfo=dt.timezone.utc)  # 22:30 on the 13th in New York
    with engine.begin() as conn:
        upsert_games(conn, frame, NOW)
        log_predictions(conn, [Prediction(g.game_id, "A", "1.0.0", 1.0, -9.0, 9.0, 1.0, 1.0, 0.0, late)
                               for g in frame.itertuples(index=False)])
        resolve(conn, now=NOW)
    report = json.loads(cli_db("--json", "metrics", "report", "--since", "2023-01-13", "--until", "2023-01-13",
                               "--by", "day").stdout)
    assert [(r["group"], r["n"]) for r in report["rows"]] == [("2023-01-13", 2)]
    assert report["since"] == "2023-01-13T05:00:00+00:00"  # league midnight
    week = json.loads(cli_db("--json", "metrics", "report", "--days", "36000", "--by", "week").stdout)
    assert [r["group"] for r in week["rows"]] == ["2023-01-09"]
