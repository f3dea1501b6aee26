"""Typed settings with validation and provenance.

Precedence, lowest first: built-in defaults < the YAML file < ``NBALIFE_<SECTION>__<KEY>``
environment variables < command-line overrides. Every value remembers where it came from.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from nbalife.errors import BadInput, cut, quoted
from nbalife.redaction import redact, redact_value
from nbalife.strict_yaml import read_config_file
from nbalife.vocab import AGGREGATIONS, DEFAULT_K, DEVICES

ENV_PREFIX = "NBALIFE_"
MIN_TRAINING_SHARE = 0.2  # of the games, what the validation and calibration splits must leave


def _range(low: float | None = None, high: float | None = None, *, nullable: bool = False) -> dict:
    return {"low": low, "high": high, "nullable": nullable}


def _database_url_rule(url: str) -> None:
    from nbalife.store.engine import parse_url

    parse_url(url)


@dataclass(frozen=True)
class DatabaseSettings:
    """Where the SQL store lives; None means ``sqlite:///<home>/nbalife.db``."""

    url: str | None = field(default=None, metadata={**_range(nullable=True), "secret": True,
                                                    "check": _database_url_rule})
    busy_timeout_s: float = field(default=30.0, metadata=_range(0, 3600))
    connect_timeout_s: float = field(default=10.0, metadata=_range(1, 600))


@dataclass(frozen=True)
class MonitoringSettings:
    """Hourly performance check over the last resolved games of the serving arms."""

    window_hours: float | None = field(default=None, metadata=_range(1, 24 * 365, nullable=True))
    mae_alert: float = field(default=8.0, metadata=_range(0, 100))
    coverage_alert: float = field(default=0.90, metadata=_range(0, 1))
    min_predictions: int = field(default=10, metadata=_range(1, 10**6))
    window_games: int = field(default=100, metadata=_range(10, 10**6))
    alert_confidence: float = field(default=0.95, metadata=_range(0.5, 0.9999))
    outcome_lag_hours: float = field(default=12.0, metadata=_range(1, 24 * 365))
    missing_days: int = field(default=2, metadata=_range(1, 365))


@dataclass(frozen=True)
class ConformalSettings:
    """Interval calibration and its drift check."""

    target_coverage: float = field(default=0.95, metadata=_range(0.5, 0.999))
    recalibration_threshold: float = field(default=0.05, metadata=_range(0.001, 0.5))
    min_samples: int = field(default=100, metadata=_range(10, 10**7))
    window_days: float = field(default=7.0, metadata=_range(1, 3650))
    recency_halflife_days: float | None = field(default=None, metadata=_range(0.1, 3650, nullable=True))
    aci_gamma: float = field(default=0.005, metadata=_range(0, 0.5))
    cusum_threshold: float | None = field(default=5.5, metadata=_range(0.1, 1000, nullable=True))
    method: str = field(default="split", metadata={"choices": ("split", "weighted", "aci", "online")})
    auto_apply: bool = False
    online: str = field(default="quantile", metadata={"choices": ("quantile", "decaying", "aci", "static")})
    online_step: float = field(default=1.0, metadata=_range(0.01, 10))


@dataclass(frozen=True)
class DejavuSettings:
    """Analog forecaster and its pattern database."""

    k: int = field(default=DEFAULT_K, metadata=_range(1, 10000))
    aggregation: str = field(default="median", metadata={"choices": AGGREGATIONS})
    max_size: int = field(default=5000, metadata=_range(10, 10**8))
    update_every_days: float = field(default=7.0, metadata=_range(0, 3650))
    auto_promote: bool = False


