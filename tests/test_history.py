"""``nbalife history``: the lifecycle audit log on both backends."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbalife.cli.options import parse_moment as parse_since
from nbalife.store.events import record_event

START = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def logged(engine, cli_db):  # noqa: ANN001, ANN201
    """Five events an hour apart; "nightly_backup" is a kind only the log knows."""
    kinds = ["ingest", "promote", "nightly_backup", "rollback", "promote"]
    with engine.begin() as conn:
        for hour, kind in enumerate(kinds):
            record_event(conn, kind, "ok", at=START + dt.timedelta(hours=hour),
                         version=f"1.{hour}.0" if kind in {"promote", "rollback"} else None, details={"n": hour})
    return cli_db


def events(cli, *args: str) -> list[dict]:  # noqa: ANN001
    result = cli("--json", "history", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_history_is_newest_first_with_details(logged) -> None:  # noqa: ANN001
    rows = events(logged)
    assert [r["kind"] for r in rows] == ["promote", "rollback", "nightly_backup", "promote", "ingest"]
    assert rows[0]["at"] == (START + dt.timedelta(hours=4)).isoformat()
    assert rows[0]["version"] == "1.4.0" and rows[0]["details"] == {"n": 4} and rows[0]["user"]
    table = logged("history")
    assert table.exit_code == 0 and "Lifecycle events" in table.stdout and "nightly_backup" in table.stdout


def test_history_filters_by_kind_since_and_limit(logged) -> None:  # noqa: ANN001
    assert [r["version"] for r in events(logged, "--kind", "promote")] == ["1.4.0", "1.1.0"]
    assert [r["kind"] for r in events(logged, "--kind", "nightly_backup")] == ["nightly_backup"]
    assert [r["details"]["n"] for r in events(logged, "--since", "2026-03-01T14:00")] == [4, 3, 2]
    assert [r["details"]["n"] for r in events(logged, "--since", "2026-03-01T15:00+01:00")] == [4, 3, 2]
    assert len(events(logged, "--since", "2026-03-01")) == 5
    assert events(logged, "--since", "2026-03-02") == []
    assert [r["details"]["n"] for r in events(logged, "--limit", "2")] == [4, 3]
    assert [r["details"]["n"] for r in events(logged, "--kind", "promote", "--since", "2026-03-01T14:00")] == [4]


def test_a_kind_of_the_vocabulary_with_no_events_is_empty(cli_db) -> None:  # noqa: ANN001
    assert events(cli_db, "--kind", "db_upgrade") == []


@pytest.mark.parametrize(("args", "message"), [
    (("--kind", "promotoin"), "error: --kind 'promotoin': no such event kind; use one of "),
    (("--since", "yesterday"), "error: Invalid value for '--since': 'yesterday' is not a date"),
    (("--since", "2026-02-30"), "error: Invalid value for '--since': '2026-02-30' is not a date"),
    (("--limit", "0"), "error: Invalid value for '--limit'"),
    (("--limit", "-3"), "error: Invalid value for '--limit'"),
])
def test_bad_options_are_exit_2_naming_the_option(logged, args: tuple[str, ...], message: str) -> None:  # noqa: ANN001
    result = logged("history", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    if args[0] == "--kind":
        assert "nightly_backup" in result.stderr and "promote" in result.stderr


@settings(max_examples=200, deadline=None)
@given(st.datetimes(timezones=st.none() | st.just(dt.timezone(dt.timedelta(hours=-5)))))
def test_since_reads_any_iso_time_as_an_aware_time(moment: dt.datetime) -> None:
    parsed = parse_since(moment.isoformat())
    assert parsed.tzinfo is not None
    assert parsed == (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc))
