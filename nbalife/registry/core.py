"""The Registry: versioned model sets on disk and the atomic production pointer."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nbalife import __version__
from nbalife.errors import BadInput, CheckFailed
from nbalife.files import fsync_dir
from nbalife.identity import current_user, host_name
from nbalife.locks import file_lock
from nbalife.registry import inspection, journal, metadata, recovery, staging, storage
from nbalife.registry.gate import Gate, Verdict
from nbalife.registry.records import (
    GcResult,
    Production,
    RegistryEvent,
    Switch,
    VersionDiff,
    VersionInfo,
    VersionRow,
    VerifyReport,
)
from nbalife.versions import ChangeKind, next_version, parse_version

NO_PRODUCTION = "no production model set yet: run `nbalife train --register --promote` first"

Check = Callable[[VersionInfo, "VersionInfo | None"], Verdict]
"""A check before a switch: (candidate, production or None) -> Verdict; it may raise to refuse."""
Reconcile = Callable[[list[tuple[RegistryEvent, str]]], None]
"""Given every journal line with its outcome (ok / interrupted), record those not yet recorded."""


class Registry:
    """Model sets under ``home/model_registry/<semver>/``; production is the relative symlink
    ``home/models/current -> ../model_registry/<semver>``.

    Mutations (register, promote, rollback, gc) run under ``lock`` (default: an flock on
    ``home/locks/registry.lock`` waited on for ``lock_wait_s``, then LockHeld), append one
    line to ``model_registry/HISTORY.jsonl`` and pass the same RegistryEvent to ``on_event``
    (inside the lock, so events arrive in order; an exception from it propagates, the change
    on disk stands). Recovery, at the start of every mutation, passes the whole journal to
    ``reconcile`` so a line whose event a kill lost gets it then; it also removes staging folders
    (nbalife.registry.staging) unused and older than ``stale_after_s``. Reads take no lock.
    ``fault_delay_s`` sleeps between the steps of a mutation; it exists only to widen crash
    windows in tests.
    """

    def __init__(
        self,
        home: Path,
        *,
        lock: Callable[[], AbstractContextManager[Any]] | None = None,
        lock_wait_s: float = 30.0,
        on_event: Callable[[RegistryEvent], None] | None = None,
        reconcile: Reconcile | None = None,
        stale_after_s: float = staging.GRACE_S,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        user: str | None = None,
        host: str | None = None,
        fault_delay_s: float = 0.0,
    ) -> None:
        self.home = Path(home)
        self.root = self.home / "model_registry"
        self.models_dir = self.home / "models"
        self.pointer = self.models_dir / "current"
        self.history_path = self.root / "HISTORY.jsonl"
        self.lock_path = self.home / "locks" / "registry.lock"
        self._lock = lock or (lambda: file_lock(self.lock_path, lock_wait_s))
        self._on_event = on_event
        self._reconcile = reconcile
        self._stale_after_s = stale_after_s
        self._clock = clock
        self._user = user if user is not None else current_user()
        self._host = host if host is not None else host_name()
        self._fault_delay_s = fault_delay_s

    # ------------------------------------------------------------------ reads

    def versions(self) -> list[str]:
        """Registered versions, newest first (temp and trash folders are not versions)."""
        return recovery.on_disk(self.root)

    def path_of(self, version: str) -> Path:
        """The folder of a registered version; BadInput when there is none."""
        parse_version(version)
        path = self.root / version
        if not path.is_dir():
            raise BadInput(f"version {version} is not registered (see `nbalife registry list`)")
        return path

    def show(self, version: str) -> VersionInfo:
        """Metadata of one version; BadInput naming metadata.json when it is broken."""
        return metadata.load(self.path_of(version))

    def current_version(self) -> str | None:
        """The production version named by the pointer, or None when none is set."""
        return storage.read_pointer(self.pointer, self.root)

    def current(self) -> VersionInfo | None:
        """Metadata of the production version (not checksum-verified; see load_production)."""
        version = self.current_version()
        return None if version is None else self.show(version)

    def previous_version(self) -> str | None:
        """The version that was production before the current one (what `rollback` returns to)."""
        return journal.previous(journal.production_stack(self.history(), self.current_version()))

    def history(self) -> list[RegistryEvent]:
        """Every recorded mutation, oldest first."""
        return journal.read(self.history_path)

    def list_versions(self, ab_versions: Collection[str] = ()) -> list[VersionRow]:
        """All versions newest first with their status. ``ab_versions`` are those under an
        active A/B test (known to the SQL store, not to the registry). A version whose
        metadata.json is unreadable is listed as BROKEN with the problem in ``error``."""
        current, events = self.current_version(), self.history()
        stack = journal.production_stack(events, current)
        was_production = journal.ever_production(events, stack)
        return [inspection.row(self.root / v, current=current, previous=journal.previous(stack),
                               ab_versions=ab_versions, was_production=was_production) for v in self.versions()]

    def diff(self, a: str, b: str) -> VersionDiff:
        """Metadata, metrics, parameters and files of two versions side by side."""
        return inspection.diff(self.show(a), self.show(b))

    def verify(self, version: str) -> VerifyReport:
        """Recompute sha256 and size of every file against metadata.json (see inspection)."""
        return inspection.verify_folder(version, self.path_of(version))

    def verify_all(self) -> list[VerifyReport]:
        """verify() of every registered version, newest first."""
        return [self.verify(v) for v in self.versions()]

    def staging(self, prefix: str) -> AbstractContextManager[Path]:
        """A fresh flocked ``home/<prefix>*`` folder to build a model set in before register()."""
        return staging.staging_folder(self.home, prefix)

    def load_production(self) -> Production:
        """The production model set after checksum verification. Load artifacts only from the
        returned ``path`` (resolved once, so a concurrent switch cannot mix two sets).
        BadInput when none is set or a file does not verify."""
        version = self.current_version()
        if version is None:
            raise BadInput(NO_PRODUCTION)
        return Production(version, self.root / version, self._verified(version))

    # -------------------------------------------------------------- mutations

    def register(
        self,
        files: Mapping[str, Path] | Path,
        kind: ChangeKind | str,
        *,
        base: str | None = None,
        metrics: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        description: str = "",
        training_window: dict[str, Any] | None = None,
        version: str | None = None,
        at: datetime | None = None,
    ) -> VersionInfo:
        """Register a new immutable model set from ``files`` (name -> path, or a folder whose
        regular files are taken), derived from ``base`` (default: production), which becomes
        its parent. Without ``version`` the number follows the lineage (versions.next_version:
        the next free one at ``kind``'s level from the base, or after the highest ever used when
        there is no base; numbers of deleted versions are never reused). The set is written
        into ``model_registry/.tmp-*``, fsynced, and renamed into place in one step. Switches and
        registrations happen ``at`` (default: the registry's clock); services pass their ``now``."""
        sources = metadata.collect_artifacts(files)
        kind = ChangeKind.parse(kind)
        for number in (n for n in (version, base) if n is not None):
            parse_version(number)
        with self._mutation() as (_, events):
            existing = self.versions()
            used = journal.used_versions(events, existing)
            if base is None:
                base = self.current_version()
            elif base not in existing:
                raise BadInput(f"parent version {base} is not registered: a new version derives from a registered base")
            if version is None:
                version = next_version(used, kind, base)
            elif version in used or os.path.lexists(self.root / version):
                raise BadInput(f"version {version} already exists or existed; versions are immutable")
            info = VersionInfo(version=version, created_at=self._now(at), parent=base, description=description,
                               kind=kind, metrics=dict(metrics or {}), params=dict(params or {}),
                               training_window=None if training_window is None else dict(training_window),
                               nbalife_version=__version__, files=(), path=self.root / version)
            metadata.dumps(info)  # reject non-JSON metrics before writing anything
            entries = storage.write_set(
                info.path, sources, lambda files: metadata.dumps(replace(info, files=files)), self._fault)
            info = replace(info, files=entries)
            self._fault()
            self._record(journal.REGISTER, base, version, description, {"kind": kind.value, "metrics": info.metrics},
                         info.created_at)
        return info

    def promote(self, version: str, *, gate: Check | None = None, force: bool = False, reason: str = "",
                at: datetime | None = None) -> Switch:
        """Make ``version`` production after verifying its checksums and passing ``gate``, run
        under the lock with the candidate's and production's metadata (default: ``Gate()``,
        which passes). Failures are CheckFailed naming them unless ``force``; a gate may also
        raise (e.g. BadInput for a set that does not load), which refuses even with ``force``.
        The verdict's details go into the journal line and the lifecycle event (at ``at``)."""
        parse_version(version)
        with self._mutation():
            info = self._verified(version)
            current = self.current_version()
            if version == current:
                raise BadInput(f"version {version} is already production")
            verdict = (gate or Gate())(info, metadata.load_or_none(self.root, current))
            failures = tuple(verdict.failures)
            if failures and not force:
                raise CheckFailed(
                    f"version {version} rejected by the promotion gate: {'; '.join(failures)} "
                    "(use force to promote anyway)"
                )
            return self._switch(journal.PROMOTE, current, version, reason, force, failures, verdict.details, at)

    def rollback(
        self, version: str | None = None, *, reason: str = "", check: Check | None = None, at: datetime | None = None
    ) -> Switch:
        """Make ``version`` production again, or without it the version that was production
        before the current one. Each rollback without a version steps one further back.
        ``check`` (candidate, production) runs under the lock before the switch and may raise."""
        if version is not None:
            parse_version(version)
        with self._mutation() as (_, events):
            current = self.current_version()
            if current is None and version is None:
                raise BadInput(f"nothing to roll back: {NO_PRODUCTION}; name a version to restore")
            if version is None:
                version = journal.previous(journal.production_stack(events, current))
                if version is None:
                    raise BadInput(
                        f"no earlier production version to roll back to from {current}; "
                        "name one: `nbalife registry rollback VERSION`"
                    )
                if not (self.root / version).is_dir():
                    raise BadInput(
                        f"the previous production version {version} has been deleted; "
                        "name one: `nbalife registry rollback VERSION`"
                    )
            if version == current:
                raise BadInput(f"version {version} is already production")
            info = self._verified(version)
            if check is not None:
                check(info, metadata.load_or_none(self.root, current))
            return self._switch(journal.ROLLBACK, current, version, reason, False, (), at=at)

    def gc(self, keep: int, protected: Collection[str] = ()) -> GcResult:
        """Delete all but the newest ``keep`` versions, never production, the previous
        production or ``protected`` (under an active A/B test); also removes temp folders
        left by crashes. Each deletion is a rename to ``.trash-*`` and then a removal."""
        if not isinstance(keep, int) or keep < 0:
            raise BadInput(f"keep must be a non-negative integer, not {keep!r}")
        with self._mutation() as (cleaned, events):
            versions = self.versions()
            stack = journal.production_stack(events, self.current_version())
            spared = set(versions[:keep]) | set(protected) | set(stack[-2:])
            doomed = [v for v in versions if v not in spared]
            event = self._journal(journal.GC, None, None, f"keep {keep}", {"deleted": doomed, "cleaned": cleaned})
            for version in doomed:  # a kill here: the next recovery finishes what the line says
                storage.discard_tree(self.root / version)
                self._fault()
            self._emit(event)
        return GcResult(tuple(doomed), tuple(v for v in versions if v in spared), tuple(cleaned))

    def recover(self) -> list[str]:
        """Take the lock and repair what a killed mutation left (as every mutation does first);
        returns the names of the leftovers removed."""
        with self._mutation() as (cleaned, _):
            return cleaned

    # -------------------------------------------------------------- internals

    @contextmanager
    def _mutation(self) -> Iterator[tuple[list[str], list[RegistryEvent]]]:
        """Hold the lock and repair what a crashed mutation left; yields the cleaned paths and
        the journal's events (read once, including any ``recover`` written now)."""
        for folder in (self.root, self.models_dir):
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
                fsync_dir(folder.parent)
        with self._lock():
            yield self._recover()

    def _recover(self) -> tuple[list[str], list[RegistryEvent]]:
        """Under the lock: cut a torn journal line, remove temp/trash folders, temp symlinks and
        stale staging folders, finish an interrupted gc, journal a version renamed into place
        whose line a kill lost, write off a switch recorded but never made, and reconcile the
        journal with the lifecycle events."""
        cleaned, events = recovery.tidy(self.home, self.root, self.pointer, self._stale_after_s)
        current = self.current_version()
        events.extend(self._record(*line) for line in recovery.missing_lines(self.root, events, current))
        if self._reconcile is not None:
            self._reconcile(journal.outcomes(events, current))
        return cleaned, events

    def _switch(self, action: str, current: str | None, version: str, reason: str, forced: bool,
                failures: tuple[str, ...], details: dict[str, Any] | None = None,
                at: datetime | None = None) -> Switch:
        """Record the switch, then swap the pointer atomically (a crash between: see _recover)."""
        details = {**(details or {}), **({"force": True, "gate_failures": list(failures)} if forced else {})}
        event = RegistryEvent(self._now(at), action, current, version, reason, self._user, self._host, details)
        journal.append(self.history_path, event)
        self._fault()
        storage.replace_symlink(self.pointer, f"../{self.root.name}/{version}")
        self._fault()
        self._emit(event)
        return Switch(action, current, version, event.time, reason, forced, failures, self.root / version)

    def _record(self, action: str, frm: str | None, to: str | None, reason: str, details: dict[str, Any],
                at: datetime | None = None) -> RegistryEvent:
        """Append a non-switch event to the journal and pass it on."""
        event = self._journal(action, frm, to, reason, details, at)
        self._emit(event)
        return event

    def _journal(self, action: str, frm: str | None, to: str | None, reason: str, details: dict[str, Any],
                 at: datetime | None = None) -> RegistryEvent:
        """Append a non-switch event (at ``at``, default now) to the journal only."""
        event = RegistryEvent(self._now(at), action, frm, to, reason, self._user, self._host, details)
        journal.append(self.history_path, event)
        return event

    def _verified(self, version: str) -> VersionInfo:
        """Metadata of ``version`` after a clean verify; BadInput naming the first bad file."""
        inspection.require_ok(self.verify(version), self.root / version)
        return metadata.load(self.root / version)

    def _now(self, at: datetime | None = None) -> datetime:
        now = self._clock() if at is None else at
        return now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc)

    def _emit(self, event: RegistryEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def _fault(self) -> None:
        if self._fault_delay_s:
            time.sleep(self._fault_delay_s)
