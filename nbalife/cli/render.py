"""One renderer: rich tables for people on stdout, JSON for machines, messages on stderr.

rich is imported on first use (about 0.05 s of a process): ``--help``, ``--json`` and commands
that print no table never load it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
import math
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from nbalife.forecast.metrics import ModelScore


class LazyConsole:
    """A rich Console created on first attribute access, with the options given here."""

    def __init__(self, *, for_stdout: bool) -> None:
        self._for_stdout = for_stdout
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = (Console(soft_wrap=False, width=None if sys.stdout.isatty() else 160)
                             if self._for_stdout else Console(stderr=True, soft_wrap=True))
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


stdout = LazyConsole(for_stdout=True)
stderr = LazyConsole(for_stdout=False)


def jsonable(value: Any) -> Any:
    """Dataclasses, dates, paths and numpy scalars as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def emit_json(value: Any) -> None:
    """Write ``value`` as one JSON document on stdout."""
    print(json.dumps(jsonable(value), indent=2, sort_keys=False))


def fmt(value: Any) -> str:
    """A cell: floats with 3 significant decimals, None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return "-" if not math.isfinite(value) else f"{value:.3f}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={fmt(v)}" for k, v in value.items())
    return str(value)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A rich table of already-computed rows."""
    from rich.table import Table

    result = Table(title=title, title_justify="left")
    for column in columns:
        result.add_column(column)
    for row in rows:
        result.add_row(*(fmt(cell) for cell in row))
    return result


def show(as_json: bool, value: Any, *tables: Table) -> None:
    """JSON of ``value`` with ``--json``; else the tables."""
    if as_json:
        emit_json(value)
        return
    for item in tables:
        stdout.print(item)


def key_values(title: str, value: Any) -> Table:
    """A two-column table of a flat dataclass or dict."""
    data = jsonable(value)
    return table(title, ["field", "value"], [(k, v if not isinstance(v, (dict, list)) else json.dumps(v))
                                             for k, v in data.items()])


def score_table(title: str, scores: Iterable[ModelScore]) -> Table:
    """Forecasters' scores, one row each: n, MAE, paired difference from persistence ± its SE,
    RMSE, bias, coverage and width."""
    from nbalife.forecast.metrics import versus_persistence

    return table(title, ["model", "n", "MAE", "vs persistence", "RMSE", "bias", "coverage", "width"],
                 [(s.model, s.n, s.mae, versus_persistence(s), s.rmse, s.bias, s.coverage, s.width)
                  for s in scores])
