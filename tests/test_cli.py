"""The operator contract at the process level: start-up, exit codes, one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import run_nbalife


def test_help_lists_every_group() -> None:
    proc = run_nbalife("--help")
    assert proc.returncode == 0
    for group in ("data", "db", "config", "metrics", "conformal", "dejavu", "drift", "lstm", "abtest", "registry",
                  "cron", "demo", "replay", "status", "history"):
        assert re.search(rf"^  {group}\s", proc.stdout, re.MULTILINE), group


def test_version() -> None:
    from nbalife import __version__

    proc = run_nbalife("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"nbalife {__version__}"


def test_bad_input_is_one_line_exit_2_and_verbose_shows_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    proc = run_nbalife("--home", str(tmp_path), "data", "ingest", str(missing))
    assert proc.returncode == 2
    assert proc.stderr == f"error: {missing}: no such file\n"
    assert "Traceback" not in proc.stderr
    proc = run_nbalife("--home", str(tmp_path), "data", "ingest", str(missing), "-v")
    assert proc.returncode == 2
    assert "Traceback (most recent call last)" in proc.stderr and "BadInput" in proc.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("data", "simulate"), "error: Missing option '--out'."),
    (("no-such-command",), "error: No such command 'no-such-command'."),
    (("data", "simulate", "--out", "x.csv", "--games", "0"), "error: Invalid value for '--games'"),
    (("train", "--until", "2023-02-30"), "error: Invalid value for '--until': '2023-02-30' is not a date"),
    (("history", "--limit", "99999999999999999999"), "error: Invalid value for '--limit'"),
])
def test_usage_errors_are_one_line_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    proc = run_nbalife("--home", str(tmp_path), *args)
    assert proc.returncode == 2
    assert proc.stderr.startswith(message) and proc.stderr.count("\n") == 1, proc.stderr


@pytest.mark.parametrize(("kind", "message"), [
    ("home-is-a-file", "cannot be used as a home"),
    ("not-a-database", "file is not a database"),
    ("bad-port", "malformed database URL"),
    ("config-not-utf8", "cannot read config file"),
    ("config-is-a-folder", "cannot read config file: Is a directory"),
    ("in-memory-sqlite", "an in-memory SQLite store keeps nothing"),
])
def test_unusable_home_store_or_config_is_bad_input(tmp_path: Path, kind: str, message: str) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"\xff\xfe not a database, not UTF-8")
    args = {
        "home-is-a-file": ("--home", str(junk)),
        "not-a-database": ("--home", str(tmp_path), "--db", f"sqlite:///{junk}"),
        "bad-port": ("--home", str(tmp_path), "--db", "postgresql+psycopg://u:pw@host:notaport/db"),
        "config-not-utf8": ("--home", str(tmp_path), "--config", str(junk)),
        "config-is-a-folder": ("--home", str(tmp_path), "--config", str(tmp_path)),
        "in-memory-sqlite": ("--home", str(tmp_path), "--db", "sqlite://"),
    }[kind]
    proc = run_nbalife(*args, "db", "check")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and message in proc.stderr and proc.stderr.count("\n") == 1
    assert junk.read_bytes().startswith(b"\xff\xfe not a database")


def test_unreachable_database_exits_4_without_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://nbalife:s3cret@127.0.0.1:1/nbalife"
    proc = run_nbalife("--home", str(tmp_path), "--db", url, "db", "check")
    assert proc.returncode == 4
    assert proc.stderr.startswith("error: database postgresql+psycopg://nbalife:***@127.0.0.1:1/nbalife is unreachable")
    assert "s3cret" not in proc.stderr and proc.stderr.count("\n") == 1


def test_unsupported_database_url_exits_2(tmp_path: Path) -> None:
    proc = run_nbalife("--home", str(tmp_path), "--db", "mysql://u@h/x", "db", "check")
    assert proc.returncode == 2 and "use sqlite:///PATH or postgresql+psycopg://" in proc.stderr


def test_env_selects_home_and_database(tmp_path: Path) -> None:
    proc = run_nbalife("--json", "db", "check", env={"NBALIFE_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["url"] == f"sqlite:///{tmp_path.resolve()}/nbalife.db"
    other = tmp_path / "other.db"
    proc = run_nbalife("db", "check", "--json", env={"NBALIFE_HOME": str(tmp_path), "NBALIFE_DB": f"sqlite:///{other}"})
    assert json.loads(proc.stdout)["url"] == f"sqlite:///{other}"


def test_json_flag_is_accepted_after_the_command(cli) -> None:
    before = cli("--json", "db", "check")
    after = cli("db", "check", "--json")
    assert before.exit_code == after.exit_code == 0
    assert json.loads(before.stdout) == json.loads(after.stdout)


def test_every_command_has_help_and_is_in_readme() -> None:
    import typer.main

    from nbalife.cli.app import app

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    root = typer.main.get_command(app)
    for name, command in root.commands.items():
        assert command.help, name
        subcommands = getattr(command, "commands", {})
        if not subcommands:
            assert f"nbalife {name}" in readme, f"README does not document `nbalife {name}`"
        for sub, leaf in subcommands.items():
            assert leaf.help, f"{name} {sub}"
            assert re.search(rf"nbalife (\S+ )*{name} {sub}\b", readme), f"README lacks `nbalife {name} {sub}`"



def test_root_lists_commands_without_building_them() -> None:
    import typer
    import typer.main

    from nbalife.cli.app import COMMANDS, GROUPS, app

    root = typer.main.get_command(app)
    assert list(root.commands) == [*COMMANDS, *GROUPS]
    listing = root.get_help(typer.Context(root, info_name="nbalife"))
    assert root.commands._built == {}  # the list read each module's help text only
    for name in root.commands:  # ... which is the built command's own short help
        assert root.commands[name].name == name
        short = root.commands[name].get_short_help_str(200).removesuffix("...")
        assert re.search(rf"^  {name}\s+{re.escape(short[:25])}", listing, re.MULTILINE), name


def argument_command(kind: type, low: int | None, plain: bool):
    """A one-argument click command built by typer; converted by nbalife.cli.coercion if ``plain``."""
    import typer
    import typer.main

    from nbalife.cli.coercion import convert_tree

    def show(value):  # noqa: ANN001, ANN202
        return value

    show.__annotations__ = {"value": Annotated[kind, typer.Argument(min=low)]}  # kind is chosen at run time
    app = typer.Typer()
    app.command()(show)
    command = typer.main.get_command(app)
    return convert_tree(command) if plain else command


def conversion(command, text: str) -> tuple[Any, str | None]:
    """(type and repr of the value, None) or (None, the error message) of ``command`` given ``text``."""
    import typer

    try:
        value = command.main(["--", text], standalone_mode=False)
    except typer.BadParameter as exc:
        return None, exc.message
    return (type(value), repr(value)), None


@settings(max_examples=400, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("0123456789+-._eE xinfatrueyso\t\n\x1c\x85\xa0\u3000")), max_size=8),
       kind=st.sampled_from([int, float, bool, str, Path]), low=st.sampled_from([None, 0, 1]))
def test_plain_conversion_gives_typers_values_and_messages(text: str, kind: type, low: int | None) -> None:
    """nbalife.cli.coercion converts option values as typer's own (pydantic) conversion does, without it."""
    from nbalife.cli.coercion import PlainArgument

    low = low if kind in (int, float) else None
    plain = argument_command(kind, low, plain=True)
    assert type(plain.params[0]) is PlainArgument
    assert conversion(plain, text) == conversion(argument_command(kind, low, plain=False), text)


