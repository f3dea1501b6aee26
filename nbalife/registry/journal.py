"""HISTORY.jsonl, the registry's crash journal: reading it, and pure replays of its events.

Each operation reads the journal once (``read``) and hands the events to the replays below;
none of them touches the disk. The actions are the lifecycle-event kinds: register, promote,
rollback, gc and recover.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from nbalife.errors import BadInput
from nbalife.registry import storage
from nbalife.registry.records import RegistryEvent

REGISTER, PROMOTE, ROLLBACK, GC, RECOVER = "register", "promote", "rollback", "gc", "recover"
ACTIONS = (REGISTER, PROMOTE, ROLLBACK, GC, RECOVER)
SWITCHES = (PROMOTE, ROLLBACK, RECOVER)


def read(path: Path) -> list[RegistryEvent]:
    """Every complete journal line as an event, oldest first (a torn last line is ignored)."""
    return [_event(path, record) for record in storage.read_json_lines(path)]


def append(path: Path, event: RegistryEvent) -> None:
    """Append one event as a JSON line, fsynced."""
    storage.append_json_line(path, asdict(event) | {"time": event.time.isoformat()})


def _event(path: Path, record: dict[str, Any]) -> RegistryEvent:
    try:
        return RegistryEvent(**(record | {"time": datetime.fromisoformat(record["time"])}))
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"{path}: malformed entry {record!r} ({exc})") from None


def switches(events: Iterable[RegistryEvent]) -> list[RegistryEvent]:
    """The events that (tried to) move production."""
    return [e for e in events if e.action in SWITCHES]


def production_stack(events: Sequence[RegistryEvent], current: str | None) -> list[str]:
    """Replay the switches into a stack of production versions (top = ``current``): promote
    pushes, rollback returns to the version's last occurrence (or pushes one not on it).
    A switch took effect only if the next record's ``from`` (or, for the last one, the
    pointer) is its target; one that did not (a crash between record and swap) is skipped."""
    moves = switches(events)
    stack: list[str] = []
    for event, after in zip(moves, [e.from_version for e in moves[1:]] + [current]):
        _settle(stack, event.from_version)
        if event.to_version != after:
            continue
        if event.action == PROMOTE:
            stack.append(event.to_version)
        else:
            _settle(stack, event.to_version)
    _settle(stack, current)
    return stack


def previous(stack: Sequence[str]) -> str | None:
    """The production before the top of the stack (what ``rollback`` returns to)."""
    return stack[-2] if len(stack) > 1 else None


def ever_production(events: Iterable[RegistryEvent], stack: Iterable[str]) -> set[str]:
    """Versions that were production at some point (so no longer candidates)."""
    return set(stack) | {e.from_version for e in switches(events) if e.from_version is not None}


def used_versions(events: Iterable[RegistryEvent], existing: Iterable[str]) -> set[str]:
    """Every version number ever taken: on disk, registered, or deleted by gc."""
    used = set(existing)
    for event in events:
        if event.action == REGISTER and event.to_version is not None:
            used.add(event.to_version)
        elif event.action == GC:
            used.update(event.details.get("deleted", []))
    return used


def interrupted_switch(events: Sequence[RegistryEvent], current: str | None) -> RegistryEvent | None:
    """The last switch when the pointer does not show it: recorded, then the process died."""
    moves = switches(events)
    return moves[-1] if moves and moves[-1].to_version != current else None


def outcomes(events: Sequence[RegistryEvent], current: str | None) -> list[tuple[RegistryEvent, str]]:
    """Each event with its lifecycle outcome: ``interrupted`` for a promotion or rollback that
    never took effect (recorded, then the process died before the swap), else ``ok``."""
    moves = switches(events)
    failed = {id(e) for e, after in zip(moves, [m.from_version for m in moves[1:]] + [current])
              if e.action != RECOVER and e.to_version != after}
    return [(e, "interrupted" if id(e) in failed else "ok") for e in events]


def unjournaled(events: Iterable[RegistryEvent], existing: Iterable[str]) -> list[str]:
    """Versions on disk with no ``register`` line: renamed into place, then the process died."""
    registered = {e.to_version for e in events if e.action == REGISTER}
    return [v for v in existing if v not in registered]


def undeleted(events: Iterable[RegistryEvent], existing: Iterable[str]) -> list[str]:
    """Versions a ``gc`` line deleted that are still on disk: the gc was killed mid-way."""
    deleted = {v for e in events if e.action == GC for v in e.details.get("deleted", [])}
    return [v for v in existing if v in deleted]


def _settle(stack: list[str], version: str | None) -> None:
    """Make ``version`` the top of the production stack (None: no production)."""
    if version is None:
        stack.clear()
    elif version in stack:
        del stack[len(stack) - stack[::-1].index(version):]
    else:
        stack.append(version)
