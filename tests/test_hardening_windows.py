"""Hardening: every --days of every command goes through one window parser. A value that would
overflow a date, an inverted or sub-second window, a non-number: one exit-2 line naming the option
and the value, before any work, and no lifecycle event recorded."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nbalife.window import MAX_WINDOW_DAYS
from nbalife.store.events import list_events
from tests.conftest import Cli, install_production, run_nbalife

# (command, the shortest window it accepts in days): drift and conformal count whole days
WINDOW_COMMANDS = {
    ("metrics", "report"): 1 / 86400,
    ("metrics", "check"): 1 / 86400,
    ("drift", "check"): 1.0,
    ("conformal", "check"): 1.0,
    ("report",): 1 / 86400,
}


def _args(command: tuple[str, ...], home: Path) -> list[str]:
    return [*command, *(["--out", str(home / "r.html")] if command == ("report",) else [])]


@pytest.mark.parametrize("command", sorted(WINDOW_COMMANDS))
@pytest.mark.parametrize(("value", "reason"), [
    ("99999999", "longer than 36525 days"),
    ("1e6", "longer than 36525 days"),
    ("inf", "longer than 36525 days"),
    ("1e309", "longer than 36525 days"),
    ("0", "must be a positive number of days"),
    ("-3", "must be a positive number of days"),
    ("nan", "must be a positive number of days"),
    ("1e-300", "shorter than 1"),
    ("ten", "not a number of days"),
    ("9" * 5000, "longer than 36525 days"),
])
def test_a_bad_window_is_one_line_naming_the_option(cli: Cli, home: Path, command: tuple[str, ...], value: str,
                                                     reason: str) -> None:
    result = cli(*_args(command, home), f"--days={value}")
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and len(message) < 200 and "Traceback" not in result.output
    assert message.startswith(f"error: --days {value[:36]}") and reason in message, message


@pytest.mark.parametrize("command", [("drift", "check"), ("conformal", "check")])
def test_whole_day_windows_refuse_a_fraction_of_a_day(cli: Cli, home: Path, command: tuple[str, ...]) -> None:
    result = cli(*command, "--days", "0.5")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: --days 0.5: shorter than 1 day (this window counts whole days)"


def test_bad_windows_record_no_event_with_production_installed(cli_db: Cli, home: Path, engine,  # noqa: ANN001
                                                                tiny_model_set) -> None:
    install_production(home, engine, tiny_model_set)
    for command in (("conformal", "check"), ("drift", "check"), ("metrics", "check")):
        for value in ("99999999", "1e6", "1e-300"):
            result = cli_db(*command, "--days", value)
            assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    with engine.connect() as conn:
        assert list_events(conn, kind="conformal_check") == []
        assert list_events(conn, kind="metrics_check") == []
    good = cli_db("conformal", "check", "--days", "3650")  # the longest window a check is given: no overflow
    assert good.exit_code in (0, 1), good.output


@st.composite
def window_values(draw: st.DrawFn) -> str:
    """What an operator might type after --days=."""
    return draw(st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.integers(min_value=-10**12, max_value=10**12).map(str),
        st.sampled_from(["1e-300", "1e308", "36525", "36525.0001", "0.0000115", "1", "0.9999", "1_0", " 7 ",
                         "", "0x10", "1e", "١٢", "\u00a07"]),
        st.text(max_size=12),
    ))


def _accepted(value: str, low: float) -> bool:
    try:
        days = float(value)
    except ValueError:
        return False
    return math.isfinite(days) and low <= days <= MAX_WINDOW_DAYS


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(sorted(WINDOW_COMMANDS)), value=window_values())
@example(command=("conformal", "check"), value="99999999")
@example(command=("drift", "check"), value="1e6")
@example(command=("drift", "check"), value="1e-300")
def test_any_window_value_is_refused_by_the_parser_or_runs(home: Path, command: tuple[str, ...], value: str) -> None:
    if "\x00" in value:
        return  # no process can be given a NUL in an argument
    result = Cli(home)(*_args(command, home), f"--days={value}")
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    refused_by_parser = result.exit_code == 2 and result.stderr.startswith("error: --days ")
    assert refused_by_parser == (not _accepted(value, WINDOW_COMMANDS[command])), result.output
    if refused_by_parser:
        assert len(result.stderr.strip().splitlines()) == 1 and len(result.stderr) < 200


def test_window_refusals_as_a_process(tmp_path: Path) -> None:
    for args, expected in [
        (["conformal", "check", "--days", "99999999"],
         "error: --days 99999999: longer than 36525 days (a window reaches back 100 years at most)\n"),
        (["drift", "check", "--days", "1e6"],
         "error: --days 1e6: longer than 36525 days (a window reaches back 100 years at most)\n"),
        (["drift", "check", "--days", "1e-300"],
         "error: --days 1e-300: shorter than 1 day (this window counts whole days)\n"),
        (["metrics", "check", "--days", "1e-300"], "error: --days 1e-300: shorter than 1 second\n"),
    ]:
        proc = run_nbalife("--home", str(tmp_path), *args)
        assert (proc.returncode, proc.stderr) == (2, expected)
    assert not (tmp_path / "nbalife.db").exists()  # refused before the store was even opened


# Every date option goes through options.parse_date: a date within a year of the calendar's
# ends is refused naming the option, so no window arithmetic can overflow.
DATE_OPTIONS = [
    (["metrics", "report"], "--since"), (["metrics", "report"], "--until"),
    (["report", "--out", "{home}/r.html"], "--since"), (["report", "--out", "{home}/r.html"], "--until"),
    (["data", "export", "--out", "{home}/x.csv"], "--since"), (["data", "export", "--out", "{home}/x.csv"], "--until"),
    (["data", "simulate", "--games", "3", "--out", "{home}/s.csv"], "--start-date"),
    (["dejavu", "update"], "--since"), (["dejavu", "update"], "--until"),
    (["train"], "--until"),
    (["replay", "--games", "{games}"], "--from"), (["replay", "--games", "{games}"], "--to"),
    (["replay", "--games", "{games}"], "--train-until"),
    (["history"], "--since"),
]


@pytest.mark.parametrize(("command", "option"), DATE_OPTIONS)
@pytest.mark.parametrize(("value", "reason"), [
    ("9999-12-31", "is outside the dates nbalife takes (0002-01-01 to 9998-12-31)"),
    ("0001-01-01", "is outside the dates nbalife takes"),
    ("2023-02-30", "is not a date"),
    ("tomorrow", "is not a date"),
])
def test_a_date_at_the_calendar_ends_is_refused_naming_the_option(cli: Cli, home: Path, repo_data: Path,
                                                                   command: list[str], option: str, value: str,
                                                                   reason: str) -> None:
    args = [a.format(home=home, games=repo_data / "nba_2021-22.csv") for a in command]
    result = cli(*args, option, value)
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.startswith(f"error: Invalid value for '{option}': '{value}'") and reason in message, message
    assert len(message.splitlines()) == 1


def test_replay_dates_at_the_calendar_ends_as_a_process(home: Path, repo_data: Path) -> None:
    """These two were OverflowError tracebacks: the day after --train-until, the day before --from."""
    games = str(repo_data / "nba_2021-22.csv")
    for option, value in (("--train-until", "9999-12-31"), ("--from", "0001-01-01")):
        proc = run_nbalife("--home", str(home), "replay", "--games", games, option, value)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
        assert f"'{option}': '{value}' is outside the dates" in proc.stderr


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from([("metrics", "report"), ("report",)]),
       since=st.one_of(st.none(), st.dates()), until=st.one_of(st.none(), st.dates()))
def test_any_dates_through_the_cli_run_or_are_refused_naming_an_option(home: Path, command: tuple[str, ...],
                                                                       since, until) -> None:  # noqa: ANN001
    args = _args(command, home)
    args += [] if since is None else ["--since", since.isoformat()]
    args += [] if until is None else ["--until", until.isoformat()]
    result = Cli(home)(*args)
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        message = result.stderr.strip()
        assert len(message.splitlines()) == 1 and ("--since" in message or "--until" in message), message


def test_the_services_use_the_same_window_rule(engine, home: Path, tiny_model_set) -> None:  # noqa: ANN001
    """A caller that skips the CLI gets the same refusal, and conformal check records no event."""
    import datetime as dt

    from nbalife.config import load_settings
    from nbalife.errors import BadInput
    from nbalife.services.conformal import check
    from nbalife.services.drift import recent_window
    from nbalife.services.registry import open_registry

    now = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)
    settings = load_settings(None, environ={}).settings
    install_production(home, engine, tiny_model_set)
    registry = open_registry(home, engine, settings)
    for days in (1e6, 99999999, 1e-300, math.inf, math.nan, 0.5):
        with pytest.raises(BadInput, match=r"^--days "):
            check(engine, registry, settings, now=now, days=days)
        with pytest.raises(BadInput, match=r"^--days "):
            recent_window(now, days)
    with engine.connect() as conn:
        assert list_events(conn, kind="conformal_check") == []
    assert recent_window(now, 1.0) == (now.date(), now.date())
