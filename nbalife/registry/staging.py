"""Staging folders: where a job writes a model set before registering it (``home/.train-*``,
``.retrain-*``, ``.derive-*``), and the removal of those a killed job left behind.

A staging folder is held under an exclusive flock on the folder itself for as long as its job
uses it. The kernel drops the lock when the process dies, so a folder whose lock can be taken
has no writer: it is stale once it is also older than a grace period (which covers the instant
between creating a folder and locking it).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nbalife.registry.storage import purge_tree

PREFIXES = (".train-", ".retrain-", ".derive-")
GRACE_S = 60.0


@contextmanager
def staging_folder(home: Path, prefix: str) -> Iterator[Path]:
    """A fresh ``home/<prefix>*`` folder, flocked while in use and removed afterwards."""
    if prefix not in PREFIXES:
        raise ValueError(f"staging prefix {prefix!r} is not one of {PREFIXES}")
    home.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=home))
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield path
    finally:
        if path.is_dir():
            purge_tree(path)
        os.close(fd)


def clean_stale(home: Path, grace_s: float = GRACE_S) -> list[str]:
    """Remove the staging folders in ``home`` that no live process holds and that are older
    than ``grace_s`` seconds; returns their names."""
    cleaned: list[str] = []
    if not home.is_dir():
        return cleaned
    cutoff = time.time() - grace_s
    for path in sorted(home.iterdir()):
        if not path.name.startswith(PREFIXES) or path.is_symlink() or not path.is_dir():
            continue
        if path.lstat().st_mtime > cutoff:
            continue
        if _unused(path):
            purge_tree(path)
            cleaned.append(path.name)
    return cleaned


def _unused(path: Path) -> bool:
    """True when no process holds ``path``'s flock (taken and released at once)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)
