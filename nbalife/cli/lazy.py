"""The root's commands, built on demand: a command's module is imported, and its click command
built from its signature, only when that command runs or its own help is shown.

Every job cron runs is a fresh process: building all ~110 signatures and importing every command
module cost each run about 0.1 s. The root's command list reads each module's help text only.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import typer
import typer.main
from typer.models import TyperInfo

from nbalife.cli.coercion import convert_tree

if TYPE_CHECKING:
    from typer.core import MarkupMode, TyperCommand, TyperGroup

    Command = TyperCommand | TyperGroup


class LazyCommands(Mapping[str, "Command"]):
    """Command name -> click command. ``groups`` are modules ``nbalife.cli.<name>`` holding a Typer
    ``app`` and its ``NAME`` (the same name); ``commands`` are modules holding a function of the
    command's name. Iteration keeps the order given (commands first), as click lists them."""

    def __init__(self, *, groups: tuple[str, ...], commands: tuple[str, ...],
                 rich_markup_mode: MarkupMode = None) -> None:
        self._groups = frozenset(groups)
        self._names = (*commands, *groups)
        self._markup = rich_markup_mode
        self._built: dict[str, Command] = {}

    def __getitem__(self, name: str) -> Command:
        if name not in self._names:
            raise KeyError(name)
        if name not in self._built:
            self._built[name] = self._build(name)
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def help_of(self, name: str) -> str:
        """The command's help text, read from its module without building the command."""
        module = importlib.import_module(f"nbalife.cli.{name}")
        if name in self._groups:
            return typer.main.solve_typer_info_help(TyperInfo(module.app))
        return inspect.getdoc(getattr(module, name)) or ""

    def _build(self, name: str) -> Command:
        module = importlib.import_module(f"nbalife.cli.{name}")
        holder = typer.Typer(rich_markup_mode=self._markup, pretty_exceptions_enable=False, add_completion=False)
        if name in self._groups:
            holder.add_typer(module.app, name=module.NAME)
            return convert_tree(typer.main.get_group(holder).commands[module.NAME])
        holder.command(name)(getattr(module, name))
        return convert_tree(typer.main.get_command(holder))