@dataclass(frozen=True)
class LstmSettings:
    """Sequence model, its training and its retraining policy."""

    hidden_size: int = field(default=64, metadata=_range(1, 4096))
    num_layers: int = field(default=2, metadata=_range(1, 8))
    epochs: int = field(default=20, metadata=_range(1, 10000))
    batch_size: int = field(default=256, metadata=_range(1, 1 << 20))
    learning_rate: float = field(default=0.001, metadata=_range(1e-7, 1.0))
    patience: int = field(default=3, metadata=_range(1, 1000))
    tol: float = field(default=0.0, metadata=_range(0, 0.5))
    seed: int = field(default=0, metadata=_range(0, 2**31 - 1))
    device: str = field(default="cpu", metadata={"choices": DEVICES})
    retrain_every_days: float = field(default=30.0, metadata=_range(0, 3650))
    min_new_games: int = field(default=100, metadata=_range(1, 10**7))
    min_improvement: float = field(default=0.1, metadata=_range(0, 100))
    holdout_games: int = field(default=200, metadata=_range(10, 10**6))
    degradation_margin: float = field(default=0.5, metadata=_range(0, 100))
    degradation_days: float = field(default=30.0, metadata=_range(1, 3650))


@dataclass(frozen=True)
class DriftSettings:
    """Input drift of recent games against production's training window."""

    window_days: float = field(default=30.0, metadata=_range(1, 3650))
    ks_pvalue: float = field(default=0.01, metadata=_range(1e-12, 0.5))
    psi: float = field(default=0.2, metadata=_range(0, 100))
    bins: int = field(default=10, metadata=_range(2, 100))
    min_games: int = field(default=30, metadata=_range(2, 10**6))


@dataclass(frozen=True)
class TrainingSettings:
    """Time-ordered splits used by ``nbalife train``."""

    validation_fraction: float = field(default=0.15, metadata=_range(0.01, 0.5))
    calibration_fraction: float = field(default=0.20, metadata=_range(0.01, 0.5))


@dataclass(frozen=True)
class AbtestSettings:
    """A/B tests with gradual rollout."""

    min_improvement: float = field(default=0.5, metadata=_range(0.01, 100))
    p_value: float = field(default=0.05, metadata=_range(1e-6, 0.5))
    stages: tuple[int, ...] = field(default=(10, 25, 50, 100), metadata={"percent_stages": True})
    min_games_per_stage: int = field(default=100, metadata=_range(1, 10**7))
    min_stage_hours: float = field(default=24.0, metadata=_range(0, 24 * 365))
    min_coverage: float = field(default=0.90, metadata=_range(0, 1))


def _freeze_rule(text: str) -> None:
    from nbalife.ops.freeze import parse_freeze

    parse_freeze(text, "UTC")  # the windows' syntax and a zone written in them; league.timezone checks its own


@dataclass(frozen=True)
class RegistrySettings:
    """Model registry: retention, promotion gate and lock wait."""

    keep_versions: int = field(default=5, metadata=_range(1, 1000))
    gate_max_mae: float = field(default=8.0, metadata=_range(0, 100))
    gate_min_coverage: float = field(default=0.90, metadata=_range(0, 1))
    gate_min_improvement: float = field(default=0.0, metadata=_range(-100, 100))
    gate_max_vs_persistence: float = field(default=2.0, metadata=_range(0, 100))
    gate_games: int = field(default=300, metadata=_range(1, 10**6))
    gate_min_games: int = field(default=50, metadata=_range(1, 10**6))
    lock_wait_s: float = field(default=10.0, metadata=_range(0, 3600))
    freeze: str | None = field(default="19:00-01:00",
                               metadata={**_range(nullable=True), "check": _freeze_rule})
    keep_predicted_days: int = field(default=400, metadata=_range(0, 100000))


def _webhook_rule(url: str) -> None:
    from nbalife.ops.notify import check_webhook

    check_webhook(url)


@dataclass(frozen=True)
class NotifySettings:
    """Who hears of findings (exit 1): a shell command fed the event as JSON, an HTTP webhook."""

    command: str | None = field(default=None, metadata=_range(nullable=True))
    webhook: str | None = field(default=None, metadata={**_range(nullable=True), "check": _webhook_rule})
    timeout_s: float = field(default=10.0, metadata=_range(0.1, 300))
    repeat_hours: float = field(default=24.0, metadata=_range(0, 24 * 365))


def _zone_rule(text: str) -> None:
    from nbalife.ops.freeze import check_zone

    check_zone(text)


@dataclass(frozen=True)
class LeagueSettings:
    """League time: the zone of game dates, cron times, the freeze and every "day"."""

    timezone: str = field(default="America/New_York", metadata={"check": _zone_rule})


