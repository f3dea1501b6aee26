"""Domain errors. Each carries the process exit code of the operator contract."""

from __future__ import annotations


class NbalifeError(Exception):
    """Base of every expected failure; ``exit_code`` is what the CLI returns."""

    exit_code = 2


class BadInput(NbalifeError):
    """Bad input or usage: a file, field or value that cannot be accepted."""

    exit_code = 2


def unreadable(path: object, what: str, exc: OSError | UnicodeDecodeError) -> BadInput:
    """The BadInput for a file that exists but cannot be read as text."""
    reason = exc.strerror if isinstance(exc, OSError) else str(exc)
    return BadInput(f"{path}: cannot read {what}: {reason}")


class CheckFailed(NbalifeError):
    """A check found a problem: alert, degradation, drift, rejected candidate. ``notify`` False:
    the finding was notified recently and is not sent again."""

    exit_code = 1

    def __init__(self, message: str = "", *, notify: bool = True) -> None:
        super().__init__(message)
        self.notify = notify


class LockHeld(NbalifeError):
    """Another run holds the lock (cron overlap)."""

    exit_code = 3


class Unreachable(NbalifeError):
    """A dependency (the database) cannot be reached."""

    exit_code = 4


def quoted(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters: a value named in a message stays on one line
    and bounded, whatever its size."""
    text = repr(value) if not isinstance(value, int) or value.bit_length() < 200 else f"<{value.bit_length()}-bit integer>"
    return cut(text, limit)


def cut(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters, its head and tail kept."""
    return text if len(text) <= limit else text[: limit - 4] + "…" + text[-3:]


class Deferred(NbalifeError):
    """A change was recorded to be carried out later (a promotion or an A/B advance inside the
    live-game freeze)."""

    exit_code = 3
