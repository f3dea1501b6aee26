"""Loading model sets from the registry: this home's local copy, verified against the store's
sha256 (and rebuilt from the store when it does not verify), then deserialised."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from nbalife.registry import Registry

if TYPE_CHECKING:
    from nbalife.forecast.modelset import ModelSet


@dataclass(frozen=True)
class LoadedModelSet:
    """A model set ready to predict, and the version it came from."""

    version: str
    models: ModelSet


def load_model_set(registry: Registry, version: str | None = None) -> LoadedModelSet:
    """Production (or ``version``) from its verified local copy; nothing is loaded otherwise
    (an artifact that fails its checksum in the store is CheckFailed, exit 1)."""
    from nbalife.forecast.modelset import ModelSet

    if version is None:
        production = registry.load_production()
        return LoadedModelSet(production.version, ModelSet.load(production.path))
    return LoadedModelSet(version, ModelSet.load(registry.path_of(version)))
