"""Model registry: immutable, checksummed model sets and the production pointer, in the SQL store.

In the store (nbalife.store.schema, ``registry_*`` tables): each version with its kind, parent,
metadata and state (candidate, production, retired, deleted), the sha256 and size of each of its
files, the artifacts content-addressed by sha256, the production pointer (one row), every switch
of production (who, when, from, to, why), and the promotions a live-game freeze deferred. Every
mutation is one transaction, with its lifecycle event, that starts by locking the pointer row.

In each nbalife home, the verified local copy of what it uses::

    model_registry/<semver>/          artifact files + metadata.json written from the store (read-only)
    model_registry/.tmp-*, .trash-*   leftovers of an interrupted materialisation (removed by gc)
    .train-*, .retrain-*, .derive-*   staging folders of jobs building a set (flocked while in use)
    models/current                    relative symlink -> ../model_registry/<semver> (production)

One line of production history: a promotion must be a fast-forward of production, a rollback
returns only to a version that served, gc never deletes what production still serves or what
made recent predictions and leaves a tombstone. A version number, once registered, is never
reused. A new version derives from a base (production by default): see nbalife.versions.
"""

from nbalife.registry.core import NO_PRODUCTION, Check, Registry
from nbalife.registry.gate import Gate, GateResult, Verdict
from nbalife.registry.metadata import METADATA
from nbalife.registry.records import (
    DiffRow,
    FileEntry,
    FileProblem,
    GcResult,
    Pending,
    Production,
    Status,
    Switch,
    SwitchRecord,
    VersionDiff,
    VersionInfo,
    VersionRow,
    VerifyReport,
)
from nbalife.versions import ChangeKind, newest_first, next_version, parse_version

__all__ = [
    "METADATA",
    "NO_PRODUCTION",
    "ChangeKind",
    "Check",
    "DiffRow",
    "FileEntry",
    "FileProblem",
    "GcResult",
    "Gate",
    "GateResult",
    "Pending",
    "Production",
    "Registry",
    "Status",
    "Switch",
    "SwitchRecord",
    "VersionDiff",
    "VersionInfo",
    "VersionRow",
    "Verdict",
    "VerifyReport",
    "newest_first",
    "next_version",
    "parse_version",
]
