"""The live-game freeze window, with a fixed clock."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nbalife.errors import BadInput
from nbalife.ops.freeze import parse_freeze

UTC = dt.timezone.utc


@pytest.mark.parametrize(("utc", "frozen"), [
    (dt.datetime(2024, 1, 15, 23, 59), False),  # 18:59 in New York (EST, UTC-5)
    (dt.datetime(2024, 1, 16, 0, 0), True),     # 19:00
    (dt.datetime(2024, 1, 16, 5, 59), True),    # 00:59
    (dt.datetime(2024, 1, 16, 6, 0), False),    # 01:00
    (dt.datetime(2024, 7, 15, 23, 0), True),    # 19:00 in summer (EDT, UTC-4)
    (dt.datetime(2024, 7, 15, 22, 59), False),
])
def test_default_window_follows_new_york_time(utc: dt.datetime, frozen: bool) -> None:
    freeze = parse_freeze("19:00-01:00 America/New_York", "UTC")
    assert freeze.active(utc) is frozen
    assert freeze.active(utc.replace(tzinfo=UTC)) is frozen


@pytest.mark.parametrize(("text", "league", "zone"), [
    ("19:00-01:00", "America/New_York", "America/New_York"),
    ("19:00-01:00", "Europe/Paris", "Europe/Paris"),
    ("12:00-13:30, 19:00-23:00", "Europe/Paris", "Europe/Paris"),
    ("12:00-13:30,19:00-23:00", "Europe/Paris", "Europe/Paris"),
    ("19:00-01:00 America/Los_Angeles", "America/New_York", "America/Los_Angeles"),  # a written zone wins
])
def test_a_freeze_without_a_zone_is_read_in_the_league_zone(text: str, league: str, zone: str) -> None:
    freeze = parse_freeze(text, league)
    assert freeze.zone == zone
    from zoneinfo import ZoneInfo

    seven_pm = dt.datetime(2024, 1, 15, 19, 0, tzinfo=ZoneInfo(zone))
    assert freeze.active(seven_pm) and not freeze.active(seven_pm - dt.timedelta(hours=8))


def test_an_unknown_league_zone_is_bad_input_for_a_freeze_without_one() -> None:
    with pytest.raises(BadInput, match="unknown time zone 'Mars/Olympus'"):
        parse_freeze("19:00-01:00", "Mars/Olympus")


def test_the_default_freeze_follows_league_timezone(cli, home) -> None:  # noqa: ANN001
    from nbalife.config import load_settings
    from nbalife.services.registry import active_freeze, freeze_zone

    paris = load_settings(None, environ={}, overrides={"registry.freeze": "19:00-01:00",
                                                      "league.timezone": "Europe/Paris"}).settings
    assert load_settings(None, environ={}).settings.registry.freeze == "19:00-01:00"
    assert freeze_zone(paris) == "Europe/Paris"
    assert active_freeze(paris, dt.datetime(2024, 1, 15, 18, 30, tzinfo=UTC))  # 19:30 in Paris
    assert not active_freeze(paris, dt.datetime(2024, 1, 16, 0, 30, tzinfo=UTC))  # 01:30 in Paris, 19:30 in New York
    (home / "config.yaml").write_text("league:\n  timezone: Europe/Paris\nregistry:\n  freeze: '19:00-01:00'\n")
    assert cli("config", "validate", str(home / "config.yaml")).exit_code == 0


def test_several_windows_in_one_zone() -> None:
    freeze = parse_freeze("12:00-13:30, 19:00-23:00 Europe/Paris", "UTC")
    assert [freeze.active(dt.datetime(2024, 1, 15, h, m, tzinfo=UTC)) for h, m in
            [(10, 59), (11, 0), (12, 29), (12, 30), (18, 0), (22, 0)]] == [False, True, True, False, True, False]


@pytest.mark.parametrize(("text", "named"), [
    ("", "HH:MM-HH:MM"), ("19:00-01:00 Mars/Olympus", "Mars/Olympus"), ("7pm-1am America/New_York", "7pm-1am"),
    ("19:00-19:00 UTC", "is empty"), ("24:00-01:00 UTC", "24:00-01:00"),
])
def test_bad_windows_name_the_value(text: str, named: str) -> None:
    with pytest.raises(BadInput, match=named):
        parse_freeze(text, "America/New_York")


@given(st.text(max_size=300))
def test_any_text_parses_or_is_one_bounded_line(text: str) -> None:
    try:
        parse_freeze(text, "America/New_York")
    except BadInput as exc:
        assert len(str(exc)) < 300 and "\n" not in str(exc)


@pytest.mark.parametrize("value", ["19:00-01:00 Nowhere/Land", "19-1 America/New_York"])
def test_config_with_a_bad_freeze_is_exit_2(cli, home, value: str) -> None:
    (home / "config.yaml").write_text(f"registry:\n  freeze: '{value}'\n")
    result = cli("config", "validate", str(home / "config.yaml"))
    assert result.exit_code == 2 and "registry.freeze" in result.stderr


def window_around_now() -> str:
    """A freeze window in UTC that holds the current time (an hour either side)."""
    now = dt.datetime.now(UTC)
    start, end = (now - dt.timedelta(hours=1)).strftime("%H:%M"), (now + dt.timedelta(hours=1)).strftime("%H:%M")
    return f"{start}-{end} UTC"


def test_promotion_waits_in_a_freeze_rollback_does_not_and_force_overrides(cli, home, tiny_model_set) -> None:
    import json

    from nbalife.store.engine import make_engine
    from nbalife.store.migrate import open_store
    from tests.conftest import install_production

    engine = make_engine(f"sqlite:///{home / 'nbalife.db'}")
    open_store(engine)
    first = install_production(home, engine, tiny_model_set)
    assert cli("registry", "register", "--from", str(tiny_model_set.folder), "--kind", "manual").exit_code == 0
    second = json.loads(cli("--json", "registry", "list").stdout)[0]["version"]
    frozen = {"NBALIFE_REGISTRY__FREEZE": window_around_now()}

    waits = cli("--json", "registry", "promote", second, env=frozen)
    assert waits.exit_code == 3, waits.output  # deferred, not dropped
    assert json.loads(waits.stdout)["frozen"] == frozen["NBALIFE_REGISTRY__FREEZE"]
    assert "(pending #1)" in waits.stderr
    assert json.loads(cli("--json", "registry", "current", env=frozen).stdout)["version"] == first
    events = json.loads(cli("--json", "history", "--kind", "promote").stdout)
    assert (events[0]["outcome"], events[0]["version"]) == ("deferred", second)

    forced = cli("registry", "promote", second, "--force", env=frozen)
    assert forced.exit_code == 0, forced.output
    assert json.loads(cli("--json", "registry", "current").stdout)["version"] == second
    back = cli("registry", "rollback", env=frozen)
    assert back.exit_code == 0, back.output
    assert json.loads(cli("--json", "registry", "current").stdout)["version"] == first


@pytest.mark.parametrize("zone", ["Mars/Olympus", "a" * 300, "../etc/passwd", "/etc/localtime", "America/New_York\n",
                                  "", "UTC x"])
def test_an_unknown_zone_is_bad_input_naming_it(zone: str) -> None:
    from nbalife.ops.freeze import check_zone

    with pytest.raises(BadInput, match="time zone .*: unknown") as caught:
        check_zone(zone)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200
    if zone.strip() == zone:  # a freeze's text is read without its surrounding blanks
        with pytest.raises(BadInput, match="unknown time zone"):
            parse_freeze(f"19:00-01:00 {zone or 'x/'}", "UTC")


@given(st.text(max_size=80))
def test_any_zone_text_is_a_zone_or_one_bounded_line(zone: str) -> None:
    from nbalife.ops.freeze import check_zone

    try:
        assert check_zone(zone) == zone
    except BadInput as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 200


@pytest.mark.parametrize(("value", "ok"), [("Europe/Paris", True), ("UTC", True), ("Nowhere/Land", False)])
def test_league_timezone_is_checked_with_the_config(cli, home, value: str, ok: bool) -> None:
    (home / "config.yaml").write_text(f"league:\n  timezone: '{value}'\n")
    result = cli("config", "validate", str(home / "config.yaml"))
    assert (result.exit_code == 0) is ok, result.output
    if not ok:
        assert result.exit_code == 2 and "league.timezone" in result.stderr and "Nowhere/Land" in result.stderr
