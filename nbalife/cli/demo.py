"""``nbalife demo``: the whole lifecycle on the embedded default, in simulated time."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Iterator, Optional

import typer

from nbalife.cli.render import show
from nbalife.cli.runtime import runtime

if TYPE_CHECKING:
    from nbalife.forecast.lstm import EpochProgress
    from nbalife.services.season import DayProgress
    from nbalife.services.lifecycle import Step


def demo(
    ctx: typer.Context,
    quick: Annotated[bool, typer.Option("--quick", help="Fewer games and a tiny LSTM (under a minute).")] = False,
    real: Annotated[bool, typer.Option("--real", help="The bundled real seasons: history 2020-21 and 2021-22, "
                                                      "the production stretch from the start of 2022-23.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed of the simulated games.")] = 0,
    data_dir: Annotated[
        Optional[Path], typer.Option("--data", help="With --real: folder of the seasons (default: data/nba).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Use a --home that is not empty (its games and "
                                                         "production are replaced).")] = False,
) -> None:
    """The model lifecycle end to end in simulated time, on a fresh SQLite home (a temporary one
    unless --home; one not empty needs --force): train and promote a first model on the history;
    predict a production stretch with drift game by game at minute 18 and sync outcomes while the
    scheduled jobs run at their cron times (metrics and conformal checks, Dejavu updates, drift
    checks, the monthly retrain); take the retrained candidate's A/B test to a decision; roll back.
    The simulated stretch ends yesterday, so the home is current. Ends with `registry list` and `status`."""
    from nbalife.cli.registry import versions_table
    from nbalife.cli.status import status_tables
    from nbalife.services.demo import run_demo
    from nbalife.services.lifecycle import BUNDLED_DATA

    rt = runtime(ctx)
    with _story(not rt.json) as (say, epochs, days):
        result = run_demo(rt.home if rt.home_given else None, quick=quick, real=real, seed=seed,
                          settings=rt.settings, now=rt.now(), force=force, data_dir=data_dir or BUNDLED_DATA,
                          epochs=epochs, days=days, on_step=say)
    if not rt.json:
        _say(f"home: {result.home} (production {result.production}); `registry list` and `status` as of "
             f"{result.status.now:%Y-%m-%d %H:%M} UTC:")
    show(rt.json, result, versions_table(result.versions), *status_tables(result.status))


def _say(text: str) -> None:
    from nbalife.cli.render import stdout

    stdout.print(text, highlight=False, markup=False, soft_wrap=True)


@contextmanager
def _story(enabled: bool) -> Iterator[tuple[Callable[[Step], None] | None, EpochProgress | None,
                                            DayProgress | None]]:
    """Step lines on stdout as each step ends and, on a terminal, progress bars for the first
    model's epochs and the simulated days; all None with --json."""
    if not enabled:
        yield None, None, None
        return
    steps: list[Step] = []

    def lines(step: Step) -> list[str]:
        steps.append(step)
        return [f"{len(steps)}. {step.name}: {step.description} [{step.seconds:.0f} s]",
                *(f"     {detail}" for detail in step.details)]

    if not (sys.stdout.isatty() and sys.stderr.isatty()):
        def plain(step: Step) -> None:
            for line in lines(step):
                _say(line)

        yield plain, None, None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from nbalife.cli.render import stdout

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=stdout.console, transient=True) as bar:
        tasks: dict[str, int] = {}

        def tick(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], total=total, completed=done, visible=done < total)

        def say(step: Step) -> None:
            for line in lines(step):
                bar.console.print(line, highlight=False, markup=False, soft_wrap=True)

        yield (say, lambda epoch, epochs, _train, _val: tick("training 1.0.0: LSTM epochs", epoch, epochs),
               lambda done, total: tick("production stretch: simulated days", done, total))
