"""``nbalife metrics report --days 30`` on a 1,000,000-row prediction log, as a whole process,
for three shapes of log:

- ``spread``: games over the last year, arms A and B on every game, a quarter re-predicted;
- ``backfill``: every row written in one batch ten days ago (a season back-filled with
  ``predict --input``): the whole log is in the window, one created_at for all;
- ``repredict50``: each game predicted 50 times (arm A), games over the last year.

Rows carry ``superseded_by`` as the write path keeps it (the next row of the same key).
Builds the log once per shape, size and day (cached under /tmp), then times, median of 3 after one
warm-up run, the CLI (aggregation in SQL) and the reference approach (read the window's rows
into pandas with ``read_sql``, keep the latest row per game, arm and version, compute there),
each in its own process: wall and CPU seconds and peak RSS of that process. Both must give the
same figures. SQLite always; PostgreSQL too with ``--pg URL`` (or ``NBALIFE_TEST_PG_URL``),
loaded with COPY.

Run: ``.venv/bin/python -m benchmarks.bench_metrics [--rows 1000000] [--shapes spread,backfill,repredict50]
[--pg URL]``. Targets: <= 1 s wall and <= 150 MB peak for the CLI, on every shape.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import zoneinfo
from pathlib import Path

from benchmarks.common import print_table, write_json

DAYS_OF_LOG = 365
WINDOW_DAYS = 30
FIGURES = ("n", "mae", "rmse", "bias", "coverage", "mean_width", "dejavu_mae", "lstm_mae", "persistence_mae")
COLUMNS = ("id", "game_id", "arm", "model_version", "forecast", "lower", "upper", "dejavu", "lstm", "d18",
           "created_at", "actual", "error", "resolved_at", "superseded_by")
SHAPES = ("spread", "backfill", "repredict50")
LEAGUE = zoneinfo.ZoneInfo("America/New_York")
DIFFS = [f"d{m}" for m in range(25)]
PG_HOME = Path("/tmp/nbalife-bench-metrics-pg")

REFERENCE = r"""
import json, sys, time
import numpy as np, pandas as pd, sqlalchemy as sa
url, since, until = sys.argv[1:4]
engine = sa.create_engine(url)
query = sa.text("SELECT p.id, p.game_id, p.arm, p.model_version, p.created_at, p.forecast, p.lower, p.upper,"
                " p.dejavu, p.lstm, p.actual, p.error, g.d18 AS game_d18 FROM predictions p"
                " LEFT JOIN games g ON g.game_id = p.game_id"
                " WHERE p.created_at >= :since")
frame = pd.read_sql(query, engine, params={"since": since})
# the row written last counts, even when it was written after the window: keep the latest per key
# among everything since the window's start, then the window
frame = frame.sort_values(["created_at", "id"]).drop_duplicates(["game_id", "arm", "model_version"], keep="last")
frame = frame[frame.actual.notna() & (pd.to_datetime(frame.created_at) < pd.Timestamp(until))]
error = frame.error
out = {"n": len(frame), "mae": error.abs().mean(), "rmse": float(np.sqrt((error ** 2).mean())),
       "bias": error.mean(), "coverage": ((frame.lower <= frame.actual) & (frame.actual <= frame.upper)).mean(),
       "mean_width": (frame.upper - frame.lower).mean(), "dejavu_mae": (frame.actual - frame.dejavu).abs().mean(),
       "lstm_mae": (frame.actual - frame.lstm).abs().mean(),
       "persistence_mae": (frame.actual - frame.game_d18).abs().mean()}
