"""`replay --fault`: each fault kind on each of the developers' real seasons (data/nba/), with the
shipped defaults; the season replayed once without faults (its false alarms, and the damage's
baseline) and once per fault. Prints the table and writes benchmarks/results/bench_faults.json
(rewritten after every run, so an interrupted run keeps what it measured).

Run: ``.venv/bin/python -m benchmarks.bench_faults [--season 2022-23] [--kind bad-model]``
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import time
from pathlib import Path

from benchmarks.common import print_table, write_json
from nbalife.config import load_settings
from nbalife.services.faults import baseline_run
from nbalife.services.replay import load_season_files, replay, split_window

DATA = Path(__file__).resolve().parents[1] / "data" / "nba"
# season -> (files, the team whose feed is swapped: the previous season's strongest by margin)
SEASONS = {
    "2022-23": ([DATA / "nba_2020-21.csv", DATA / "nba_2021-22.csv", DATA / "nba_2022-23.csv"], "PHX"),
    "2021-22": ([DATA / "nba_2020-21.csv", DATA / "nba_2021-22.csv"], "UTA"),
}
TARGETS = {
    "bad-model": "caught and rolled back within 3 game nights",
    "outcomes-stop": "alerted within 1 day of the first missing result",
    "job-stop": "alerted within 1 day of the first missing run",
    "variance": "coverage of the next 200 games in 0.93-0.97, no person needed",
    "bias": "flagged within 15 of the team's games",
    "stale-model": "(no target) alerted",
}


def specs(first: dt.date, team: str) -> dict[str, str]:
    """The faults of one season, dated from its first replayed day."""
    day = lambda days: (first + dt.timedelta(days=days)).isoformat()  # noqa: E731
    return {"bad-model": f"bad-model@{day(45)}", "outcomes-stop": f"outcomes-stop@{day(60)}:3",
            "job-stop": f"job-stop@{day(75)}:conformal-check", "variance": f"variance@{day(30)}:1.3",
            "bias": f"bias@{day(40)}:{team}", "stale-model": f"stale-model@{day(90)}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--season", action="append", choices=sorted(SEASONS), help="default: all")
    parser.add_argument("--kind", action="append", choices=sorted(TARGETS), help="default: all")
    args = parser.parse_args()
    settings = load_settings(None, environ={}).settings
    payload: dict = {"settings": dataclasses.asdict(settings), "seasons": {}}
    table_rows = []
    for season in args.season or list(SEASONS):
        files, team = SEASONS[season]
        games = load_season_files(files)
        training, replayed = split_window(games, None, None, None)
        first = dt.date.fromisoformat(replayed["game_date"].iloc[0])
        started = time.perf_counter()
        baseline = baseline_run(training, replayed, settings, "split")
        entry = {"baseline_seconds": time.perf_counter() - started, "false_alarms": [
            dataclasses.asdict(a) for a in baseline.false_alarms], "faults": []}
        payload["seasons"][season] = entry
        print(f"{season}: no faults, {len(baseline.false_alarms)} guardrail alerts "
              f"({entry['baseline_seconds']:.0f} s)", flush=True)
        for alarm in baseline.false_alarms:
            print(f"  false alarm: {alarm.guardrail} {alarm.first_at:%Y-%m-%d} x{alarm.checks} {alarm.detail}")
        write_json("bench_faults", payload)
        nights = sorted(set(replayed["game_date"]))
        for kind, spec in specs(first, team).items():
            if args.kind and kind not in args.kind:
                continue
            started = time.perf_counter()
            result = replay(files, settings=settings, faults=[spec], baseline=baseline)
            (row,) = result.faults
            game_nights = None if row.detected_at is None else sum(
                1 for d in nights if row.injected_at.date().isoformat() <= d < row.detected_at.date().isoformat())
            entry["faults"].append({**dataclasses.asdict(row), "game_nights_to_detect": game_nights,
                                    "target": TARGETS[kind], "seconds": time.perf_counter() - started,
                                    "coverage_next_200": _next_200(result, row) if kind == "variance" else None})
            write_json("bench_faults", payload)
            d = row.damage
            table_rows.append([season, spec, row.detected_by, row.games_to_detect, game_nights,
                               None if row.days_to_detect is None else round(row.days_to_detect, 2), row.action,
                               None if row.recovered_at is None else f"{row.recovered_at:%Y-%m-%d}", d.games,
                               d.mae, d.baseline_mae, d.coverage, d.baseline_coverage])
            print(f"  {spec}: {row.detected_by} after {row.games_to_detect} games, {row.days_to_detect} days "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
    print_table("Faults on the real seasons (shipped defaults)",
                ["season", "fault", "detected by", "games", "nights", "days", "action", "recovered", "games hit",
                 "MAE", "MAE without", "coverage", "coverage without"], table_rows)
    write_json("bench_faults", payload)


def _next_200(result, row) -> float | None:  # noqa: ANN001
    """About the coverage of the 200 games after the injection: the weekly figures from the week
    that holds it (whole weeks, so the first days of that week count too)."""
    weeks = [w for w in result.weeks if w.period >= (row.injected_at.date() - dt.timedelta(days=6)).isoformat()]
    games, covered = 0, 0.0
    for week in weeks:
        take = min(week.games, 200 - games)
        covered += week.coverage * take
        games += take
        if games >= 200:
            break
    return covered / games if games else None


if __name__ == "__main__":
    main()