@dataclass(frozen=True)
class GuardSettings:
    """Guardrails (`guard check`): what catches a bad production, a silent feed or a stopped cron."""

    action: str = field(default="rollback", metadata={"choices": ("rollback", "alert")})
    alpha: float = field(default=0.05, metadata=_range(1e-6, 0.5))
    tau: float = field(default=2.0, metadata=_range(0.01, 100))
    margin: float = field(default=0.25, metadata=_range(0, 100))
    min_games: int = field(default=7, metadata=_range(2, 10**6))
    swap_games: int = field(default=15, metadata=_range(3, 1000))
    swap_history_games: int = field(default=20, metadata=_range(5, 10**4))
    swap_threshold: float = field(default=6.0, metadata=_range(0.1, 1000))


@dataclass(frozen=True)
class Settings:
    """Every threshold the lifecycle uses."""

    database: DatabaseSettings = DatabaseSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    conformal: ConformalSettings = ConformalSettings()
    dejavu: DejavuSettings = DejavuSettings()
    lstm: LstmSettings = LstmSettings()
    drift: DriftSettings = DriftSettings()
    training: TrainingSettings = TrainingSettings()
    abtest: AbtestSettings = AbtestSettings()
    registry: RegistrySettings = RegistrySettings()
    notify: NotifySettings = NotifySettings()
    league: LeagueSettings = LeagueSettings()
    guard: GuardSettings = GuardSettings()


@dataclass(frozen=True)
class LoadedSettings:
    """Effective settings and, per ``section.key``, where the value came from."""

    settings: Settings
    sources: dict[str, str]

    def items(self) -> list[tuple[str, Any, str]]:
        rows = []
        for section in dataclasses.fields(self.settings):
            values = getattr(self.settings, section.name)
            for item in dataclasses.fields(values):
                key = f"{section.name}.{item.name}"
                value = redact_value(getattr(values, item.name))
                rows.append((key, value, self.sources[key]))
        return rows


def _shown(raw: Any, *, secret: bool) -> str:
    """A rejected value as a message may name it: redacted (``nbalife.redaction``) before it is
    cut, so a cut URL keeps no password; a non-text value of a secret setting is not shown."""
    if isinstance(raw, str):
        return quoted(redact(raw))
    if isinstance(raw, (int, float)) or raw is None:
        return quoted(raw)
    return "<not shown: may hold a password>" if secret else cut(redact(repr(raw)))


def _coerce(key: str, spec: dataclasses.Field, raw: Any, origin: str) -> Any:
    """Convert ``raw`` to the field's type and check its range; BadInput names key and value."""
    meta = spec.metadata
    kind = spec.type if isinstance(spec.type, str) else getattr(spec.type, "__name__", str(spec.type))

    def fail(reason: str) -> BadInput:
        shown = _shown(raw, secret=bool(meta.get("secret")))
        return BadInput(f"{origin}: {key} = {shown}: {reason}")

    if raw is None or (isinstance(raw, str) and raw.strip().lower() in {"null", "none", "~"}):
        if meta.get("nullable"):
            return None
        raise fail("a value is required")
    if kind.startswith("tuple"):
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, (list, tuple)) or not items:
            raise fail("expected a list of percentages")
        try:
            stages = tuple(int(str(v).strip()) for v in items)
        except ValueError:
            raise fail("expected whole-number percentages") from None
        if any(not 0 < s <= 100 for s in stages) or list(stages) != sorted(set(stages)) or stages[-1] != 100:
            raise fail("stages must be increasing percentages in (0, 100] ending at 100")
        return stages
    base = kind.split("|")[0].strip()
    if base == "str":
        if not isinstance(raw, str):
            raise fail("expected text")
        choices = meta.get("choices")
        if choices and raw not in choices:
            raise fail(f"expected one of {', '.join(choices)}")
        if meta.get("check"):
            try:
                meta["check"](raw)
            except BadInput as exc:
                raise fail(str(exc)) from None
        return raw
    if base == "bool":
        flag = {"true": True, "false": False}.get(str(raw).strip().lower())
        if flag is None:
            raise fail("expected true or false")
        return flag
    if isinstance(raw, bool):
        raise fail(f"expected a {'whole ' if base == 'int' else ''}number")
    try:
        if base == "int":
            if isinstance(raw, float) and not raw.is_integer():
                raise ValueError(raw)
            value: float = int(raw)
        else:
            value = float(raw)
    except (TypeError, ValueError):
        raise fail(f"expected a {'whole ' if base == 'int' else ''}number") from None
    low, high = meta.get("low"), meta.get("high")
    if (low is not None and value < low) or (high is not None and value > high) or value != value:
        raise fail(f"out of range [{low}, {high}]")
    return value


