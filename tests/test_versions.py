"""Version strings: one checker (nbalife.versions) for every place a version enters."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbalife.errors import BadInput
from nbalife.versions import MAX_PART, ChangeKind, checked_version, is_version, next_version, parse_version
from tests.conftest import run_nbalife

LINE_LIMIT = 200

part = st.integers(0, MAX_PART).map(str)
valid = st.tuples(part, part, part).map(".".join)
near_miss = st.one_of(
    st.tuples(st.text("0123456789٢३١", min_size=0, max_size=12), part, part).map(".".join),
    st.tuples(part, part, st.integers(MAX_PART + 1, 10**30).map(str)).map(".".join),
    st.text(".0123456789", max_size=30),
    st.tuples(valid, st.sampled_from(["\n", " ", "-rc1", "+b", ".0"])).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(valid, near_miss, st.text(max_size=60), st.text(min_size=5000, max_size=6000, alphabet="19.")))
def test_any_text_is_a_version_or_one_bounded_line(text: str) -> None:
    try:
        major, minor, patch = parse_version(text)
    except BadInput as exc:
        message = str(exc)
        assert "\n" not in message and len(message) <= LINE_LIMIT and not is_version(text)
    else:
        assert text == f"{major}.{minor}.{patch}" and text.isascii() and max(major, minor, patch) <= MAX_PART
        assert is_version(text) and checked_version(text) == text


@given(valid)
def test_valid_versions_round_trip(text: str) -> None:
    assert ".".join(map(str, parse_version(text))) == text


@pytest.mark.parametrize("text", ["1.٢.3", "١.0.0", "01.2.3", "1.2", "1.2.3.4", f"{MAX_PART + 1}.0.0",
                                  "9" * 5000 + ".0.0", "1.2.3\n", " 1.2.3", "v1.2.3", ""])
def test_rejected_with_the_value_named_and_cut(text: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_version(text)
    message = str(caught.value)
    assert repr(text[:10])[1:-1] in message and len(message) <= LINE_LIMIT


def test_numbering_stops_at_the_bound() -> None:
    assert next_version({f"1.{MAX_PART - 1}.0"}, ChangeKind.DEJAVU_UPDATE) == f"1.{MAX_PART}.0"
    with pytest.raises(BadInput, match="numbers stop"):
        next_version({f"1.{MAX_PART}.0"}, ChangeKind.DEJAVU_UPDATE)


HUGE = "9" * 5000 + ".0.0"
COMMANDS = [
    ("registry", "show", HUGE), ("registry", "verify", "1.٢.3"), ("registry", "promote", "01.0.0"),
    ("registry", "rollback", HUGE), ("registry", "diff", "1.0.0", HUGE),
    ("registry", "register", "--from", ".", "--version", HUGE),
    ("registry", "register", "--from", ".", "--base", "1.٢.3"),
    ("abtest", "start", "--candidate", HUGE), ("evaluate", "--input", "x.csv", "--version", "1.0"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(x[:12] for x in a))
def test_every_version_argument_is_exit_2_naming_it(cli, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "invalid version" in lines[0] and len(lines[0]) <= 400, lines
    assert not (cli.home / "model_registry").exists() or not any((cli.home / "model_registry").iterdir())


def test_a_subprocess_gets_exit_2_and_no_traceback(tmp_path: Path) -> None:
    result = run_nbalife("--home", str(tmp_path / "home"), "registry", "show", HUGE)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error:") and len(result.stderr) < 400
