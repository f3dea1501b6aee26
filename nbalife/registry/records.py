"""Value types of the model registry: statuses, records and results of its operations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from nbalife.versions import ChangeKind


class Status(str, Enum):
    """Where a version stands, as `list` shows it."""

    PRODUCTION = "production"
    PREVIOUS = "previous"
    AB_TEST = "ab_test"
    CANDIDATE = "candidate"
    ARCHIVED = "archived"
    BROKEN = "broken"


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