print(json.dumps({k: float(v) for k, v in out.items()}))
"""


def synthetic_log(rows: int, now: dt.datetime, shape: str = "spread", seed: int = 0):  # noqa: ANN201
    """Games and predictions of one shape (see the module doc), the last day's games still
    unresolved (all resolved in ``backfill``); each row's ``superseded_by`` is the id of the next
    row of its (game, arm, version), as ``write_predictions`` keeps it."""
    rng = random.Random(seed)
    per_game = {"spread": 2.25, "backfill": 2.0, "repredict50": 50.0}[shape]
    n_games = int(rows / per_game)
    start = now - dt.timedelta(days=DAYS_OF_LOG)
    batch = now - dt.timedelta(days=10)
    games, predictions = [], []
    last_of: dict[tuple[str, str, str], int] = {}
    for g in range(n_games):
        moment = start + dt.timedelta(seconds=DAYS_OF_LOG * 86400 * g / n_games)
        d18 = round(rng.gauss(0, 9))
        d24 = d18 + round(rng.gauss(0, 5.5))
        game_id = f"B{g:07d}"
        resolved = shape == "backfill" or moment < now - dt.timedelta(days=1)
        games.append((game_id, "2025-26", moment.date().isoformat(), "HOM", "AWA",
                      *([0] * 18), d18, *([d24] * 6), None, moment.strftime("%Y-%m-%d %H:%M:%S.%f")))
        if shape == "spread":
            arms = [("A", "1.0.0"), ("B", "1.1.0")] + ([("A", "1.0.0")] if g % 4 == 0 else [])
        elif shape == "backfill":
            arms = [("A", "1.0.0"), ("B", "1.1.0")]
        else:
            arms = [("A", "1.0.0")] * 50
        for k, (arm, version) in enumerate(arms):
            forecast = d18 + rng.gauss(0, 4.5)
            created = batch if shape == "backfill" else moment + dt.timedelta(seconds=60 * k)
            actual = float(d24) if resolved else None
            row_id = len(predictions) + 1
            key = (game_id, arm, version)
            if key in last_of:
                predictions[last_of[key]][-1] = row_id
            last_of[key] = row_id - 1
            predictions.append([row_id, game_id, arm, version, forecast, forecast - 9, forecast + 9,
                                forecast + rng.gauss(0, 1), forecast + rng.gauss(0, 1), float(d18),
                                created.strftime("%Y-%m-%d %H:%M:%S.%f"), actual,
                                None if actual is None else actual - forecast,
                                created.strftime("%Y-%m-%d %H:%M:%S.%f") if resolved else None, None])
            if len(predictions) == rows:
                return games, [tuple(p) for p in predictions]
    return games, [tuple(p) for p in predictions]


def nbalife(home: Path, *args: str, db: str | None = None) -> list[str]:
    return [sys.executable, "-m", "nbalife", "--home", str(home), *(["--db", db] if db else []), *args]


def create_store(home: Path, db: str | None) -> None:
    """An empty store at the code's schema, made by the CLI itself."""
    proc = subprocess.run(nbalife(home, "db", "upgrade", db=db), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)


