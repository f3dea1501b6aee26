"""Option values converted without pydantic.

typer (>= 0.29) converts every option value, an absent one too, through a pydantic TypeAdapter:
importing pydantic and building the adapters cost each command about 0.15 s of CPU. nbalife's
options are plain ``str``, ``int``, ``float``, ``bool`` and ``Path`` values (or lists of them),
or values with their own parser, so those are converted here, with pydantic's results and
messages (tests/test_cli.py compares the two on open-ended input); anything else (an Enum, a
file) stays with typer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args, get_origin

import typer
from typer._coercion import RuntimeParam
from typer._param_types import coerce_cli_path

if TYPE_CHECKING:
    from typer._click import Command, Context, Parameter

PLAIN = (str, int, float, bool, Path)
INTEGER = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*(?:\.0+)?")
# Unicode White_Space, what pydantic strips from a number (str.strip() also strips \x1c-\x1f)
BLANKS = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
FALSE = frozenset({"", "0", "f", "false", "n", "no", "off"})
NOT_INTEGER = "Input should be a valid integer, unable to parse string as an integer"
NOT_NUMBER = "Input should be a valid number, unable to parse string as a number"
NOT_BOOLEAN = "Input should be a valid boolean, unable to interpret input"


@dataclass(frozen=True)
class PlainValue(RuntimeParam):
    """Conversion of one value (or a list of them) by the option's parser or to ``kind``,
    bounded by the option's min and max."""

    kind: type | None  # None: the option's parser converts

    def _coerce_value(self, value: Any, param: Parameter, ctx: Context) -> Any:
        if isinstance(value, (list, tuple)):
            return [self.convert(item, param, ctx) for item in value]
        return self.convert(value, param, ctx)

    def convert(self, value: Any, param: Parameter | None = None, ctx: Context | None = None) -> Any:
        """``value`` converted; a bad one is typer's BadParameter (exit 2, naming the option)."""
        info = self.parameter_info
        try:
            result = info.parser(value) if self.kind is None else convert(self.kind, value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc) if self.kind else f"Value error, {exc}", ctx=ctx, param=param) from None
        if self.kind is Path:  # typer's own checks of a path (exists, readable, ...)
            return coerce_cli_path(result, info, path_type=Path, param=param, ctx=ctx)
        if info.min is not None and not result >= info.min:  # NaN too, as pydantic
            raise typer.BadParameter(f"Input should be greater than or equal to {info.min}", ctx=ctx, param=param)
        if info.max is not None and not result <= info.max:
            raise typer.BadParameter(f"Input should be less than or equal to {info.max}", ctx=ctx, param=param)
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


def plain_value(param: Parameter) -> PlainValue | None:
    """The PlainValue that converts ``param``, or None when typer must (an Enum, a file, ...)."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or descriptor.file_annotation is not None:
        return None
    info, kind = descriptor.parameter_info, descriptor.annotation
    if info.clamp or info.path_type is not None:
        return None
    if get_origin(kind) is list and len(get_args(kind)) == 1:
        kind = get_args(kind)[0]
    if info.parser is None and kind not in PLAIN:
        return None
    return PlainValue(parameter_info=info, annotation=descriptor.annotation,
                      kind=None if info.parser is not None else kind)


def convert_plainly(command: Command) -> None:
    """Let PlainValue convert what it can of ``command``'s options (its --help too)."""
    # click creates --help once per command and caches it; made here with the command's own
    # settings (the root sets no help_option_names for its commands to inherit)
    help_option = command.get_help_option(typer.Context(command, **command.context_settings))
    for param in [*command.params, *([help_option] if help_option else [])]:
        runtime = plain_value(param)
        if runtime is not None:
            param._runtime_param = runtime


def convert_tree(command: Command) -> Command:
    """``command`` and every subcommand with their options converted by PlainValue where it can."""
    convert_plainly(command)
    for sub in getattr(command, "commands", {}).values():
        convert_tree(sub)
    return command
