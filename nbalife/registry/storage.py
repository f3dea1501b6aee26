"""Crash-safe filesystem primitives of the registry: hashed copy, a model set written in one
rename, atomic symlink switch, crash-safe tree removal and an append-only JSON-lines log.
Mutual exclusion is not here: the Registry holds the lock it is given (nbalife.locks)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from nbalife.errors import BadInput
from nbalife.files import fsync_dir, write_atomic
from nbalife.registry.metadata import METADATA
from nbalife.registry.records import FileEntry
from nbalife.versions import is_version

_CHUNK = 1 << 20


def hash_file(path: Path) -> tuple[str, int]:
    """(sha256 hex, size in bytes) of a file's content."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as src:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def copy_hashed(src: Path, dst: Path) -> tuple[str, int]:
    """Copy ``src`` to a new file ``dst`` (fsynced, read-only) hashing on the way."""
    digest, size = hashlib.sha256(), 0
    with open(src, "rb") as fin, open(dst, "xb") as fout:
        while chunk := fin.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    os.chmod(dst, 0o444)
    return digest.hexdigest(), size


def write_set(
    destination: Path,
    sources: Mapping[str, Path],
    dump: Callable[[tuple[FileEntry, ...]], bytes],
    pause: Callable[[], None],
) -> tuple[FileEntry, ...]:
    """Copy ``sources`` (hashing each) and ``METADATA = dump(entries)`` into a fresh ``.tmp-*``
    folder beside ``destination``, make it read-only, fsync, and rename it to ``destination``;
    on an error the temp folder is removed. ``pause`` runs between steps (crash tests)."""
    tmp = destination.with_name(f".tmp-{secrets.token_hex(6)}")
    tmp.mkdir()
    try:
        entries = []
        for name, src in sorted(sources.items()):
            entries.append(FileEntry(name, *copy_hashed(src, tmp / name)))
            pause()
        write_atomic(tmp / METADATA, dump(tuple(entries)), mode=0o444)
        os.chmod(tmp, 0o555)
        pause()
        os.rename(tmp, destination)
    except BaseException:
        if tmp.exists():
            purge_tree(tmp)
        raise
    fsync_dir(destination.parent)
    return tuple(entries)


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


def read_pointer(pointer: Path, root: Path) -> str | None:
    """The version a ``../<root>/<version>`` symlink names (None when absent); BadInput when it
    is not such a symlink or the version folder is gone."""
    if not os.path.lexists(pointer):
        return None
    if not pointer.is_symlink():
        raise BadInput(f"{pointer}: expected a symlink to ../{root.name}/<version>")
    target = Path(os.readlink(pointer))
    if target.parent != Path("..") / root.name or not is_version(target.name):
        raise BadInput(f"{pointer}: points to {str(target)!r}, not ../{root.name}/<version>")
    if not (root / target.name).is_dir():
        raise BadInput(f"{pointer}: points to version {target.name}, which does not exist")
    return target.name


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


def append_json_line(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line with a single write, then fsync."""
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        fsync_dir(path.parent)


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """Every complete line of a JSON-lines log. An unterminated last line (a write torn by a
    crash, or one in flight) is ignored; a bad complete line is BadInput naming it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    lines = data.split(b"\n")[:-1]  # the part after the last newline is incomplete
    out = []
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            raise BadInput(f"{path}: line {number} is not a JSON object")
        out.append(record)
    return out


def drop_torn_tail(path: Path) -> None:
    """Cut an unterminated last line so the next append starts on a fresh line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as out:
            out.truncate(data.rfind(b"\n") + 1)
            os.fsync(out.fileno())
