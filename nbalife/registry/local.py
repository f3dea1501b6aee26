"""Each home's verified local copy of the store's registry: ``model_registry/<version>/`` (the
artifacts and a ``metadata.json`` written from the store's record) and ``models/current``.

A folder is used only after every file hashes to the store's sha256 and nothing else is in it.
A folder that does not verify (tampered, half-deleted, stale) is rebuilt from the store's
artifacts, each of which is hashed before it is written: an artifact that is missing from the
store or does not match its sha256 stops the load (CheckFailed, exit 1) and is never served.
A folder is written as ``.tmp-*`` and renamed into place, so a kill leaves it whole or absent.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from nbalife.errors import CheckFailed
from nbalife.files import fsync_dir, write_atomic
from nbalife.registry import metadata, storage
from nbalife.registry.records import FileProblem, VersionInfo
from nbalife.versions import is_version

Fetch = Callable[[Iterable[str]], dict[str, bytes]]
"""sha256s -> the bytes the store holds for them."""


def folder_problems(info: VersionInfo, directory: Path) -> list[FileProblem]:
    """What is wrong with a local copy against the store's record (empty: it verifies)."""
    if not directory.is_dir():
        return [FileProblem(".", "missing")]
    problems = []
    for entry in info.files:
        path = directory / entry.name
        if not os.path.lexists(path):
            problems.append(FileProblem(entry.name, "missing"))
        elif path.is_symlink() or not path.is_file():
            problems.append(FileProblem(entry.name, "not a regular file"))
        else:
            sha, size = storage.hash_file(path)
            if size != entry.size:
                problems.append(FileProblem(entry.name, "size", str(entry.size), str(size)))
            elif sha != entry.sha256:
                problems.append(FileProblem(entry.name, "checksum", entry.sha256, sha))
    meta = directory / metadata.METADATA
    try:
        if meta.read_bytes() != metadata.dumps(replace(info, path=directory)):
            problems.append(FileProblem(metadata.METADATA, "checksum", "the store's record", "another"))
    except OSError:
        problems.append(FileProblem(metadata.METADATA, "missing"))
    known = {e.name for e in info.files} | {metadata.METADATA}
    problems.extend(FileProblem(p.name, "unexpected") for p in sorted(directory.iterdir()) if p.name not in known)
    return problems


def store_problems(info: VersionInfo, blobs: dict[str, bytes]) -> list[FileProblem]:
    """What is wrong with the store's artifacts of ``info`` (``blobs``: what the store holds)."""
    problems = []
    for entry in info.files:
        data = blobs.get(entry.sha256)
        if data is None:
            problems.append(FileProblem(entry.name, "missing from the store"))
            continue
        sha = hashlib.sha256(data).hexdigest()
        if sha != entry.sha256 or len(data) != entry.size:
            problems.append(FileProblem(entry.name, "checksum in the store", entry.sha256, sha))
    return problems


def store_failure(version: str, problems: list[FileProblem]) -> CheckFailed:
    first = problems[0]
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return CheckFailed(f"version {version}: artifact {first.name}: {first.describe()}{more}; "
                       "it is not served (run `nbalife registry verify --all`)")


def materialise(root: Path, info: VersionInfo, fetch: Fetch) -> tuple[Path, bool]:
    """The verified local folder of ``info``; (path, True) when it had to be (re)built."""
    directory = root / info.version
    if not folder_problems(info, directory):
        return directory, False
    blobs = fetch(e.sha256 for e in info.files)
    problems = store_problems(info, blobs)
    if problems:
        raise store_failure(info.version, problems)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{secrets.token_hex(6)}"
    tmp.mkdir()
    try:
        for entry in info.files:
            write_atomic(tmp / entry.name, blobs[entry.sha256], mode=0o444)
        write_atomic(tmp / metadata.METADATA, metadata.dumps(replace(info, path=directory)), mode=0o444)
        os.chmod(tmp, 0o555)
        if os.path.lexists(directory):
            if directory.is_dir() and not directory.is_symlink() and not folder_problems(info, directory):
                storage.purge_tree(tmp)  # another process of this home built it meanwhile
                return directory, True
            discard(directory)
        try:
            os.rename(tmp, directory)
        except OSError:  # another process renamed its copy in first: use it if it verifies
            storage.purge_tree(tmp)
            if folder_problems(info, directory):
                raise
        fsync_dir(root)
    except BaseException:
        if tmp.exists():
            storage.purge_tree(tmp)
        raise
    return directory, True


def discard(path: Path) -> None:
    """Remove a local folder (or a file or link in its place) crash-safely."""
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    storage.discard_tree(path)


def sync_pointer(pointer: Path, root: Path, version: str) -> bool:
    """Point ``models/current`` at ``../model_registry/<version>``; True when it changed."""
    target = f"../{root.name}/{version}"
    if pointer.is_symlink() and os.readlink(pointer) == target:
        return False
    pointer.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(pointer) and pointer.is_dir() and not pointer.is_symlink():
        storage.purge_tree(pointer)
    storage.replace_symlink(pointer, target)
    return True


def clean_leftovers(root: Path, pointer: Path) -> list[str]:
    """Temp and trash folders a killed process left in this home."""
    if not root.is_dir():
        return []
    if not pointer.parent.is_dir():
        pointer.parent.mkdir(parents=True, exist_ok=True)
    return storage.clean_leftovers(root, pointer)


def local_versions(root: Path) -> list[str]:
    """Version folders present in this home."""
    if not root.is_dir():
        return []
    return [p.name for p in root.iterdir() if is_version(p.name) and p.is_dir()]
