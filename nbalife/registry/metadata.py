"""metadata.json of a model set: serialisation and strict validation, and the artifact files it lists."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nbalife.errors import BadInput
from nbalife.registry.records import FileEntry, VersionInfo
from nbalife.versions import ChangeKind, is_version

METADATA = "metadata.json"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FIELDS: dict[str, tuple[type, ...]] = {
    "version": (str,),
    "created_at": (str,),
    "parent": (str, type(None)),
    "description": (str,),
    "kind": (str,),
    "metrics": (dict,),
    "params": (dict,),
    "training_window": (dict, type(None)),
    "nbalife_version": (str,),
    "files": (dict,),
}


def check_name(name: str) -> None:
    """An artifact name is a plain file name: no separators, no dot-prefix, not metadata.json."""
    if (
        not isinstance(name, str)
        or not name
        or name.startswith(".")
        or any(c in name for c in "/\\\0")
        or name == METADATA
    ):
        raise BadInput(
            f"invalid artifact name {name!r}: use a plain file name "
            f"(no path separators, no leading dot, not {METADATA})"
        )


def dumps(info: VersionInfo) -> bytes:
    """The metadata.json bytes of ``info`` (stable key order, strict JSON)."""
    doc = {
        "version": info.version,
        "created_at": info.created_at.isoformat(),
        "parent": info.parent,
        "description": info.description,
        "kind": info.kind.value,
        "metrics": info.metrics,
        "params": info.params,
        "training_window": info.training_window,
        "nbalife_version": info.nbalife_version,
        "files": {f.name: {"sha256": f.sha256, "size": f.size} for f in info.files},
    }
    try:
        return (json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()
    except (TypeError, ValueError) as exc:
        raise BadInput(f"metrics, params and training window must be finite JSON values: {exc}") from None


def load(directory: Path) -> VersionInfo:
    """Read and validate ``directory/metadata.json``; BadInput naming the file and the problem."""
    path = directory / METADATA
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise BadInput(f"{path}: missing") from None
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise BadInput(f"{path}: expected a JSON object")
    for key, types in _FIELDS.items():
        if key not in doc:
            raise BadInput(f"{path}: missing key {key!r}")
        if not isinstance(doc[key], types):
            raise BadInput(f"{path}: {key!r} has the wrong type ({type(doc[key]).__name__})")
    if doc["version"] != directory.name:
        raise BadInput(f"{path}: version {doc['version']!r} does not match its folder {directory.name!r}")
    if doc["parent"] is not None and not is_version(doc["parent"]):
        raise BadInput(f"{path}: parent {doc['parent']!r} is not a version")
    try:
        kind = ChangeKind(doc["kind"])
    except ValueError:
        raise BadInput(f"{path}: unknown kind {doc['kind']!r}") from None
    try:
        created = datetime.fromisoformat(doc["created_at"])
    except ValueError:
        raise BadInput(f"{path}: created_at {doc['created_at']!r} is not an ISO time") from None
    if created.tzinfo is None:
        raise BadInput(f"{path}: created_at {doc['created_at']!r} has no time zone")
    return VersionInfo(
        version=doc["version"],
        created_at=created.astimezone(timezone.utc),
        parent=doc["parent"],
        description=doc["description"],
        kind=kind,
        metrics=doc["metrics"],
        params=doc["params"],
        training_window=doc["training_window"],
        nbalife_version=doc["nbalife_version"],
        files=tuple(_file_entry(path, name, value) for name, value in sorted(doc["files"].items())),
        path=directory,
    )


def load_or_none(root: Path, version: str | None) -> VersionInfo | None:
    """Metadata of ``root/version``, or None when there is no version or it cannot be read
    (a broken production must not block switching away from it)."""
    if version is None:
        return None
    try:
        return load(root / version)
    except BadInput:
        return None


def _file_entry(path: Path, name: str, value: Any) -> FileEntry:
    try:
        check_name(name)
    except BadInput as exc:
        raise BadInput(f"{path}: files: {exc}") from None
    if not isinstance(value, dict):
        raise BadInput(f"{path}: files[{name!r}] must be an object")
    sha, size = value.get("sha256"), value.get("size")
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise BadInput(f"{path}: files[{name!r}].sha256 is not a sha256 hex digest")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise BadInput(f"{path}: files[{name!r}].size is not a non-negative integer")
    return FileEntry(name, sha, size)


def collect_artifacts(files: Mapping[str, Path] | Path) -> dict[str, Path]:
    """Validate the artifact set to register: plain names, existing regular files, at least one
    (a folder stands for its plain files)."""
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
        check_name(name)
        if not path.is_file():
            raise BadInput(f"{path}: artifact {name!r} is not a readable file")
    return sources
