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
    DELETED = "deleted"
    BROKEN = "broken"


@dataclass(frozen=True)
class FileEntry:
    """One artifact of a model set, as recorded in metadata.json."""

    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class VersionInfo:
    """A registered model set as the store records it, and ``path``, where this home keeps its
    local copy (materialised on demand). ``state`` is candidate, production, retired or deleted
    (a tombstone: metadata and lineage, no artifacts, ``deleted_at`` set); ``retired`` names the
    stale candidates its registration retired."""

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
    state: str = "candidate"
    deleted_at: datetime | None = None
    created_by: str = ""
    retired: tuple[str, ...] = ()

    @property
    def tombstone(self) -> str | None:
        """"deleted by gc on D" for a deleted version, else None."""
        return None if self.deleted_at is None else f"deleted by gc on {self.deleted_at.date().isoformat()}"


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
    deleted_at: datetime | None = None


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
    rematerialised: bool = False


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
class SwitchRecord:
    """One row of the history of production: who moved it, when, from what to what, and why.
    action is promote, rollback or auto (a deferred promotion carried out after the freeze)."""

    id: int
    at: datetime
    who: str
    host: str
    action: str
    from_version: str | None
    to_version: str
    reason: str
    forced: bool
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def time(self) -> datetime:
        """When it happened (the name the folder-era history used)."""
        return self.at

    @property
    def user(self) -> str:
        return self.who


@dataclass(frozen=True)
class Pending:
    """A promotion the live-game freeze deferred: ``state`` waiting, done, refused or cancelled."""

    id: int
    asked_at: datetime
    who: str
    host: str
    action: str
    version: str
    reason: str
    force: bool
    not_before: datetime
    state: str
    done_at: datetime | None = None
    outcome: str | None = None


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
    lost: tuple[str, ...] = ()


@dataclass(frozen=True)
class Production:
    """The verified production model set: load artifacts from ``path`` only."""

    version: str
    path: Path
    info: VersionInfo


@dataclass(frozen=True)
class GcResult:
    """What gc deleted (now tombstones), what it kept, why each protected version was kept,
    and the local folders and staging leftovers it removed from this home."""

    deleted: tuple[str, ...]
    kept: tuple[str, ...]
    cleaned: tuple[str, ...]
    protected: dict[str, str] = field(default_factory=dict)
