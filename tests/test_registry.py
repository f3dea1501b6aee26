"""The model registry: versions, statuses, promotion gate, rollback, integrity, gc, locking."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nbalife.errors import BadInput, CheckFailed, LockHeld
from nbalife.registry import (
    NO_PRODUCTION,
    ChangeKind,
    Gate,
    Registry,
    RegistryEvent,
    Status,
    Verdict,
    next_version,
)

WORKER = Path(__file__).with_name("registry_crash_worker.py")
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
def events() -> list[RegistryEvent]:
    return []


@pytest.fixture
def reg(rhome: Path, events: list[RegistryEvent]) -> Registry:
    return Registry(rhome, clock=Clock(), user="op", host="box", on_event=events.append, lock_wait_s=5)


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_artifacts(tmp_path / "artifacts")


def add(reg: Registry, src: Path, kind: str = "lstm_retrain", **kw) -> str:
    kw.setdefault("metrics", {"mae": 3.0, "coverage": 0.95})
    return reg.register(src, kind, **kw).version


def writable(path: Path) -> None:
    path.chmod(path.stat().st_mode | stat.S_IWUSR)


# ------------------------------------------------------------------ register


def test_first_register_writes_a_complete_immutable_set(reg: Registry, src: Path) -> None:
    info = reg.register(
        src,
        ChangeKind.LSTM_RETRAIN,
        metrics={"mae": 3.1, "coverage": 0.95},
        params={"k": 50},
        description="first",
        training_window={"start": "2023-10-24", "end": "2024-04-14"},
    )
    assert info.version == "1.0.0" and info.parent is None
    assert info.created_at == datetime(2024, 1, 1, 0, 1, tzinfo=timezone.utc)
    folder = reg.root / "1.0.0"
    assert info.path == folder == reg.path_of("1.0.0")
    assert sorted(p.name for p in folder.iterdir()) == sorted([*ARTIFACTS, "metadata.json"])
    doc = json.loads((folder / "metadata.json").read_text())
    for name in ARTIFACTS:
        data = (src / name).read_bytes()
        assert doc["files"][name] == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        assert (folder / name).read_bytes() == data
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o444
    assert stat.S_IMODE(folder.stat().st_mode) == 0o555
    assert doc["kind"] == "lstm_retrain" and doc["created_at"] == "2024-01-01T00:01:00+00:00"
    assert doc["training_window"] == {"start": "2023-10-24", "end": "2024-04-14"}
    assert doc["nbalife_version"] and doc["params"] == {"k": 50}
    assert reg.show("1.0.0") == info
    assert not [p for p in reg.root.iterdir() if p.name.startswith(".")]
    json.dumps(asdict(info), default=str)  # renderable by the CLI


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
    """A new version derives from its base (production by default); a taken number moves on at
    its level; the parent is recorded."""
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
    assert add(reg, src, "manual") == "3.0.0"
    on_candidate = reg.register(src, "recalibration", base="1.3.0")
    assert (on_candidate.version, on_candidate.parent) == ("1.3.1", "1.3.0")
    assert reg.show("1.2.2").parent == "1.2.0" and reg.show("1.3.1").kind is ChangeKind.RECALIBRATION
    reg.gc(keep=0, protected={"1.2.0"})  # deletes every other number, which stays taken
    assert add(reg, src, "recalibration") == "1.2.3" and add(reg, src, "lstm_retrain") == "1.6.0"
    with pytest.raises(BadInput, match=r"parent version 1\.2\.1 is not registered"):
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
    before = (reg.root / "1.2.0" / "metadata.json").read_bytes()
    with pytest.raises(BadInput, match=r"version 1\.2\.0 already exists or existed; versions are immutable"):
        add(reg, make_artifacts(src.parent / "other", seed=9), version="1.2.0")
    assert (reg.root / "1.2.0" / "metadata.json").read_bytes() == before
    assert [e.action for e in reg.history()] == ["register"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r, s: r.register(s, "recalibration", version="1.2"), r"invalid version '1\.2'"),
        (lambda r, s: r.register(s, "recalibration", version="v1.2.0"), r"invalid version 'v1\.2\.0'"),
        (lambda r, s: r.register(s, "recalibration", version="01.2.0"), r"invalid version '01\.2\.0'"),
        (lambda r, s: r.register(s, "retune"), r"invalid kind of change 'retune'"),
        (lambda r, s: r.register({"a/b": s / "lstm.pt"}, "manual"), r"invalid artifact name 'a/b'"),
        (lambda r, s: r.register({"metadata.json": s / "lstm.pt"}, "manual"), r"invalid artifact name 'metadata\.json'"),
        (lambda r, s: r.register({".x": s / "lstm.pt"}, "manual"), r"invalid artifact name '\.x'"),
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
    assert reg.versions() == []
    assert not reg.root.exists() or not [p for p in reg.root.iterdir() if p.name.startswith(".tmp-")]


def test_a_failed_copy_leaves_nothing_behind(reg: Registry, src: Path, monkeypatch) -> None:
    from nbalife.registry import storage

    real, calls = storage.copy_hashed, []

    def flaky(a: Path, b: Path):  # noqa: ANN202
        calls.append(a)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(a, b)

    monkeypatch.setattr(storage, "copy_hashed", flaky)
    with pytest.raises(OSError, match="No space"):
        add(reg, src)
    assert sorted(p.name for p in reg.root.iterdir()) == []


# ------------------------------------------------------- list, show, current, diff


def test_list_shows_statuses_newest_first(reg: Registry, src: Path) -> None:
    for v in ("1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.9.0", "1.10.0"):
        add(reg, src, version=v, description=f"set {v}")
    for v in ("1.0.0", "1.1.0", "1.2.0"):
        reg.promote(v)
    rows = reg.list_versions(ab_versions={"1.9.0"})
    assert [(r.version, r.status) for r in rows] == [
        ("1.10.0", Status.CANDIDATE),
        ("1.9.0", Status.AB_TEST),
        ("1.3.0", Status.CANDIDATE),
        ("1.2.0", Status.PRODUCTION),
        ("1.1.0", Status.PREVIOUS),
        ("1.0.0", Status.ARCHIVED),
    ]
    assert rows[0].metrics == {"mae": 3.0, "coverage": 0.95} and rows[0].description == "set 1.10.0"
    assert rows[0].created_at.tzinfo is not None and rows[0].error is None
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
    (other / "extra.bin").write_bytes(b"x")
    add(reg, other, metrics={"mae": 3.0, "coverage": 0.95, "bias": 0.1}, params={"k": 50})
    d = reg.diff("1.0.0", "1.1.0")
    rows = {(r.section, r.name): r for r in d.rows}
    assert rows[("metric", "mae")].a == 3.2 and rows[("metric", "mae")].b == 3.0 and rows[("metric", "mae")].changed
    assert rows[("metric", "bias")].a is None
    assert not rows[("param", "k")].changed and rows[("param", "agg")].b is None
    assert rows[("file", "conformal.json")].b is None and rows[("file", "extra.bin")].a is None
    assert not rows[("file", "dejavu.joblib")].changed
    assert rows[("file", "lstm.pt")].b == {"sha256": hashlib.sha256(b"retrained").hexdigest(), "size": 9}
    assert rows[("meta", "parent")].a is None
    json.dumps(asdict(d), default=str)


# ------------------------------------------------------ promote, gate, rollback


def test_promote_switches_the_pointer_atomically(reg: Registry, src: Path, events: list) -> None:
    add(reg, src)
    add(reg, src)
    switch = reg.promote("1.0.0", reason="initial")
    assert (switch.action, switch.from_version, switch.to_version, switch.forced) == ("promote", None, "1.0.0", False)
    assert os.readlink(reg.pointer) == "../model_registry/1.0.0"
    assert (reg.models_dir / "README.md").read_text() == "production models live here\n"
    prod = reg.load_production()
    assert prod.version == "1.0.0" and prod.path == reg.root / "1.0.0"
    json.dumps([asdict(switch), asdict(prod), asdict(reg.verify("1.0.0"))], default=str)
    assert (reg.pointer / "lstm.pt").read_bytes() == (src / "lstm.pt").read_bytes()
    reg.promote("1.1.0", reason="better")
    assert os.readlink(reg.pointer) == "../model_registry/1.1.0"
    assert sorted(p.name for p in reg.models_dir.iterdir()) == ["README.md", "current"]
    assert [(e.action, e.from_version, e.to_version) for e in events][-2:] == [
        ("promote", None, "1.0.0"), ("promote", "1.0.0", "1.1.0")]
    with pytest.raises(BadInput, match=r"1\.1\.0 is already production"):
        reg.promote("1.1.0")
    with pytest.raises(BadInput, match=r"version 2\.0\.0 is not registered"):
        reg.promote("2.0.0")


def test_promotion_gate_names_the_failing_figure(reg: Registry, src: Path) -> None:
    add(reg, src, metrics={"mae": 3.0, "coverage": 0.95})
    reg.promote("1.0.0")
    add(reg, src, metrics={"mae": 3.4, "coverage": 0.91})
    add(reg, src, metrics={"coverage": 0.96})
    gate = Gate(max_mae=3.2, min_coverage=0.94)
    with pytest.raises(CheckFailed, match=r"mae 3\.4 is above the maximum 3\.2; coverage 0\.91 is below the minimum 0\.94") as err:
        reg.promote("1.1.0", gate=gate)
    assert err.value.exit_code == 1
    with pytest.raises(CheckFailed, match=r"mae is missing from the metrics"):
        reg.promote("1.2.0", gate=gate)
    reg.promote("1.2.0", gate=Gate(min_coverage=0.94))  # only coverage gated
    assert reg.current_version() == "1.2.0"
    switch = reg.promote("1.1.0", gate=gate, force=True, reason="operator override")
    assert switch.forced and len(switch.gate_failures) == 2 and reg.current_version() == "1.1.0"
    last = reg.history()[-1]
    assert last.details == {"force": True, "gate_failures": list(switch.gate_failures)}
    assert last.reason == "operator override"


def test_gate_on_metadata_compares_with_production(reg: Registry, src: Path) -> None:
    reg.promote(add(reg, src, metrics={"mae": 3.0, "coverage": 0.95}))
    add(reg, src, metrics={"mae": 2.8, "coverage": 0.95})
    with pytest.raises(CheckFailed, match=r"mae 2\.8 is not at least 0\.5 below production's 3 \(use force"):
        reg.promote("1.1.0", gate=Gate(min_improvement=0.5))
    assert reg.promote("1.1.0", gate=Gate(max_mae=3.0, min_coverage=0.9, min_improvement=0.1)).to_version == "1.1.0"
    seen = []
    reg.promote("1.0.0", gate=lambda candidate, production: seen.append((candidate.version, production.version))
                or Verdict((), {"figures": [1.5]}))
    assert seen == [("1.0.0", "1.1.0")] and reg.history()[-1].details == {"figures": [1.5]}


def test_rollback_to_previous_steps_back_then_runs_out(reg: Registry, src: Path) -> None:
    for _ in range(3):
        reg.promote(add(reg, src))
    assert reg.previous_version() == "1.1.0"
    switch = reg.rollback(reason="bad night")
    assert (switch.action, switch.from_version, switch.to_version) == ("rollback", "1.2.0", "1.1.0")
    assert os.readlink(reg.pointer) == "../model_registry/1.1.0"
    assert reg.rollback().to_version == "1.0.0"
    with pytest.raises(BadInput, match=r"no earlier production version to roll back to from 1\.0\.0"):
        reg.rollback()
    assert reg.rollback("1.2.0").to_version == "1.2.0"
    assert reg.previous_version() == "1.0.0"
    assert reg.rollback().to_version == "1.0.0"
    with pytest.raises(BadInput, match=r"1\.0\.0 is already production"):
        reg.rollback("1.0.0")
    with pytest.raises(BadInput, match="invalid version 'latest'"):
        reg.rollback("latest")


def test_rollback_without_production(reg: Registry, src: Path) -> None:
    add(reg, src)
    with pytest.raises(BadInput, match="nothing to roll back: no production model set yet"):
        reg.rollback()


def test_rollback_to_a_named_version_restores_a_lost_pointer(reg: Registry, src: Path) -> None:
    reg.promote(add(reg, src))
    reg.promote(add(reg, src))
    reg.pointer.unlink()  # an operator deleted models/current
    assert reg.current_version() is None
    with pytest.raises(BadInput, match="nothing to roll back"):
        reg.rollback()
    switch = reg.rollback("1.0.0")
    assert (switch.from_version, switch.to_version) == (None, "1.0.0")
    assert reg.current_version() == "1.0.0" and reg.load_production().version == "1.0.0"


# ------------------------------------------------------------- integrity


def test_verify_reports_flipped_missing_and_unexpected_files(reg: Registry, src: Path) -> None:
    reg.promote(add(reg, src))
    reg.promote(add(reg, src))
    folder = reg.root / "1.1.0"
    writable(folder)
    writable(folder / "lstm.pt")
    data = bytearray((folder / "lstm.pt").read_bytes())
    data[100] ^= 0x01
    (folder / "lstm.pt").write_bytes(bytes(data))
    (folder / "conformal.json").unlink()
    (folder / "notes.txt").write_text("hi")
    report = reg.verify("1.1.0")
    assert not report.ok
    assert [(p.name, p.problem) for p in report.problems] == [
        ("conformal.json", "missing"), ("lstm.pt", "checksum"), ("notes.txt", "unexpected")]
    assert report.problems[1].expected == hashlib.sha256((src / "lstm.pt").read_bytes()).hexdigest()
    assert [r.ok for r in reg.verify_all()] == [False, True]
    with pytest.raises(BadInput, match=r"version 1\.1\.0 failed verification: .*1\.1\.0/conformal\.json: missing \(\+2 more\)"):
        reg.load_production()
    reg.rollback()
    assert reg.load_production().version == "1.0.0"
    with pytest.raises(BadInput, match="failed verification"):
        reg.promote("1.1.0")
    with pytest.raises(BadInput, match="failed verification"):
        reg.rollback("1.1.0")


def test_truncated_artifact_is_refused_naming_the_file(reg: Registry, src: Path) -> None:
    reg.promote(add(reg, src))
    target = reg.root / "1.0.0" / "dejavu.joblib"
    writable(target)
    size = target.stat().st_size
    with open(target, "r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(BadInput, match=rf"1\.0\.0/dejavu\.joblib: size mismatch \(expected {size}, found {size // 2}\)"):
        reg.load_production()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"version": "1.0.0", "creat', "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[1, 2]", "expected a JSON object"),
        ("drop:files", "missing key 'files'"),
        ("set:metrics=[1]", "'metrics' has the wrong type \\(list\\)"),
        ("set:version=\"2.0.0\"", "does not match its folder"),
        ("set:kind=\"vibes\"", "unknown kind 'vibes'"),
        ("set:created_at=\"yesterday\"", "is not an ISO time"),
        ("set:created_at=\"2024-01-01T00:00:00\"", "has no time zone"),
        ("set:files={\"lstm.pt\": {\"sha256\": \"xyz\", \"size\": 3}}", "sha256 is not a sha256 hex digest"),
        ("delete", "missing"),
    ],
)
def test_broken_metadata_is_bad_input_and_listed_as_broken(
    reg: Registry, src: Path, content: bytes | str, problem: str
) -> None:
    reg.promote(add(reg, src))
    reg.promote(add(reg, src))
    path = reg.root / "1.1.0" / "metadata.json"
    writable(path.parent)
    writable(path)
    if content == "delete":
        path.unlink()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        doc = json.loads(path.read_text())
        op, _, arg = content.partition(":")
        if op == "drop":
            del doc[arg]
        else:
            key, _, value = arg.partition("=")
            doc[key] = json.loads(value)
        path.write_text(json.dumps(doc))
    with pytest.raises(BadInput, match=rf"{re.escape(str(path))}: (.*)?{problem}"):
        reg.show("1.1.0")
    rows = reg.list_versions()
    assert [(r.version, r.status) for r in rows] == [("1.1.0", Status.BROKEN), ("1.0.0", Status.PREVIOUS)]
    assert problem.replace("\\", "") in rows[0].error and str(path) in rows[0].error
    report = reg.verify("1.1.0")
    assert not report.ok and report.problems[0].problem == "metadata"
    with pytest.raises(BadInput, match=rf"failed verification: {re.escape(str(path))}: (.*)?{problem}"):
        reg.load_production()
    assert reg.rollback().to_version == "1.0.0"  # the way out at 2 a.m.
    assert reg.load_production().version == "1.0.0"


def test_broken_pointer_is_bad_input(reg: Registry, src: Path) -> None:
    reg.promote(add(reg, src))
    reg.pointer.unlink()
    os.symlink("../model_registry/3.0.0", reg.pointer)
    with pytest.raises(BadInput, match=r"points to version 3\.0\.0, which does not exist"):
        reg.load_production()
    reg.pointer.unlink()
    reg.pointer.mkdir()
    with pytest.raises(BadInput, match="expected a symlink"):
        reg.current_version()


# ------------------------------------------------------------------- gc


def test_gc_keeps_newest_production_previous_and_protected(reg: Registry, src: Path) -> None:
    for _ in range(6):
        add(reg, src)  # 1.0.0 .. 1.5.0
    reg.promote("1.0.0")
    reg.promote("1.1.0")
    (reg.root / ".tmp-deadbeef").mkdir()
    (reg.root / ".tmp-deadbeef" / "lstm.pt").write_bytes(b"half")
    (reg.root / ".trash-1.0.9-abcd").mkdir()
    assert reg.versions() == ["1.5.0", "1.4.0", "1.3.0", "1.2.0", "1.1.0", "1.0.0"]
    assert all(r.ok for r in reg.verify_all())  # temp folders are not versions
    result = reg.gc(keep=2, protected={"1.2.0"})
    assert result.deleted == ("1.3.0",)
    assert result.kept == ("1.5.0", "1.4.0", "1.2.0", "1.1.0", "1.0.0")
    assert result.cleaned == (".tmp-deadbeef", ".trash-1.0.9-abcd")
    assert sorted(p.name for p in reg.root.iterdir()) == ["1.0.0", "1.1.0", "1.2.0", "1.4.0", "1.5.0", "HISTORY.jsonl"]
    assert reg.gc(keep=0).deleted == ("1.5.0", "1.4.0", "1.2.0")
    assert reg.versions() == ["1.1.0", "1.0.0"]
    assert reg.history()[-1].details["deleted"] == ["1.5.0", "1.4.0", "1.2.0"]
    with pytest.raises(BadInput, match=r"1\.5\.0 already exists or existed"):
        add(reg, src, version="1.5.0")  # a deleted number is never reused
    assert reg.load_production().version == "1.1.0" and reg.rollback().to_version == "1.0.0"
    reg.promote(add(reg, src))
    reg.promote(add(reg, src))  # production 1.7.0, previous 1.6.0
    assert reg.gc(keep=0).deleted == ("1.1.0", "1.0.0")
    assert reg.rollback().to_version == "1.6.0"
    with pytest.raises(BadInput, match=r"previous production version 1\.0\.0 has been deleted; name one"):
        reg.rollback()
    with pytest.raises(BadInput, match="keep must be a non-negative integer"):
        reg.gc(keep=-1)


# ------------------------------------------------ history, events, recovery


def test_every_mutation_is_an_event_and_a_history_line(reg: Registry, src: Path, events: list) -> None:
    add(reg, src, description="first")
    add(reg, src, description="second")
    reg.promote("1.0.0", reason="go")
    reg.promote("1.1.0", reason="better")
    reg.rollback(reason="alert")
    reg.gc(keep=5)
    lines = (reg.root / "HISTORY.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["action"] for r in records] == ["register", "register", "promote", "promote", "rollback", "gc"]
    assert set(records[4]) == {"time", "action", "from_version", "to_version", "reason", "user", "host", "details"}
    assert (records[4]["from_version"], records[4]["to_version"], records[4]["reason"]) == ("1.1.0", "1.0.0", "alert")
    assert records[4]["user"] == "op" and records[4]["host"] == "box"
    assert records[0]["reason"] == "first" and records[0]["details"]["kind"] == "lstm_retrain"
    assert reg.history() == events
    times = [e.time for e in events]
    assert times == sorted(times) and all(t.tzinfo is timezone.utc for t in times)
    json.dumps([asdict(e) for e in events], default=str)


def test_torn_history_line_is_ignored_then_repaired(reg: Registry, src: Path) -> None:
    reg.promote(add(reg, src))
    reg.promote(add(reg, src))
    with open(reg.history_path, "ab") as f:
        f.write(b'{"action": "promote", "from_version": "1.1.0", "to_ver')
    assert len(reg.history()) == 4 and reg.previous_version() == "1.0.0"
    assert [r.status for r in reg.list_versions()] == [Status.PRODUCTION, Status.PREVIOUS]
    reg.rollback()
    lines = reg.history_path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(json.loads(line) for line in lines[:-1])
    assert [e.action for e in reg.history()] == ["register", "promote", "register", "promote", "rollback"]
    with open(reg.history_path, "ab") as f:
        f.write(b"garbage\n")
    with pytest.raises(BadInput, match=r"HISTORY\.jsonl: line 6 is not a JSON object"):
        reg.history()


def test_switch_recorded_but_not_done_is_written_off(reg: Registry, src: Path, events: list) -> None:
    """A crash between the history line and the pointer swap leaves production as it was."""
    reg.promote(add(reg, src))
    reg.promote(add(reg, src))
    add(reg, src)
    record = {"time": "2024-02-01T00:00:00+00:00", "action": "promote", "from_version": "1.1.0",
              "to_version": "1.2.0", "reason": "", "user": "op", "host": "box", "details": {}}
    with open(reg.history_path, "a") as f:
        f.write(json.dumps(record) + "\n")
    assert reg.current_version() == "1.1.0" and reg.previous_version() == "1.0.0"
    assert {r.version: r.status for r in reg.list_versions()}["1.2.0"] is Status.CANDIDATE
    reg.rollback()
    recover = [e for e in reg.history() if e.action == "recover"]
    assert len(recover) == 1 and recover[0].details == {"interrupted_action": "promote", "interrupted_to": "1.2.0"}
    assert (recover[0].from_version, recover[0].to_version) == ("1.1.0", "1.1.0")
    assert "did not complete" in recover[0].reason and events[-2] == recover[0]
    assert reg.current_version() == "1.0.0" and reg.previous_version() is None


def test_naive_clock_is_taken_as_utc(rhome: Path, src: Path) -> None:
    reg = Registry(rhome, clock=lambda: datetime(2024, 5, 1, 12, 0))
    assert reg.register(src, "manual").created_at == datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def test_a_given_time_stamps_the_version_and_the_switches(reg: Registry, src: Path,
                                                          events: list[RegistryEvent]) -> None:
    """Services pass their ``now`` (a simulated one in replay and the demo) instead of the clock."""
    at = datetime(2023, 11, 1, 8, 0, tzinfo=timezone(timedelta(hours=-4)))
    utc = at.astimezone(timezone.utc)
    first = reg.register(src, "train", at=at)
    second = reg.register(make_artifacts(src.parent / "second", seed=1), "manual", at=at + timedelta(days=1))
    promoted = reg.promote(first.version, at=at + timedelta(days=2))
    reg.promote(second.version, at=at + timedelta(days=3))
    back = reg.rollback(at=at + timedelta(days=4))
    assert first.created_at == reg.show(first.version).created_at == utc
    assert reg.show(second.version).created_at == utc + timedelta(days=1)
    assert (promoted.at, back.at) == (utc + timedelta(days=2), utc + timedelta(days=4))
    assert [e.time for e in reg.history()] == [utc + timedelta(days=d) for d in range(5)] == [e.time for e in events]


# ---------------------------------------------------------------- locking


def test_mutations_take_the_injected_lock_and_reads_do_not(rhome: Path, src: Path) -> None:
    log: list[str] = []

    @contextmanager
    def lock():  # noqa: ANN202
        log.append("enter")
        yield
        log.append("exit")

    reg = Registry(rhome, lock=lock)
    reg.promote(reg.register(src, "manual").version)
    assert log == ["enter", "exit", "enter", "exit"]
    for read in (reg.list_versions, reg.verify_all, reg.load_production, reg.history, reg.previous_version):
        read()
    assert len(log) == 4
    assert not (rhome / "locks").exists()


def test_two_processes_serialise_and_a_short_wait_gets_lock_held(rhome: Path, src: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), str(rhome), f"sqlite:///{rhome / 'store.db'}", "0.25", "register", str(src),
         "lstm_retrain"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 10
        while not list((rhome / "model_registry").glob(".tmp-*")):  # the worker is inside the lock
            assert time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.01)
        impatient = Registry(rhome, lock_wait_s=0.2)
        start = time.monotonic()
        with pytest.raises(LockHeld, match="lock .registry. is held by another run") as err:
            impatient.register(src, "recalibration")
        assert err.value.exit_code == 3 and time.monotonic() - start >= 0.2
        assert proc.poll() is None
        patient = Registry(rhome, lock_wait_s=20, user="second")
        info = patient.register(src, "recalibration")
        assert proc.poll() is not None or proc.wait(timeout=5) == 0  # it finished first
        assert proc.returncode == 0 and proc.stdout.read().strip() == "done 1.0.0"
    finally:
        proc.kill()
        proc.wait()
    assert info.version == "1.0.1" and info.created_at > patient.show("1.0.0").created_at
    assert [(e.user, e.to_version) for e in patient.history()][1:] == [("second", "1.0.1")]
    assert patient.history()[0].to_version == "1.0.0"
    assert all(r.ok for r in patient.verify_all())


# ------------------------------------------------------------------ staging leftovers


STAGING_HOLDER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {repo!r})
from nbalife.registry import Registry
with Registry(Path({home!r})).staging(".train-") as folder:
    (folder / "lstm.npz").write_bytes(b"half a model")
    print(folder, flush=True)
    time.sleep(60)
"""


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_staging_left_by_a_killed_train_is_removed_once_stale(rhome: Path, src: Path) -> None:
    reg = Registry(rhome, stale_after_s=30)
    repo = str(Path(__file__).resolve().parents[1])
    proc = subprocess.Popen([sys.executable, "-c", STAGING_HOLDER.format(repo=repo, home=str(rhome))],
                            stdout=subprocess.PIPE, text=True)
    held = Path(proc.stdout.readline().strip())
    try:
        _age(held, 3600)
        assert reg.gc(keep=5).cleaned == ()  # old, but its train is alive: the flock says so
        assert held.is_dir()
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    fresh = rhome / ".retrain-fresh"
    fresh.mkdir()
    assert held.is_dir() and reg.gc(keep=5).cleaned == (held.name,)  # killed: stale, removed
    assert fresh.is_dir()  # unheld but younger than the grace: maybe just being created
    _age(fresh, 31)
    (rhome / ".derive-file").write_text("not a folder")
    assert add(reg, src) == "1.0.0" and not fresh.exists() and (rhome / ".derive-file").exists()


def test_staging_folder_is_removed_after_use_even_on_error(rhome: Path) -> None:
    reg = Registry(rhome)
    with pytest.raises(RuntimeError), reg.staging(".derive-") as folder:
        (folder / "x").write_text("x")
        raise RuntimeError("boom")
    assert not folder.exists()
    with pytest.raises(ValueError):
        reg.staging(".other-").__enter__()