def sqlite_store(rows: int, now: dt.datetime, shape: str) -> tuple[Path, Path]:
    """The cached SQLite home with ``rows`` predictions of ``shape`` ending today (built if missing, upgraded)."""
    home = Path("/tmp") / f"nbalife-bench-metrics-{shape}-{rows}-{now:%Y%m%d}"
    database = home / "nbalife.db"
    home.mkdir(exist_ok=True)
    ready = (home / "ready").is_file()
    if not ready:
        database.unlink(missing_ok=True)
    create_store(home, None)  # a cached store is upgraded to the code's schema
    if ready:
        return home, database
    games, predictions = synthetic_log(rows, now, shape)
    with sqlite3.connect(database) as conn:
        conn.executemany(f"INSERT INTO games (game_id, season, game_date, home, away, {', '.join(DIFFS)}, "
                         f"final_diff, ingested_at) VALUES ({', '.join('?' * 32)})", games)
        conn.executemany(f"INSERT INTO predictions ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                         predictions)
        conn.execute("ANALYZE")
    (home / "ready").write_text(str(rows))
    return home, database


def pg_store(url: str, rows: int, now: dt.datetime, shape: str) -> None:
    """Load the same synthetic log into PostgreSQL at ``url`` with COPY (every table there replaced),
    unless this size was loaded there today (then only upgraded)."""
    import psycopg
    from sqlalchemy import MetaData, create_engine
    from sqlalchemy.engine import make_url

    PG_HOME.mkdir(exist_ok=True)
    marker, loaded = PG_HOME / "ready", f"{url} {shape} {rows} {now:%Y%m%d}"
    if marker.is_file() and marker.read_text() == loaded:
        create_store(PG_HOME, url)
        return
    marker.unlink(missing_ok=True)
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    engine = create_engine(url)
    existing = MetaData()
    existing.reflect(engine)
    existing.drop_all(engine)
    engine.dispose()
    create_store(PG_HOME, url)
    games, predictions = synthetic_log(rows, now, shape)
    with psycopg.connect(plain) as conn:
        with conn.cursor().copy(f"COPY games (game_id, season, game_date, home, away, {', '.join(DIFFS)}, "
                                "final_diff, ingested_at) FROM STDIN") as copy:
            for row in games:
                copy.write_row(row)
        with conn.cursor().copy(f"COPY predictions ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in predictions:
                copy.write_row(row)
        conn.execute("SELECT setval(pg_get_serial_sequence('predictions', 'id'), (SELECT max(id) FROM predictions))")
        conn.commit()
        conn.execute("ANALYZE")
    marker.write_text(loaded)


MEASURE = r"""
import json, resource, subprocess, sys, time
started = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak": usage.ru_maxrss / 1024,
                  "rc": proc.returncode, "out": proc.stdout, "err": proc.stderr}))
"""


def measure(command: list[str]) -> tuple[float, float, float, str]:
    """Wall and CPU seconds and peak RSS (MB) of one run of ``command`` (a wrapper's only child), and
    its stdout. CPU time is the steadier figure on a shared machine. Bytecode caching is on, as in
    an installed nbalife (a ``PYTHONDONTWRITEBYTECODE`` environment would recompile every module)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    wrapper = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, check=True,
                             env=env)
    result = json.loads(wrapper.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"{' '.join(command[:6])} … failed: {result['err'][-2000:]}")
    return result["wall"], result["cpu"], result["peak"], result["out"]


def db_time(moment: dt.datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def league_midnight(day: dt.date) -> str:
    """The UTC instant a league day starts, as the store writes times."""
    return db_time(dt.datetime.combine(day, dt.time(), LEAGUE).astimezone(dt.timezone.utc))


def same_figures(home: Path, url: str, db: str | None, now: dt.datetime) -> dict:
    """The CLI and the reference on whole league days (the 30 days before today): identical figures."""
    today = now.astimezone(LEAGUE).date()
    first, last = today - dt.timedelta(days=WINDOW_DAYS), today - dt.timedelta(days=1)
    *_, out = measure(nbalife(home, "--json", "metrics", "report", "--since", str(first), "--until", str(last),
                                db=db))
    mine = json.loads(out)["total"]
    *_, out = measure([sys.executable, "-c", REFERENCE, url, league_midnight(first),
                       league_midnight(last + dt.timedelta(days=1))])
    theirs = json.loads(out)
    if not all(abs(mine[k] - theirs[k]) <= 1e-9 * max(1.0, abs(theirs[k])) for k in FIGURES):
        raise SystemExit(f"figures differ: cli {mine} vs pandas {theirs}")
    return mine


def compare(backend: str, shape: str, home: Path, url: str, db: str | None, repeats: int) -> dict:
    """Median wall and peak RSS, whole process, of the CLI and of the pandas reference on one store."""
    checked = same_figures(home, url, db, dt.datetime.now(dt.timezone.utc))
    results = {}
    for name in ("cli", "pandas"):
        walls, cpus, peaks, output = [], [], [], ""
        for attempt in range(repeats + 1):  # the first run warms caches and is not counted
            now = dt.datetime.now(dt.timezone.utc)
            command = (nbalife(home, "--json", "metrics", "report", "--days", str(WINDOW_DAYS), db=db)
                       if name == "cli" else
                       [sys.executable, "-c", REFERENCE, url, db_time(now - dt.timedelta(days=WINDOW_DAYS)),
                        db_time(now)])
            wall, cpu, peak, output = measure(command)
            if attempt == 0:
                continue
            walls.append(wall)
            cpus.append(cpu)
            peaks.append(peak)
        figures = json.loads(output)
        results[name] = {"wall_s": statistics.median(walls), "walls_s": walls, "cpu_s": statistics.median(cpus),
                         "peak_mb": statistics.median(peaks),
                         "n": figures["total"]["n"] if name == "cli" else figures["n"]}
    return {"backend": backend, "shape": shape, "checked_figures": checked, **results,
            "ratio_wall": results["pandas"]["wall_s"] / results["cli"]["wall_s"],
            "ratio_cpu": results["pandas"]["cpu_s"] / results["cli"]["cpu_s"],
            "ratio_peak": results["pandas"]["peak_mb"] / results["cli"]["peak_mb"]}


def fixed_cost(repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of the CLI on an empty SQLite store: start-up, imports, the store
    check and one empty query; the rest of a run is the aggregation."""
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        create_store(home, None)
        runs = [measure(nbalife(home, "--json", "metrics", "report", "--days", str(WINDOW_DAYS)))
                for _ in range(repeats + 1)][1:]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("NBALIFE_TEST_PG_URL"), help="PostgreSQL URL (optional)")
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated, of {', '.join(SHAPES)}")
    args = parser.parse_args()
    shapes = [shape for shape in args.shapes.split(",") if shape]
    if any(shape not in SHAPES for shape in shapes):
        raise SystemExit(f"--shapes: use {', '.join(SHAPES)}")
    now = dt.datetime.now(dt.timezone.utc)
    runs = []
    for shape in shapes:
        started = time.perf_counter()
        home, database = sqlite_store(args.rows, now, shape)
        print(f"SQLite log ({shape}) ready in {time.perf_counter() - started:.1f} s: {database}")
        runs.append(compare("sqlite", shape, home, f"sqlite:///{database}", None, args.repeats))
        if args.pg:
            started = time.perf_counter()
            pg_store(args.pg, args.rows, now, shape)
            print(f"PostgreSQL log ({shape}) loaded in {time.perf_counter() - started:.1f} s")
            runs.append(compare("postgresql", shape, PG_HOME, args.pg, args.pg, args.repeats))
    startup, startup_cpu = fixed_cost(args.repeats)
    rows = []
    for run in runs:
        for name in ("cli", "pandas"):
            rows.append((run["shape"], run["backend"], name, run[name]["n"], run[name]["wall_s"], run[name]["cpu_s"],
                         run[name]["peak_mb"]))
        rows.append((run["shape"], run["backend"], "pandas / cli", "-", run["ratio_wall"], run["ratio_cpu"],
                     run["ratio_peak"]))
    rows.append(("-", "sqlite", "cli on an empty store (fixed cost)", 0, startup, startup_cpu, "-"))
    print_table(f"metrics report --days {WINDOW_DAYS} on {args.rows:,} logged predictions (median of {args.repeats})",
                ["shape", "backend", "approach", "counted rows", "wall s", "CPU s", "peak MB"], rows)
    write_json("metrics", {"rows": args.rows, "shapes": shapes, "window_days": WINDOW_DAYS, "repeats": args.repeats,
                           "targets": {"wall_s": 1.0, "peak_mb": 150}, "runs": runs, "empty_store_wall_s": startup,
                           "empty_store_cpu_s": startup_cpu, "load_average": os.getloadavg()})


if __name__ == "__main__":
    main()
