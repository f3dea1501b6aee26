"""Hardening: a database password never reaches a message or an output, whatever the URL's shape;
a URL that does not parse is exit 2 "malformed database URL", naming where it came from, its
password hidden."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbalife.errors import BadInput, quoted
from nbalife.redaction import redact as redact_text
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
    assert proc.stderr.startswith("error: --db: database.url = ") and reason in proc.stderr
    assert "malformed database URL" in proc.stderr
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


# Every URL-valued setting, from every source: shown redacted by config show, named redacted
# (once) by a refusal.
URL_SETTINGS = {"notify.webhook": ("http://", "https://"), "database.url": ("postgresql+psycopg://",)}
webhook_passwords = st.builds(lambda a, b: f"{a}{SECRET}{b}", st.text(alphabet="@:/?#% x'\"", max_size=4),
                              st.text(alphabet="@:/?#%&= y'\"", max_size=4))


@st.composite
def url_settings(draw: st.DrawFn) -> tuple[str, str]:
    """A URL-valued setting and a value holding the secret as a password or a secret query value."""
    key = draw(st.sampled_from(sorted(URL_SETTINGS)))
    scheme = draw(st.sampled_from(URL_SETTINGS[key] + ("ftp://", "http:/", "")))
    user = draw(st.sampled_from(["", "ops", "a b", "u:v"]))
    host = draw(st.sampled_from(["127.0.0.1:1", "hooks.example", "h@st", ""]))
    if draw(st.booleans()):
        return key, f"{scheme}{user}:{draw(webhook_passwords)}@{host}/x"
    param = draw(st.sampled_from(["token", "password", "sig", "api_key"]))
    return key, f"{scheme}{host}/x?a=1&{param}={draw(webhook_passwords).replace('&', '')}"


def _env_name(key: str) -> str:
    section, item = key.split(".")
    return f"NBALIFE_{section.upper()}__{item.upper()}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(setting=url_settings(), source=st.sampled_from(["file", "env"]))
def test_url_settings_are_shown_and_refused_without_the_secret(home: Path, setting: tuple[str, str],
                                                               source: str) -> None:
    key, value = setting
    section, item = key.split(".")
    config = home / "config.yaml"
    env = {"NBALIFE_DATABASE__CONNECT_TIMEOUT_S": "1"}
    if source == "file":
        import yaml

        config.write_text(yaml.safe_dump({section: {item: value}}))
    else:
        config.unlink(missing_ok=True)
        env[_env_name(key)] = value
    cli = Cli(home)
    for args in (["config", "show"], ["--json", "config", "show"]):
        result = cli(*args, env=env)
        assert result.exit_code in (0, 2), result.output
        assert SECRET not in result.output and "Traceback" not in result.output
        if result.exit_code == 2:  # refused: one line, naming the key and the source, the value once
            message = result.stderr.strip()
            assert len(message.splitlines()) == 1 and f"{key} = " in message
            origin = str(config) if source == "file" else f"environment {_env_name(key)}"
            assert message.startswith(f"error: {origin}: {key} = "), message
            assert message.count(quoted(redact_text(value))) == 1, message  # the value once, redacted
    if source == "file":
        result = cli("config", "validate", str(config))
        assert result.exit_code in (0, 2) and SECRET not in result.output


@pytest.mark.parametrize(("value", "shown"), [
    (f"http://ops:{SECRET}@hooks.example/hook", "'http://ops:***@hooks.example/hook'"),
    (f"ftp://ops:{SECRET}@hooks.example/hook", "'ftp://ops:***@hooks.example/hook'"),
    (f"http://ops:{SECRET}@/hook", "'http://ops:***@/hook'"),
    (f"https://hooks.example/hook?token={SECRET}&x=1", "'https://hooks.example/hook?token=***&x=1'"),
])
def test_the_webhook_is_redacted_by_config_show_and_its_refusal(cli, home: Path, value: str, shown: str) -> None:
    (home / "config.yaml").write_text(f"notify:\n  webhook: '{value}'\n")
    result = cli("config", "show")
    assert SECRET not in result.output
    if result.exit_code == 0:
        assert shown.strip("'") in result.output
    else:
        assert result.exit_code == 2
        message = result.stderr.strip()
        assert message.count(shown) == 1 and message.count("ops") <= 1, message
        assert message.startswith(f"error: {home / 'config.yaml'}: notify.webhook = {shown}: expected")


def test_a_value_cut_to_length_is_redacted_first(cli, home: Path) -> None:
    long_password = SECRET * 20
    (home / "config.yaml").write_text(f"notify:\n  webhook: 'ftp://ops:{long_password}@h/x'\n")
    result = cli("config", "show")
    assert result.exit_code == 2 and SECRET not in result.output and "ops:***@h/x" in result.output


@pytest.mark.parametrize(("env", "expected"), [
    ({"NBALIFE_DB": "garbage"}, "error: environment NBALIFE_DB: database.url = 'garbage': malformed database URL"),
    ({"NBALIFE_DB": f"postgresql+psycopg://u:{SECRET}@h:99999/db"},
     "error: environment NBALIFE_DB: database.url = 'postgresql+psycopg://u:***@h:99999/db': malformed"),
    ({"NBALIFE_NOTIFY__WEBHOOK": f"ftp://u:{SECRET}@h/x"},
     "error: environment NBALIFE_NOTIFY__WEBHOOK: notify.webhook = 'ftp://u:***@h/x': expected an http"),
    ({"NBALIFE_CONFIG": "/nonexistent/config.yaml"},
     "error: environment NBALIFE_CONFIG: /nonexistent/config.yaml: no such config file"),
    ({"NBALIFE_HOME": "/nonexistent/home"}, "error: environment NBALIFE_HOME /nonexistent/home: no such folder"),
])
def test_an_environment_value_is_refused_naming_its_variable(tmp_path: Path, env: dict[str, str],
                                                              expected: str) -> None:
    home_args = [] if "NBALIFE_HOME" in env else ["--home", str(tmp_path)]
    proc = run_nbalife(*home_args, "db", "check", env=env, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(expected), proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and SECRET not in proc.stderr + proc.stdout


def test_the_same_value_from_the_option_names_the_option(tmp_path: Path) -> None:
    proc = run_nbalife("--home", str(tmp_path), "--db", "garbage", "db", "check", env={"NBALIFE_DB": "sqlite:///x"})
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: --db: database.url = 'garbage': malformed database URL")


printable = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=12)


@settings(max_examples=500, deadline=None)
@given(prefix=printable, scheme=st.sampled_from(["https://", "postgresql+psycopg://", "http:/", "x:", ""]),
       user=st.sampled_from(["", "ops", "a b", "u:v"]), password=webhook_passwords, host=printable, suffix=printable)
def test_the_one_rule_hides_a_password_wherever_the_url_sits(prefix: str, scheme: str, user: str, password: str,
                                                             host: str, suffix: str) -> None:
    """A URL with a password anywhere in a displayed value (alone, or inside a shell command)."""
    text = f"{prefix}{scheme}{user}:{password}@{host}{suffix}"
    assert SECRET not in redact_text(text)


@pytest.mark.parametrize(("command", "shown"), [
    ("mail -s 'nbalife finding' ops@example.org", "mail -s 'nbalife finding' ops@example.org"),
    (f"curl -sf -d @- https://ops:{SECRET}@hooks.example/x", "***@hooks.example/x"),
])
def test_config_show_redacts_a_url_inside_the_notify_command(cli, home: Path, command: str, shown: str) -> None:
    import json

    (home / "config.yaml").write_text("notify:\n  command: " + json.dumps(command) + "\n")
    result = cli("--json", "config", "show")
    assert result.exit_code == 0 and SECRET not in result.output
    assert {r["key"]: r["value"] for r in json.loads(result.stdout)}["notify.command"] == shown
