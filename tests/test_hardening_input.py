"""Hardening: any bad input is exit 2 with one bounded line naming what is wrong, never a
traceback; the config loader and the interchange validator hold for any input (hypothesis)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbalife.cli.app import MESSAGE_LIMIT, one_line
from nbalife.config import load_settings
from nbalife.errors import BadInput, quoted
from nbalife.interchange import GAME_COLUMNS, parse_game_date, validate
from tests.conftest import run_nbalife

ALIASES = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{b}: &{b} [{','.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi"))


def assert_one_bounded_line(stderr: str) -> None:
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr[:500]
    assert len(stderr) <= MESSAGE_LIMIT + len("error: \n") and "Traceback" not in stderr


@pytest.mark.parametrize(("text", "message"), [
    (ALIASES, "aliases (*name) are not allowed"),
    ("registry:\n  keep_versions: " + "9" * 5000 + "\n",
     "key 'keep_versions': a whole number of 5000 digits is too long to read (line 2, column 18)"),
    ("registry:\n  keep_versions: " + "[" * 2000 + "]" * 2000 + "\n", "nested too deeply"),
    ("registry:\n  keep_versions: 3\n  keep_versions: 4\n", "duplicate key 'keep_versions' (line 3"),
    ("registry:\n  keep_versions: 3\nmonitoring:\n  mae_alert: 7\nregistry:\n  gate_games: 10\n",
     "duplicate key 'registry' (line 5"),
    ("training:\n  validation_fraction: 0.5\n  calibration_fraction: 0.45\n",
     "training.validation_fraction + training.calibration_fraction = 0.95 leaves 5% of the games to train on"),
    ("monitoring:\n  mae_alert: '" + "x" * 5000 + "'\n", "monitoring.mae_alert = 'xxx"),
    ("monitoring:\n  mae_alert: 'a\\nb'\n", "monitoring.mae_alert = 'a\\\\nb': expected a number"),
    ("#" * (1 << 20) + "\n", "config file larger than 1048576 bytes"),
])
def test_bad_config_is_one_bounded_line(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(text)
    proc = run_nbalife("config", "validate", str(config))
    assert proc.returncode == 2, proc.stderr[:300]
    assert_one_bounded_line(proc.stderr)
    assert message in proc.stderr


def test_training_fractions_may_leave_a_fifth_of_the_games_to_train_on(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("training:\n  validation_fraction: 0.4\n  calibration_fraction: 0.4\n")
    assert load_settings(config, environ={}).settings.training.calibration_fraction == 0.4
    with pytest.raises(BadInput, match="env NBALIFE_TRAINING__VALIDATION_FRACTION"):
        load_settings(config, environ={"NBALIFE_TRAINING__VALIDATION_FRACTION": "0.41"})


@pytest.mark.parametrize("command", [
    ["data", "simulate", "--out", "{tmp}/s.csv", "--games", "5"],
    ["data", "summary"],
    ["metrics", "report"],
    ["history"],
    ["config", "show"],
    ["cron", "show"],
    ["registry", "list"],
    ["demo", "--quick"],
])
def test_a_bad_config_stops_every_command(home: Path, tmp_path: Path, command: list[str]) -> None:
    (home / "config.yaml").write_text("registry:\n  keep_versions: 3\nregistry:\n  gate_games: 10\n")
    before = sorted(p.name for p in home.iterdir())
    proc = run_nbalife("--home", str(home), *[c.format(tmp=tmp_path) for c in command])
    assert proc.returncode == 2 and "duplicate key 'registry'" in proc.stderr, proc.stderr
    assert sorted(p.name for p in home.iterdir()) == before and not (tmp_path / "s.csv").exists()


def test_config_validate_and_defaults_and_help_run_despite_a_bad_config(home: Path, tmp_path: Path) -> None:
    (home / "config.yaml").write_text("registry: [\n")
    good = tmp_path / "good.yaml"
    good.write_text("registry:\n  keep_versions: 3\n")
    assert run_nbalife("--home", str(home), "config", "validate", str(good)).returncode == 0
    assert run_nbalife("--home", str(home), "config", "defaults").returncode == 0
    assert run_nbalife("--home", str(home), "data", "simulate", "--help").returncode == 0


@pytest.mark.parametrize(("content", "message"), [
    ('{"mae": ' + "[" * 100000 + "]" * 100000 + "}", "nesting too deep"),
    ('{"mae": ' + "9" * 5000 + "}", "a number too long"),
])
def test_deep_or_huge_metrics_json_is_exit_2(home: Path, tmp_path: Path, content: str, message: str) -> None:
    artifacts = tmp_path / "art"
    artifacts.mkdir()
    (artifacts / "f.txt").write_text("x")
    metrics = tmp_path / "metrics.json"
    metrics.write_text(content)
    proc = run_nbalife("--home", str(home), "registry", "register", "--from", str(artifacts),
                       "--metrics", str(metrics))
    assert proc.returncode == 2 and message in proc.stderr
    assert_one_bounded_line(proc.stderr)


def test_the_error_line_is_bounded_and_keeps_the_field_after_a_newline() -> None:
    assert one_line("row 3: column home = 'a\nb': missing") == "row 3: column home = 'a\\nb': missing"
    long = one_line("x" * 10_000)
    assert len(long) == MESSAGE_LIMIT and long.endswith("…")
    assert quoted("v" * 1000).startswith("'vvv") and len(quoted("v" * 1000)) == 80
    assert quoted(10**5000) == f"<{(10**5000).bit_length()}-bit integer>"


def test_a_file_name_with_a_newline_still_names_the_field(home: Path, real_games: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad\nname.csv"
    frame = pd.read_csv(real_games, dtype=str).head(3)
    frame.loc[1, "home"] = ""
    frame.to_csv(bad, index=False)
    proc = run_nbalife("--home", str(home), "data", "ingest", str(bad))
    assert proc.returncode == 2
    assert_one_bounded_line(proc.stderr)
    assert "bad\\nname.csv: row 3" in proc.stderr and "column home = '': missing value" in proc.stderr


@pytest.mark.parametrize(("text", "ok"), [
    ("2023-11-02", True), ("2023-11-02T19:30:00", True), ("2023-11-02 19:30", True),
    ("2023-11-02T19:30:00-04:00", True), ("2023-11-02T19:30:00Z", True),
    ("2023-11-02 garbage", False), ("2023-11-02Tonight", False), ("2023-11-02T19:30 and more", False),
    ("2023-11-02T", False), ("20231102", False), ("2023-W44-4", False), ("２０２３-11-02", False),
    ("2023-02-30", False), ("2023-11-02T25:00", False),
])
def test_game_dates_take_an_iso_time_and_nothing_else(text: str, ok: bool) -> None:
    assert (parse_game_date(text) is not None) is ok


@pytest.mark.parametrize("value", ["2023-11-02 garbage", "2023-11-02T19:30", "20231102", "2023-11-02\nx"])
def test_date_options_are_plain_iso_dates(cli, value: str) -> None:
    result = cli("data", "export", "--out", "x.csv", "--since", value)
    assert result.exit_code == 2 and "is not a date (YYYY-MM-DD)" in result.output
    assert result.output.count("\n") == 1


# --- property-based: the config loader and the interchange validator ---------------------------------

yaml_scalars = st.one_of(st.integers(), st.floats(allow_nan=True), st.booleans(), st.none(),
                         st.text(max_size=30), st.sampled_from(["*a", "&a x", "[", "{", "- x", "~", "1e999"]))
keys = st.sampled_from(["mae_alert", "keep_versions", "k", "stages", "url", "freeze", "x", "validation_fraction"])
sections = st.sampled_from(["monitoring", "registry", "dejavu", "abtest", "database", "training", "nope"])


@st.composite
def yaml_documents(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 4))):
        lines.append(f"{draw(sections)}:")
        for _ in range(draw(st.integers(0, 3))):
            lines.append(f"  {draw(keys)}: {draw(yaml_scalars)}")
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n- x", "\n  : y", "\n\t"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(yaml_documents(), st.text(max_size=200)))
def test_config_loader_gives_settings_or_one_bad_input_line(tmp_path: Path, text: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(text, errors="surrogatepass")
    try:
        load_settings(config, environ={})
    except BadInput as exc:
        message = one_line(str(exc))
        assert message and len(message) <= MESSAGE_LIMIT


cells = st.one_of(st.sampled_from(["0", "1", "-3", "", "nan", "1.5", "1e3", "inf", "٣", "1_0", " 2 ", "x",
                                   "2023-11-02", "2023-11-02 x", "2023-11-02T10:00", "a\nb", "<NA>", "200"]),
                  st.text(max_size=8))


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.lists(cells, min_size=len(GAME_COLUMNS), max_size=len(GAME_COLUMNS)), max_size=6))
def test_validator_splits_any_rows_into_typed_games_and_bounded_rejections(rows: list[list[str]]) -> None:
    frame = pd.DataFrame(rows, columns=GAME_COLUMNS, dtype=object)
    valid, rejections = validate(frame)
    assert len(valid) + len(rejections) == len(frame)
    assert valid["game_id"].is_unique
    for column in [c for c in GAME_COLUMNS if c.startswith("d")]:
        assert str(valid[column].dtype) == "int64"
    assert all(parse_game_date(d) is not None for d in valid["game_date"])
    for rejection in rejections:
        message = one_line(rejection.message(Path("games.csv")))
        assert f"column {rejection.column}" in message or len(message) == MESSAGE_LIMIT


def test_ingest_json_of_a_rejected_row_names_the_column(cli, real_games: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(real_games, dtype=str).head(3)
    frame.loc[2, "game_date"] = "2015-10-28 tonight"
    path = tmp_path / "g.csv"
    frame.to_csv(path, index=False)
    result = cli("--json", "data", "ingest", str(path), "--skip-invalid")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)[0]
    assert report["rejected"] == 1
    rejects = pd.read_csv(report["rejects_file"], dtype=str)
    assert rejects.loc[0, "column"] == "game_date" and rejects.loc[0, "row"] == "4"
