"""Reading and writing model artifacts: atomic writes, and BadInput naming the file on failure."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from nbalife.errors import BadInput
from nbalife.files import write_atomic

_E = TypeVar("_E")
_J = TypeVar("_J", bound="JsonModel")


class NotFitted(BadInput):
    """A forecaster was used before ``fit`` (or ``load``)."""


def require_fitted(estimator: object, attribute: str) -> None:
    """Raise NotFitted unless ``estimator`` has the fitted ``attribute``."""
    if not hasattr(estimator, attribute):
        name = type(estimator).__name__
        raise NotFitted(f"{name} is not fitted: call fit() or {name}.load() first")


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as indented JSON (no NaN or infinity: strict JSON) atomically."""
    text = json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"
    return write_atomic(path, text)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write named arrays as an uncompressed ``.npz`` (no pickled objects) atomically."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    return write_atomic(path, write)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` (no pickle); a missing or damaged file is BadInput naming it."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except FileNotFoundError:
        raise BadInput(f"{path}: missing model file") from None
    except Exception as exc:  # zipfile, zlib and numpy raise many types for damaged files
        raise BadInput(f"{path}: corrupt or truncated ({type(exc).__name__}: {exc})") from None


def read_json(path: Path, kind: str) -> dict[str, Any]:
    """Read a JSON artifact whose ``format`` field must equal ``kind``; BadInput otherwise."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise BadInput(f"{path}: missing model file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path}: corrupt or truncated JSON ({exc})") from None
    check_format(data, kind, path)
    return data


def check_format(data: object, kind: str, path: Path) -> None:
    """BadInput naming ``path`` unless ``data`` is a dict whose ``format`` is ``kind``."""
    if not isinstance(data, dict) or data.get("format") != kind:
        raise BadInput(f"{path}: not a {kind} file")


class JsonModel(ABC):
    """A fitted model kept as one JSON file: ``save``/``load`` through the subclass's
    ``to_dict``/``from_dict(data, path)``, the file ``JSON_FILE`` whose ``format`` is ``FORMAT``."""

    JSON_FILE: ClassVar[str]
    FORMAT: ClassVar[str]

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The fitted model as JSON-ready data, ``format`` included."""

    @classmethod
    @abstractmethod
    def from_dict(cls: type[_J], data: dict[str, Any], source: Path | str) -> _J:
        """The fitted model from ``data`` read from ``source``; bad data is BadInput naming it."""

    def save(self, directory: Path) -> list[Path]:
        """Write the model's JSON file into ``directory`` atomically."""
        return [write_json(Path(directory) / self.JSON_FILE, self.to_dict())]

    @classmethod
    def load(cls: type[_J], directory: Path) -> _J:
        """Read the model's JSON file from ``directory``; a missing or corrupt file is BadInput
        naming it."""
        path = Path(directory) / cls.JSON_FILE
        return cls.from_dict(read_json(path, cls.FORMAT), path)


def read_model(cls: type[_E], path: Path, kind: str) -> tuple[_E, dict[str, Any]]:
    """An unfitted ``cls`` built from the ``params`` of the JSON artifact ``path`` (its
    ``format`` must be ``kind``) and checked by its ``_check_params``, with the artifact's
    data; bad parameters are BadInput naming the file."""
    data = read_json(path, kind)
    params = field(data, "params", path)
    try:
        model = cls(**params)
        model._check_params()
    except (TypeError, BadInput) as exc:
        raise BadInput(f"{path}: corrupt model file: bad params {params!r} ({exc})") from None
    return model, data


def field(data: dict[str, Any], key: str, path: Path) -> Any:
    """``data[key]``, or BadInput naming the file and the missing key."""
    try:
        return data[key]
    except KeyError:
        raise BadInput(f"{path}: corrupt model file: missing {key!r}") from None
