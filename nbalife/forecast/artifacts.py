"""Reading and writing model artifacts: atomic writes, and BadInput naming the file on failure."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nbalife.errors import BadInput


class NotFitted(BadInput):
    """A forecaster was used before ``fit`` (or ``load``)."""


def require_fitted(estimator: object, attribute: str) -> None:
    """Raise NotFitted unless ``estimator`` has the fitted ``attribute``."""
    if not hasattr(estimator, attribute):
        name = type(estimator).__name__
        raise NotFitted(f"{name} is not fitted: call fit() or {name}.load() first")


def write_atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as indented JSON (no NaN or infinity: strict JSON) atomically."""
    text = json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"
    return write_atomic(path, lambda tmp: tmp.write_text(text))


def read_json(path: Path, kind: str) -> dict[str, Any]:
    """Read a JSON artifact whose ``format`` field must equal ``kind``; BadInput otherwise."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise BadInput(f"{path}: missing model file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path}: corrupt or truncated JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != kind:
        raise BadInput(f"{path}: not a {kind} file")
    return data


def field(data: dict[str, Any], key: str, path: Path) -> Any:
    """``data[key]``, or BadInput naming the file and the missing key."""
    try:
        return data[key]
    except KeyError:
        raise BadInput(f"{path}: corrupt model file: missing {key!r}") from None
