"""The Registry: model sets, lineage and the production pointer in the SQL store, and this
home's verified local copy of what it serves."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from nbalife import __version__
from nbalife.errors import BadInput, CheckFailed
from nbalife.identity import current_user, host_name
from nbalife.registry import inspection, lineage, local, metadata, rows, staging
from nbalife.registry.gate import Gate, Verdict
from nbalife.registry.records import (
    FileEntry,
    FileProblem,
    GcResult,
    Pending,
    Production,
    Status,
    Switch,
    SwitchRecord,
    VersionDiff,
    VersionInfo,
    VersionRow,
    VerifyReport,
)
from nbalife.store.engine import reachable
from nbalife.store.events import record_event
from nbalife.versions import ChangeKind, next_version, parse_version

NO_PRODUCTION = "no production model set yet: run `nbalife train --register --promote` first"

Check = Callable[[VersionInfo, "VersionInfo | None"], Verdict]
"""A check before a switch: (candidate, production or None) -> Verdict; it may raise to refuse."""


class Registry:
    """Versions, artifacts, the production pointer and the history of switches live in the SQL
    store behind ``engine`` (default: the home's embedded SQLite store, created when new); ``home`` keeps the
    verified local copy: ``model_registry/<version>/`` and ``models/current``.

    Every mutation (register, promote, rollback, gc, a deferred promotion) is one transaction
    that first locks the production pointer row and writes its lifecycle event, so any number of
    homes on one store see one production and one history. Reads take no lock. Local folders are
    materialised on demand with every sha256 checked (see nbalife.registry.local).
    A mutation waits at most ``lock_wait_s`` for another one on PostgreSQL (then LockHeld, exit
    3; None: no bound). ``fault_delay_s`` sleeps between the steps of a mutation; it exists only
    to widen crash windows in tests.
    """

    def __init__(
        self,
        home: Path,
        engine: Engine | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        user: str | None = None,
        host: str | None = None,
        fault_delay_s: float = 0.0,
        lock_wait_s: float | None = None,
    ) -> None:
        self.home = Path(home)
        if engine is None:
            from nbalife.store.engine import default_url, make_engine
            from nbalife.store.migrate import open_store

            engine = make_engine(default_url(self.home))
            open_store(engine)
        self.engine = engine
        self.root = self.home / "model_registry"
        self.models_dir = self.home / "models"
        self.pointer = self.models_dir / "current"
        self._clock = clock
        self._user = user if user is not None else current_user()
        self._host = host if host is not None else host_name()
        self._fault_delay_s = fault_delay_s
        self._lock_wait_s = lock_wait_s

    # ------------------------------------------------------------------ reads

    def versions(self) -> list[str]:
        """Registered versions that are not deleted, newest first."""
        return [i.version for i in self._all() if i.state != rows.DELETED]

    def tombstones(self) -> dict[str, str]:
        """"deleted by gc on D" for each version gc deleted (its record stays)."""
        with self._read() as conn:
            return {v: f"deleted by gc on {at.date().isoformat()}" for v, at in rows.deleted_on(conn).items()}

    def show(self, version: str) -> VersionInfo:
        """The store's record of one version (a tombstone too: ``deleted_at`` set); BadInput when
        it was never registered."""
        parse_version(version)
        with self._read() as conn:
            info = rows.version(conn, version, self.root)
        if info is None:
            raise BadInput(f"version {version} is not registered (see `nbalife registry list`)")
        return info

    def path_of(self, version: str) -> Path:
        """The verified local folder of ``version``, materialised from the store when needed."""
        return self._materialised(self._live(self.show(version)))

    def current_version(self) -> str | None:
        """The production version named by the store's pointer, or None when none is set."""
        with self._read() as conn:
            return rows.production(conn)

    def current(self) -> VersionInfo | None:
        """The store's record of the production version (see load_production for the files)."""
        version = self.current_version()
        return None if version is None else self.show(version)

    def history(self) -> list[SwitchRecord]:
        """Every switch of production, oldest first."""
        with self._read() as conn:
            return rows.switches(conn)

    def previous_version(self) -> str | None:
        """The version that was production before the current one (what `rollback` returns to)."""
        with self._read() as conn:
            stack = lineage.production_stack(rows.switches(conn), rows.production(conn))
        return stack[-2] if len(stack) > 1 else None

    def lineage(self, version: str) -> list[VersionInfo]:
        """``version`` and its ancestors, newest first, tombstones included."""
        return lineage.chain({i.version: i for i in self._all()}, version)

    def list_versions(self, ab_versions: Collection[str] = ()) -> list[VersionRow]:
        """Every version newest first with its status; a deleted one as a tombstone."""
        with self._read() as conn:
            infos, current, switches = rows.all_versions(conn, self.root), rows.production(conn), rows.switches(conn)
        stack = lineage.production_stack(switches, current)
        previous = stack[-2] if len(stack) > 1 else None
        out = []
        for info in infos:
            if info.state == rows.DELETED:
                status = Status.DELETED
            elif info.version == current:
                status = Status.PRODUCTION
            elif info.version == previous:
                status = Status.PREVIOUS
            elif info.version in ab_versions:
                status = Status.AB_TEST
            elif info.state == rows.CANDIDATE:
                status = Status.CANDIDATE
            else:
                status = Status.ARCHIVED
            out.append(VersionRow(info.version, status, info.created_at, info.kind,
                                  info.tombstone or info.description, info.metrics, None, info.deleted_at))
        return out

    def waiting_on_production(self, kind: ChangeKind | str | None = None) -> list[VersionInfo]:
        """Candidates still waiting whose base (parent) is current production, newest first,
        optionally of one ``kind`` (e.g. the recalibration `conformal check --apply` promotes)."""
        wanted = None if kind is None else ChangeKind.parse(kind)
        with self._read() as conn:
            current = rows.production(conn)
            infos = rows.all_versions(conn, self.root)
        return [i for i in infos if current is not None and i.parent == current and i.state == rows.CANDIDATE
                and (wanted is None or i.kind == wanted)]

    def diff(self, a: str, b: str) -> VersionDiff:
        """Metadata, metrics, parameters and files of two versions side by side."""
        return inspection.diff(self.show(a), self.show(b))

    def verify(self, version: str) -> VerifyReport:
        """Hash the store's artifacts of ``version`` against its record; then make sure this
        home's copy verifies, re-materialising it from the store when it does not
        (``rematerialised``). A problem in the store is reported, never repaired."""
        info = self.show(version)
        if info.state == rows.DELETED:
            return VerifyReport(version, True, (FileProblem(".", info.tombstone or "deleted"),))
        with self._read() as conn:
            blobs = rows.artifacts(conn, (e.sha256 for e in info.files))
        problems = local.store_problems(info, blobs)
        if problems:
            return VerifyReport(version, False, tuple(problems))
        _, rebuilt = local.materialise(self.root, info, lambda _shas: blobs)
        return VerifyReport(version, True, (), rebuilt)

    def verify_all(self) -> list[VerifyReport]:
        """verify() of every version that is not deleted, newest first."""
        return [self.verify(v) for v in self.versions()]

    def staging(self, prefix: str) -> AbstractContextManager[Path]:
        """A fresh flocked ``home/<prefix>*`` folder to build a model set in before register()."""
        return staging.staging_folder(self.home, prefix)

    def load_production(self) -> Production:
        """The production model set, its local copy verified (or rebuilt from the store) and
        ``models/current`` pointing at it. Load artifacts only from the returned ``path``.
        BadInput when none is set; CheckFailed when the store's artifact does not verify."""
        with self._read() as conn:
            version = rows.production(conn)
            info = None if version is None else rows.version(conn, version, self.root)
        if info is None:
            raise BadInput(NO_PRODUCTION)
        path = self._materialised(info)
        local.sync_pointer(self.pointer, self.root, info.version)
        return Production(info.version, path, info)

    def pending(self, *, waiting_only: bool = True) -> list[Pending]:
        """Promotions the freeze deferred, oldest first."""
        with self._read() as conn:
            return rows.pending(conn, waiting_only=waiting_only)

    def any_pending(self) -> bool:
        with self._read() as conn:
            return rows.any_waiting(conn)

    def store_size(self) -> tuple[int, int]:
        """(artifacts, bytes) the store holds."""
        with self._read() as conn:
            return rows.artifact_bytes_total(conn)

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
        retire_stale: bool = False,
        keep: Collection[str] = (),
    ) -> VersionInfo:
        """Register a new immutable model set from ``files`` (name -> path, or a folder whose
        plain files are taken), derived from ``base`` (default: production), its parent. Without
        ``version`` the number follows the lineage (versions.next_version; a number once used,
        even by a deleted version, is never reused). The artifacts go into the store
        content-addressed; version, files and event are one transaction. With ``retire_stale``
        (jobs that derive a version), this kind's earlier candidates that waited and are now
        stale (not descended from production, or from the same base) are retired and named in
        ``retired``; never one of ``keep`` (an A/B test's versions)."""
        sources = metadata.collect_artifacts(files)
        kind = ChangeKind.parse(kind)
        for number in (n for n in (version, base) if n is not None):
            parse_version(number)
        blobs: dict[str, bytes] = {}
        entries = []
        for name, path in sorted(sources.items()):
            data = path.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            blobs[sha] = data
            entries.append(FileEntry(name, sha, len(data)))
        at = self._now(at)
        with self._mutation() as conn:
            production = rows.lock(conn, self._lock_wait_s)
            used = rows.used_numbers(conn)
            if base is None:
                base = production
            else:
                parent = rows.version(conn, base, self.root)
                if parent is None or parent.state == rows.DELETED:
                    what = "is not registered" if parent is None else f"was {parent.tombstone}"
                    raise BadInput(f"parent version {base} {what}: a new version derives from a registered base")
            if version is None:
                version = next_version(used, kind, base)
            elif version in used:
                raise BadInput(f"version {version} already exists or existed; versions are immutable")
            info = VersionInfo(version=version, created_at=at, parent=base, description=description, kind=kind,
                               metrics=dict(metrics or {}), params=dict(params or {}),
                               training_window=None if training_window is None else dict(training_window),
                               nbalife_version=__version__, files=tuple(entries), path=self.root / version,
                               state=rows.CANDIDATE, created_by=self._user)
            metadata.dumps(info)  # reject non-JSON metrics before writing anything
            rows.insert_version(conn, info, blobs)
            self._fault()
            retired = [v for v in self._stale(conn, info, production) if v not in keep] if retire_stale else []
            rows.set_state(conn, retired, rows.RETIRED)
            record_event(conn, "register", "ok", at=at, version=version,
                         details={"from": base, "to": version, "reason": description, "kind": kind.value,
                                  "metrics": info.metrics, "retired": retired})
            self._fault()
        info = replace(info, retired=tuple(retired))
        local.materialise(self.root, info, lambda _shas: blobs)
        return info

    def promote(self, version: str, *, gate: Check | None = None, force: bool = False, reason: str = "",
                at: datetime | None = None, action: str = "promote", pending_id: int | None = None) -> Switch:
        """Make ``version`` production, in one transaction that holds the pointer row's lock.

        Fast-forward: a candidate that does not descend from production is refused (CheckFailed
        naming the versions in between and what each changed) unless ``force``, which records
        and returns what is lost. Then the set must materialise from verified artifacts and pass
        ``gate`` (default: ``Gate()``, which passes); gate failures are CheckFailed unless
        ``force``; a gate may also raise (e.g. BadInput for a set that does not load), which
        refuses even with ``force``. ``pending_id`` marks the deferred promotion it carries out."""
        parse_version(version)
        at = self._now(at)
        with self._mutation() as conn:
            current = rows.lock(conn, self._lock_wait_s)
            if pending_id is not None and not any(p.id == pending_id for p in rows.pending(conn)):
                raise BadInput(f"pending #{pending_id} is no longer waiting")
            infos = {i.version: i for i in rows.all_versions(conn, self.root)}
            info = self._live(infos.get(version) or self.show(version))
            if version == current:
                raise BadInput(f"version {version} is already production")
            lost: list[str] = []
            if current is not None:
                base, between = lineage.intervening(infos, version, current)
                if between:
                    message, lost = lineage.refusal(info, current, base, between)
                    if not force:
                        raise CheckFailed(f"promotion refused, not a fast-forward of production {current}: {message}")
            info = rows.version(conn, version, self.root)
            self._materialised(info, conn)
            production = None if current is None else rows.version(conn, current, self.root)
            verdict = (gate or Gate())(info, production)
            failures = tuple(verdict.failures)
            if failures and not force:
                raise CheckFailed(f"version {version} rejected by the promotion gate: {'; '.join(failures)} "
                                  "(use force to promote anyway)")
            details = {**verdict.details, **({"lost": lost} if lost else {})}
            switch = self._switch(conn, action, current, version, reason, force, failures, details, at)
        local.sync_pointer(self.pointer, self.root, version)
        return replace(switch, lost=tuple(lost))

    def rollback(self, version: str | None = None, *, reason: str = "", check: Check | None = None,
                 at: datetime | None = None) -> Switch:
        """Make a version that served before production again (default: the one before the
        current one; each rollback without a version steps one further back). Any other version
        is BadInput with the hint to promote it through the gate; a deleted one says when gc
        deleted it. ``check`` (target, production) runs under the lock and may raise."""
        if version is not None:
            parse_version(version)
        at = self._now(at)
        with self._mutation() as conn:
            current = rows.lock(conn, self._lock_wait_s)
            switches = rows.switches(conn)
            stack = lineage.production_stack(switches, current)
            if version is None:
                if len(stack) < 2:
                    raise BadInput("no previous production version to roll back to")
                version = stack[-2]
            info = rows.version(conn, version, self.root)
            if info is None:
                raise BadInput(f"version {version} is not registered (see `nbalife registry list`)")
            if info.state == rows.DELETED:
                raise BadInput(f"version {version} was {info.tombstone}: it cannot serve again")
            if version == current:
                raise BadInput(f"version {version} is already production")
            if version not in lineage.served(switches):
                raise BadInput(f"{version} never served; `registry promote {version}` runs the gate")
            self._materialised(info, conn)
            if check is not None:
                check(info, None if current is None else rows.version(conn, current, self.root))
            switch = self._switch(conn, "rollback", current, version, reason, False, (), {}, at)
        local.sync_pointer(self.pointer, self.root, version)
        return switch

    def gc(self, keep: int, *, protected: Collection[str] = (), predicted_since: datetime | None = None,
           at: datetime | None = None) -> GcResult:
        """Delete (leave a tombstone of) every version but the newest ``keep`` and those in use:
        production, the previous production, ``protected`` (A/B versions), every ancestor
        whose layer production serves, a version a deferred promotion waits for, and those that
        logged a prediction at or after ``predicted_since``. Artifacts no live version lists
        leave the store; this home's folders of deleted versions and crash leftovers go too."""
        if not isinstance(keep, int) or keep < 0:
            raise BadInput(f"keep must be a non-negative integer, not {keep!r}")
        at = self._now(at)
        with self._mutation() as conn:
            current = rows.lock(conn, self._lock_wait_s)
            infos = rows.all_versions(conn, self.root, with_files=True)
            by_version = {i.version: i for i in infos}
            live = [i.version for i in infos if i.state != rows.DELETED]
            switches = rows.switches(conn)
            stack = lineage.production_stack(switches, current)
            why: dict[str, str] = {}
            if current is not None:
                why[current] = "production"
                for layer, origin in lineage.layer_origins(lineage.chain(by_version, current)).items():
                    why.setdefault(origin, f"production serves its {layer}")
            if len(stack) > 1:
                why.setdefault(stack[-2], "previous production")
            if switches and switches[-1].from_version:
                why.setdefault(switches[-1].from_version, "previous production")
            for version in protected:
                why.setdefault(version, "under an A/B test")
            for waiting in rows.pending(conn):
                why.setdefault(waiting.version, f"pending #{waiting.id}")
            if predicted_since is not None:
                for version in rows.predicted_since(conn, predicted_since):
                    why.setdefault(version, f"made predictions since {predicted_since.date().isoformat()}")
            for version in live[:keep]:
                why.setdefault(version, f"among the newest {keep}")
            doomed = [v for v in live if v not in why]
            rows.set_state(conn, doomed, rows.DELETED, at=at)
            self._fault()
            dropped = rows.drop_unreferenced_artifacts(conn, (f.sha256 for v in doomed for f in by_version[v].files))
            record_event(conn, "gc", "ok", at=at, details={"keep": keep, "deleted": doomed, "artifacts_dropped": dropped,
                                                           "kept": {v: why[v] for v in live if v in why}})
            self._fault()
            gone = {i.version for i in infos if i.state == rows.DELETED} | set(doomed)
        cleaned = local.clean_leftovers(self.root, self.pointer) + staging.clean_stale(self.home)
        for version in local.local_versions(self.root):
            if version in gone:
                local.discard(self.root / version)
                cleaned.append(version)
        kept = tuple(v for v in live if v in why)
        return GcResult(tuple(doomed), kept, tuple(cleaned), {v: why[v] for v in kept})

    def defer(self, version: str, *, not_before: datetime, reason: str = "", force: bool = False,
              at: datetime | None = None, action: str = "promote") -> Pending:
        """Record a promotion the freeze defers (with its ``promote``/``deferred`` event)."""
        at = self._now(at)
        info = self._live(self.show(version))
        with self._mutation() as conn:
            rows.lock(conn, self._lock_wait_s)
            entry = rows.add_pending(conn, asked_at=at, who=self._user, host=self._host, action=action,
                                     version=info.version, reason=reason, force=force, not_before=not_before)
            record_event(conn, action, "deferred", at=at, version=info.version,
                         details={"pending": entry.id, "not_before": not_before.isoformat(), "reason": reason})
        return entry

    def settle(self, number: int, state: str, outcome: str, *, at: datetime | None = None,
               kind: str = "promote") -> Pending:
        """Drop (``cancelled``) or close (``refused``) a deferred promotion; BadInput when no
        promotion with that number waits."""
        at = self._now(at)
        with self._mutation() as conn:
            rows.lock(conn, self._lock_wait_s)
            entry = next((p for p in rows.pending(conn) if p.id == number), None)
            if entry is None:
                raise BadInput(f"no pending promotion #{number} (see `nbalife registry pending`)")
            rows.settle_pending(conn, number, state, at, outcome)
            record_event(conn, kind, state, at=at, version=entry.version,
                         details={"pending": number, "outcome": outcome})
        return replace(entry, state=state, done_at=at, outcome=outcome)

    # -------------------------------------------------------------- internals

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with reachable(self.engine), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def _mutation(self) -> Iterator[Connection]:
        with reachable(self.engine), self.engine.begin() as conn:
            yield conn

    def _all(self) -> list[VersionInfo]:
        with self._read() as conn:
            return rows.all_versions(conn, self.root)

    def _live(self, info: VersionInfo) -> VersionInfo:
        if info.state == rows.DELETED:
            raise BadInput(f"version {info.version} was {info.tombstone}: its artifacts are gone")
        return info

    def _materialised(self, info: VersionInfo, conn: Connection | None = None) -> Path:
        """The verified local folder of ``info`` (its files fetched on ``conn`` or a new one)."""
        def fetch(shas: Iterable[str]) -> dict[str, bytes]:
            if conn is not None:
                return rows.artifacts(conn, shas)
            with self._read() as fresh:
                return rows.artifacts(fresh, shas)

        if not info.files:
            info = self.show(info.version)
        return local.materialise(self.root, info, fetch)[0]

    def _stale(self, conn: Connection, new: VersionInfo, production: str | None) -> list[str]:
        """This kind's waiting candidates that the new version makes stale."""
        infos = {i.version: i for i in rows.all_versions(conn, self.root)}
        stale = []
        for info in infos.values():
            if info.version == new.version or info.state != rows.CANDIDATE or info.kind != new.kind:
                continue
            descends = production is None or any(a.version == production for a in lineage.chain(infos, info.version))
            if not descends or info.parent == new.parent:
                stale.append(info.version)
        return stale

    def _switch(self, conn: Connection, action: str, current: str | None, version: str, reason: str,
                forced: bool, failures: tuple[str, ...], details: dict[str, Any], at: datetime) -> Switch:
        """Move the pointer, record the switch and its event: the caller's one transaction."""
        details = {**details, **({"force": True, "gate_failures": list(failures)} if forced else {})}
        infos = {i.version: i for i in rows.all_versions(conn, self.root)}
        passed = [i.version for i in lineage.chain(infos, version)[1:] if i.state == rows.CANDIDATE]
        rows.set_state(conn, passed + ([current] if current is not None else []), rows.RETIRED)
        rows.set_state(conn, [version], rows.PRODUCTION)
        rows.set_production(conn, version, at)
        for waiting in rows.pending(conn):  # a deferred promotion of this version is done now
            if waiting.version == version:
                rows.settle_pending(conn, waiting.id, "done", at, f"{action} to {version}")
        self._fault()
        rows.insert_switch(conn, at=at, who=self._user, host=self._host, action=action, frm=current, to=version,
                           reason=reason, forced=forced, details=details)
        event_kind = "rollback" if action == "rollback" else "promote"
        record_event(conn, event_kind, "ok", at=at, version=version,
                     details={"from": current, "to": version, "reason": reason, "action": action, **details})
        self._fault()
        return Switch(action, current, version, at, reason, forced, failures, self.root / version)

    def _now(self, at: datetime | None = None) -> datetime:
        now = self._clock() if at is None else at
        return now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc)

    def _fault(self) -> None:
        if self._fault_delay_s:
            time.sleep(self._fault_delay_s)

