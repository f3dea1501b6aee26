"""An epoch progress bar on stderr, shown only to people (not with --json or without a TTY)."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from nbalife.forecast.lstm import EpochProgress


@contextmanager
def epoch_bar(enabled: bool, title: str = "LSTM") -> Iterator[EpochProgress | None]:
    """Yield a ``(epoch, epochs, train_loss, val_loss)`` callback drawing a rich bar, or None."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from nbalife.cli.render import stderr

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[losses]}"), TimeElapsedColumn(), console=stderr.console) as bar:
        task = bar.add_task(title, total=None, losses="")

        def update(epoch: int, epochs: int, train_loss: float, val_loss: float) -> None:
            bar.update(task, total=epochs, completed=epoch,
                       losses=f"train {train_loss:.4f}  val {val_loss:.4f}")

        yield update
