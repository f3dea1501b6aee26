"""Whole-file writes that never leave a half-written file."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path


def umask_mode(mode: int = 0o666) -> int:
    """``mode`` as a plain ``open`` would create it under the process umask."""
    mask = os.umask(0)
    os.umask(mask)
    return mode & ~mask


def fsync_dir(path: Path) -> None:
    """Make renames, creations and deletions inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes | str | Callable[[Path], object], *, mode: int | None = None) -> Path:
    """Write ``path`` in one step: ``data`` (bytes or text), or ``data(tmp)`` writing a temporary
    file beside it, is fsynced and renamed into place, then the folder is fsynced. The file gets
    ``mode`` (default: the mode of the file it replaces, else what the umask gives a new file);
    a symlink is written through, where it points, not replaced. On any error the temporary file
    is removed and ``path`` is untouched."""
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    if mode is None:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            mode = umask_mode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        if callable(data):
            data(tmp)
        else:
            tmp.write_bytes(data.encode() if isinstance(data, str) else data)
        with open(tmp, "rb+") as written:
            os.fsync(written.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def check_output_path(path: Path, *, option: str | None = None, suffixes: tuple[str, ...] = (),
                      folder: bool = False, source: Path | None = None) -> Path:
    """The one check of every path a command will write, made before the work (BadInput naming
    ``option`` and the path): a file needs one of ``suffixes`` (when given), an existing parent
    folder, not to be a folder or anything but a regular file (a device, a FIFO) and not to be the
    ``source`` it reads; a ``folder`` output must not be an existing file and needs an existing
    parent. Then the folder that will receive it must take a new file by the name
    ``write_atomic`` gives its temporary file: one is created and removed at once (a read-only
    folder or mount, ``/proc``, a name too long all fail here, not after the work)."""
    from nbalife.errors import BadInput, quoted

    path = Path(path)
    where = f"{option} {path}" if option else str(path)
    receiver = path.parent
    try:
        if folder:
            if path.exists() and not path.is_dir():
                raise BadInput(f"{where}: exists and is not a folder")
        else:
            if suffixes and path.suffix.lower() not in suffixes:
                raise BadInput(f"{where}: unknown file type {quoted(path.suffix)} (use {' or '.join(suffixes)})")
            if source is not None and path.resolve() == Path(source).resolve():
                raise BadInput(f"{where}: is the input file; write to another file")
            if path.is_dir():
                raise BadInput(f"{where}: is a folder, not a file")
            if path.exists() and not path.is_file():
                raise BadInput(f"{where}: exists and is not a regular file")
        if not path.parent.is_dir():
            raise BadInput(f"{where}: folder {path.parent} does not exist")
        receiver = path if folder and path.is_dir() else path.parent
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=receiver)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise BadInput(f"{where}: cannot write in folder {receiver}: {reason}") from None
    return path
