"""The registry in the store: what a model set weighs, what a host pays to materialise one on an
empty home, what a command pays when its local copy is current, and how the store grows per version.

A model set of the default configuration (Dejavu window, LSTM size) is trained on the three bundled
real seasons 2020-21 to 2022-23 with ``lstm.epochs 1`` (file sizes do not depend on how long the LSTM trains), then
registered and promoted in a store. Measured in process, each figure the median of ``--repeat``:

- materialise: ``Registry(empty home).load_production()`` on a new empty home each time (queries,
  fetch of every artifact, sha256 of each, files written and renamed into place, link);
- current copy: the same call on a home whose copy is current (queries, sha256 of the local files),
  and apart: the store queries of ``show(current_version())`` and the hashing of the local files;
- growth: the store's artifact bytes (and, on SQLite, the database file) after registering
  ``--versions`` recalibrations and as many LSTM retrains (distinct files each), per version.

``--db URL`` adds a second store (e.g. PostgreSQL) to SQLite. The CLI comparison with an earlier
nbalife (``registry list``, ``status``, ``predict``) is a whole-process timing of two checkouts,
made outside this script; README gives the figures and the commands.

Run: ``.venv/bin/python benchmarks/bench_registry.py [--db postgresql+psycopg://...]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import print_table, write_json
from nbalife.config import load_settings
from nbalife.interchange import load_games
from nbalife.registry import Registry, local
from nbalife.services.train import train
from nbalife.store.engine import make_engine
from nbalife.store.migrate import open_store

REPO = Path(__file__).resolve().parents[1]
SEASONS = ("nba_2020-21.csv", "nba_2021-22.csv", "nba_2022-23.csv")


def median_s(work, repeat: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def model_set(folder: Path) -> dict[str, int]:
    """Train a default-configuration model set into ``folder``; its file sizes."""
    import pandas as pd

    settings = load_settings(None, environ={}, overrides={"lstm.epochs": 1}).settings
    games = pd.concat([load_games(REPO / "data" / "nba" / name) for name in SEASONS], ignore_index=True)
    train(games, settings=settings, now=dt.datetime(2022, 6, 1, tzinfo=dt.timezone.utc), out=folder)
    return {p.name: p.stat().st_size for p in sorted(folder.iterdir())}


def sqlite_bytes(engine) -> int:  # noqa: ANN001
    """The SQLite database file's size once its write-ahead log is checkpointed into it."""
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return Path(engine.url.database).stat().st_size


def variant(source: Path, target: Path, part: str, seed: int) -> Path:
    """A copy of the set with one part changed (distinct bytes, as a new fit would have)."""
    shutil.copytree(source, target)
    if part == "conformal":
        path = target / "conformal.json"
        doc = json.loads(path.read_text())
        doc["scores"] = [s * (1 + 0.001 * seed) for s in doc["scores"]]
        path.write_text(json.dumps(doc))
    else:
        path = target / "lstm.npz"
        with np.load(path) as saved:
            arrays = {name: saved[name] * (1 + 0.001 * seed) for name in saved.files}
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)
    return target


def measure(url: str, folder: Path, work: Path, repeat: int, versions: int) -> dict:
    engine = make_engine(url)
    open_store(engine)
    home = work / "home"
    registry = Registry(home, engine)
    production = registry.register(folder, "train").version
    registry.promote(production)
    empty = iter(range(10**6))
    materialise = median_s(lambda: Registry(work / f"empty{next(empty)}", engine).load_production(), repeat)
    registry.load_production()
    current = median_s(registry.load_production, repeat)
    queries = median_s(lambda: registry.show(registry.current_version()), repeat)
    info = registry.current()
    hashing = median_s(lambda: local.folder_problems(info, info.path), repeat)
    before = registry.store_size()[1]
    db_file = Path(engine.url.database) if engine.url.get_backend_name() == "sqlite" else None
    file_before = sqlite_bytes(engine) if db_file else None
    recal_bytes, retrain_bytes = [], []
    for i in range(versions):
        size = registry.store_size()[1]
        registry.register(variant(folder, work / f"recal{i}", "conformal", i + 1), "recalibration", base=production)
        recal_bytes.append(registry.store_size()[1] - size)
        size = registry.store_size()[1]
        registry.register(variant(folder, work / f"retrain{i}", "lstm", i + 1), "lstm_retrain", base=production)
        retrain_bytes.append(registry.store_size()[1] - size)
    file_growth = (sqlite_bytes(engine) - file_before) / (2 * versions) if db_file else None
    backend = engine.url.get_backend_name()
    engine.dispose()
    return {"backend": backend, "materialise_s": materialise, "current_s": current, "current_queries_s": queries,
            "current_hashing_s": hashing, "first_version_bytes": before,
            "recalibration_bytes": statistics.mean(recal_bytes), "lstm_retrain_bytes": statistics.mean(retrain_bytes),
            "sqlite_file_bytes_per_version": file_growth}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", action="append", default=[], help="another store URL (e.g. PostgreSQL; emptied first)")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--versions", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folder = work / "set"
        sizes = model_set(folder)
        results = []
        for n, url in enumerate([f"sqlite:///{work / 'bench.db'}", *args.db]):
            if not url.startswith("sqlite"):
                from nbalife.store.schema import metadata

                engine = make_engine(url)
                metadata.drop_all(engine)
                with engine.begin() as conn:
                    conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
                engine.dispose()
            (work / f"run{n}").mkdir()
            results.append(measure(url, folder, work / f"run{n}", args.repeat, args.versions))
    total = sum(sizes.values())
    print_table("Model set (default configuration)", ["file", "bytes"], [*sizes.items(), ("total", total)])
    print_table("Registry in the store (median seconds; bytes per version)",
                ["backend", "materialise empty home", "current copy", "queries", "hashing",
                 "first set bytes", "recalibration bytes", "lstm retrain bytes", "sqlite file bytes/version"],
                [(r["backend"], r["materialise_s"], r["current_s"], r["current_queries_s"], r["current_hashing_s"],
                  r["first_version_bytes"], r["recalibration_bytes"], r["lstm_retrain_bytes"],
                  r["sqlite_file_bytes_per_version"] or "-") for r in results])
    write_json("registry", {"model_set_bytes": sizes, "model_set_total_bytes": total, "repeat": args.repeat,
                            "versions": args.versions, "results": results})


if __name__ == "__main__":
    main()
