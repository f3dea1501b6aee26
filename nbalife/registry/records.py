"""Value types of the model registry: versions, change kinds, statuses, results."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from nbalife.errors import BadInput

_SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")


class ChangeKind(str, Enum):
    """Why a model set was made; decides the next version number."""

    RECALIBRATION = "recalibration"  # patch
    DEJAVU_UPDATE = "dejavu_update"  # minor
    LSTM_RETRAIN = "lstm_retrain"  # minor
    MANUAL = "manual"  # major


class Status(str, Enum):
    """Where a version stands, as `list` shows it."""

    PRODUCTION = "production"
    PREVIOUS = "previous"
    AB_TEST = "ab_test"
    CANDIDATE = "candidate"
    ARCHIVED = "archived"
    BROKEN = "broken"


def parse_version(text: str) -> tuple[int, int, int]:
    """``"1.2.0"`` -> ``(1, 2, 0)``; anything but MAJOR.MINOR.PATCH is bad input."""
    match = _SEMVER.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise BadInput(f"invalid version {text!r}: expected MAJOR.MINOR.PATCH, e.g. 1.2.0")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def is_version(text: str) -> bool:
    return _SEMVER.fullmatch(text) is not None


def newest_first(versions: Iterable[str]) -> list[str]:
    """Versions ordered by semver (not string), newest first."""
    return sorted(versions, key=parse_version, reverse=True)


def next_version(existing: Iterable[str], kind: ChangeKind) -> str:
    """The version after the highest existing one: patch for a recalibration, minor for a
    Dejavu update or LSTM retrain, major for a manual change; 1.0.0 when none exists."""
    ordered = newest_first(existing)
    if not ordered:
        return "1.0.0"
    major, minor, patch = parse_version(ordered[0])
    if kind is ChangeKind.RECALIBRATION:
        return f"{major}.{minor}.{patch + 1}"
    if kind is ChangeKind.MANUAL:
        return f"{major + 1}.0.0"
    return f"{major}.{minor + 1}.0"


@dataclass(frozen=True)
class Gate:
    """Promotion gate: the candidate's ``mae`` must not exceed ``max_mae`` and its
    ``coverage`` must not fall below ``min_coverage`` (None: not checked)."""

    max_mae: float | None = None
    min_coverage: float | None = None

    def failures(self, metrics: Mapping[str, Any]) -> list[str]:
        """One line per failing (or missing) figure; empty when the gate passes."""
        out = []
        for name, bound, too_far in (
            ("mae", self.max_mae, lambda v, b: v > b),
            ("coverage", self.min_coverage, lambda v, b: v < b),
        ):
            if bound is None:
                continue
            value = metrics.get(name)
            if not _is_number(value):
                out.append(f"{name} is missing from the metrics (gate needs it)")
            elif too_far(value, bound):
                relation = "above the maximum" if name == "mae" else "below the minimum"
                out.append(f"{name} {value:g} is {relation} {bound:g}")
        return out


def _is_number(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


@dataclass(frozen=True)
class FileEntry:
    """One artifact of a model set, as recorded in metadata.json."""

    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class VersionInfo:
    """A registered model set: its metadata.json plus where it lives."""

    version: str
    created_at: datetime
    parent: str | None
    description: str
    kind: ChangeKind
    metrics: dict[str, Any]
    params: dict[str, Any]
    training_window: dict[str, Any] | None
    nbalife_version: str
    files: tuple[FileEntry, ...]
    path: Path


@dataclass(frozen=True)
class VersionRow:
    """One line of `list`; ``error`` is set (and status is BROKEN) when metadata is unreadable."""

    version: str
    status: Status
    created_at: datetime | None
    kind: ChangeKind | None
    description: str
    metrics: dict[str, Any]
    error: str | None = None


@dataclass(frozen=True)
class FileProblem:
    """A verification failure: problem is checksum, size, missing, not a regular file,
    unexpected or metadata (metadata.json unreadable; ``actual`` says why)."""

    name: str
    problem: str
    expected: str | None = None
    actual: str | None = None

    def describe(self) -> str:
        """The problem in words, without the file name (metadata: the reader's message)."""
        if self.problem == "metadata":
            return self.actual or "metadata.json unreadable"
        if self.expected is not None:
            return f"{self.problem} mismatch (expected {self.expected}, found {self.actual})"
        return self.problem


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of recomputing a version's checksums."""

    version: str
    ok: bool
    problems: tuple[FileProblem, ...] = ()


@dataclass(frozen=True)
class DiffRow:
    """One compared item; section is meta, metric, param or file."""

    section: str
    name: str
    a: Any
    b: Any
    changed: bool


@dataclass(frozen=True)
class VersionDiff:
    a: str
    b: str
    rows: tuple[DiffRow, ...]


@dataclass(frozen=True)
class RegistryEvent:
    """A registry mutation: one line of HISTORY.jsonl and one lifecycle-event callback.

    action is register, promote, rollback, gc or recover (an interrupted switch found and
    written off by the next mutation; production did not change)."""

    time: datetime
    action: str
    from_version: str | None
    to_version: str | None
    reason: str
    user: str
    host: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Switch:
    """Result of a promotion or rollback."""

    action: str
    from_version: str | None
    to_version: str
    at: datetime
    reason: str
    forced: bool
    gate_failures: tuple[str, ...]
    path: Path


@dataclass(frozen=True)
class Production:
    """The verified production model set: load artifacts from ``path`` only."""

    version: str
    path: Path
    info: VersionInfo


@dataclass(frozen=True)
class GcResult:
    deleted: tuple[str, ...]
    kept: tuple[str, ...]
    cleaned: tuple[str, ...]
