"""One line of production history, through the CLI on both backends: hosts that share a store,
fast-forward promotion, rollback to what served, gc that keeps what production serves, the
freeze that defers, figures of derived versions, races, and a tampered or missing artifact."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from nbalife.config import load_settings
from nbalife.registry import Registry
from nbalife.services import registry as service
from nbalife.store import schema
from nbalife.store.engine import make_engine
from tests.conftest import TINY_MODELS, run_nbalife
from tests.test_registry_cli import metrics_file, narrow, register, retrain

WORKER = Path(__file__).with_name("registry_crash_worker.py")
PATTERN = ",".join(str(v) for v in [0, 2, 1, 3, 5, 4, 6, 5, 7, 8, 6, 9, 10, 8, 11, 12, 10, 13, 14])
NY = dt.timezone(dt.timedelta(hours=-5))  # New York in December


@pytest.fixture
def artifacts(tmp_path: Path, tiny_model_set) -> Path:  # noqa: ANN001
    return Path(shutil.copytree(tiny_model_set.folder, tmp_path / "artifacts"))


def url_of(cli) -> str:  # noqa: ANN001
    return cli.db_url or f"sqlite:///{cli.home / 'nbalife.db'}"


def nbalife(home: Path, db: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """One real ``nbalife`` process on ``home`` and the shared store ``db``."""
    return run_nbalife("--home", str(home), "--db", db, *args, env={"NBALIFE_REGISTRY__FREEZE": "none", **(env or {})})


def logged_versions(db: str) -> list[str]:
    engine = make_engine(db)
    with engine.connect() as conn:
        found = list(conn.execute(select(schema.predictions.c.model_version).order_by(schema.predictions.c.id))
                     .scalars())
    engine.dispose()
    return found


# --------------------------------------------------------------------------- two hosts


def test_two_hosts_share_production_through_the_store(tmp_path: Path, db_url: str, artifacts: Path) -> None:
    host1, host2 = tmp_path / "host1", tmp_path / "host2"
    host1.mkdir()
    host2.mkdir()  # empty: no model_registry, no models/current
    first = nbalife(host1, db_url, "--json", "registry", "register", "--from", str(artifacts))
    assert first.returncode == 0, first.stderr
    assert nbalife(host1, db_url, "registry", "promote", "1.0.0", "--force").returncode == 0
    retrain(artifacts)
    assert nbalife(host1, db_url, "registry", "register", "--from", str(artifacts), "--kind", "lstm_retrain").returncode == 0
    assert nbalife(host1, db_url, "registry", "promote", "1.1.0", "--force").returncode == 0

    served = nbalife(host2, db_url, "--json", "predict", "--game-id", "G1", "--pattern", PATTERN)
    assert served.returncode == 0, served.stderr
    assert os.readlink(host2 / "models" / "current") == "../model_registry/1.1.0"
    assert logged_versions(db_url) == ["1.1.0"]

    back = nbalife(host1, db_url, "registry", "rollback", "--reason", "bad night")
    assert back.returncode == 0, back.stderr
    served = nbalife(host2, db_url, "--json", "predict", "--game-id", "G1", "--pattern", PATTERN, "--again")
    assert served.returncode == 0, served.stderr
    assert logged_versions(db_url) == ["1.1.0", "1.0.0"]
    assert os.readlink(host2 / "models" / "current") == "../model_registry/1.0.0"
    status = nbalife(host2, db_url, "--json", "registry", "current")
    assert json.loads(status.stdout)["version"] == "1.0.0"


@pytest.mark.parametrize("db_url", ["postgresql", "sqlite"], indirect=True)
def test_two_promotes_at_once_from_two_homes_exactly_one_wins(tmp_path: Path, db_url: str, engine,  # noqa: ANN001
                                                              artifacts: Path) -> None:
    homes = [tmp_path / "a", tmp_path / "b"]
    registry = Registry(homes[0], engine)
    registry.promote(registry.register(artifacts, "train").version)
    retrain(artifacts)
    left = registry.register(artifacts, "lstm_retrain").version
    narrow(artifacts)
    right = registry.register(artifacts, "recalibration").version
    procs = [subprocess.Popen([sys.executable, str(WORKER), str(home), db_url, "0.3", "promote", version],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for home, version in zip(homes, (left, right))]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    winner = registry.current_version()
    loser_err = next(err for code, _, err in results if code == 1)
    assert loser_err.strip().startswith(f"promotion refused, not a fast-forward of production {winner}:")
    assert loser_err.count("\n") == 1 and "Traceback" not in loser_err
    assert [h.to_version for h in registry.history()][-1] == winner and len(registry.history()) == 2


# --------------------------------------------------------------------------- rule 1


def test_a_stale_dejavu_candidate_is_refused_naming_the_recalibration(cli_db, artifacts: Path, tmp_path: Path) -> None:
    cli = cli_db
    assert register(cli, artifacts, "--kind", "train") == "1.0.0"
    assert cli("registry", "promote", "1.0.0", "--force").exit_code == 0
    stale_files = Path(shutil.copytree(artifacts, tmp_path / "stale"))
    retrain(stale_files)
    assert register(cli, stale_files, "--kind", "dejavu_update") == "1.1.0"
    narrow(artifacts, 0.99)
    assert register(cli, artifacts, "--kind", "recalibration") == "1.0.1"
    assert cli("registry", "promote", "1.0.1", "--force").exit_code == 0
    result = cli("registry", "promote", "1.1.0")
    assert result.exit_code == 1
    assert result.stderr == ("error: promotion refused, not a fast-forward of production 1.0.1: 1.1.0 derives from "
                             "1.0.0; production 1.0.1 recalibrated the interval since: re-derive it (`dejavu update`) "
                             "or `--force`\n")
    assert json.loads(cli("--json", "registry", "current").stdout)["version"] == "1.0.1"
    result = cli("--json", "registry", "promote", "1.1.0", "--force")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["lost"] == ["production 1.0.1 recalibrated the interval"]
    assert "forced: production loses what production 1.0.1 recalibrated the interval" in result.stderr


# --------------------------------------------------------------------------- rule 3


def test_gc_after_twenty_weekly_candidates_keeps_production_s_ancestry(cli_db, artifacts: Path) -> None:
    cli = cli_db
    register(cli, artifacts, "--kind", "train")
    cli("registry", "promote", "1.0.0", "--force")
    narrow(artifacts, 0.99)
    register(cli, artifacts, "--kind", "recalibration")  # 1.0.1
    assert cli("registry", "promote", "1.0.1", "--force").exit_code == 0
    weekly = [register(cli, artifacts, "--kind", "dejavu_update") for _ in range(20)]
    assert weekly[0] == "1.1.0" and weekly[-1] == "1.20.0"
    result = cli("--json", "registry", "gc")  # registry.keep_versions 5
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc["deleted"]) == set(weekly[:-5])
    assert doc["protected"]["1.0.0"] == "production serves its lstm" and doc["protected"]["1.0.1"] == "production"
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    shown = cli("--json", "registry", "show", weekly[0])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["deleted_at"].startswith(today)
    assert f"deleted by gc on {today}" in cli("registry", "show", weekly[0]).stdout
    listed = {r["version"]: r["status"] for r in json.loads(cli("--json", "registry", "list").stdout)}
    assert listed["1.0.0"] == "previous" and listed[weekly[0]] == "deleted"
    result = cli("registry", "rollback", weekly[0])
    assert result.exit_code == 2 and f"was deleted by gc on {today}" in result.stderr
    assert cli("registry", "verify", "--all").exit_code == 0


def test_status_names_a_tombstone_in_production_s_lineage(cli_db, artifacts: Path) -> None:
    cli = cli_db
    register(cli, artifacts, "--kind", "train")
    assert cli("registry", "promote", "1.0.0", "--force").exit_code == 0
    for width in (0.99, 0.98, 0.97):  # 1.0.1, 1.0.2, 1.0.3: each recalibrates the one before
        narrow(artifacts, width)
        version = register(cli, artifacts, "--kind", "recalibration")
        assert cli("registry", "promote", version, "--force").exit_code == 0, version
    result = cli("--json", "registry", "gc", "--keep", "1")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deleted"] == ["1.0.1"]  # neither production, previous, nor a layer it serves
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    doc = json.loads(cli("--json", "status").stdout)
    assert [(a["version"], a["tombstone"]) for a in doc["lineage"]] == [
        ("1.0.3", None), ("1.0.2", None), ("1.0.1", f"deleted by gc on {today}"), ("1.0.0", None)]
    assert doc["tombstones"] == {"1.0.1": f"deleted by gc on {today}"}
    text = cli("status").stdout
    assert f"1.0.1 (recalibration, deleted by gc on {today})" in " ".join(text.split())


# --------------------------------------------------------------------------- rule 4


def test_freeze_end_in_new_york() -> None:
    settings = load_settings(None, environ={}, overrides={"registry.freeze": "19:00-01:00 America/New_York"}).settings
    asked = dt.datetime(2026, 12, 7, 21, 0, tzinfo=NY)
    assert service.freeze_end(settings, asked) == dt.datetime(2026, 12, 8, 1, 0, tzinfo=NY)
    assert service.freeze_end(settings, dt.datetime(2026, 12, 8, 0, 30, tzinfo=NY)) == dt.datetime(2026, 12, 8, 1, 0,
                                                                                                   tzinfo=NY)


def test_a_promotion_in_the_freeze_is_deferred_then_carried_out_re_gated(home: Path, engine, artifacts: Path) -> None:  # noqa: ANN001
    frozen = load_settings(None, environ={}, overrides={**TINY_MODELS, "registry.freeze": "19:00-01:00 America/New_York",
                                                        "registry.gate_max_mae": 99.0}).settings
    registry = Registry(home, engine)
    registry.promote(registry.register(artifacts, "train").version)
    retrain(artifacts)
    candidate = registry.register(artifacts, "lstm_retrain", metrics={"mae": 4.0, "coverage": 0.95}).version
    evening = dt.datetime(2026, 12, 7, 21, 0, tzinfo=NY)
    result = service.promote(registry, engine, frozen, candidate, now=evening, reason="tonight")
    assert result.switch is None and result.deferred == f"deferred until 01:00 America/New_York (pending #{result.pending.id})"
    assert registry.current_version() == "1.0.0" and [p.version for p in registry.pending()] == [candidate]
    assert service.carry_out_pending(registry, engine, frozen, now=evening + dt.timedelta(hours=3)) == []
    done = service.carry_out_pending(registry, engine, frozen, now=evening + dt.timedelta(hours=5))
    assert [(d.pending.version, d.promoted) for d in done] == [(candidate, True)]
    assert registry.current_version() == candidate and registry.pending() == []
    last = registry.history()[-1]
    assert (last.action, last.to_version) == ("auto", candidate) and last.details["gate"]["passed"]


def test_freeze_through_the_cli_exit_3_pending_cancel_and_carry_out(cli, artifacts: Path, tmp_path: Path) -> None:
    good = str(metrics_file(tmp_path, 4.4, 0.95))
    register(cli, artifacts, "--kind", "train")
    assert cli("registry", "promote", "1.0.0", "--force").exit_code == 0
    retrain(artifacts)
    register(cli, artifacts, "--kind", "lstm_retrain", "--metrics", good)
    retrain(artifacts, 2.0)
    register(cli, artifacts, "--kind", "lstm_retrain", "--base", "1.0.0", "--metrics", good)
    now = dt.datetime.now(dt.timezone.utc)
    window = f"{(now - dt.timedelta(hours=1)):%H:%M}-{(now + dt.timedelta(hours=1)):%H:%M} UTC"
    frozen = {"NBALIFE_REGISTRY__FREEZE": window, "NBALIFE_REGISTRY__GATE_MAX_MAE": "99"}
    result = cli("registry", "promote", "1.1.0", env=frozen)
    assert result.exit_code == 3
    until = (now + dt.timedelta(hours=1)).strftime("%H:%M")
    assert result.stderr == f"error: deferred until {until} UTC (pending #1)\n"
    assert cli("registry", "promote", "1.2.0", env=frozen).exit_code == 3  # pending #2
    pending = json.loads(cli("--json", "registry", "pending", env=frozen).stdout)
    assert [(p["id"], p["version"]) for p in pending] == [(1, "1.1.0"), (2, "1.2.0")]
    assert cli("registry", "cancel", "2", env=frozen).exit_code == 0
    assert cli("registry", "cancel", "2", env=frozen).exit_code == 2
    assert cli("registry", "promote", "--pending", env=frozen).exit_code == 3  # still frozen
    assert json.loads(cli("--json", "registry", "current", env=frozen).stdout)["version"] == "1.0.0"
    result = cli("--json", "registry", "promote", "--pending", env={"NBALIFE_REGISTRY__GATE_MAX_MAE": "99"})
    assert result.exit_code == 0, result.output
    assert [(d["pending"]["id"], d["promoted"]) for d in json.loads(result.stdout)] == [(1, True)]
    assert json.loads(cli("--json", "registry", "current").stdout)["version"] == "1.1.0"
    assert json.loads(cli("--json", "registry", "pending").stdout) == []


def test_the_next_registry_command_after_the_freeze_carries_it_out(cli, artifacts: Path, tmp_path: Path) -> None:
    register(cli, artifacts, "--kind", "train")
    cli("registry", "promote", "1.0.0", "--force")
    retrain(artifacts)
    register(cli, artifacts, "--kind", "lstm_retrain", "--metrics", str(metrics_file(tmp_path, 4.4, 0.95)))
    now = dt.datetime.now(dt.timezone.utc)
    window = f"{(now - dt.timedelta(hours=1)):%H:%M}-{(now + dt.timedelta(hours=1)):%H:%M} UTC"
    assert cli("registry", "promote", "1.1.0", env={"NBALIFE_REGISTRY__FREEZE": window}).exit_code == 3
    result = cli("abtest", "advance", "--if-running", env={"NBALIFE_REGISTRY__GATE_MAX_MAE": "99"})
    assert result.exit_code == 0, result.output
    assert json.loads(cli("--json", "registry", "current").stdout)["version"] == "1.1.0"


# --------------------------------------------------------------------------- rule 6


def test_a_derived_version_is_scored_against_its_base(home: Path, engine, tiny_model_set, repo_data: Path) -> None:  # noqa: ANN001
    from nbalife.interchange import load_games
    from nbalife.services.derived import register_derived
    from nbalife.store.games import upsert_games
    from tests.conftest import install_production

    settings = load_settings(None, environ={}, overrides={**TINY_MODELS, "registry.gate_games": 200,
                                                          "registry.gate_min_games": 100}).settings
    install_production(home, engine, tiny_model_set)
    registry = Registry(home, engine)
    production = registry.load_production()
    now = dt.datetime(2022, 6, 1, tzinfo=dt.timezone.utc)
    unscored = register_derived(registry, production, narrow, "recalibration", description="narrower",
                                metrics=dict(production.info.metrics), params={}, now=now, settings=settings)
    assert unscored.metrics["scored_on"] is None and "only 0 finished games" in unscored.metrics["not_scored"]
    assert "mae" not in unscored.metrics  # never copied from the parent
    with engine.begin() as conn:
        upsert_games(conn, load_games(repo_data / "nba_2021-22.csv"), now)
    scored = register_derived(registry, production, narrow, "recalibration", description="narrower",
                              metrics={**production.info.metrics, "width": 1.0}, params={}, now=now, settings=settings)
    figures = scored.metrics
    assert figures["scored_on"]["games"] == 200 and figures["scored_on"]["to"] == "2022-04-10"
    assert figures["scored_on"]["from"] > production.info.training_window["last_date"]
    assert figures["coverage"] < figures["base_coverage"] and figures["width"] == 1.0
    assert figures["coverage"] != production.info.metrics["coverage"]
    assert scored.retired == (unscored.version,)  # the earlier recalibration of the same base


def test_list_shows_a_dash_for_a_version_not_scored(cli, home: Path, tiny_model_set) -> None:  # noqa: ANN001
    from nbalife.services.derived import register_derived
    from tests.conftest import install_production

    engine = make_engine(url_of(cli))
    from nbalife.store.migrate import open_store

    open_store(engine)
    install_production(home, engine, tiny_model_set)
    registry = Registry(home, engine)
    production = registry.load_production()
    register_derived(registry, production, narrow, "recalibration", description="narrower",
                     metrics=dict(production.info.metrics), params={}, now=dt.datetime.now(dt.timezone.utc))
    engine.dispose()
    listing = cli("registry", "list")
    assert listing.exit_code == 0
    line = next(line for line in listing.stdout.splitlines() if "1.0.1" in line)
    assert line.count("—") == 2


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("damage", ["tampered", "missing"])
def test_a_bad_store_artifact_is_exit_1_from_verify_and_never_served(cli_db, artifacts: Path, damage: str) -> None:
    cli = cli_db
    register(cli, artifacts, "--kind", "train")
    assert cli("registry", "promote", "1.0.0", "--force").exit_code == 0
    engine = make_engine(cli.db_url)
    table = schema.registry_artifacts
    sha = Registry(cli.home, engine).show("1.0.0").files[0]
    with engine.begin() as conn:
        if damage == "tampered":
            conn.execute(update(table).where(table.c.sha256 == sha.sha256).values(bytes=b"not the model"))
        else:
            conn.execute(delete(table).where(table.c.sha256 == sha.sha256))
    engine.dispose()
    result = cli("registry", "verify", "--all")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and "Traceback" not in result.output
    expected = "checksum in the store mismatch" if damage == "tampered" else "missing from the store"
    assert f"1.0.0/{sha.name}: {expected}" in result.stderr
    fresh = cli.home.parent / "fresh"
    fresh.mkdir()
    served = nbalife(fresh, cli.db_url, "predict", "--game-id", "G1", "--pattern", PATTERN)
    assert served.returncode == 1 and f"artifact {sha.name}" in served.stderr and "Traceback" not in served.stderr
    assert not (fresh / "model_registry" / "1.0.0").exists()


def test_metrics_file_figures_of_a_register_are_kept(cli, artifacts: Path, tmp_path: Path) -> None:
    register(cli, artifacts, "--metrics", str(metrics_file(tmp_path, 4.4, 0.95)))
    listed = json.loads(cli("--json", "registry", "list").stdout)
    assert listed[0]["metrics"] == {"mae": 4.4, "coverage": 0.95}


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_change_waits_for_another_at_most_lock_wait_s(cli_db, engine, artifacts: Path) -> None:  # noqa: ANN001
    from nbalife.registry import rows

    with engine.begin() as conn:  # another host's registry change, in progress
        rows.lock(conn)
        result = cli_db("registry", "register", "--from", str(artifacts), env={"NBALIFE_REGISTRY__LOCK_WAIT_S": "0.3"})
    assert result.exit_code == 3
    assert result.stderr == ("error: another registry change held the store's registry lock for more than 0.3 s "
                             "(registry.lock_wait_s); nothing was written, run it again\n")
    assert json.loads(cli_db("--json", "registry", "list").stdout) == []
