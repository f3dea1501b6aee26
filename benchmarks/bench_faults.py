"""`replay --fault`: each fault kind on each of the developers' real seasons (data/nba/), with the
shipped defaults; the season replayed once without faults (its false alarms, and the damage's
baseline) and once per fault. Prints the table and writes benchmarks/results/bench_faults.json
(bench_faults_<season>.json with one --season; rewritten after every run, so an interrupted run
keeps what it measured).

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
from nbalife.services.replay import baseline_run, load_season_files, replay, split_window

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
    parser.add_argument("--swap-only", action="store_true",
                        help="only the feed-swap detector on the real seasons: false alarms and games to flag")
    args = parser.parse_args()
    if args.swap_only:
        swap_study()
        return
    settings = load_settings(None, environ={}).settings
    payload: dict = {"settings": dataclasses.asdict(settings), "seasons": {}}
    name = "bench_faults" + ("_" + "_".join(args.season) if args.season and len(args.season) < len(SEASONS) else "")
    name += "_" + "_".join(args.kind) if args.kind else ""
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
        write_json(name, payload)
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
            write_json(name, payload)
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
    write_json(name, payload)


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


def swap_study(swap_from: str = "2023-01-15", horizon: int = 40) -> None:
    """The feed-swap rule (shipped guard.swap_* defaults) checked after every game day of 2021-22
    and 2022-23 as stored (false alarms: every team-day above the threshold), then with each
    2022-23 team's games swapped from ``swap_from``: that team's games until it is flagged."""
    import pandas as pd

    from nbalife.interchange import load_games
    from nbalife.services.guard import swap_scores

    guard = load_settings(None, environ={}).settings.guard
    files = ["nba_2020-21.csv", "nba_2021-22.csv", "nba_2022-23.csv"]
    frames = [load_games(DATA / f) for f in files]
    games = pd.concat(frames, ignore_index=True)

    def scores_at(frame: pd.DataFrame, day: str) -> dict[str, float]:
        start = (dt.date.fromisoformat(day) - dt.timedelta(days=400)).isoformat()
        seen = frame[(frame["game_date"] <= day) & (frame["game_date"] > start)]
        return {s.team: s.llr for s in swap_scores(seen, recent=guard.swap_games, history=guard.swap_history_games)}

    false_rows, payload = [], {"threshold": guard.swap_threshold, "swap_games": guard.swap_games,
                               "history_games": guard.swap_history_games, "false_alarms": {}, "detection": {}}
    for label, frame in zip(files[1:], frames[1:]):
        days = sorted(set(frame["game_date"]))
        flagged = {}
        highest = 0.0
        for day in days:
            scores = scores_at(games, day)
            highest = max([highest, *scores.values()])
            for team, llr in scores.items():
                if llr > guard.swap_threshold:
                    flagged.setdefault(team, []).append(day)
        payload["false_alarms"][label] = {"days": len(days), "team_days_flagged": sum(map(len, flagged.values())),
                                          "teams_flagged": sorted(flagged), "highest_llr": highest}
        false_rows.append([label, len(days), sum(map(len, flagged.values())), len(flagged), highest])
    print_table(f"Feed-swap rule on the real seasons as stored (threshold {guard.swap_threshold:g}, checked after "
                "every game day)", ["season", "days", "team-days flagged", "teams flagged", "highest log-LR"],
                false_rows)
    columns = [f"d{i}" for i in range(25)]
    season = frames[2]
    rows = []
    for team in sorted(set(season["home"])):
        swapped = games.copy()
        theirs = (swapped["game_date"] >= swap_from) & ((swapped["home"] == team) | (swapped["away"] == team))
        swapped.loc[theirs, columns] = -swapped.loc[theirs, columns]
        swapped.loc[theirs, "final_diff"] = -swapped.loc[theirs, "final_diff"]
        days = sorted(set(swapped.loc[theirs, "game_date"]))[:horizon]
        found = next((k + 1 for k, day in enumerate(days)
                      if scores_at(swapped, day).get(team, 0.0) > guard.swap_threshold), None)
        strength = float((season.loc[season["home"] == team, "final_diff"].mean()
                          - season.loc[season["away"] == team, "final_diff"].mean()) / 2)
        rows.append([team, round(strength, 1), found if found is not None else f"> {horizon}"])
        payload["detection"][team] = {"games_to_flag": found, "home_minus_away_margin_half": strength}
    rows.sort(key=lambda r: -abs(r[1]))
    print_table(f"2022-23 with one team's games swapped from {swap_from}: its games until flagged", ["team",
                "season margin", "games to flag"], rows)
    within = sum(1 for r in rows if isinstance(r[2], int) and r[2] <= 15)
    print(f"\nflagged within 15 of the team's games: {within} of {len(rows)} teams")
    payload["flagged_within_15"] = within
    write_json("bench_faults_swap", payload)


if __name__ == "__main__":
    main()
