"""The model registry in the store: versions, lineage, statuses, the promotion gate, fast-forward
promotion, rollback to what served, integrity of the store and of local copies, gc with tombstones."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, insert, update

from nbalife.errors import BadInput, CheckFailed
from nbalife.registry import (
    NO_PRODUCTION,
    ChangeKind,
    Gate,
    Registry,
    Status,
    Verdict,
    next_version,
)
from nbalife.store import schema
from nbalife.store.events import list_events

ARTIFACTS = ("conformal.json", "dejavu.joblib", "ensemble.json", "lstm.pt")


class Clock:
    """A clock that advances one minute per reading."""

    def __init__(self) -> None:
        self.now = datetime(2024, 1, 1, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def make_artifacts(folder: Path, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(ARTIFACTS):
        (folder / name).write_bytes(hashlib.sha256(f"{seed}-{i}".encode()).digest() * (50 + i))
    return folder


@pytest.fixture
def rhome(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    (home / "models" / "README.md").write_text("production models live here\n")
    return home


@pytest.fixture
def reg(rhome: Path, engine) -> Registry:  # noqa: ANN001
    return Registry(rhome, engine, clock=Clock(), user="op", host="box")


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_artifacts(tmp_path / "artifacts")


def add(reg: Registry, src: Path, kind: str = "lstm_retrain", **kw) -> str:
    kw.setdefault("metrics", {"mae": 3.0, "coverage": 0.95})
    return reg.register(src, kind, **kw).version


def writable(path: Path) -> None:
    path.chmod(path.stat().st_mode | stat.S_IWUSR)


def events(reg: Registry, *kinds: str) -> list:
    with reg.engine.connect() as conn:
        found = list_events(conn, limit=1000)
    return [e for e in reversed(found) if not kinds or e.kind in kinds]


# ------------------------------------------------------------------ register


def test_first_register_stores_the_set_and_a_verified_local_copy(reg: Registry, src: Path) -> None:
    info = reg.register(src, ChangeKind.LSTM_RETRAIN, metrics={"mae": 3.1, "coverage": 0.95}, params={"k": 50},
                        description="first", training_window={"start": "2023-10-24", "end": "2024-04-14"})
    assert info.version == "1.0.0" and info.parent is None and info.state == "candidate"
    assert info.created_at == datetime(2024, 1, 1, 0, 1, tzinfo=timezone.utc) and info.created_by == "op"
    folder = reg.root / "1.0.0"
    assert info.path == folder == reg.path_of("1.0.0")
    assert sorted(p.name for p in folder.iterdir()) == sorted([*ARTIFACTS, "metadata.json"])
    doc = json.loads((folder / "metadata.json").read_text())
    with reg.engine.connect() as conn:
        stored = {r.sha256: bytes(r.bytes) for r in conn.execute(schema.registry_artifacts.select())}
    for name in ARTIFACTS:
        data = (src / name).read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        assert doc["files"][name] == {"sha256": sha, "size": len(data)} and stored[sha] == data
        assert (folder / name).read_bytes() == data
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o444
    assert stat.S_IMODE(folder.stat().st_mode) == 0o555
    assert doc["kind"] == "lstm_retrain" and doc["created_at"] == "2024-01-01T00:01:00+00:00"
    assert doc["training_window"] == {"start": "2023-10-24", "end": "2024-04-14"} and doc["params"] == {"k": 50}
    assert reg.show("1.0.0") == info
    assert [(e.kind, e.version, e.outcome) for e in events(reg)] == [("register", "1.0.0", "ok")]
    json.dumps(asdict(info), default=str)  # renderable by the CLI


def test_identical_files_are_stored_once(reg: Registry, src: Path) -> None:
    add(reg, src)
    add(reg, src)
    assert reg.store_size() == (len(ARTIFACTS), sum((src / n).stat().st_size for n in ARTIFACTS))


def test_register_from_a_mapping_with_parent_defaulting_to_production(reg: Registry, src: Path) -> None:
    add(reg, src)
    reg.promote("1.0.0")
    info = reg.register({"conformal.json": src / "conformal.json"}, "recalibration", description="recal")
    assert (info.version, info.parent) == ("1.0.1", "1.0.0")
    assert [f.name for f in info.files] == ["conformal.json"]
    assert reg.register(src, "manual", base="1.0.1").parent == "1.0.1"


def test_next_version_rules(reg: Registry, src: Path) -> None:
    seen = [add(reg, src, kind) for kind in
            ("recalibration", "recalibration", "dejavu_update", "recalibration", "lstm_retrain", "manual")]
    assert seen == ["1.0.0", "1.0.1", "1.1.0", "1.1.1", "1.2.0", "2.0.0"]
    assert add(reg, src, "recalibration", version="1.10.0") == "1.10.0"
    assert next_version(["1.9.0", "1.10.0", "1.2.0"], ChangeKind.RECALIBRATION) == "1.10.1"  # semver, not text
    assert next_version([], ChangeKind.MANUAL) == "1.0.0"
    assert reg.versions() == ["2.0.0", "1.10.0", "1.2.0", "1.1.1", "1.1.0", "1.0.1", "1.0.0"]


def test_versions_follow_their_lineage(reg: Registry, src: Path) -> None:
    for version in ("1.2.0", "1.3.0"):
        add(reg, src, version=version)
    reg.promote("1.2.0")
    recalibrated = reg.register(src, ChangeKind.RECALIBRATION)
    assert (recalibrated.version, recalibrated.parent) == ("1.2.1", "1.2.0")
    assert add(reg, src, "recalibration") == "1.2.2"  # 1.2.1 is taken
    retrained = reg.register(src, ChangeKind.LSTM_RETRAIN)
    assert (retrained.version, retrained.parent) == ("1.4.0", "1.2.0")  # 1.3.0 is taken
    assert add(reg, src, "dejavu_update") == "1.5.0"
    assert reg.register(src, ChangeKind.TRAIN).version == "2.0.0"
    on_candidate = reg.register(src, "recalibration", base="1.3.0")
    assert (on_candidate.version, on_candidate.parent) == ("1.3.1", "1.3.0")
    reg.gc(keep=0)  # deletes every other number, which stays taken
    assert reg.versions() == ["1.2.0"]
    assert add(reg, src, "recalibration") == "1.2.3" and add(reg, src, "lstm_retrain") == "1.6.0"
    with pytest.raises(BadInput, match=r"parent version 1\.2\.1 was deleted by gc on 2024-01-01"):
        add(reg, src, "recalibration", base="1.2.1")


@given(
    used=st.sets(st.tuples(*[st.integers(0, 4)] * 3), max_size=30),
    base=st.tuples(*[st.integers(0, 4)] * 3),
    kind=st.sampled_from(list(ChangeKind)),
)
def test_next_version_is_free_and_moves_only_its_level(used: set, base: tuple, kind: ChangeKind) -> None:
    names = {".".join(map(str, v)) for v in used}
    new = tuple(int(p) for p in next_version(names, kind, ".".join(map(str, base))).split("."))
    level = kind.level
    assert new not in used and new[:level] == base[:level] and new[level] > base[level]
    assert all(p == 0 for p in new[level + 1:])
    skipped = [base[:level] + (n,) + (0,) * (2 - level) for n in range(base[level] + 1, new[level])]
    assert all(v in used for v in skipped)  # the first free number at that level


def test_versions_are_immutable(reg: Registry, src: Path) -> None:
    add(reg, src, version="1.2.0")
    before = reg.show("1.2.0")
    with pytest.raises(BadInput, match=r"version 1\.2\.0 already exists or existed; versions are immutable"):
        add(reg, make_artifacts(src.parent / "other", seed=9), version="1.2.0")
    assert reg.show("1.2.0") == before
    assert [e.kind for e in events(reg)] == ["register"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r, s: r.register(s, "recalibration", version="1.2"), r"invalid version '1\.2'"),
        (lambda r, s: r.register(s, "recalibration", version="v1.2.0"), r"invalid version 'v1\.2\.0'"),
        (lambda r, s: r.register(s, "retune"), r"invalid kind of change 'retune'"),
        (lambda r, s: r.register({"a/b": s / "lstm.pt"}, "manual"), r"invalid artifact name 'a/b'"),
        (lambda r, s: r.register({"metadata.json": s / "lstm.pt"}, "manual"), r"invalid artifact name 'metadata\.json'"),
        (lambda r, s: r.register({"x": s / "nope.pt"}, "manual"), r"nope\.pt: artifact 'x' is not a readable file"),
        (lambda r, s: r.register({}, "manual"), r"no artifact files"),
        (lambda r, s: r.register(s / "missing", "manual"), r"missing: not a folder"),
        (lambda r, s: r.register(s, "manual", metrics={"mae": float("nan")}), r"finite JSON"),
        (lambda r, s: r.register(s, "manual", base="9.9.9"), r"parent version 9\.9\.9 is not registered"),
    ],
)
def test_register_rejects_bad_input(reg: Registry, src: Path, call, message: str) -> None:
    with pytest.raises(BadInput, match=message) as err:
        call(reg, src)
    assert err.value.exit_code == 2
    assert reg.versions() == [] and reg.store_size() == (0, 0) and events(reg) == []


# ------------------------------------------------------- list, show, diff


def test_list_shows_statuses_newest_first(reg: Registry, src: Path) -> None:
    add(reg, src, version="1.0.0", description="set 1.0.0")
    reg.promote("1.0.0")
    for v in ("1.1.0", "1.2.0", "1.3.0", "1.9.0", "1.10.0"):
        add(reg, src, version=v, description=f"set {v}", base="1.0.0" if v in ("1.1.0", "1.3.0") else None)
    reg.promote("1.1.0")
    reg.promote("1.2.0", force=True)
    rows = reg.list_versions(ab_versions={"1.9.0"})
    assert [(r.version, r.status) for r in rows] == [
        ("1.10.0", Status.CANDIDATE), ("1.9.0", Status.AB_TEST), ("1.3.0", Status.CANDIDATE),
        ("1.2.0", Status.PRODUCTION), ("1.1.0", Status.PREVIOUS), ("1.0.0", Status.ARCHIVED)]
    assert rows[0].metrics == {"mae": 3.0, "coverage": 0.95} and rows[0].description == "set 1.10.0"
    json.dumps([asdict(r) for r in rows], default=str)
    assert reg.current().version == "1.2.0" and reg.current_version() == "1.2.0"
    reg.rollback()
    statuses = {r.version: r.status for r in reg.list_versions()}
    assert statuses["1.1.0"] is Status.PRODUCTION and statuses["1.0.0"] is Status.PREVIOUS
    assert statuses["1.2.0"] is Status.ARCHIVED  # rolled back from: not a candidate again


def test_empty_registry(reg: Registry) -> None:
    assert reg.list_versions() == [] and reg.versions() == [] and reg.history() == []
    assert reg.current() is None and reg.previous_version() is None
    with pytest.raises(BadInput) as err:
        reg.load_production()
    assert str(err.value) == NO_PRODUCTION
    with pytest.raises(BadInput, match=r"version 1\.0\.0 is not registered"):
        reg.show("1.0.0")


def test_diff_lines_up_metrics_params_and_files(reg: Registry, src: Path, tmp_path: Path) -> None:
    add(reg, src, metrics={"mae": 3.2, "coverage": 0.93}, params={"k": 50, "agg": "median"})
    other = make_artifacts(tmp_path / "other")
    (other / "lstm.pt").write_bytes(b"retrained")
    (other / "conformal.json").unlink()
    add(reg, other, metrics={"mae": 3.0, "coverage": 0.95, "bias": 0.1}, params={"k": 50})
    rows = {(r.section, r.name): r for r in reg.diff("1.0.0", "1.1.0").rows}
    assert rows[("metric", "mae")].changed and rows[("metric", "bias")].a is None
    assert not rows[("param", "k")].changed and rows[("file", "conformal.json")].b is None
    assert rows[("file", "lstm.pt")].b == {"sha256": hashlib.sha256(b"retrained").hexdigest(), "size": 9}


# ------------------------------------------------------ promote, gate, rollback


def test_promote_moves_the_store_pointer_and_the_local_link(reg: Registry, src: Path) -> None:
    add(reg, src)
    switch = reg.promote("1.0.0", reason="initial")
    add(reg, src)
    assert (switch.action, switch.from_version, switch.to_version, switch.forced) == ("promote", None, "1.0.0", False)
    assert os.readlink(reg.pointer) == "../model_registry/1.0.0"
    assert (reg.models_dir / "README.md").read_text() == "production models live here\n"
    prod = reg.load_production()
    assert prod.version == "1.0.0" and prod.path == reg.root / "1.0.0"
    assert (reg.pointer / "lstm.pt").read_bytes() == (src / "lstm.pt").read_bytes()
    reg.promote("1.1.0", reason="better")
    assert os.readlink(reg.pointer) == "../model_registry/1.1.0"
    history = reg.history()
    assert [(h.action, h.from_version, h.to_version, h.who, h.host) for h in history] == [
        ("promote", None, "1.0.0", "op", "box"), ("promote", "1.0.0", "1.1.0", "op", "box")]
    assert [(e.kind, e.version) for e in events(reg, "promote")] == [("promote", "1.0.0"), ("promote", "1.1.0")]
    with pytest.raises(BadInput, match=r"1\.1\.0 is already production"):
        reg.promote("1.1.0")
    with pytest.raises(BadInput, match=r"version 2\.0\.0 is not registered"):
        reg.promote("2.0.0")


def test_promotion_gate_names_the_failing_figure(reg: Registry, src: Path) -> None:
    reg.promote(add(reg, src, metrics={"mae": 3.0, "coverage": 0.95}))
    add(reg, src, metrics={"mae": 3.4, "coverage": 0.91})
    add(reg, src, metrics={"coverage": 0.96})
    gate = Gate(max_mae=3.2, min_coverage=0.94)
    with pytest.raises(CheckFailed, match=r"mae 3\.4 is above the maximum 3\.2; coverage 0\.91 is below the minimum 0\.94"):
        reg.promote("1.1.0", gate=gate)
    with pytest.raises(CheckFailed, match=r"mae is missing from the metrics"):
        reg.promote("1.2.0", gate=gate)
    seen = []
    reg.promote("1.2.0", gate=lambda c, p: seen.append((c.version, p.version)) or Verdict((), {"figures": [1.5]}))
    assert seen == [("1.2.0", "1.0.0")] and reg.history()[-1].details == {"figures": [1.5]}
    switch = reg.promote("1.1.0", gate=gate, force=True, reason="operator override")
    assert switch.forced and len(switch.gate_failures) == 2 and reg.current_version() == "1.1.0"
    assert switch.lost == ("production 1.2.0 retrained the LSTM",)  # 1.1.0 does not descend from 1.2.0
    last = reg.history()[-1]
    assert last.forced and last.details["gate_failures"] == list(switch.gate_failures)
    assert last.details["lost"] == ["production 1.2.0 retrained the LSTM"] and last.reason == "operator override"


def test_a_stale_candidate_is_refused_naming_what_it_would_drop(reg: Registry, src: Path) -> None:
    reg.promote(add(reg, src, "train"))  # 1.0.0
    stale = reg.register(src, "dejavu_update").version  # 1.1.0, derived from 1.0.0
    reg.promote(add(reg, src, "recalibration"))  # production 1.0.1
    with pytest.raises(CheckFailed) as err:
        reg.promote(stale)
    assert err.value.exit_code == 1
    assert str(err.value).endswith("1.1.0 derives from 1.0.0; production 1.0.1 recalibrated the interval since: "
                                   "re-derive it (`dejavu update`) or `--force`")
    assert reg.current_version() == "1.0.1"
    reg.promote(add(reg, src, "recalibration"))  # 1.0.2
    with pytest.raises(CheckFailed, match=r"1\.0\.1 recalibrated the interval, production 1\.0\.2 recalibrated"):
        reg.promote(stale)
    fresh = reg.register(src, "dejavu_update").version  # from 1.0.2: a fast-forward
    assert reg.promote(fresh).to_version == fresh == "1.2.0"


def test_rollback_goes_only_to_a_version_that_served(reg: Registry, src: Path) -> None:
    for _ in range(3):
        reg.promote(add(reg, src))
    never = add(reg, src)
    assert reg.previous_version() == "1.1.0"
    switch = reg.rollback(reason="bad night")
    assert (switch.action, switch.from_version, switch.to_version) == ("rollback", "1.2.0", "1.1.0")
    assert os.readlink(reg.pointer) == "../model_registry/1.1.0"
    assert reg.rollback().to_version == "1.0.0"
    with pytest.raises(BadInput, match="no previous production version to roll back to"):
        reg.rollback()
    assert reg.rollback("1.2.0").to_version == "1.2.0"
    with pytest.raises(BadInput) as err:
        reg.rollback(never)
    assert str(err.value) == f"{never} never served; `registry promote {never}` runs the gate"
    with pytest.raises(BadInput, match=r"1\.2\.0 is already production"):
        reg.rollback("1.2.0")
    with pytest.raises(BadInput, match="invalid version 'latest'"):
        reg.rollback("latest")


def test_a_given_time_stamps_the_version_and_the_switches(reg: Registry, src: Path) -> None:
    at = datetime(2023, 11, 1, 8, 0, tzinfo=timezone(timedelta(hours=-4)))
    utc = at.astimezone(timezone.utc)
    first = reg.register(src, "train", at=at)
    second = reg.register(make_artifacts(src.parent / "second", seed=1), "manual", at=at + timedelta(days=1))
    promoted = reg.promote(first.version, at=at + timedelta(days=2))
    reg.promote(second.version, at=at + timedelta(days=3), force=True)
    back = reg.rollback(at=at + timedelta(days=4))
    assert reg.show(first.version).created_at == utc and (promoted.at, back.at) == (utc + timedelta(days=2),
                                                                                    utc + timedelta(days=4))
    assert [h.at for h in reg.history()] == [utc + timedelta(days=d) for d in (2, 3, 4)]
    assert [e.at for e in events(reg)] == [utc + timedelta(days=d) for d in range(5)]


def test_naive_clock_is_taken_as_utc(rhome: Path, engine, src: Path) -> None:  # noqa: ANN001
    reg = Registry(rhome, engine, clock=lambda: datetime(2024, 5, 1, 12, 0))
    assert reg.register(src, "manual").created_at == datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


# ------------------------------------------------------------- integrity


def test_a_tampered_local_copy_is_rebuilt_from_the_store(reg: Registry, src: Path) -> None:
    reg.promote(add(reg, src))
    folder = reg.root / "1.0.0"
    writable(folder)
    writable(folder / "lstm.pt")
    data = bytearray((folder / "lstm.pt").read_bytes())
    data[100] ^= 0x01
    (folder / "lstm.pt").write_bytes(bytes(data))
    (folder / "conformal.json").unlink()
    (folder / "notes.txt").write_text("hi")
    report = reg.verify("1.0.0")
    assert report.ok and report.rematerialised
    assert sorted(p.name for p in folder.iterdir()) == sorted([*ARTIFACTS, "metadata.json"])
    assert (folder / "lstm.pt").read_bytes() == (src / "lstm.pt").read_bytes()
    assert not reg.verify("1.0.0").rematerialised


@pytest.mark.parametrize("damage", ["tampered", "missing"])
def test_a_bad_artifact_in_the_store_is_reported_and_never_served(reg: Registry, src: Path, damage: str) -> None:
    reg.promote(add(reg, src))
    sha = hashlib.sha256((src / "lstm.pt").read_bytes()).hexdigest()
    table = schema.registry_artifacts
    with reg.engine.begin() as conn:
        if damage == "tampered":
            conn.execute(update(table).where(table.c.sha256 == sha).values(bytes=b"evil" * 10))
        else:
            conn.execute(delete(table).where(table.c.sha256 == sha))
    report = reg.verify("1.0.0")
    assert not report.ok and [p.name for p in report.problems] == ["lstm.pt"]
    expected = "checksum in the store mismatch" if damage == "tampered" else "missing from the store"
    assert expected in report.problems[0].describe()
    folder = reg.root / "1.0.0"
    folder.chmod(0o755)
    (folder / "lstm.pt").chmod(0o644)
    (folder / "lstm.pt").unlink()  # the local copy cannot hide it either
    with pytest.raises(CheckFailed, match=r"version 1\.0\.0: artifact lstm\.pt: .*it is not served") as err:
        reg.load_production()
    assert err.value.exit_code == 1 and not (folder / "lstm.pt").exists()


# ------------------------------------------------------------------- gc


def test_gc_keeps_what_production_serves_and_leaves_tombstones(reg: Registry, src: Path) -> None:
    reg.promote(add(reg, src, "train"))  # 1.0.0: fits every layer
    reg.promote(add(reg, src, "dejavu_update"))  # 1.1.0: the Dejavu database
    weekly = [add(reg, src, "dejavu_update") for _ in range(4)]  # unpromoted candidates
    reg.promote(add(reg, src, "recalibration"))  # 1.1.1: the interval, from 1.1.0
    (reg.root / ".tmp-deadbeef").mkdir()
    result = reg.gc(keep=1, at=datetime(2024, 2, 3, tzinfo=timezone.utc))
    assert set(result.deleted) == set(weekly[:-1]) - {"1.1.1"}
    assert result.protected["1.1.1"] == "production" and result.protected["1.1.0"] == "production serves its dejavu"
    assert result.protected["1.0.0"] == "production serves its lstm"
    assert ".tmp-deadbeef" in result.cleaned and not (reg.root / weekly[0]).exists()
    tomb = reg.show(weekly[0])
    assert tomb.tombstone == "deleted by gc on 2024-02-03" and tomb.parent == "1.1.0"
    assert {r.version: r.status for r in reg.list_versions()}[weekly[0]] is Status.DELETED
    with pytest.raises(BadInput, match=rf"version {weekly[0]} was deleted by gc on 2024-02-03"):
        reg.path_of(weekly[0])
    with pytest.raises(BadInput, match=rf"{weekly[0]} already exists or existed"):
        add(reg, src, version=weekly[0])  # a deleted number is never reused
    assert all(r.ok for r in reg.verify_all())
    assert events(reg, "gc")[-1].details["deleted"] == list(result.deleted)
    with pytest.raises(BadInput, match="keep must be a non-negative integer"):
        reg.gc(keep=-1)


def test_gc_keeps_versions_that_made_recent_predictions(reg: Registry, src: Path) -> None:
    reg.promote(add(reg, src))
    old, recent = add(reg, src), add(reg, src)
    now = datetime(2024, 6, 1, tzinfo=timezone.utc)
    with reg.engine.begin() as conn:
        conn.execute(insert(schema.predictions), [
            {"game_id": "g1", "arm": "B", "model_version": recent, "forecast": 1.0, "lower": -1.0, "upper": 3.0,
             "created_at": datetime(2024, 5, 1)},
            {"game_id": "g2", "arm": "B", "model_version": old, "forecast": 1.0, "lower": -1.0, "upper": 3.0,
             "created_at": datetime(2022, 5, 1)}])
    result = reg.gc(keep=0, predicted_since=now - timedelta(days=400), at=now)
    assert result.deleted == (old,) and result.protected[recent] == "made predictions since 2023-04-28"


# ------------------------------------------------------------ derived versions, deferred promotions


def test_waiting_candidates_and_stale_ones_retired_by_a_new_derivation(reg: Registry, src: Path) -> None:
    reg.promote(add(reg, src, "train"))
    first = reg.register(src, "recalibration", retire_stale=True)
    assert [i.version for i in reg.waiting_on_production("recalibration")] == [first.version]
    second = reg.register(make_artifacts(src.parent / "b", seed=2), "recalibration", retire_stale=True)
    assert second.retired == (first.version,) and reg.show(first.version).state == "retired"
    assert [i.version for i in reg.waiting_on_production("recalibration")] == [second.version]
    assert events(reg, "register")[-1].details["retired"] == [first.version]


def test_a_deferred_promotion_waits_then_is_settled(reg: Registry, src: Path) -> None:
    reg.promote(add(reg, src))
    candidate = add(reg, src)
    until = datetime(2024, 1, 2, 6, 0, tzinfo=timezone.utc)
    entry = reg.defer(candidate, not_before=until, reason="tonight")
    assert [p.id for p in reg.pending()] == [entry.id] and reg.any_pending()
    assert reg.gc(keep=0).protected[candidate] == f"pending #{entry.id}"
    reg.settle(entry.id, "cancelled", "no")
    assert reg.pending() == [] and reg.pending(waiting_only=False)[0].state == "cancelled"
    with pytest.raises(BadInput, match=rf"no pending promotion #{entry.id}"):
        reg.settle(entry.id, "cancelled", "again")


# ------------------------------------------------------------------ staging leftovers


STAGING_HOLDER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {repo!r})
from nbalife.registry.staging import staging_folder
with staging_folder(Path({home!r}), ".train-") as folder:
    (folder / "lstm.npz").write_bytes(b"half a model")
    print(folder, flush=True)
    time.sleep(60)
"""


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_staging_left_by_a_killed_train_is_removed_once_stale(reg: Registry, rhome: Path) -> None:
    repo = str(Path(__file__).resolve().parents[1])
    proc = subprocess.Popen([sys.executable, "-c", STAGING_HOLDER.format(repo=repo, home=str(rhome))],
                            stdout=subprocess.PIPE, text=True)
    held = Path(proc.stdout.readline().strip())
    try:
        _age(held, 3600)
        assert held.name not in reg.gc(keep=5).cleaned  # old, but its train is alive: the flock says so
        assert held.is_dir()
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    fresh = rhome / ".retrain-fresh"
    fresh.mkdir()
    assert held.name in reg.gc(keep=5).cleaned and not held.exists()  # killed: stale, removed
    assert fresh.is_dir()  # unheld but younger than the grace: maybe just being created


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_staging_folder_is_removed_after_use_even_on_error(reg: Registry) -> None:
    with pytest.raises(RuntimeError), reg.staging(".derive-") as folder:
        (folder / "x").write_text("x")
        raise RuntimeError("boom")
    assert not folder.exists()
    with pytest.raises(ValueError):
        reg.staging(".other-").__enter__()
