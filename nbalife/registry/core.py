"""The Registry: versioned model sets on disk and the atomic production pointer."""

from __future__ import annotations

import getpass
import os
import secrets
import socket
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nbalife import __version__
from nbalife.errors import BadInput, CheckFailed
from nbalife.locks import file_lock
from nbalife.registry import metadata, storage
from nbalife.registry.records import (
    ChangeKind,
    DiffRow,
    FileEntry,
    FileProblem,
    GcResult,
    Gate,
    Production,
    RegistryEvent,
    Status,
    Switch,
    VersionDiff,
    VersionInfo,
    VersionRow,
    VerifyReport,
    is_version,
    newest_first,
    next_version,
    parse_version,
)

NO_PRODUCTION = "no production model set yet: run `nbalife train --register --promote` first"
_SWITCHES = ("promote", "rollback", "recover")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class Registry:
    """Model sets under ``home/model_registry/<semver>/``; production is the relative symlink
    ``home/models/current -> ../model_registry/<semver>``.

    Mutations (register, promote, rollback, gc) run under ``lock`` (default: an flock on
    ``home/locks/registry.lock`` waited on for ``lock_wait_s``, then LockHeld), append one
    line to ``model_registry/HISTORY.jsonl`` and pass the same RegistryEvent to ``on_event``
    (inside the lock, so events arrive in order; an exception from it propagates, the change
    on disk stands). Reads take no lock. ``fault_delay_s`` sleeps between the steps of a
    mutation; it exists only to widen crash windows in tests.
    """

    def __init__(
        self,
        home: Path,
        *,
        lock: Callable[[], AbstractContextManager[Any]] | None = None,
        lock_wait_s: float = 30.0,
        on_event: Callable[[RegistryEvent], None] | None = None,
        clock: Callable[[], datetime] = _utc_now,
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
        self._clock = clock
        self._user = user if user is not None else _default_user()
        self._host = host if host is not None else socket.gethostname()
        self._fault_delay_s = fault_delay_s

    # ------------------------------------------------------------------ reads

    def versions(self) -> list[str]:
        """Registered versions, newest first (temp and trash folders are not versions)."""
        if not self.root.is_dir():
            return []
        return newest_first(p.name for p in self.root.iterdir() if is_version(p.name) and p.is_dir())

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
        if not os.path.lexists(self.pointer):
            return None
        if not self.pointer.is_symlink():
            raise BadInput(f"{self.pointer}: expected a symlink to ../model_registry/<version>")
        target = Path(os.readlink(self.pointer))
        if target.parent != Path("..") / self.root.name or not is_version(target.name):
            raise BadInput(f"{self.pointer}: points to {str(target)!r}, not ../model_registry/<version>")
        if not (self.root / target.name).is_dir():
            raise BadInput(f"{self.pointer}: points to version {target.name}, which does not exist")
        return target.name

    def current(self) -> VersionInfo | None:
        """Metadata of the production version (not checksum-verified; see load_production)."""
        version = self.current_version()
        return None if version is None else self.show(version)

    def previous_version(self) -> str | None:
        """The version that was production before the current one (what `rollback` returns to)."""
        stack = self._production_stack(self.current_version())
        return stack[-2] if len(stack) > 1 else None

    def history(self) -> list[RegistryEvent]:
        """Every recorded mutation, oldest first."""
        return [self._event_from_json(r) for r in storage.read_json_lines(self.history_path)]

    def list_versions(self, ab_versions: Collection[str] = ()) -> list[VersionRow]:
        """All versions newest first with their status. ``ab_versions`` are those under an
        active A/B test (known to the SQL store, not to the registry). A version whose
        metadata.json is unreadable is listed as BROKEN with the problem in ``error``."""
        current = self.current_version()
        stack = self._production_stack(current)
        previous = stack[-2] if len(stack) > 1 else None
        was_production = set(stack) | {e.from_version for e in self.history() if e.action in _SWITCHES}
        rows = []
        for version in self.versions():
            try:
                info = metadata.load(self.root / version)
            except BadInput as exc:
                rows.append(VersionRow(version, Status.BROKEN, None, None, "", {}, str(exc)))
                continue
            if version == current:
                status = Status.PRODUCTION
            elif version == previous:
                status = Status.PREVIOUS
            elif version in ab_versions:
                status = Status.AB_TEST
            elif version not in was_production and (
                current is None or parse_version(version) > parse_version(current)
            ):
                status = Status.CANDIDATE
            else:
                status = Status.ARCHIVED
            rows.append(
                VersionRow(version, status, info.created_at, info.kind, info.description, info.metrics)
            )
        return rows

    def diff(self, a: str, b: str) -> VersionDiff:
        """Metadata, metrics, parameters and files of two versions side by side."""
        left, right = self.show(a), self.show(b)
        rows: list[DiffRow] = []
        for name in ("created_at", "parent", "kind", "description", "training_window", "nbalife_version"):
            rows.append(_row("meta", name, getattr(left, name), getattr(right, name)))
        for section, x, y in (("metric", left.metrics, right.metrics), ("param", left.params, right.params)):
            rows.extend(_row(section, k, x.get(k), y.get(k)) for k in sorted(x.keys() | y.keys()))
        lf = {f.name: {"sha256": f.sha256, "size": f.size} for f in left.files}
        rf = {f.name: {"sha256": f.sha256, "size": f.size} for f in right.files}
        rows.extend(_row("file", k, lf.get(k), rf.get(k)) for k in sorted(lf.keys() | rf.keys()))
        return VersionDiff(a, b, tuple(rows))

    def verify(self, version: str) -> VerifyReport:
        """Recompute sha256 and size of every file against metadata.json; report each
        mismatched, missing or unexpected file (or broken metadata) instead of raising."""
        directory = self.path_of(version)
        try:
            info = metadata.load(directory)
        except BadInput as exc:
            return VerifyReport(version, False, (FileProblem(metadata.METADATA, "metadata", None, str(exc)),))
        problems = []
        for entry in info.files:
            path = directory / entry.name
            if not os.path.lexists(path):
                problems.append(FileProblem(entry.name, "missing"))
                continue
            if path.is_symlink() or not path.is_file():
                problems.append(FileProblem(entry.name, "not a regular file"))
                continue
            sha, size = storage.hash_file(path)
            if size != entry.size:
                problems.append(FileProblem(entry.name, "size", str(entry.size), str(size)))
            elif sha != entry.sha256:
                problems.append(FileProblem(entry.name, "checksum", entry.sha256, sha))
        known = {e.name for e in info.files} | {metadata.METADATA}
        problems.extend(
            FileProblem(p.name, "unexpected") for p in sorted(directory.iterdir()) if p.name not in known
        )
        return VerifyReport(version, not problems, tuple(problems))

    def verify_all(self) -> list[VerifyReport]:
        """verify() of every registered version, newest first."""
        return [self.verify(v) for v in self.versions()]

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
        metrics: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        description: str = "",
        parent: str | None = None,
        training_window: dict[str, Any] | None = None,
        version: str | None = None,
    ) -> VersionInfo:
        """Register a new immutable model set from ``files`` (name -> path, or a folder whose
        regular files are taken). Without ``version`` the next one by ``kind`` after the
        highest ever registered is used (numbers of deleted versions are never reused);
        ``parent`` defaults to the current production version. The set is written into
        ``model_registry/.tmp-*``, fsynced, and renamed into place in one step."""
        sources = _collect(files)
        kind = _kind(kind)
        if version is not None:
            parse_version(version)
        if parent is not None:
            parse_version(parent)
        with self._mutation():
            existing = self.versions()
            used = self._used_versions(existing)
            if version is None:
                version = next_version(used, kind)
            elif version in used or os.path.lexists(self.root / version):
                raise BadInput(f"version {version} already exists or existed; versions are immutable")
            if parent is None:
                parent = self.current_version()
            elif parent not in existing:
                raise BadInput(f"parent version {parent} is not registered")
            info = VersionInfo(
                version=version,
                created_at=self._now(),
                parent=parent,
                description=description,
                kind=kind,
                metrics=dict(metrics or {}),
                params=dict(params or {}),
                training_window=None if training_window is None else dict(training_window),
                nbalife_version=__version__,
                files=(),
                path=self.root / version,
            )
            metadata.dumps(info)  # reject non-JSON metrics before writing anything
            info = replace(info, files=self._write_set(sources, info))
            self._fault()
            event = self._event(
                "register", parent, version, description, {"kind": kind.value, "metrics": info.metrics}
            )
            self._append(event)
            self._emit(event)
        return info

    def promote(
        self, version: str, *, gate: Gate | None = None, force: bool = False, reason: str = ""
    ) -> Switch:
        """Make ``version`` production after verifying its checksums and passing ``gate``
        (CheckFailed naming the failing figure unless ``force``)."""
        parse_version(version)
        with self._mutation():
            info = self._verified(version)
            current = self.current_version()
            if version == current:
                raise BadInput(f"version {version} is already production")
            failures = tuple((gate or Gate()).failures(info.metrics))
            if failures and not force:
                raise CheckFailed(
                    f"version {version} rejected by the promotion gate: {'; '.join(failures)} "
                    "(use force to promote anyway)"
                )
            return self._switch("promote", current, version, reason, force, failures)

    def rollback(self, version: str | None = None, *, reason: str = "") -> Switch:
        """Make ``version`` production again, or without it the version that was production
        before the current one. Each rollback without a version steps one further back."""
        if version is not None:
            parse_version(version)
        with self._mutation():
            current = self.current_version()
            if current is None and version is None:
                raise BadInput(f"nothing to roll back: {NO_PRODUCTION}; name a version to restore")
            if version is None:
                stack = self._production_stack(current)
                if len(stack) < 2:
                    raise BadInput(
                        f"no earlier production version to roll back to from {current}; "
                        "name one: `nbalife registry rollback VERSION`"
                    )
                version = stack[-2]
                if not (self.root / version).is_dir():
                    raise BadInput(
                        f"the previous production version {version} has been deleted; "
                        "name one: `nbalife registry rollback VERSION`"
                    )
            if version == current:
                raise BadInput(f"version {version} is already production")
            self._verified(version)
            return self._switch("rollback", current, version, reason, False, ())

    def gc(self, keep: int, protected: Collection[str] = ()) -> GcResult:
        """Delete all but the newest ``keep`` versions, never production, the previous
        production or ``protected`` (under an active A/B test); also removes temp folders
        left by crashes. Each deletion is a rename to ``.trash-*`` and then a removal."""
        if not isinstance(keep, int) or keep < 0:
            raise BadInput(f"keep must be a non-negative integer, not {keep!r}")
        with self._mutation() as cleaned:
            versions = self.versions()
            current = self.current_version()
            stack = self._production_stack(current)
            spared = set(versions[:keep]) | set(protected) | set(stack[-2:])
            doomed = [v for v in versions if v not in spared]
            for version in doomed:
                storage.discard_tree(self.root / version)
                self._fault()
            event = self._event("gc", None, None, f"keep {keep}", {"deleted": doomed, "cleaned": cleaned})
            self._append(event)
            self._emit(event)
        return GcResult(tuple(doomed), tuple(v for v in versions if v in spared), tuple(cleaned))

    # -------------------------------------------------------------- internals

    @contextmanager
    def _mutation(self) -> Iterator[list[str]]:
        """Hold the lock and repair what a crashed mutation left; yields the cleaned paths."""
        for folder in (self.root, self.models_dir):
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
                storage.fsync_dir(folder.parent)
        with self._lock():
            yield self._recover()

    def _recover(self) -> list[str]:
        """Under the lock: cut a torn history line, remove temp/trash folders and temp
        symlinks, and write off a switch that was recorded but never happened."""
        storage.drop_torn_tail(self.history_path)
        cleaned = []
        for path in sorted(self.root.iterdir()):
            if path.name.startswith((".tmp-", ".trash-")) and path.is_dir() and not path.is_symlink():
                storage.purge_tree(path)
                cleaned.append(path.name)
        for path in sorted(self.models_dir.iterdir()):
            if path.name.startswith(f".{self.pointer.name}-") and path.is_symlink():
                path.unlink()
                cleaned.append(f"{self.models_dir.name}/{path.name}")
        current = self.current_version()
        switches = [e for e in self.history() if e.action in _SWITCHES]
        if switches and switches[-1].to_version != current:
            lost = switches[-1]
            event = self._event(
                "recover",
                current,
                current,
                f"{lost.action} to {lost.to_version} at {lost.time.isoformat()} did not complete "
                f"(interrupted); production is {current}",
                {"interrupted_action": lost.action, "interrupted_to": lost.to_version},
            )
            self._append(event)
            self._emit(event)
        return cleaned

    def _write_set(self, sources: Mapping[str, Path], info: VersionInfo) -> tuple[FileEntry, ...]:
        """Copy the artifacts and metadata.json into a fresh ``.tmp-*`` folder, fsync, and
        rename it to ``info.path``; on an error the temp folder is removed."""
        tmp = self.root / f".tmp-{secrets.token_hex(6)}"
        tmp.mkdir()
        try:
            entries = []
            for name, src in sorted(sources.items()):
                entries.append(FileEntry(name, *storage.copy_hashed(src, tmp / name)))
                self._fault()
            storage.write_new(tmp / metadata.METADATA, metadata.dumps(replace(info, files=tuple(entries))))
            storage.fsync_dir(tmp)
            os.chmod(tmp, 0o555)
            self._fault()
            os.rename(tmp, info.path)
        except BaseException:
            if tmp.exists():
                storage.purge_tree(tmp)
            raise
        storage.fsync_dir(self.root)
        return tuple(entries)

    def _switch(
        self,
        action: str,
        current: str | None,
        version: str,
        reason: str,
        forced: bool,
        failures: tuple[str, ...],
    ) -> Switch:
        """Record the switch, then swap the pointer atomically. A crash between the two
        leaves production unchanged; the next mutation writes the record off (recover)."""
        details: dict[str, Any] = {"force": True, "gate_failures": list(failures)} if forced else {}
        event = self._event(action, current, version, reason, details)
        self._append(event)
        self._fault()
        storage.replace_symlink(self.pointer, f"../{self.root.name}/{version}")
        self._fault()
        self._emit(event)
        return Switch(action, current, version, event.time, reason, forced, failures, self.root / version)

    def _production_stack(self, current: str | None) -> list[str]:
        """Replay the switches into a stack of production versions (top = current): promote
        pushes, rollback returns to the version's last occurrence (or pushes one not on it).
        A switch took effect only if the next record's ``from`` (or, for the last one, the
        pointer) is its target; one that did not (a crash between record and swap) is skipped."""
        switches = [e for e in self.history() if e.action in _SWITCHES]
        stack: list[str] = []
        for event, after in zip(switches, [e.from_version for e in switches[1:]] + [current]):
            _settle(stack, event.from_version)
            if event.to_version != after:
                continue
            if event.action == "promote":
                stack.append(event.to_version)
            else:
                _settle(stack, event.to_version)
        _settle(stack, current)
        return stack

    def _used_versions(self, existing: list[str]) -> set[str]:
        """Every version number ever taken: on disk, registered, or deleted by gc."""
        used = set(existing)
        for event in self.history():
            if event.action == "register":
                used.add(event.to_version)
            elif event.action == "gc":
                used.update(event.details.get("deleted", []))
        return used

    def _verified(self, version: str) -> VersionInfo:
        """Metadata of ``version`` after a clean verify; BadInput naming the first bad file."""
        report = self.verify(version)
        if not report.ok:
            first = report.problems[0]
            where = "" if first.problem == "metadata" else f"{self.root / version / first.name}: "
            more = f" (+{len(report.problems) - 1} more)" if len(report.problems) > 1 else ""
            raise BadInput(f"version {version} failed verification: {where}{first.describe()}{more}")
        return metadata.load(self.root / version)

    def _now(self) -> datetime:
        now = self._clock()
        return now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc)

    def _event(
        self, action: str, frm: str | None, to: str | None, reason: str, details: dict[str, Any]
    ) -> RegistryEvent:
        return RegistryEvent(self._now(), action, frm, to, reason, self._user, self._host, details)

    def _append(self, event: RegistryEvent) -> None:
        storage.append_json_line(self.history_path, asdict(event) | {"time": event.time.isoformat()})

    def _emit(self, event: RegistryEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def _event_from_json(self, record: dict[str, Any]) -> RegistryEvent:
        try:
            return RegistryEvent(**(record | {"time": datetime.fromisoformat(record["time"])}))
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput(f"{self.history_path}: malformed entry {record!r} ({exc})") from None

    def _fault(self) -> None:
        if self._fault_delay_s:
            time.sleep(self._fault_delay_s)


def _settle(stack: list[str], version: str | None) -> None:
    """Make ``version`` the top of the production stack (None: no production)."""
    if version is None:
        stack.clear()
    elif version in stack:
        del stack[len(stack) - stack[::-1].index(version):]
    else:
        stack.append(version)


def _row(section: str, name: str, a: Any, b: Any) -> DiffRow:
    return DiffRow(section, name, a, b, a != b)


def _kind(kind: ChangeKind | str) -> ChangeKind:
    try:
        return ChangeKind(kind)
    except ValueError:
        choices = ", ".join(k.value for k in ChangeKind)
        raise BadInput(f"invalid kind of change {kind!r}: expected one of {choices}") from None


def _collect(files: Mapping[str, Path] | Path) -> dict[str, Path]:
    """Validate the artifact set: plain names, existing regular files, at least one."""
    if isinstance(files, (str, os.PathLike)):
        folder = Path(files)
        if not folder.is_dir():
            raise BadInput(f"{folder}: not a folder of model artifacts")
        entries = list(folder.iterdir())
        nested = [p for p in entries if not p.is_file()]
        if nested:
            raise BadInput(f"{nested[0]}: only plain files can be registered")
        sources = {p.name: p for p in entries}
    else:
        sources = {name: Path(path) for name, path in files.items()}
    if not sources:
        raise BadInput("no artifact files to register")
    for name, path in sources.items():
        metadata.check_name(name)
        if not path.is_file():
            raise BadInput(f"{path}: artifact {name!r} is not a readable file")
    return sources
