"""The import budget per command: what each command may load, in one table.

Every job cron runs is a fresh process: ``--help`` loads none of the heavy libraries, read-only
store commands load no torch or scipy, and commands that only score load no torch (the LSTM runs
in numpy); no command loads pydantic (typer's option conversion, replaced by nbalife.cli.coercion),
only a command that prints a table loads rich, and one-pattern ``predict`` loads no pandas. Each
command runs in its own process under ``python -X importtime``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

HEAVY = {"torch", "pandas", "numpy", "scipy", "sqlalchemy", "matplotlib", "pydantic", "rich"}
NONE: frozenset[str] = frozenset()
TABLES = frozenset({"rich"})  # a command that prints a table; pydantic never (see nbalife.cli.coercion)
STORE = TABLES | {"sqlalchemy", "numpy", "pandas"}      # read-only store commands: no torch, no scipy
SCORING = TABLES | {"sqlalchemy", "numpy", "pandas", "scipy"}  # scoring commands: no torch
PATTERN = "0,2,2,5,3,3,1,-2,0,2,4,4,6,8,7,9,9,11,10"

# command -> the heavy libraries it may import; {version}, {games} are filled in by the fixture
BUDGET: dict[tuple[str, ...], frozenset[str]] = {
    ("--help",): NONE,
    ("config", "show"): TABLES,
    ("registry", "list"): TABLES | {"sqlalchemy"},
    ("registry", "show", "{version}"): STORE,
    ("registry", "history"): STORE,
    ("status",): TABLES | {"sqlalchemy"},
    ("history",): STORE,
    ("metrics", "report", "--days", "7"): TABLES | {"sqlalchemy"},
    ("metrics", "report", "--by", "week"): TABLES | {"sqlalchemy"},
    ("--json", "metrics", "report", "--days", "7"): frozenset({"sqlalchemy"}),
    ("report", "--days", "7", "--out", "{out}"): TABLES | {"sqlalchemy", "numpy", "matplotlib"},
    ("predict", "--game-id", "0022299999", "--pattern", PATTERN): TABLES | {"sqlalchemy", "numpy"},  # no pandas
    ("evaluate", "--input", "{games}"): SCORING,
    ("conformal", "check"): SCORING,
    ("conformal", "status"): SCORING,
    ("dejavu", "query", "--pattern", PATTERN): SCORING,
    ("dejavu", "stats"): SCORING,
    ("registry", "verify", "--all"): SCORING,
}


def imported_modules(stderr: str) -> set[str]:
    """Top-level package names from ``python -X importtime`` output."""
    names = set()
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", line)
        if match:
            names.add(match.group(1).split(".")[0])
    return names


def every_help() -> dict[tuple[str, ...], frozenset[str]]:
    """``--help`` of every group, command and subcommand: nothing heavy."""
    import typer.main

    from nbalife.cli.app import app

    budget = {}
    for name, command in typer.main.get_command(app).commands.items():
        budget[(name, "--help")] = NONE
        for sub in getattr(command, "commands", {}):
            budget[(name, sub, "--help")] = NONE
    return budget


def run_all(home: Path, budget: dict[tuple[str, ...], frozenset[str]], **fill: str) -> dict[str, list[str]]:
    """Run every command at once (each its own process); the heavy modules over budget, by command."""
    runs = {}
    for args, allowed in budget.items():
        argv = [a.format(**fill) for a in args]
        runs[" ".join(args)] = (allowed, subprocess.Popen(
            [sys.executable, "-X", "importtime", "-m", "nbalife", "--home", str(home), *argv],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    over = {}
    for name, (allowed, proc) in runs.items():
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode in (0, 1), (name, stderr[-2000:])
        modules = imported_modules(stderr)
        assert "typer" in modules, name  # the parse really saw the import log
        if (modules & HEAVY) - allowed:
            over[name] = sorted((modules & HEAVY) - allowed)
    return over


def test_help_of_every_group_and_command_imports_nothing_heavy(tmp_path: Path) -> None:
    budget = every_help()
    assert len(budget) > 40
    assert run_all(tmp_path, budget) == {}


def test_every_command_keeps_its_import_budget(home: Path, tiny_model_set, repo_data: Path, tmp_path: Path) -> None:
    from nbalife.store.engine import default_url, make_engine
    from nbalife.store.migrate import open_store
    from tests.conftest import install_production

    engine = make_engine(default_url(home))
    open_store(engine)
    version = install_production(home, engine, tiny_model_set)
    engine.dispose()
    games = tmp_path / "games.csv"
    games.write_text("".join((repo_data / "nba_2021-22.csv").open().readlines()[:51]))
    assert run_all(home, BUDGET, version=version, games=str(games), out=str(tmp_path / "report.html")) == {}
    listed = json.loads(subprocess.run([sys.executable, "-m", "nbalife", "--home", str(home), "--json", "registry",
                                        "list"], capture_output=True, text=True, check=True).stdout)
    assert listed[0]["version"] == version
