"""``nbalife registry`` end to end: both backends, exit codes, events, locks."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from sqlalchemy import insert

from nbalife.store import schema


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    folder = tmp_path / "artifacts"
    folder.mkdir()
    for name in ("dejavu.npz", "lstm.pt", "conformal.json", "ensemble.json"):
        (folder / name).write_bytes(os.urandom(64))
    return folder


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
    (artifacts / "lstm.pt").write_bytes(b"retrained")
    assert register(cli_db, artifacts, "--kind", "lstm_retrain", "--metrics", str(good)) == "1.1.0"
    (artifacts / "conformal.json").write_bytes(b"{}")
    assert register(cli_db, artifacts, "--kind", "recalibration", "--metrics", str(good)) == "1.1.1"
    assert cli_db("registry", "promote", "1.1.1").exit_code == 0

    rows = {r["version"]: r["status"] for r in json.loads(cli_db("--json", "registry", "list").stdout)}
    assert rows == {"1.1.1": "production", "1.1.0": "archived", "1.0.0": "previous"}
    assert json.loads(cli_db("--json", "registry", "current").stdout)["version"] == "1.1.1"

    result = cli_db("--json", "registry", "rollback")
    assert result.exit_code == 0, result.output
    assert (json.loads(result.stdout)["from_version"], json.loads(result.stdout)["to_version"]) == ("1.1.1", "1.0.0")
    assert cli_db("--json", "registry", "rollback", "1.1.0").exit_code == 0
    assert json.loads(cli_db("--json", "registry", "current").stdout)["version"] == "1.1.0"

    actions = [(e["action"], e["to_version"]) for e in json.loads(cli_db("--json", "registry", "history").stdout)]
    assert actions[-3:] == [("promote", "1.1.1"), ("rollback", "1.0.0"), ("rollback", "1.1.0")]
    kinds = [e["kind"] for e in json.loads(cli_db("--json", "events", "--limit", "3").stdout)]
    assert kinds == ["rollback", "rollback", "promotion"]

    diff = json.loads(cli_db("--json", "registry", "diff", "1.0.0", "1.1.0").stdout)
    changed = {(r["section"], r["name"]) for r in diff["rows"] if r["changed"]}
    assert ("file", "lstm.pt") in changed and ("file", "dejavu.npz") not in changed


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
    (artifacts / "lstm.pt").write_bytes(b"other")
    low = register(cli, artifacts, "--metrics", str(metrics_file(tmp_path, 4.0, 0.80)))
    result = cli("registry", "promote", low)
    assert result.exit_code == 1 and "coverage 0.8" in result.stderr
    result = cli("--json", "registry", "promote", version, "--force", "--reason", "hotfix")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["forced"] is True


def test_verify_flipped_byte_and_missing_file(cli, artifacts: Path) -> None:
    version = register(cli, artifacts)
    cli("registry", "promote", version, "--force")
    assert cli("registry", "verify").exit_code == 0
    target = cli.home / "model_registry" / version / "lstm.pt"
    target.parent.chmod(0o755)
    target.chmod(0o644)
    data = bytearray(target.read_bytes())
    data[10] ^= 0xFF
    target.write_bytes(bytes(data))
    (cli.home / "model_registry" / version / "ensemble.json").unlink()
    result = cli("registry", "verify", "--all")
    assert result.exit_code == 1
    assert f"{version}/lstm.pt: checksum mismatch" in result.stderr
    assert f"{version}/ensemble.json: missing" in result.stderr
    assert result.stderr.count("\n") == 1
    result = cli("registry", "current")  # loading production refuses a corrupt set
    assert result.exit_code == 2 and "failed verification" in result.stderr and "ensemble.json" in result.stderr


@pytest.mark.parametrize("damage", ["{not json", "", '{"version": "1.0.0"}', "[]"])
def test_corrupt_metadata_is_a_clear_error(cli, artifacts: Path, damage: str) -> None:
    version = register(cli, artifacts)
    meta = cli.home / "model_registry" / version / "metadata.json"
    meta.parent.chmod(0o755)
    meta.chmod(0o644)
    meta.write_text(damage)
    result = cli("registry", "show", version)
    assert result.exit_code == 2
    assert "metadata.json" in result.stderr and "Traceback" not in result.output
    listed = json.loads(cli("--json", "registry", "list").stdout)
    assert listed[0]["status"] == "broken"
    assert cli("registry", "promote", version, "--force").exit_code == 2


def test_gc_keeps_production_previous_and_ab_versions(cli_db, artifacts: Path) -> None:
    versions = []
    for i in range(7):
        (artifacts / "lstm.pt").write_bytes(f"v{i}".encode())
        versions.append(register(cli_db, artifacts, "--kind", "lstm_retrain"))
    assert versions[0] == "1.0.0" and versions[-1] == "1.6.0"
    cli_db("registry", "promote", "1.0.0", "--force")
    cli_db("registry", "promote", "1.1.0", "--force")
    from nbalife.store.engine import make_engine

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
    remaining = {r["version"] for r in json.loads(cli_db("--json", "registry", "list").stdout)}
    assert remaining == {"1.0.0", "1.1.0", "1.2.0", "1.5.0", "1.6.0"}


def test_second_writer_gets_lock_held(cli_db, artifacts: Path) -> None:
    from nbalife.locks import run_lock
    from nbalife.store.engine import make_engine

    engine = make_engine(cli_db.db_url)
    with run_lock("registry", home=cli_db.home, engine=engine):
        result = cli_db("registry", "register", "--from", str(artifacts),
                        env={"NBALIFE_REGISTRY__LOCK_WAIT_S": "0.3"})
    engine.dispose()
    assert result.exit_code == 3
    assert "lock 'registry' is held by another run" in result.stderr
    assert not (cli_db.home / "model_registry").exists() or not list((cli_db.home / "model_registry").glob("1.*"))


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