def load_settings(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    origins: Mapping[str, str] | None = None,
) -> LoadedSettings:
    """Build settings from defaults, ``path``, the environment and ``overrides`` (``section.key``);
    ``origins`` names where an override came from (default "command line"), e.g. an option or
    an environment variable the caller read, so that a refused value says so."""
    environ = os.environ if environ is None else environ
    fields_of = {
        section.name: {item.name: item for item in dataclasses.fields(section_type(section.name))}
        for section in dataclasses.fields(Settings)
    }
    values: dict[str, dict[str, Any]] = {name: {} for name in fields_of}
    sources = {f"{name}.{item}": "default" for name, items in fields_of.items() for item in items}

    def put(key: str, raw: Any, origin: str, source: str) -> None:
        section, _, item = key.partition(".")
        if section not in fields_of or item not in fields_of[section]:
            raise BadInput(f"{origin}: unknown setting {quoted(key)}")
        values[section][item] = _coerce(key, fields_of[section][item], raw, origin)
        sources[key] = source

    if path is not None:
        for section, body in read_config_file(path).items():
            if section not in fields_of:
                raise BadInput(f"{path}: unknown section {quoted(section)}")
            if not isinstance(body, dict):
                raise BadInput(f"{path}: section {quoted(section)} must be a mapping")
            for item, raw in body.items():
                put(f"{section}.{item}", raw, str(path), f"file {path}")
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, item = name[len(ENV_PREFIX):].lower().partition("__")
        put(f"{section}.{item}", raw, f"environment {name}", f"env {name}")
    for key, raw in (overrides or {}).items():
        if raw is not None:
            origin = (origins or {}).get(key, "command line")
            put(key, raw, origin, origin.replace("environment ", "env ", 1)
                if origin.startswith("environment ") else "command line")
    settings = Settings(**{name: section_type(name)(**values[name]) for name in fields_of})
    _check_together(settings, sources)
    return LoadedSettings(settings, sources)


def _check_together(settings: Settings, sources: dict[str, str]) -> None:
    """Rules across keys: the validation and calibration splits must leave games to train on."""
    training = settings.training
    left = 1 - training.validation_fraction - training.calibration_fraction
    if left < MIN_TRAINING_SHARE - 1e-9:
        keys = ("training.validation_fraction", "training.calibration_fraction")
        origin = ", ".join(sorted({sources[k] for k in keys} - {"default"})) or "default"
        raise BadInput(f"{origin}: training.validation_fraction + training.calibration_fraction = "
                       f"{1 - left:g} leaves {max(left, 0):.0%} of the games to train on "
                       f"(at least {MIN_TRAINING_SHARE:.0%})")


def section_type(section: str) -> type:
    """The dataclass type of a settings section."""
    return type(getattr(Settings(), section))


def default_yaml() -> str:
    """The defaults as a commented YAML document (what ``config.yaml`` holds)."""
    lines = ["# nbalife configuration: every threshold the lifecycle uses, with its default.",
             "# Override any key with NBALIFE_<SECTION>__<KEY>, e.g. NBALIFE_MONITORING__MAE_ALERT=7.5", ""]
    for section in dataclasses.fields(Settings):
        values = getattr(Settings(), section.name)
        lines.append(f"{section.name}:  # {type(values).__doc__.strip()}")
        for item in dataclasses.fields(values):
            value = getattr(values, item.name)
            if value is None:
                text = "null"
            elif isinstance(value, bool):
                text = str(value).lower()
            elif isinstance(value, tuple):
                text = "[" + ", ".join(str(v) for v in value) + "]"
            else:
                text = str(value)
            lines.append(f"  {item.name}: {text}")
        lines.append("")
    return "\n".join(lines)
