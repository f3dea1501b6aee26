"""Who and where: the user and host recorded with every registry change and lifecycle event."""

from __future__ import annotations

import getpass
import socket


def current_user() -> str:
    """The login name of this process ("unknown" when the system cannot say)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def host_name() -> str:
    """This machine's host name."""
    return socket.gethostname()
