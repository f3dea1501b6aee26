"""What the registry repairs, under its lock, before every mutation: the file-level leftovers
of a killed process, and the journal lines a kill kept from being written."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from nbalife.registry import journal, metadata, staging, storage
from nbalife.registry.records import RegistryEvent
from nbalife.versions import is_version, newest_first

LOST_REGISTER = "journal line lost in a crash; restored by recovery"
Line = tuple[str, "str | None", "str | None", str, dict[str, Any], "datetime | None"]
"""A journal line to write: action, from, to, reason, details, time (None: now)."""


def tidy(home: Path, root: Path, pointer: Path, stale_after_s: float) -> tuple[list[str], list[RegistryEvent]]:
    """Cut a torn journal line, remove temp/trash folders, temp symlinks and stale staging
    folders, and finish a gc killed mid-way (its line names what it deletes). Returns the names
    removed and the journal's events."""
    history = root / "HISTORY.jsonl"
    storage.drop_torn_tail(history)
    cleaned = storage.clean_leftovers(root, pointer) + staging.clean_stale(home, stale_after_s)
    events = journal.read(history)
    for version in journal.undeleted(events, on_disk(root)):
        storage.discard_tree(root / version)
        cleaned.append(version)
    return cleaned, events


def missing_lines(root: Path, events: list[RegistryEvent], current: str | None) -> list[Line]:
    """The journal lines a kill kept from being written, as ``Registry._record`` arguments:
    a ``register`` line (at its metadata's creation time) for each version renamed into place
    without one, oldest first; then a ``recover`` line writing off a switch recorded but never
    made (production is still ``current``)."""
    lines: list[Line] = []
    for version in reversed(journal.unjournaled(events, on_disk(root))):
        info = metadata.load_or_none(root, version)
        details = {"kind": info.kind.value, "metrics": info.metrics} if info else {}
        lines.append((journal.REGISTER, info.parent if info else None, version, LOST_REGISTER,
                      details | {"recovered": True}, info.created_at if info else None))
    lost = journal.interrupted_switch(events, current)
    if lost is not None:
        reason = (f"{lost.action} to {lost.to_version} at {lost.time.isoformat()} did not complete "
                  f"(interrupted); production is {current}")
        lines.append((journal.RECOVER, current, current, reason,
                      {"interrupted_action": lost.action, "interrupted_to": lost.to_version}, None))
    return lines


def on_disk(root: Path) -> list[str]:
    """Version folders in ``root``, newest first."""
    if not root.is_dir():
        return []
    return newest_first(p.name for p in root.iterdir() if is_version(p.name) and p.is_dir())
