"""Model registry: immutable, checksummed model sets and an atomic production pointer.

On disk, under the nbalife home::

    model_registry/<semver>/          one model set: artifact files + metadata.json (read-only)
    model_registry/HISTORY.jsonl      crash journal: one JSON line per mutation (register/promote/rollback/gc/recover)
    model_registry/.tmp-*, .trash-*   leftovers of an interrupted register or gc: ignored, then cleaned
    .train-*, .retrain-*, .derive-*   staging folders of jobs building a set (flocked while in use)
    models/current                    relative symlink -> ../model_registry/<semver> (production)
    locks/registry.lock               default flock serialising mutations (services pass the run lock)

Atomicity: a model set is written into ``.tmp-*``, fsynced (files, then folder) and renamed
into place, so a version folder is complete or absent. Production switches by replacing the
``models/current`` symlink (temp symlink + ``os.replace`` + fsync of ``models/``). gc renames a
version to ``.trash-*`` before removing it. A promotion or rollback appends its history line
(fsynced) *before* swapping the pointer: a crash in between leaves production as it was, and
the next mutation appends a ``recover`` line saying the switch did not happen. Every mutation
starts, under the lock, by cutting a torn last history line and removing crash leftovers
(stale staging folders too), finishing a gc killed mid-way (gc journals before deleting),
journalling a version whose register line a kill lost, and reconciling the journal with the
lifecycle events (see nbalife.registry.recovery).

"Previous production" is replayed from the history: promote pushes onto a stack of production
versions, rollback pops back to its target, so repeated ``rollback`` steps further back.
A version number, once registered, is never reused, even after gc. A new version derives from
a base (production by default), its parent: see nbalife.versions for the numbering.
"""

from nbalife.registry.core import NO_PRODUCTION, Check, Registry
from nbalife.registry.gate import Gate, GateResult, Verdict
from nbalife.registry.metadata import METADATA
from nbalife.registry.records import (
    DiffRow,
    FileEntry,
    FileProblem,
    GcResult,
    Production,
    RegistryEvent,
    Status,
    Switch,
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
    "Production",
    "Registry",
    "RegistryEvent",
    "Status",
    "Switch",
    "VersionDiff",
    "VersionInfo",
    "VersionRow",
    "Verdict",
    "VerifyReport",
    "newest_first",
    "next_version",
    "parse_version",
]
