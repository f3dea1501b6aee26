"""metadata.json of a local copy (written from the store's record), and the artifact files a
registration takes."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from nbalife.errors import BadInput
from nbalife.registry.records import VersionInfo

METADATA = "metadata.json"


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
