"""Crash tests: SIGKILL real processes at random points of every mutating command.

``registry_crash_worker.py`` runs either a registry mutation (register, promote, rollback, gc)
on the registry the commands use, with ``fault_delay_s`` sleeps between its steps so a kill
after a seeded random delay lands between any two of them, the store upgrade that imports a
folder registry, or a whole ``nbalife`` command line in process once its modules are loaded.
After every run, killed or not: the store's pointer, its history of switches and the lifecycle
events agree; every version verifies; production is the old or the new version, loads here and
on a fresh home; `previous` matches the promotions that really happened.

``NBALIFE_CRASH_KILLS`` multiplies the number of kills (default 1).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from nbalife.config import Settings
from nbalife.registry import Registry
from nbalife.services.registry import open_registry
from nbalife.store import migrate
from nbalife.store.events import list_events
from tests.conftest import TINY_MODELS, drop_store, install_production
from tests.test_registry import make_artifacts

WORKER = Path(__file__).with_name("registry_crash_worker.py")
SEED = 20240414
FAULT_DELAY_S = 0.01
SCALE = int(os.environ.get("NBALIFE_CRASH_KILLS", "1"))
KILLS = 20 * SCALE  # per backend, registry operations
WINDOW_S = {"register": 0.12, "promote": 0.09, "rollback": 0.09, "gc": 0.06}  # ~ op duration
KINDS = ("recalibration", "dejavu_update", "lstm_retrain", "manual")
TINY_ENV = {f"NBALIFE_{key.replace('.', '__').upper()}": str(value) for key, value in TINY_MODELS.items()}


def _settle(stack: list[str], version: str) -> None:
    if version in stack:
        del stack[len(stack) - stack[::-1].index(version):]
    else:
        stack.append(version)


def _run_and_kill(home: Path, db_url: str, delay: float, op: str, *args: str, env: dict | None = None) -> int:
    """Start the worker, kill it ``delay`` s after it is ready; its return code (-9: killed)."""
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), str(home), db_url, str(FAULT_DELAY_S), op, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
    )
    assert proc.stdout.readline().strip() == "ready", proc.communicate()[1]
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate()
    assert "Traceback" not in err, f"{op} {args}: {err}"
    return proc.returncode


def check_store(home: Path, engine, fresh: Path, *, events_since_import: bool = True) -> Registry:  # noqa: ANN001
    """The invariants that need no history of the run; returns the home's registry. An imported
    registry's events were written by the folder era (none in these tests' stores)."""
    registry = open_registry(home, engine, Settings())
    history = registry.history()
    everything = registry.list_versions()
    if events_since_import:
        with engine.connect() as conn:
            events = list_events(conn, limit=10**6)
        switched = Counter((e.at, e.version) for e in events if e.kind in ("promote", "rollback") and e.outcome == "ok")
        assert switched == Counter((h.at, h.to_version) for h in history)
        registered = Counter(e.version for e in events if e.kind == "register")
        assert registered == Counter(r.version for r in everything)
        gc_deleted = {v for e in events if e.kind == "gc" for v in e.details["deleted"]}
        assert {r.version for r in everything if r.status.value == "deleted"} == gc_deleted
    current = registry.current_version()
    assert current == (history[-1].to_version if history else None)
    assert [r.version for r in everything if r.status.value == "production"] == ([current] if current else [])
    assert all(r.ok for r in registry.verify_all()), [r for r in registry.verify_all() if not r.ok]
    if current is not None:
        production = registry.load_production()
        assert production.version == current and os.readlink(registry.pointer) == f"../model_registry/{current}"
        elsewhere = Registry(fresh, engine).load_production()  # a host with an empty home
        assert elsewhere.version == current and (elsewhere.path / "metadata.json").is_file()
    return registry


@pytest.mark.slow
def test_sigkill_of_registry_operations(tmp_path: Path, db_url: str, engine) -> None:  # noqa: ANN001
    rng = random.Random(SEED)
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    (home / "models" / "README.md").write_text("production models live here\n")
    sources = [make_artifacts(tmp_path / f"src{i}", seed=i) for i in range(3)]
    reg = open_registry(home, engine, Settings())
    reg.register(sources[0], "lstm_retrain")
    reg.promote("1.0.0")
    for src in sources[1:]:
        reg.register(src, "lstm_retrain")
    reg.promote("1.1.0")
    stack = ["1.0.0", "1.1.0"]  # the production history that really happened
    tally: Counter[tuple[str, str]] = Counter()
    kills = runs = 0
    while kills < KILLS:
        runs += 1
        assert runs < 4 * KILLS, f"only {kills} kills in {runs} runs: windows too short"
        old, versions = reg.current_version(), reg.versions()
        op = rng.choices(("register", "promote", "rollback", "gc"), weights=(4, 4, 4, 1))[0]
        args: list[str] = []
        target = None
        if op == "register":
            args = [str(rng.choice(sources)), rng.choice(KINDS)]
        elif op == "promote" or (
            op == "rollback" and (len(stack) < 2 or stack[-2] not in versions or rng.random() < 0.4)
        ):
            target = rng.choice([v for v in versions if v != old])
            args = [target, "force"] if op == "promote" else [target]
        elif op == "rollback":
            target = stack[-2]
        else:
            args = ["4"]
        code = _run_and_kill(home, db_url, rng.uniform(0, WINDOW_S[op]), op, *args)
        served = {h.to_version for h in reg.history()} | {h.from_version for h in reg.history()}
        refused = op == "rollback" and target not in served  # a version that never served: exit 2
        assert code in ((2, -signal.SIGKILL) if refused else (0, -signal.SIGKILL)), f"{op} {args}: exit {code}"
        killed = code == -signal.SIGKILL
        kills += killed

        reg = check_store(home, engine, tmp_path / f"fresh{runs}")
        current = reg.current_version()
        if target is None:  # register / gc never move production
            assert current == old
            changed = reg.versions() != versions
        else:
            assert current in (old, target), (op, old, target, current)
            changed = current == target
            if changed:
                stack.append(target) if op == "promote" else _settle(stack, target)
        assert reg.previous_version() == (stack[-2] if len(stack) > 1 else None)
        if killed:
            tally[(op, "new" if changed else "old")] += 1
        elif refused:
            assert not changed
            tally[(op, "refused")] += 1
        else:
            assert changed or op == "gc", f"{op} {args} completed without effect"
            tally[(op, "completed")] += 1

    result = reg.gc(keep=3)
    assert all(r.ok for r in reg.verify_all())
    assert reg.load_production().version == stack[-1]
    assert not [p.name for p in reg.root.iterdir() if p.name.startswith((".tmp-", ".trash-"))]
    summary = ", ".join(f"{op} {outcome}: {n}" for (op, outcome), n in sorted(tally.items()))
    print(f"\n{engine.url.get_backend_name()}: {kills} kills in {runs} runs; {summary}; "
          f"final gc deleted {len(result.deleted)}")
    assert tally[("promote", "old")] + tally[("rollback", "old")] > 0  # kills before the swap
    assert tally[("promote", "new")] + tally[("rollback", "new")] > 0  # and after it


# about the seconds from ``ready`` to the end of each command (kills fall in [0, this])
COMMANDS = {
    "register": 2.0, "promote": 2.5, "rollback": 2.0, "gc": 1.5, "train": 8.0, "ingest": 1.5,
    "outcomes": 0.5, "conformal": 1.0, "dejavu": 1.5, "abtest start": 1.0, "abtest advance": 1.0,
    "abtest stop": 0.5,
}
# each command line starts a whole process: PostgreSQL too once NBALIFE_CRASH_KILLS asks for more
CLI_BACKENDS = ("sqlite", "postgresql") if SCALE > 1 else ("sqlite",)


def _command(name: str, registry: Registry, folder: Path, games: Path) -> list[str]:
    current = registry.current_version()
    other = next((v for v in registry.versions() if v != current), current)
    return {
        "register": ["registry", "register", "--from", str(folder), "--kind", "lstm_retrain"],
        "promote": ["registry", "promote", other, "--force", "--reason", "crash test"],
        "rollback": ["registry", "rollback", "--reason", "crash test"],
        "gc": ["registry", "gc", "--keep", "3"],
        "train": ["train", "--games", str(games), "--register", "--promote"],
        "ingest": ["data", "ingest", str(games)],
        "outcomes": ["outcomes", "sync"],
        "conformal": ["conformal", "check", "--apply"],
        "dejavu": ["dejavu", "update"],
        "abtest start": ["abtest", "start", "--candidate", other, "--mode", "shadow"],
        "abtest advance": ["abtest", "advance"],
        "abtest stop": ["abtest", "stop", "--reason", "crash test"],
    }[name]


@pytest.fixture(params=CLI_BACKENDS)
def cli_engine(request: pytest.FixtureRequest, tmp_path: Path):  # noqa: ANN201
    """A fresh store for the command-line crash test (see CLI_BACKENDS)."""
    from nbalife.store.engine import make_engine
    from nbalife.store.migrate import open_store

    url = f"sqlite:///{tmp_path / 'crash.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    if request.param == "postgresql":
        drop_store(engine)
    open_store(engine)
    yield engine
    engine.dispose()


@pytest.mark.slow
def test_sigkill_of_every_mutating_command(tmp_path: Path, home: Path, cli_engine, tiny_model_set,
                                           repo_data: Path) -> None:  # noqa: ANN001
    from nbalife.interchange import load_games, write_games

    engine = cli_engine
    rng = random.Random(SEED + 1)
    games = load_games(repo_data / "nba_2021-22.csv")[:240].copy()
    today = dt.date.today()
    games["game_date"] = [(today - dt.timedelta(days=60 - i // 4)).isoformat() for i in range(len(games))]
    games_file = write_games(games, tmp_path / "games.csv")
    install_production(home, engine, tiny_model_set)
    env = {**TINY_ENV, "NBALIFE_DEJAVU__AUTO_PROMOTE": "true", "NBALIFE_CONFORMAL__AUTO_APPLY": "true"}
    tally: Counter[tuple[str, str]] = Counter()
    for name in [n for _ in range(SCALE) for n in COMMANDS]:
        registry = Registry(home, engine)
        before = (registry.current_version(), registry.versions())
        for attempt in range(3):  # a run that finished before its kill is checked too, then tried sooner
            args = _command(name, registry, tiny_model_set.folder, games_file)
            delay = rng.uniform(0, COMMANDS[name]) / 2 ** attempt
            code = _run_and_kill(home, engine.url.render_as_string(hide_password=False), delay, "cli", *args, env=env)
            assert code in (0, 1, 2, -signal.SIGKILL), f"{args}: exit {code}"
            registry = check_store(home, engine, tmp_path / f"fresh-{name}-{sum(tally.values())}")
            after = (registry.current_version(), registry.versions())
            outcome = "killed" if code == -signal.SIGKILL else f"exit {code}"
            tally[(name, f"{outcome}, {'changed' if after != before else 'unchanged'}")] += 1
            if code == -signal.SIGKILL:
                break
            before = after
    kills = sum(n for (_, outcome), n in tally.items() if outcome.startswith("killed"))
    summary = "; ".join(f"{name} {outcome}: {n}" for (name, outcome), n in sorted(tally.items()))
    print(f"\n{engine.url.get_backend_name()}: {kills} kills in {sum(tally.values())} runs; {summary}")
    assert kills >= len(COMMANDS) // 2


def folder_registry(home: Path, sources: list[Path]) -> list[str]:
    """A registry as the folder era wrote it: version folders with metadata.json, HISTORY.jsonl and
    models/current (1.0.0 promoted, then 1.1.0; 1.2.0 a candidate; 1.0.1 deleted by gc)."""
    root = home / "model_registry"
    versions = ["1.0.0", "1.1.0", "1.2.0"]
    lines = []
    for number, (version, src) in enumerate(zip(versions, sources)):
        folder = root / version
        folder.mkdir(parents=True)
        files = {}
        for path in sorted(src.iterdir()):
            data = path.read_bytes()
            (folder / path.name).write_bytes(data)
            files[path.name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        at = f"2024-01-0{number + 1}T12:00:00+00:00"
        (folder / "metadata.json").write_text(json.dumps({
            "version": version, "created_at": at, "parent": None if version == "1.0.0" else "1.0.0",
            "description": f"set {version}", "kind": "train" if version == "1.0.0" else "lstm_retrain",
            "metrics": {"mae": 4.0 + number}, "params": {}, "training_window": {"last_date": "2023-12-31"},
            "nbalife_version": "0.1.0", "files": files}))
        lines.append({"time": at, "action": "register", "from_version": None, "to_version": version,
                      "reason": "", "user": "op", "host": "box", "details": {"kind": "lstm_retrain"}})
    lines[1:1] = [{"time": "2024-01-01T13:00:00+00:00", "action": "register", "from_version": "1.0.0",
                   "to_version": "1.0.1", "reason": "recal", "user": "op", "host": "box",
                   "details": {"kind": "recalibration", "metrics": {"mae": 4.2}}}]
    lines += [
        {"time": "2024-01-04T12:00:00+00:00", "action": "promote", "from_version": None, "to_version": "1.0.0",
         "reason": "first", "user": "op", "host": "box", "details": {}},
        {"time": "2024-01-05T12:00:00+00:00", "action": "gc", "from_version": None, "to_version": None,
         "reason": "keep 5", "user": "op", "host": "box", "details": {"deleted": ["1.0.1"]}},
        {"time": "2024-01-06T12:00:00+00:00", "action": "promote", "from_version": "1.0.0", "to_version": "1.1.0",
         "reason": "better", "user": "op", "host": "box", "details": {}},
    ]
    (root / "HISTORY.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"torn')
    (home / "models").mkdir()
    os.symlink("../model_registry/1.1.0", home / "models" / "current")
    return versions


@pytest.mark.slow
def test_sigkill_of_the_import_leaves_the_store_before_or_after_it(tmp_path: Path, db_url: str) -> None:
    from nbalife.store.engine import make_engine

    rng = random.Random(SEED + 2)
    home = tmp_path / "home"
    sources = [make_artifacts(tmp_path / f"src{i}", seed=i) for i in range(3)]
    folder_registry(home, sources)
    engine = make_engine(db_url)
    outcomes: Counter[str] = Counter()
    for run in range(6):
        drop_store(engine)
        with migrate.schema_transaction(engine) as conn:
            migrate.migrate(conn, "0003")
        code = _run_and_kill(home, db_url, rng.uniform(0, 1.5), "upgrade")
        assert code in (0, -signal.SIGKILL)
        revision = migrate.revision_of(engine).current
        assert revision in ("0003", migrate.head()), revision
        outcomes[f"{'killed' if code else 'done'} at {revision}"] += 1
        if revision == "0003":  # nothing half-imported: the next upgrade does it all
            assert _run_and_kill(home, db_url, 60, "upgrade") == 0
        registry = check_store(home, engine, tmp_path / f"fresh{run}", events_since_import=False)
        assert registry.current_version() == "1.1.0" and registry.previous_version() == "1.0.0"
        assert registry.show("1.0.1").tombstone == "deleted by gc on 2024-01-05"
        assert {r.version: r.status.value for r in registry.list_versions()} == {
            "1.2.0": "candidate", "1.1.0": "production", "1.0.1": "deleted", "1.0.0": "previous"}
        assert registry.load_production().path.joinpath("lstm.pt").read_bytes() == (sources[1] / "lstm.pt").read_bytes()
    engine.dispose()
    print(f"\nimport: {dict(outcomes)}")
