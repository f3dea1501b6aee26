"""Option values converted without pydantic.

typer (>= 0.29) converts every option value, an absent one too, through a pydantic TypeAdapter:
importing pydantic and building the adapters cost each command about 0.1 s of CPU. nbalife's
options are plain ``str``, ``int``, ``float``, ``bool`` and ``Path`` values (or lists of them),
or values with their own parser, so those are converted here, with pydantic's results and
messages (tests/test_cli.py compares the two on open-ended input); anything else (an Enum, a
file, a path with checks) stays with typer.

The one hook is click's ``Parameter.process_value`` (convert, check a required value, run the
callback), overridden in subclasses of typer's public ``TyperOption`` and ``TyperArgument``.
typer builds its own classes, so each parameter it built is given the subclass: its class
changes, none of its state. Only public names are used; a typer that no longer describes a
parameter by ``type_descriptor`` leaves every parameter to typer (slower, never wrong).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

import typer
from typer.core import TyperArgument, TyperOption

PLAIN = (str, int, float, bool, Path)
INTEGER = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*(?:\.0+)?")
# Unicode White_Space, what pydantic strips from a number (str.strip() also strips \x1c-\x1f)
BLANKS = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
FALSE = frozenset({"", "0", "f", "false", "n", "no", "off"})
NOT_INTEGER = "Input should be a valid integer, unable to parse string as an integer"
NOT_NUMBER = "Input should be a valid number, unable to parse string as a number"
NOT_BOOLEAN = "Input should be a valid boolean, unable to interpret input"
# a Path option typer checks only for readability (click's defaults); any other check stays with typer
PLAIN_PATH = {"exists": False, "file_okay": True, "dir_okay": True, "writable": False, "readable": True,
              "resolve_path": False, "allow_dash": False}


@dataclass(frozen=True)
class PlainValue:
    """Conversion of one value (or a list of them) by the option's parser (``kind`` None) or to
    ``kind``, bounded by the option's ``low`` and ``high``."""

    kind: type | None
    parser: Any = None
    low: float | None = None
    high: float | None = None

    def coerce(self, value: Any, param: Any = None, ctx: typer.Context | None = None) -> Any:
        """The option's ``value`` (None, one value or a sequence) converted, as typer would."""
        multiple = param is not None and (param.multiple or param.nargs == -1)
        if value is None:
            return () if multiple else None
        if multiple and isinstance(value, str):
            raise typer.BadParameter("Value must be an iterable.", ctx=ctx, param=param)
        if isinstance(value, (list, tuple)):
            return [self.convert(item, param, ctx) for item in value]
        return self.convert(value, param, ctx)

    def convert(self, value: Any, param: Any = None, ctx: typer.Context | None = None) -> Any:
        """``value`` converted; a bad one is typer's BadParameter (exit 2, naming the option)."""
        try:
            result = self.parser(value) if self.kind is None else convert(self.kind, value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc) if self.kind else f"Value error, {exc}", ctx=ctx, param=param) from None
        if self.kind is Path:
            if result.exists() and not os.access(result, os.R_OK):  # typer's one check of a plain path
                raise typer.BadParameter(f"path {str(value)!r} is not readable.", ctx=ctx, param=param)
            return result
        if self.low is not None and not result >= self.low:  # NaN too, as pydantic
            raise typer.BadParameter(f"Input should be greater than or equal to {self.low}", ctx=ctx, param=param)
        if self.high is not None and not result <= self.high:
            raise typer.BadParameter(f"Input should be less than or equal to {self.high}", ctx=ctx, param=param)
        return result


def convert(kind: type, value: Any) -> Any:
    """A command-line ``value`` as ``kind`` (one of PLAIN); ValueError with pydantic's message."""
    if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
        return value
    if kind is str:
        return str(value)
    if kind is Path:
        return Path(value)
    if kind is bool:  # typer strips a boolean with str.strip()
        word = str(value).strip().lower()
        if word not in TRUE | FALSE:
            raise ValueError(NOT_BOOLEAN)
        return word in TRUE
    text = str(value).strip(BLANKS)
    if kind is int:
        if not INTEGER.fullmatch(text):
            raise ValueError(NOT_INTEGER)
        return int(text.split(".")[0])
    if "_" in text:  # pydantic drops single inner underscores, in a value without blanks around it
        if text != value or text[0] == "_" or text[-1] == "_" or "__" in text:
            raise ValueError(NOT_NUMBER)
        text = text.replace("_", "")
    if not text.isascii():
        raise ValueError(NOT_NUMBER)
    try:
        return float(text)
    except ValueError:
        raise ValueError(NOT_NUMBER) from None


def plain_value(param: Any) -> PlainValue | None:
    """The PlainValue that converts ``param``, or None when typer must (an Enum, a file, ...)."""
    descriptor = getattr(param, "type_descriptor", None)
    info = getattr(descriptor, "parameter_info", None)
    if (info is None or getattr(descriptor, "file_annotation", None) is not None or getattr(info, "clamp", True)
            or info.path_type is not None):
        return None
    kind = descriptor.annotation
    if get_origin(kind) is list and len(get_args(kind)) == 1:
        kind = get_args(kind)[0]
    if info.parser is not None:
        return PlainValue(kind=None, parser=info.parser, low=info.min, high=info.max)
    if kind not in PLAIN:
        return None
    if kind is Path and any(getattr(info, name, None) != default for name, default in PLAIN_PATH.items()):
        return None
    return PlainValue(kind=kind, low=info.min, high=info.max)


def process_value(param: TyperOption | TyperArgument, ctx: typer.Context, value: Any, by_typer: Any) -> Any:
    """click's ``process_value`` (convert, check a required value, run the callback) with a
    PlainValue where one converts ``param``; ``by_typer`` (typer's own) otherwise."""
    plain = plain_value(param)
    if plain is None or (param.required and param.value_is_missing(value)):  # typer's message for a missing one
        return by_typer(ctx, value)
    value = plain.coerce(value, param, ctx)
    if param.callback is not None:
        value = param.callback(ctx, param, value)
    return value


class PlainOption(TyperOption):
    """A typer option converted by PlainValue."""

    __slots__ = ()  # a parameter's class can change only to one of the same layout

    def process_value(self, ctx: typer.Context, value: Any) -> Any:
        return process_value(self, ctx, value, super().process_value)


class PlainArgument(TyperArgument):
    """A typer argument converted by PlainValue."""

    __slots__ = ()

    def process_value(self, ctx: typer.Context, value: Any) -> Any:
        return process_value(self, ctx, value, super().process_value)


PLAIN_CLASS = {TyperOption: PlainOption, TyperArgument: PlainArgument}


def convert_plainly(command: Any) -> None:
    """Let PlainValue convert what it can of click ``command``'s parameters (its --help too)."""
    # click creates --help once per command and caches it; made here with the command's own
    # settings (the root sets no help_option_names for its commands to inherit)
    help_option = command.get_help_option(typer.Context(command, **command.context_settings))
    for param in [*command.params, *([help_option] if help_option else [])]:
        plain_class = PLAIN_CLASS.get(type(param))
        if plain_class is not None and plain_value(param) is not None:
            param.__class__ = plain_class


def convert_tree(command: Any) -> Any:
    """Click ``command`` and every subcommand with their parameters converted by PlainValue where it can."""
    convert_plainly(command)
    for sub in getattr(command, "commands", {}).values():
        convert_tree(sub)
    return command
