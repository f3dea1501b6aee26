"""Hardening: a refusal names what it refuses. A number too long for Python in config.yaml is
named by its key and line; a games file with a header and no rows is refused naming the file by
every command that needs games (train, evaluate, replay), and passes through the commands that
take rows one by one (predict writes an empty file, ingest reports 0 rows)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli, run_nbalife

HUGE = "9" * 5000


@pytest.mark.parametrize(("text", "named"), [
    (f"monitoring:\n  window_hours: 24\n  min_predictions: {HUGE}\n",
     "key 'min_predictions': a whole number of 5000 digits is too long to read (line 3, column 20)"),
    (f"abtest:\n  stages: [10, {HUGE}]\n", "key 'stages': a whole number of 5000 digits is too long to read (line 2"),
    (f"lstm:\n  seed: -{HUGE}\n", "key 'seed': a whole number of 5000 digits is too long to read (line 2, column 9)"),
    (f"notify:\n  timeout_s: {{a: {{b: {HUGE}}}}}\n", "key 'b': a whole number of 5000 digits"),
    (f"lstm:\n  epochs: 1_{HUGE}\n", "key 'epochs': a whole number of 5001 digits"),
])
def test_a_number_too_long_names_its_key_and_line(cli: Cli, home: Path, text: str, named: str) -> None:
    config = home / "config.yaml"
    config.write_text(text)
    for args in (["config", "show"], ["config", "validate", str(config)]):
        result = cli(*args)
        assert result.exit_code == 2, result.output
        message = result.stderr.strip()
        assert message.startswith(f"error: {config}: invalid YAML: ") and named in message, message
        assert len(message) < 300 and "Exceeds the limit" not in message and "sys.set_int_max_str_digits" not in message


def test_a_number_too_long_as_a_process(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(f"registry:\n  keep_versions: {HUGE}\n")
    proc = run_nbalife("--home", str(tmp_path), "status")
    assert proc.returncode == 2
    assert proc.stderr == (f"error: {tmp_path / 'config.yaml'}: invalid YAML: key 'keep_versions': a whole number "
                           "of 5000 digits is too long to read (line 2, column 18)\n")


def test_a_number_too_long_from_the_environment_names_the_variable(cli: Cli) -> None:
    result = cli("config", "show", env={"NBALIFE_LSTM__EPOCHS": HUGE})
    assert result.exit_code == 2
    assert result.stderr.startswith("error: environment NBALIFE_LSTM__EPOCHS: lstm.epochs = '9999")
    assert result.stderr.strip().endswith("expected a whole number") and len(result.stderr) < 200


@pytest.fixture
def header_only(tmp_path: Path, repo_data: Path) -> Path:
    path = tmp_path / "header-only.csv"
    path.write_text((repo_data / "nba_2021-22.csv").read_text().splitlines()[0] + "\n")
    return path


@pytest.mark.parametrize("args", [
    ["replay", "--games", "{empty}"],
    ["replay", "--games", "{full}", "--games", "{empty}"],
    ["train", "--games", "{empty}"],
])
def test_a_header_only_games_file_is_refused_naming_it(cli: Cli, header_only: Path, repo_data: Path,
                                                       args: list[str]) -> None:
    names = {"empty": header_only, "full": repo_data / "nba_2021-22.csv"}
    result = cli(*[a.format(**names) for a in args])
    assert result.exit_code == 2, result.output
    assert result.stderr == f"error: {header_only}: no games (the file holds a header and no rows)\n"


def test_a_header_only_games_file_as_a_process(home: Path, header_only: Path) -> None:
    proc = run_nbalife("--home", str(home), "replay", "--games", str(header_only))
    expected = f"error: {header_only}: no games (the file holds a header and no rows)\n"
    assert (proc.returncode, proc.stderr) == (2, expected)


def test_ingest_passes_a_header_only_file_through_and_says_so(cli: Cli, header_only: Path) -> None:
    result = cli("--json", "data", "ingest", str(header_only))
    assert result.exit_code == 0, result.output
    assert '"rows": 0' in result.stdout and '"inserted": 0' in result.stdout


@pytest.mark.parametrize("name", ["bad\x1b[31mred.csv", "bad\x1erecord.csv", "bad\u2028line.csv", "bad\rname.csv"])
def test_control_characters_in_a_named_value_stay_text_on_one_line(home: Path, tmp_path: Path, name: str) -> None:
    missing = tmp_path / name
    proc = run_nbalife("--home", str(home), "data", "ingest", str(missing))
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.isprintable() is False  # only the final newline
    assert proc.stderr[:-1].isprintable() and "no such file" in proc.stderr
    assert repr(name[3])[1:-1] in proc.stderr
