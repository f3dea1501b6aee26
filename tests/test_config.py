"""Settings: precedence, provenance and validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nbalife.config import Settings, default_yaml, load_settings
from nbalife.errors import BadInput

REPO = Path(__file__).resolve().parents[1]


def test_defaults_are_the_reference_thresholds() -> None:
    s = Settings()
    assert s.conformal.target_coverage == 0.95
    assert s.conformal.recalibration_threshold == 0.05
    assert s.conformal.min_samples == 100
    assert s.lstm.retrain_every_days == 30 and s.lstm.min_new_games == 100
    assert s.lstm.min_improvement == 0.1
    assert s.dejavu.max_size == 5000
    assert s.monitoring.mae_alert == 8.0
    assert s.abtest.min_improvement == 0.5 and s.abtest.p_value == 0.05
    assert s.abtest.stages == (10, 25, 50, 100)
    assert s.registry.keep_versions == 5


def test_repo_config_yaml_is_the_defaults() -> None:
    assert (REPO / "config.yaml").read_text() == default_yaml()
    loaded = load_settings(REPO / "config.yaml", environ={})
    assert loaded.settings == Settings()


def test_precedence_default_file_env_cli(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("monitoring:\n  mae_alert: 7.0\n  coverage_alert: 0.8\nlstm:\n  epochs: 5\n")
    env = {"NBALIFE_MONITORING__MAE_ALERT": "6.5", "NBALIFE_LSTM__EPOCHS": "7", "OTHER": "x"}
    loaded = load_settings(path, environ=env, overrides={"lstm.epochs": 9, "database.url": None})
    s = loaded.settings
    assert s.monitoring.coverage_alert == 0.8
    assert s.monitoring.mae_alert == 6.5
    assert s.lstm.epochs == 9
    assert s.lstm.hidden_size == 64
    sources = loaded.sources
    assert sources["monitoring.coverage_alert"] == f"file {path}"
    assert sources["monitoring.mae_alert"] == "env NBALIFE_MONITORING__MAE_ALERT"
    assert sources["lstm.epochs"] == "command line"
    assert sources["lstm.hidden_size"] == "default"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("monitoring:\n  mae_alrt: 7\n", "unknown setting 'monitoring.mae_alrt'"),
        ("monitorin:\n  mae_alert: 7\n", "unknown section 'monitorin'"),
        ("monitoring:\n  mae_alert: high\n", "monitoring.mae_alert = 'high': expected a number"),
        ("monitoring:\n  mae_alert: -1\n", "monitoring.mae_alert = -1: out of range"),
        ("lstm:\n  epochs: 2.5\n", "lstm.epochs = 2.5: expected a whole number"),
        ("lstm:\n  epochs: true\n", "lstm.epochs = True: expected a whole number"),
        ("dejavu:\n  aggregation: mean\n", "dejavu.aggregation = 'mean': expected one of median, weighted"),
        ("conformal:\n  target_coverage: 1.5\n", "conformal.target_coverage = 1.5: out of range"),
        ("abtest:\n  stages: [50, 25, 100]\n", "abtest.stages"),
        ("lstm: 3\n", "section 'lstm' must be a mapping"),
        ("- a\n- b\n", "expected a mapping"),
        ("lstm:\n  epochs: [\n", "invalid YAML"),
    ],
)
def test_invalid_file_names_key_and_value(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(BadInput) as info:
        load_settings(path, environ={})
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_invalid_environment_value_names_the_variable() -> None:
    with pytest.raises(BadInput, match="NBALIFE_REGISTRY__KEEP_VERSIONS: registry.keep_versions = '0'"):
        load_settings(None, environ={"NBALIFE_REGISTRY__KEEP_VERSIONS": "0"})


def test_nullable_values(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("conformal:\n  recency_halflife_days: 14\ndatabase:\n  url: null\n")
    s = load_settings(path, environ={}).settings
    assert s.conformal.recency_halflife_days == 14.0 and s.database.url is None
    path.write_text("lstm:\n  epochs: null\n")
    with pytest.raises(BadInput, match="lstm.epochs = None: a value is required"):
        load_settings(path, environ={})


def test_cli_config_show_reports_sources(cli, home: Path) -> None:
    (home / "config.yaml").write_text("monitoring:\n  mae_alert: 7.5\n")
    result = cli("--json", "config", "show", env={"NBALIFE_LSTM__EPOCHS": "4"})
    assert result.exit_code == 0, result.output
    rows = {r["key"]: r for r in json.loads(result.stdout)}
    assert rows["monitoring.mae_alert"]["value"] == 7.5
    assert rows["monitoring.mae_alert"]["source"].startswith("file ")
    assert rows["lstm.epochs"] == {"key": "lstm.epochs", "value": 4, "source": "env NBALIFE_LSTM__EPOCHS"}
    assert rows["database.url"]["source"] == "default"


def test_cli_config_validate(cli, tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("registry:\n  keep_versions: 3\n")
    result = cli("config", "validate", str(good))
    assert result.exit_code == 0 and "keep_versions" in result.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("registry:\n  keep_versions: many\n")
    result = cli("config", "validate", str(bad))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {bad}: registry.keep_versions = 'many': expected a whole number"


def test_bad_config_file_fails_any_command(cli, home: Path) -> None:
    (home / "config.yaml").write_text("monitoring:\n  mae_alert: [1]\n")
    result = cli("db", "check")
    assert result.exit_code == 2
    assert "monitoring.mae_alert" in result.stderr
