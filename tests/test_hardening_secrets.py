"""Hardening: a database password never reaches a message or an output, whatever the URL's shape;
a URL that does not parse is exit 2 "malformed database URL", never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbalife.errors import BadInput
from nbalife.store.engine import make_engine, parse_url, redact
from tests.conftest import Cli, run_nbalife

SECRET = "Zq7Secret"
# Password texts: the marker plus characters that break naive parsers (@ : / ? # % space).
passwords = st.builds(lambda a, b: f"{a}{SECRET}{b}", st.text(alphabet="@:/?#% x", max_size=4),
                      st.text(alphabet="@:/?#%&= y", max_size=4))
users = st.sampled_from(["", "nbalife", "a@b", "u:v", "user name"])
hosts = st.sampled_from(["127.0.0.1", "db.example", "", "[::1]", "h@st"])
ports = st.sampled_from(["", ":1", ":5432", ":0", ":65536", ":99999", ":x", ":"])
schemes = st.sampled_from(["postgresql+psycopg://", "postgresql+psycopg:/", "postgresql+psycopg//",
                           "postgresql+psycopg:", "postgresql://", "sqlite://", "mysql://", "://"])


@st.composite
def database_urls(draw: st.DrawFn) -> str:
    """URLs of every shape the operator might type, each holding the secret password."""
    password = draw(passwords)
    tail = draw(st.sampled_from(["/db", "", "/db?sslmode=disable", f"/db?password={password}"]))
    return f"{draw(schemes)}{draw(users)}:{password}@{draw(hosts)}{draw(ports)}{tail}"


@settings(max_examples=400, deadline=None)
@given(database_urls())
def test_redact_never_shows_the_password(url: str) -> None:
    assert SECRET not in redact(url)
    try:
        parsed = parse_url(url)
    except BadInput as exc:
        assert SECRET not in str(exc) and str(exc).startswith("malformed database URL")
        return
    assert SECRET not in redact(parsed)


@settings(max_examples=300, deadline=None)
@given(database_urls())
def test_make_engine_fails_with_one_line_without_the_password(url: str) -> None:
    try:
        make_engine(url, connect_timeout_s=1).dispose()
    except BadInput as exc:
        assert SECRET not in str(exc) and "\n" not in str(exc)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(url=database_urls())
def test_db_check_and_config_show_never_print_the_password(home: Path, url: str) -> None:
    cli = Cli(home)
    for args in (["--db", url, "db", "check"], ["--db", url, "--json", "config", "show"]):
        result = cli(*args, env={"NBALIFE_DATABASE__CONNECT_TIMEOUT_S": "1"})
        assert result.exit_code in (0, 1, 2, 4), result.output
        assert SECRET not in result.output
        assert "Traceback" not in result.output


@pytest.mark.parametrize(("url", "reason"), [
    (f"postgresql+psycopg://:{SECRET}@127.0.0.1/db", "a password without a user name"),
    (f"postgresql+psycopg:/nbalife:{SECRET}@127.0.0.1/db", "expected DIALECT://"),
    (f"postgresql+psycopg//nbalife:{SECRET}@127.0.0.1/db", "expected DIALECT://"),
    (f"postgresql+psycopg://nbalife:{SECRET}@x@127.0.0.1/db", "more than one @"),
    (f"postgresql+psycopg://nbalife:@{SECRET}?@127.0.0.1/db", "more than one @"),
    (f"sqlite://nbalife:{SECRET}@127.0.0.1/db", "a SQLite URL is sqlite:///PATH"),
    (f"postgresql+psycopg://nbalife:{SECRET}@127.0.0.1:99999/db", "port 99999 out of range 1-65535"),
    (f"postgresql+psycopg://nbalife:{SECRET}@127.0.0.1:0/db", "port 0 out of range"),
    (f"postgresql+psycopg://nbalife:{SECRET}@127.0.0.1:port/db", "expected DIALECT://"),
])
def test_malformed_urls_are_exit_2_without_the_url(home: Path, url: str, reason: str) -> None:
    proc = run_nbalife("--home", str(home), "--db", url, "db", "check")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: malformed database URL") and reason in proc.stderr
    assert SECRET not in proc.stderr + proc.stdout and "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1


def test_an_unreachable_server_is_exit_4_with_the_password_hidden(home: Path) -> None:
    proc = run_nbalife("--home", str(home), "--db", f"postgresql+psycopg://nbalife:{SECRET}@127.0.0.1:1/db",
                       "db", "check")
    assert proc.returncode == 4
    assert "postgresql+psycopg://nbalife:***@127.0.0.1:1/db is unreachable" in proc.stderr
    assert SECRET not in proc.stderr + proc.stdout


def test_a_password_in_the_config_file_is_hidden_by_config_show_and_validate(cli, home: Path) -> None:
    config = home / "config.yaml"
    config.write_text(f"database:\n  url: postgresql+psycopg://nbalife:{SECRET}@127.0.0.1:1/db?password={SECRET}\n")
    for args in (["config", "show"], ["--json", "config", "show"], ["config", "validate", str(config)],
                 ["--json", "config", "validate", str(config)]):
        result = cli(*args)
        assert result.exit_code == 0, result.output
        assert SECRET not in result.output and "nbalife:***@127.0.0.1:1/db" in result.output
    config.write_text(f"database:\n  url: [postgresql+psycopg://nbalife:{SECRET}@h/db]\n")
    result = cli("config", "validate", str(config))
    assert result.exit_code == 2 and SECRET not in result.output
    assert "database.url = <not shown: may hold a password>: expected text" in result.output
