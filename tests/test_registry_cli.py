"""``nbalife registry`` end to end: both backends, exit codes, events, locks."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import insert

from nbalife.services.registry import open_registry
from nbalife.store import schema
from nbalife.store.engine import make_engine
from nbalife.store.events import list_events
from tests.conftest import install_production


@pytest.fixture
def artifacts(tmp_path: Path, tiny_model_set) -> Path:  # noqa: ANN001
    """A writable copy of a real, loadable model set (promotion loads what it switches to)."""
    return Path(shutil.copytree(tiny_model_set.folder, tmp_path / "artifacts"))


def retrain(folder: Path, factor: float = 1.5) -> None:
    """Change the LSTM's weights (still a loadable model set): a different artifact file."""
    path = folder / "lstm.npz"
    with np.load(path) as saved:
        arrays = {name: saved[name] * factor for name in saved.files}
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def narrow(folder: Path, factor: float = 0.1) -> None:
    """Shrink the conformal layer's calibration scores: intervals far too narrow to cover."""
    path = folder / "conformal.json"
    doc = json.loads(path.read_text())
    doc["scores"] = [score * factor for score in doc["scores"]]
    path.write_text(json.dumps(doc))


def metrics_file(tmp_path: Path, mae: float, coverage: float) -> Path:
    path = tmp_path / f"metrics-{mae}-{coverage}.json"
    path.write_text(json.dumps({"mae": mae, "coverage": coverage}))
    return path


