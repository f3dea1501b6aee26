"""The online conformal layer through the store: ``outcomes sync`` advances the state and writes
it, ``predict`` serves it, and everything can be recomputed from the prediction log."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from nbalife.interchange import PATTERN_COLUMNS, load_games
from nbalife.registry import ChangeKind, Registry
from tests.conftest import install_production

START = dt.datetime(2022, 1, 3, 20, tzinfo=dt.timezone.utc)


@pytest.fixture
def production(home: Path, engine, tiny_model_set) -> str:  # noqa: ANN001
    return install_production(home, engine, tiny_model_set)


def play_days(engine, home: Path, repo_data: Path, *, days: int, per_day: int = 12, skip: int = 0,  # noqa: ANN001
              stretch: float = 1.0, first: int = 0) -> None:
    """Day by day: predict ``per_day`` real 2021-22 games with production, store their results
    (the move ``d24 - d18`` times ``stretch``), then ``outcomes sync`` with the registry."""
    from nbalife.services.model_loading import load_model_set
    from nbalife.services.outcomes import sync
    from nbalife.services.predict import forecast
    from nbalife.services.registry import open_registry
    from nbalife.config import load_settings
    from nbalife.store.games import upsert_games

    games = load_games(repo_data / "nba_2021-22.csv")
    registry = open_registry(home, engine, load_settings(None, environ={}).settings)
    for day in range(first, first + days):
        at = START + dt.timedelta(days=day)
        part = games[skip + day * per_day: skip + (day + 1) * per_day].copy()
        forecast(engine, load_model_set(registry), list(part["game_id"]),
                 part[PATTERN_COLUMNS].to_numpy(np.float32), now=at)
        part["d24"] = (part["d18"] + stretch * (part["d24"] - part["d18"])).round().astype(int)
        with engine.begin() as conn:
            upsert_games(conn, part, at)
        sync(engine, now=at + dt.timedelta(hours=3), registry=registry)


def status_of(engine, home: Path, version: str):  # noqa: ANN001, ANN201
    from nbalife.services.conformal import online_status

    with engine.connect() as conn:
        return online_status(conn, Registry(home, engine), version)


def test_the_stored_state_is_the_state_recomputed_from_the_log(engine, home, production, repo_data) -> None:
    from nbalife.forecast.conformal import AdaptiveConformal
    from nbalife.store.conformal_state import read_state

    play_days(engine, home, repo_data, days=8, stretch=1.6)
    layer = AdaptiveConformal.load(Registry(home, engine).path_of(production))
    with engine.connect() as conn:
        stored = read_state(conn, layer.layer_id_)
    status = status_of(engine, home, production)
    assert stored is not None and stored.n == status.n == 96 and stored.misses == status.misses > 4
    assert status.stored and status.checked == 96 and status.differing == 0
    assert stored.radius == pytest.approx(status.radius) and status.radius > layer.quantile_  # it widened
    assert status.bound == pytest.approx((stored.state["max_score"] + layer.step) / (layer.step * 96))
    assert len(status.path) == 8 and [p.n for p in status.path] == [12 * (i + 1) for i in range(8)]
    # predict serves the stored state: the day's intervals hold the radius of the state
    from nbalife.store.conformal_state import served_rows

    with engine.connect() as conn:
        rows = served_rows(conn, (production,), resolved=False)
    first, last = rows[0], rows[-1]
    assert first.upper - first.lower < last.upper - last.lower  # the last day's state is wider
    previous = status.path[-2].radius  # the state after day 7 served day 8
    assert last.lower == np.ceil(last.forecast - previous - 1e-9) - 0.5
    assert last.upper == np.floor(last.forecast + previous + 1e-9) + 0.5


def test_a_tampered_interval_or_state_is_found(engine, home, production, repo_data) -> None:
    from sqlalchemy import text, update

    from nbalife.store import schema

    play_days(engine, home, repo_data, days=3)
    with engine.begin() as conn:
        conn.execute(update(schema.predictions).where(schema.predictions.c.id == 20).values(upper=99.5))
        conn.execute(text("UPDATE conformal_state SET radius = radius + 1, state = :s"),
                     {"s": json.dumps({"q": 1.0, "alpha_t": 0.05, "n": 36, "misses": 0, "max_score": 1.0,
                                       "q_low": 1.0, "q_high": 1.0})})
    status = status_of(engine, home, production)
    assert not status.stored and status.differing == 1


def test_a_re_versioned_layer_continues_its_recorded_state(engine, home, production, repo_data,
                                                          tiny_model_set) -> None:
    """A version that keeps production's conformal.json (as a Dejavu update does) serves the
    stored state of that layer from its first prediction, and its outcomes continue it."""
    from nbalife.services.model_loading import load_model_set
    from nbalife.store.conformal_state import served_rows

    play_days(engine, home, repo_data, days=5, stretch=1.6)
    before = status_of(engine, home, production)
    registry = Registry(home, engine)
    info = registry.register(tiny_model_set.folder, ChangeKind.DEJAVU_UPDATE, base=production,
                             metrics={}, params={}, training_window={"last_date": "2021-06-01"},
                             description="same layer")
    registry.promote(info.version, force=True, reason="test")
    play_days(engine, home, repo_data, days=1, first=5)
    with engine.connect() as conn:
        new_rows = served_rows(conn, (info.version,), resolved=False)
    loaded = load_model_set(registry)
    low, high = loaded.models.conformal.interval(np.array([new_rows[0].forecast]), None)
    assert new_rows[0].upper - new_rows[0].lower > high[0] - low[0]  # not the start radius
    after = status_of(engine, home, info.version)
    assert after.layer == before.layer and after.n == before.n + 12 and after.stored and after.differing == 0


def test_a_recalibrated_layer_starts_from_its_recorded_start(cli_db, engine, home, production, repo_data) -> None:
    from nbalife.forecast.conformal import AdaptiveConformal

    play_days(engine, home, repo_data, days=10, stretch=1.8)
    radius_now = status_of(engine, home, production).radius
    done = cli_db("--json", "conformal", "check", "--method", "online", "--apply",
                  env={"NBALIFE_REGISTRY__GATE_MAX_MAE": "50"})  # the sequential rule: the games are old
    assert done.stdout, done.output
    report = json.loads(done.stdout)
    fixed = report["recalibration"]
    assert done.exit_code == 1 and fixed["applied"], done.output
    assert fixed["old_quantile"] == pytest.approx(radius_now)
    layer = AdaptiveConformal.load(Registry(home, engine).path_of(fixed["version"]))
    assert layer.start == pytest.approx(radius_now) and layer.quantile_ == pytest.approx(radius_now)
    play_days(engine, home, repo_data, days=1, first=10)
    status = status_of(engine, home, fixed["version"])
    assert status.start == pytest.approx(radius_now) and status.n == 12 and status.differing == 0
    assert status.path[0].radius != radius_now or status.misses == 0


def test_status_shows_the_online_state(cli_db, engine, home, production, repo_data) -> None:
    play_days(engine, home, repo_data, days=2)
    shown = json.loads(cli_db("--json", "conformal", "status").stdout)
    online = shown["online"]
    assert online["online"] == "quantile" and online["n"] == 24 and online["stored"]
    assert online["bound"] is not None and len(online["path"]) == 2
    table = cli_db("conformal", "status").stdout
    assert "long-run bound" in table and "intervals re-checked" in table


def test_upgrading_a_0003_store_with_data_adds_the_state_table(db_url: str) -> None:
    from sqlalchemy import MetaData, Table, inspect, insert, select

    from nbalife.store import migrate
    from nbalife.store.engine import make_engine

    engine = make_engine(db_url)
    try:
        with migrate.schema_transaction(engine) as conn:
            migrate.migrate(conn, "0003")
            predictions = Table("predictions", MetaData(), autoload_with=conn)
            conn.execute(insert(predictions), [{
                "game_id": "g1", "arm": "A", "model_version": "1.0.0", "forecast": 1.5, "lower": -10.5,
                "upper": 12.5, "created_at": dt.datetime(2022, 1, 1), "context": "ratings"}])
        assert "conformal_state" not in inspect(engine).get_table_names()
        with migrate.schema_transaction(engine) as conn:
            migrate.migrate(conn, "0004")
        assert "conformal_state" in inspect(engine).get_table_names()
        assert migrate.revision_of(engine).current == "0004"
        with engine.connect() as conn:
            kept = conn.execute(select(Table("predictions", MetaData(), autoload_with=conn))).all()
            assert [(r.game_id, r.upper) for r in kept] == [("g1", 12.5)]
    finally:
        engine.dispose()


def test_the_gate_refuses_an_ensemble_worse_than_its_best_part(cli_db, engine, home, production, repo_data,
                                                              tiny_model_set) -> None:
    import dataclasses

    from nbalife.services.gate import judge
    from nbalife.services.model_loading import LoadedModelSet, load_model_set

    assert cli_db("data", "ingest", str(repo_data / "nba_2021-22.csv")).exit_code == 0
    registry = Registry(home, engine)
    info = registry.register(tiny_model_set.folder, ChangeKind.LSTM_RETRAIN, base=production, metrics={},
                             params={}, training_window=registry.show(production).training_window)
    loaded = load_model_set(registry, info.version)
    when = dt.datetime(2022, 5, 1, tzinfo=dt.timezone.utc)
    fair = judge(tiny_model_set.settings, engine, registry, info, loaded, registry.show(production), now=when)
    assert fair.basis == "recent games" and not any("own best component" in r for r in fair.reasons)

    class Off(type(loaded.models.ensemble)):
        def predict(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            return super().predict(*args, **kwargs) + 3.0  # a combination that lost its way

    off = Off()
    off.weights_, off.validation_mae_ = loaded.models.ensemble.weights_, {}
    worse = LoadedModelSet(info.version, dataclasses.replace(loaded.models, ensemble=off))
    result = judge(tiny_model_set.settings, engine, registry, info, worse, registry.show(production), now=when)
    assert not result.passed
    assert any("worse than its own best component" in r and "2 standard errors" in r for r in result.reasons)


def test_a_missing_residual_is_named_by_its_prediction(tiny_model_set) -> None:  # noqa: ANN001
    from nbalife.errors import BadInput
    from nbalife.services.conformal import refit_layer
    from nbalife.store.predictions import ResolvedPrediction

    at = dt.datetime(2022, 1, 5, 20, tzinfo=dt.timezone.utc)
    rows = [ResolvedPrediction(f"g{i}", "A", "1.0.3", at, 1.0, -10.5, 12.5, None, None, 3.0,
                               float("nan") if i == 7 else 2.0, 1.0) for i in range(30)]
    with pytest.raises(BadInput) as caught:
        refit_layer(tiny_model_set.folder, rows, tiny_model_set.settings, "split", at)
    message = str(caught.value)
    assert "g7" in message and "version 1.0.3" in message and "row 7" not in message
