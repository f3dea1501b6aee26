"""Mutual exclusion between runs: a file lock, or a PostgreSQL advisory lock.

With SQLite every process shares the nbalife home, so an ``fcntl`` lock on a file in
``<home>/locks/`` suffices. With PostgreSQL, several hosts may share one store, so the
lock is a session-level advisory lock held on a dedicated connection.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, text

from nbalife.errors import BadInput, LockHeld

POLL_S = 0.05


def _wait(try_once, name: str, wait_s: float) -> None:  # noqa: ANN001
    deadline = time.monotonic() + wait_s
    while not try_once():
        if time.monotonic() >= deadline:
            raise LockHeld(f"lock {name!r} is held by another run (waited {wait_s:g} s)")
        time.sleep(POLL_S)


@contextmanager
def file_lock(path: Path, wait_s: float = 0.0) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``; after ``wait_s`` seconds raise LockHeld."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:  # e.g. ``locks`` is a file, the lock file a folder, no permission
        raise BadInput(f"lock {path}: cannot be used as a lock file: {exc.strerror}") from None

    def try_once() -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    try:
        _wait(try_once, path.stem, wait_s)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` derived from the lock name."""
    return int.from_bytes(hashlib.sha256(f"nbalife:{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def advisory_lock(engine: Engine, name: str, wait_s: float = 0.0) -> Iterator[None]:
    """Hold a PostgreSQL session advisory lock for ``name`` on its own connection."""
    key = advisory_key(name)
    with engine.connect() as conn:

        def try_once() -> bool:
            return bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())

        _wait(try_once, name, wait_s)
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            conn.commit()


def run_lock(name: str, *, home: Path, engine: Engine | None, wait_s: float = 0.0):  # noqa: ANN201
    """The lock for ``name`` that suits the store: advisory on PostgreSQL, else a file lock."""
    if engine is not None and engine.url.get_backend_name() == "postgresql":
        return advisory_lock(engine, name, wait_s)
    return file_lock(Path(home) / "locks" / f"{name}.lock", wait_s)
