"""Crash-safe filesystem primitives of the registry's local copies: hashing, atomic symlink
switch, crash-safe tree removal and the leftovers of an interrupted materialisation."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import stat
from pathlib import Path

from nbalife.files import fsync_dir

_CHUNK = 1 << 20


def hash_file(path: Path) -> tuple[str, int]:
    """(sha256 hex, size in bytes) of a file's content."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as src:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def clean_leftovers(root: Path, pointer: Path) -> list[str]:
    """Remove what interrupted mutations left: ``.tmp-*``/``.trash-*`` folders in ``root`` and
    temp symlinks beside ``pointer``; returns their names."""
    cleaned = []
    for path in sorted(root.iterdir()):
        if path.name.startswith((".tmp-", ".trash-")) and path.is_dir() and not path.is_symlink():
            purge_tree(path)
            cleaned.append(path.name)
    for path in sorted(pointer.parent.iterdir()):
        if path.name.startswith(f".{pointer.name}-") and path.is_symlink():
            path.unlink()
            cleaned.append(f"{pointer.parent.name}/{path.name}")
    return cleaned


def replace_symlink(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` in one atomic step (temp symlink + os.replace + dir fsync)."""
    tmp = link.with_name(f".{link.name}-{secrets.token_hex(6)}")
    os.symlink(target, tmp)
    os.replace(tmp, link)
    fsync_dir(link.parent)


def discard_tree(path: Path) -> None:
    """Delete a directory crash-safely: rename it to ``.trash-*`` (one atomic step), then purge."""
    trash = path.with_name(f".trash-{path.name}-{secrets.token_hex(4)}")
    os.rename(path, trash)
    fsync_dir(path.parent)
    purge_tree(trash)


def purge_tree(path: Path) -> None:
    """Remove a directory that nothing refers to any more (a temp or trash folder)."""
    os.chmod(path, stat.S_IRWXU)  # read-only version folders cannot be emptied otherwise
    shutil.rmtree(path)
    fsync_dir(path.parent)
