"""Read-only looks at model sets: a folder against its metadata.json, two versions side by side."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nbalife.errors import BadInput
from nbalife.registry import metadata, storage
from nbalife.registry.records import DiffRow, FileProblem, VersionDiff, VersionInfo, VerifyReport


def verify_folder(version: str, directory: Path) -> VerifyReport:
    """Recompute sha256 and size of every file against metadata.json; report each
    mismatched, missing or unexpected file (or broken metadata) instead of raising."""
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


def require_ok(report: VerifyReport, directory: Path) -> None:
    """BadInput naming the first problem of a failed verification (and how many more)."""
    if not report.ok:
        first = report.problems[0]
        where = "" if first.problem == "metadata" else f"{directory / first.name}: "
        more = f" (+{len(report.problems) - 1} more)" if len(report.problems) > 1 else ""
        raise BadInput(f"version {report.version} failed verification: {where}{first.describe()}{more}")


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
