"""Read-only looks at model sets: two versions side by side."""

from __future__ import annotations

from typing import Any

from nbalife.registry.records import DiffRow, VersionDiff, VersionInfo


def diff(left: VersionInfo, right: VersionInfo) -> VersionDiff:
    """Metadata, metrics, parameters and files of two versions side by side."""
    rows: list[DiffRow] = []
    for name in ("created_at", "parent", "kind", "description", "training_window", "nbalife_version"):
        rows.append(_row("meta", name, getattr(left, name), getattr(right, name)))
    for section, x, y in (("metric", left.metrics, right.metrics), ("param", left.params, right.params)):
        rows.extend(_row(section, k, x.get(k), y.get(k)) for k in sorted(x.keys() | y.keys()))
    lf = {f.name: {"sha256": f.sha256, "size": f.size} for f in left.files}
    rf = {f.name: {"sha256": f.sha256, "size": f.size} for f in right.files}
    rows.extend(_row("file", k, lf.get(k), rf.get(k)) for k in sorted(lf.keys() | rf.keys()))
    return VersionDiff(left.version, right.version, tuple(rows))


def _row(section: str, name: str, a: Any, b: Any) -> DiffRow:
    return DiffRow(section, name, a, b, a != b)