def options_command(plain: bool):
    """A command with a required int option, a list of floats with a minimum and an option with
    its own parser, built by typer; converted by nbalife.cli.coercion if ``plain``."""
    import datetime as dt

    import typer
    import typer.main

    from nbalife.cli.coercion import convert_tree

    def show(count, values=None, day=None):  # noqa: ANN001, ANN202
        return count, values, day

    show.__annotations__ = {
        "count": Annotated[int, typer.Option()],
        "values": Annotated[Optional[list[float]], typer.Option("--value", min=0)],
        "day": Annotated[Optional[dt.date], typer.Option(parser=dt.date.fromisoformat, metavar="DATE")],
    }
    app = typer.Typer()
    app.command()(show)
    command = typer.main.get_command(app)
    return convert_tree(command) if plain else command


@pytest.mark.parametrize("args", [
    ["--count", "3"], ["--count", " 4 ", "--value", "1.5", "--value", "2"], ["--count", "1", "--value", "-1"],
    ["--count", "x"], ["--value", "1"], ["--count", "2", "--day", "2024-02-29"], ["--count", "2", "--day", "2023-02-29"],
])
def test_plain_options_give_typers_values_and_messages(args: list[str]) -> None:
    """Lists, bounds, a parser and a missing required option: the same through both conversions."""
    import typer

    from nbalife.cli.coercion import PlainOption

    def outcome(command) -> tuple[Any, str | None]:  # noqa: ANN001
        try:
            return command.main(args, standalone_mode=False), None
        except typer.TyperException as exc:
            return None, exc.format_message()

    plain = options_command(plain=True)
    assert {type(p) for p in plain.params} == {PlainOption}
    assert outcome(plain) == outcome(options_command(plain=False))
