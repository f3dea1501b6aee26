"""The one rule that hides secrets in URLs before a value is displayed: in ``config show``, in a
validation error, in a database message. Standard library only (cheap to import anywhere).

A value that starts with a scheme (``http:``, ``postgresql+psycopg://``, even a malformed
``postgresql+psycopg:/``) is one URL: everything between the scheme and its LAST ``@`` is
userinfo, shown as ``USER:***`` (or ``***``). Taking the last ``@`` hides a password that holds
``@``, ``/``, ``?``, ``#`` or a space, however a parser would split it. A value that does not
start with a scheme loses everything before its last ``@`` when that holds a ``:``
(``user:pw@host/db``, a shell command holding ``https://user:pw@…``); one with no ``:`` there
(``mail ops@example.org``) has no password to hide and stays as it is.
Secret query parameters (``password=``, ``token=``, ...) are hidden up to the next ``&``.
"""

from __future__ import annotations

import re

HIDDEN = "***"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:/{0,3}")
_PLAIN_USER = re.compile(r"[A-Za-z0-9._~%+\-]+")
SECRET_QUERY_KEYS = ("password", "passwd", "pwd", "passfile", "sslpassword", "sslkey", "token", "access_token",
                     "auth", "api_key", "apikey", "key", "secret", "client_secret", "sig", "signature")
_SECRET_QUERY = re.compile(r"([?&;](?:%s)=)[^&]*" % "|".join(SECRET_QUERY_KEYS), re.IGNORECASE)


def _one_url(text: str) -> str:
    """``text`` taken as one URL, its secret query values and then its userinfo hidden (in that
    order: an ``@`` inside a hidden query value does not count as the end of the userinfo)."""
    scheme = _SCHEME.match(text)
    head, rest = (text[: scheme.end()], text[scheme.end():]) if scheme else ("", text)
    rest = _SECRET_QUERY.sub(lambda m: m.group(1) + HIDDEN, rest)
    if "@" in rest and (scheme or ":" in rest.rsplit("@", 1)[0]):  # no URL, no password: a mail address
        userinfo, host = rest.rsplit("@", 1)
        user = userinfo.split(":", 1)[0] if ":" in userinfo else ""
        shown = f"{user}:{HIDDEN}" if _PLAIN_USER.fullmatch(user) else HIDDEN
        rest = f"{shown}@{host}"
    return head + rest


def redact(text: str) -> str:
    """``text`` with its userinfo (everything before its last ``@``, after a leading scheme) and
    every secret query value hidden. Display only: a value that merely holds an ``@`` (a mail
    address in a command) loses its head too, which is safe, and never the reverse."""
    return _one_url(text)


def redact_value(value: object) -> object:
    """A setting's value as it may be displayed: text redacted, anything else as it is."""
    return redact(value) if isinstance(value, str) else value
