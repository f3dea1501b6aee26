"""Loading model sets from the registry: verified first, then deserialised."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from nbalife.errors import BadInput
from nbalife.registry import Registry

if TYPE_CHECKING:
    from nbalife.forecast.modelset import ModelSet


@dataclass(frozen=True)
class LoadedModelSet:
    """A model set ready to predict, and the version it came from."""

    version: str
    models: ModelSet


def load_model_set(registry: Registry, version: str | None = None) -> LoadedModelSet:
    """Production (or ``version``) after its checksums verify; nothing is loaded otherwise."""
    from nbalife.forecast.modelset import ModelSet

    if version is None:
        production = registry.load_production()
        return LoadedModelSet(production.version, ModelSet.load(production.path))
    report = registry.verify(version)
    if not report.ok:
        problem = report.problems[0]
        raise BadInput(f"version {version} failed verification: {problem.name}: {problem.describe()}")
    return LoadedModelSet(version, ModelSet.load(registry.path_of(version)))
