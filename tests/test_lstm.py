"""``nbalife lstm retrain``: triggers, the gate against production, lock, events, bad input."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_MODELS, install_production, pin_now, store_seasons

from nbalife.interchange import load_games
from nbalife.locks import run_lock
from nbalife.registry import Registry
from nbalife.store.events import list_events
from nbalife.store.games import upsert_games

END_OF_2021_22 = dt.datetime(2022, 4, 15, 12, tzinfo=dt.timezone.utc)
AFTER_2020_21 = dt.datetime(2021, 5, 20, 12, tzinfo=dt.timezone.utc)
FAST = "".join(f"  {key.split('.')[1]}: {value}\n" for key, value in TINY_MODELS.items() if key.startswith("lstm."))
CONFIG = f"lstm:\n{FAST}  holdout_games: 200\n  min_improvement: 0.1\ndejavu:\n  k: 20\n"


@pytest.fixture
def store(cli_db, engine, repo_data, tiny_model_set):  # noqa: ANN001, ANN201
    """Both real seasons in the store, production trained on the first, a fast config."""
    (cli_db.home / "config.yaml").write_text(CONFIG)
    frames = store_seasons(engine, repo_data, ("nba_2020-21.csv", "nba_2021-22.csv"), END_OF_2021_22)
    install_production(cli_db.home, engine, tiny_model_set)
    return frames


def events(engine) -> list:  # noqa: ANN001
    with engine.connect() as conn:
        return list_events(conn, kind="lstm_retrain")


def test_skips_when_no_trigger_fires(cli_db, engine, store, monkeypatch) -> None:
    pin_now(monkeypatch, AFTER_2020_21)
    result = cli_db("--json", "lstm", "retrain")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["outcome"] == "skipped" and report["message"].startswith("no trigger fires")
    assert [t["name"] for t in report["triggers"]] == ["time", "volume", "degradation", "drift", "force"]
    assert not any(t["fired"] for t in report["triggers"])
    assert report["age"]["games"] == 0 and report["age"]["cutoff"] == "2021-05-16"
    assert [e.outcome for e in events(engine)] == ["skipped"]


def test_force_needs_games_neither_has_seen(cli_db, engine, store, monkeypatch) -> None:
    pin_now(monkeypatch, AFTER_2020_21)
    result = cli_db("lstm", "retrain", "--force")
    assert result.exit_code == 2
    assert "--force:" in result.stderr and "lstm.holdout_games 200" in result.stderr
    assert [e.outcome for e in events(engine)] == ["failed"]


def test_held_out_games_follow_the_lstm_s_window_not_a_dejavu_update_s(cli_db, engine, store, monkeypatch) -> None:
    """A Dejavu update moves production's training window to its newest game; the LSTM (fitted by
    1.0.0, window ending 2021-05-16) has still seen none of 2021-22, so those games are held out."""
    pin_now(monkeypatch, END_OF_2021_22)
    (cli_db.home / "config.yaml").write_text(CONFIG + "  auto_promote: true\n")
    assert cli_db("dejavu", "update").exit_code == 0
    production = Registry(cli_db.home, engine).current()
    assert (production.kind.value, production.training_window["last_date"]) == ("dejavu_update", "2022-04-10")
    result = cli_db("--json", "lstm", "retrain", "--force")
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.stdout)
    assert (report["age"]["version"], report["age"]["cutoff"]) == ("1.0.0", "2021-05-16")
    assert "2021-05-16" < report["cutoff"] < report["holdout_first"] and report["holdout_last"] == "2022-04-10"
    assert report["scores"][0]["n"] >= 200 and report["outcome"] in ("registered", "rejected")


def test_bad_input_and_lock(cli_db, engine, store, monkeypatch) -> None:
    pin_now(monkeypatch, END_OF_2021_22)
    result = cli_db("lstm", "retrain", "--epochs", "0")
    assert result.exit_code == 2 and "--epochs 0" in result.stderr
    with run_lock("lstm-retrain", home=cli_db.home, engine=engine):
        result = cli_db("lstm", "retrain", "--force")
    assert result.exit_code == 3 and "lstm-retrain" in result.stderr
    assert events(engine) == []


def test_no_production(cli) -> None:
    result = cli("lstm", "retrain", "--force")
    assert result.exit_code == 2 and "no production model set" in result.stderr


def test_a_failure_half_way_leaves_nothing(cli_db, engine, store, monkeypatch) -> None:
    """Training dies after writing part of the candidate: no version, no staging folder, a failed event."""
    import nbalife.services.train as training
    from nbalife.errors import BadInput

    def dies(games, *, out, **_):  # noqa: ANN001, ANN202
        (out / "lstm.json").write_text("{}")
        raise BadInput("LSTM training diverged (validation loss nan); lower the learning rate")

    pin_now(monkeypatch, END_OF_2021_22)
    monkeypatch.setattr(training, "train", dies)
    result = cli_db("lstm", "retrain", "--force")
    assert result.exit_code == 2 and "diverged" in result.stderr
    assert Registry(cli_db.home, engine).versions() == ["1.0.0"]
    assert not [p.name for p in cli_db.home.iterdir() if p.name.startswith(".retrain-")]
    [event] = events(engine)
    assert event.outcome == "failed" and event.details["error"].startswith("LSTM training diverged")


def _swap_store(engine, frame: pd.DataFrame) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        upsert_games(conn, frame, END_OF_2021_22)


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_gate_rejects_corrupted_targets_and_accepts_a_changed_regime(cli_db, engine, repo_data, tiny_model_set,
                                                                      monkeypatch) -> None:
    """The proof of the gate, on real games with a tiny LSTM (SQLite; the logic is backend-free)."""
    cli = cli_db
    pin_now(monkeypatch, END_OF_2021_22)
    (cli.home / "config.yaml").write_text(CONFIG)
    old, new = (load_games(repo_data / name) for name in ("nba_2020-21.csv", "nba_2021-22.csv"))
    production = install_production(cli.home, engine, tiny_model_set)

    # Held out: every game on or after the date of the 200th most recent one.
    boundary = new["game_date"].iloc[-200]
    held = new[new["game_date"] >= boundary]
    # Corrupted targets: every halftime differential before the held-out games is another game's.
    corrupt = pd.concat([old, new[new["game_date"] < boundary]], ignore_index=True)
    corrupt["d24"] = np.random.default_rng(0).permutation(corrupt["d24"].to_numpy())
    _swap_store(engine, pd.concat([corrupt, held], ignore_index=True))
    result = cli("--json", "lstm", "retrain", "--epochs", "3")
    assert result.exit_code == 1, result.output
    assert "candidate rejected: candidate MAE" in result.stderr
    report = json.loads(result.stdout)
    scores = {s["model"]: s["mae"] for s in report["scores"]}
    assert scores["candidate"] > scores["production"] + 1.0 and report["scores"][0]["n"] == len(held)
    assert report["version"] is None and Registry(cli.home, engine).versions() == [production]

    # A changed regime: from 2021-22 on, the home side gains 6 points over the last six minutes.
    shifted = new.copy()
    for minute in range(19, 25):
        shifted[f"d{minute}"] = shifted[f"d{minute}"] + (minute - 18)
    _swap_store(engine, pd.concat([old, shifted], ignore_index=True))
    result = cli("--json", "lstm", "retrain", "--epochs", "3")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["outcome"] == "registered" and report["version"] == "1.1.0"
    assert report["improvement"] >= 0.1 and report["improvement"] > 3 * report["improvement_se"]
    assert {t["name"] for t in report["triggers"] if t["fired"]} >= {"volume"}
    registry = Registry(cli.home, engine)
    info = registry.show("1.1.0")
    assert (info.parent, info.kind.value, registry.current_version()) == (production, "lstm_retrain", production)
    assert (info.training_window["holdout_first"], info.training_window["holdout_last"]) == (boundary, "2022-04-10")
    assert info.training_window["last_date"] < boundary and info.metrics["holdout_games"] == len(held) >= 200
    assert [e.outcome for e in events(engine)] == ["registered", "rejected"]
    assert report["retired"] == []

    # The next retrain of the same production makes the waiting 1.1.0 stale, and says so.
    result = cli("lstm", "retrain", "--epochs", "3")
    assert result.exit_code == 0, result.output
    assert "retired (stale candidates) │ 1.1.0" in " ".join(result.stdout.split()), result.stdout
    assert (registry.show("1.1.0").state, registry.show("1.2.0").state) == ("retired", "candidate")


def test_production_is_scored_without_the_held_out_games_in_its_pattern_database(tiny_model_set) -> None:
    from nbalife.forecast.modelset import ModelSet
    from nbalife.services.lstm import _leave_out

    models = ModelSet.load(tiny_model_set.folder)
    stored = models.dejavu.game_ids_
    assert _leave_out(models, np.array(["not-a-stored-game"])) is models
    trimmed = _leave_out(models, stored[:50])
    assert trimmed.dejavu.n_patterns_ == len(stored) - 50 and not np.isin(stored[:50], trimmed.dejavu.game_ids_).any()
    assert trimmed.lstm is models.lstm and trimmed.conformal is models.conformal
    kept = np.isin(stored, stored[50:])
    original = models.dejavu.patterns_[kept] + models.dejavu.levels_[kept, None]
    assert np.array_equal(trimmed.dejavu.patterns_ + trimmed.dejavu.levels_[:, None], original)