def register(cli, folder: Path, *extra: str) -> str:
    result = cli("--json", "registry", "register", "--from", str(folder), *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["version"]


def test_register_promote_rollback_list_history(cli_db, artifacts: Path, tmp_path: Path) -> None:
    good = metrics_file(tmp_path, 4.4, 0.95)
    assert register(cli_db, artifacts, "--metrics", str(good), "--description", "first") == "1.0.0"
    assert cli_db("registry", "promote", "1.0.0").exit_code == 0
    retrain(artifacts)
    assert register(cli_db, artifacts, "--kind", "lstm_retrain", "--metrics", str(good)) == "1.1.0"
    narrow(artifacts, 0.99)
    assert register(cli_db, artifacts, "--kind", "recalibration", "--base", "1.1.0", "--metrics", str(good)) == "1.1.1"
    assert cli_db("registry", "promote", "1.1.1").exit_code == 0

    rows = {r["version"]: r["status"] for r in json.loads(cli_db("--json", "registry", "list").stdout)}
    assert rows == {"1.1.1": "production", "1.1.0": "archived", "1.0.0": "previous"}
    assert json.loads(cli_db("--json", "registry", "current").stdout)["version"] == "1.1.1"

    result = cli_db("--json", "registry", "rollback")
    assert result.exit_code == 0, result.output
    assert (json.loads(result.stdout)["from_version"], json.loads(result.stdout)["to_version"]) == ("1.1.1", "1.0.0")
    result = cli_db("registry", "rollback", "1.1.0")  # never served: a rollback is no ungated promote
    assert result.exit_code == 2
    assert result.stderr == "error: 1.1.0 never served; `registry promote 1.1.0` runs the gate\n"
    assert cli_db("--json", "registry", "rollback", "1.1.1").exit_code == 0
    assert json.loads(cli_db("--json", "registry", "current").stdout)["version"] == "1.1.1"

    served = json.loads(cli_db("--json", "registry", "history").stdout)
    actions = [(e["action"], e["version"]) for e in served]
    assert actions == [("promote", "1.0.0"), ("promote", "1.1.1"), ("rollback", "1.0.0"), ("rollback", "1.1.1")]
    assert [e["from_version"] for e in served] == [None, "1.0.0", "1.1.1", "1.0.0"]
    assert [e["until"] for e in served[:-1]] == [e["since"] for e in served[1:]] and served[-1]["until"] is None
    engine = make_engine(cli_db.db_url)
    with engine.connect() as conn:  # each switch is one transaction with its event
        kinds = [e.kind for e in list_events(conn, limit=3)]
    engine.dispose()
    assert kinds == ["rollback", "rollback", "promote"]
    assert not (cli_db.home / "model_registry" / "HISTORY.jsonl").exists()

    diff = json.loads(cli_db("--json", "registry", "diff", "1.0.0", "1.1.0").stdout)
    changed = {(r["section"], r["name"]) for r in diff["rows"] if r["changed"]}
    assert ("file", "lstm.npz") in changed and ("file", "dejavu.npz") not in changed


def test_versions_are_immutable(cli, artifacts: Path) -> None:
    register(cli, artifacts, "--version", "2.0.0")
    result = cli("registry", "register", "--from", str(artifacts), "--version", "2.0.0")
    assert result.exit_code == 2 and "2.0.0" in result.stderr
    result = cli("registry", "register", "--from", str(artifacts), "--version", "two")
    assert result.exit_code == 2 and "'two'" in result.stderr
    result = cli("registry", "register", "--from", str(artifacts), "--kind", "big")
    assert result.exit_code == 2 and "'big' is not one of" in result.output


def test_promotion_gate_and_force(cli, artifacts: Path, tmp_path: Path) -> None:
    version = register(cli, artifacts, "--metrics", str(metrics_file(tmp_path, 9.5, 0.95)))
    result = cli("registry", "promote", version)
    assert result.exit_code == 1
    assert "mae 9.5 is above the maximum 8" in result.stderr
    assert cli("registry", "current").exit_code == 2
    retrain(artifacts)
    low = register(cli, artifacts, "--metrics", str(metrics_file(tmp_path, 4.0, 0.80)))
    result = cli("registry", "promote", low)
    assert result.exit_code == 1 and "coverage 0.8" in result.stderr
    result = cli("--json", "registry", "promote", version, "--force", "--reason", "hotfix")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["forced"] is True


def test_a_tampered_local_copy_is_rematerialised_from_the_store(cli, artifacts: Path) -> None:
    version = register(cli, artifacts)
    cli("registry", "promote", version, "--force")
    assert cli("registry", "verify").exit_code == 0
    folder = cli.home / "model_registry" / version
    target = folder / "lstm.npz"
    pristine = target.read_bytes()
    folder.chmod(0o755)
    target.chmod(0o644)
    data = bytearray(pristine)
    data[10] ^= 0xFF
    target.write_bytes(bytes(data))
    (folder / "ensemble.json").unlink()
    result = cli("--json", "registry", "verify", "--all")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["reports"][0]["rematerialised"] is True
    assert target.read_bytes() == pristine and (folder / "ensemble.json").is_file()
    folder.chmod(0o755)
    shutil.rmtree(folder)
    result = cli("--json", "registry", "current")  # loading production rebuilds a missing copy
    assert result.exit_code == 0 and json.loads(result.stdout)["version"] == version
    assert target.read_bytes() == pristine


@pytest.mark.parametrize("damage", ["{not json", "", '{"version": "1.0.0"}', "[]"])
def test_a_damaged_local_metadata_file_is_rewritten(cli, artifacts: Path, damage: str) -> None:
    version = register(cli, artifacts)
    meta = cli.home / "model_registry" / version / "metadata.json"
    meta.parent.chmod(0o755)
    meta.chmod(0o644)
    meta.write_text(damage)
    result = cli("--json", "registry", "show", version)  # the store's record, not the local file
    assert result.exit_code == 0 and json.loads(result.stdout)["version"] == version
    assert cli("registry", "promote", version, "--force").exit_code == 0
    assert json.loads(meta.read_text())["version"] == version


def test_gc_keeps_production_previous_and_ab_versions(cli_db, artifacts: Path) -> None:
    versions = []
    for _ in range(7):
        versions.append(register(cli_db, artifacts, "--kind", "lstm_retrain"))
    assert versions[0] == "1.0.0" and versions[-1] == "1.6.0"
    cli_db("registry", "promote", "1.0.0", "--force")
    cli_db("registry", "promote", "1.1.0", "--force")
    engine = make_engine(cli_db.db_url)
    now = dt.datetime(2026, 1, 1)
    with engine.begin() as conn:
        conn.execute(insert(schema.ab_tests).values(
            name="t1", version_a="1.1.0", version_b="1.2.0", status="running", stage=0, traffic_b=0.1,
            salt="s", started_at=now, stage_started_at=now, details="{}"))
    engine.dispose()
    result = cli_db("--json", "registry", "gc", "--keep", "2")
    assert result.exit_code == 0, result.output
    deleted = set(json.loads(result.stdout)["deleted"])
    assert deleted == {"1.3.0", "1.4.0"}
    listed = json.loads(cli_db("--json", "registry", "list").stdout)
    remaining = {r["version"] for r in listed if r["status"] != "deleted"}
    assert remaining == {"1.0.0", "1.1.0", "1.2.0", "1.5.0", "1.6.0"}
    assert {r["version"] for r in listed if r["status"] == "deleted"} == {"1.3.0", "1.4.0"}


def test_rollback_without_history_is_bad_input(cli, artifacts: Path) -> None:
    version = register(cli, artifacts)
    cli("registry", "promote", version, "--force")
    result = cli("registry", "rollback")
    assert result.exit_code == 2 and result.stderr.startswith("error: ")
    assert cli("registry", "rollback", "9.9.9").exit_code == 2


@pytest.mark.parametrize("kind", ["not-utf8", "folder"])
def test_unreadable_metrics_file_registers_nothing(cli, artifacts: Path, tmp_path: Path, kind: str) -> None:
    metrics = tmp_path / "metrics.json"
    if kind == "folder":
        metrics.mkdir()
    else:
        metrics.write_bytes(b"\xff\xfe{}")
    result = cli("registry", "register", "--from", str(artifacts), "--metrics", str(metrics))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {metrics}: cannot read metrics file")
    assert json.loads(cli("--json", "registry", "list").stdout) == []


def test_gated_metric_that_is_not_a_number_is_refused(cli, artifacts: Path, tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.json"
    metrics.write_text('{"mae": "abc", "coverage": 0.95}')
    result = cli("registry", "register", "--from", str(artifacts), "--metrics", str(metrics))
    assert result.exit_code == 2 and "metric mae = 'abc' is not a number" in result.stderr
    assert json.loads(cli("--json", "registry", "list").stdout) == []


@pytest.mark.parametrize(("damage", "name"), [("garbage", "lstm.npz"), ("missing", "ensemble.json")])
def test_a_set_that_does_not_load_never_becomes_production(cli, artifacts: Path, tmp_path: Path,
                                                           damage: str, name: str) -> None:
    good = register(cli, artifacts)
    assert cli("registry", "promote", good, "--force").exit_code == 0
    broken = Path(shutil.copytree(artifacts, tmp_path / "broken"))
    if damage == "garbage":
        (broken / name).write_bytes(b"\x00not a model\xff")
    else:
        (broken / name).unlink()
    version = register(cli, broken)  # registered with its checksums: verification alone passes
    assert cli("registry", "verify", version).exit_code == 0
    result = cli("registry", "promote", version, "--force")
    assert result.exit_code == 2, result.output
    assert name in result.stderr and result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert cli("registry", "rollback", version).exit_code == 2  # it never served
    assert json.loads(cli("--json", "registry", "current").stdout)["version"] == good


def test_gate_scores_candidate_and_production_on_the_same_recent_games(
    cli_db, engine, tiny_model_set, repo_data: Path, tmp_path: Path  # noqa: ANN001
) -> None:
    stricter = {"NBALIFE_REGISTRY__GATE_MIN_IMPROVEMENT": "0.5"}
    production = install_production(cli_db.home, engine, tiny_model_set)
    registry = open_registry(cli_db.home, engine, tiny_model_set.settings)
    window = registry.show(production).training_window
    narrow(narrowed := Path(shutil.copytree(tiny_model_set.folder, tmp_path / "narrow")))
    candidate = registry.register(narrowed, "recalibration", metrics=tiny_model_set.result.metrics,
                                  training_window=window).version
    same = registry.register(tiny_model_set.folder, "lstm_retrain", metrics=tiny_model_set.result.metrics,
                             training_window=window).version
    assert (candidate, same) == ("1.0.1", "1.1.0")

    result = cli_db("--json", "registry", "promote", same, env=stricter)  # no games after the windows yet
    gate = json.loads(result.stdout)["gate"]
    assert result.exit_code == 1 and gate["basis"] == "held-out metrics" and "only 0 finished games" in gate["note"]
    assert "is not at least 0.5 below production's" in result.stderr

    assert cli_db("data", "ingest", str(repo_data / "nba_2021-22.csv")).exit_code == 0
    result = cli_db("--json", "registry", "promote", candidate)
    assert result.exit_code == 1, result.output
    gate = json.loads(result.stdout)["gate"]
    assert (gate["basis"], gate["games"], gate["production"]) == ("recent games", 300, production)
    assert gate["last_date"] == "2022-04-10" and gate["first_date"] > window["last_date"]
    assert gate["candidate_coverage"] < 0.9 <= gate["production_coverage"]  # its metadata said 0.9+
    assert tiny_model_set.result.metrics["coverage"] >= 0.9
    assert f"coverage {gate['candidate_coverage']:g} is below the minimum 0.9" in result.stderr

    result = cli_db("--json", "registry", "promote", same, env=stricter)
    gate = json.loads(result.stdout)["gate"]
    assert result.exit_code == 1 and gate["basis"] == "recent games"
    assert gate["candidate_mae"] == gate["production_mae"] and "is not at least 0.5 below production's" in result.stderr

    result = cli_db("--json", "registry", "promote", same)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["to_version"] == same and doc["gate"]["passed"] and doc["failure"] is None
    with engine.connect() as conn:
        promotions = list_events(conn, kind="promote", limit=10)
    assert [e.outcome for e in promotions] == ["ok", "refused", "refused", "refused", "ok"]
    assert promotions[0].details["gate"]["basis"] == "recent games" and promotions[0].details["to"] == same
    assert promotions[1].details["gate"]["reasons"] and promotions[1].version == same
    assert [p["version"] for p in json.loads(cli_db("--json", "registry", "history").stdout)] == [production, same]
