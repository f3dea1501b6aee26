"""Notifications of findings: a shell command fed the event as JSON, and/or a webhook POST."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from nbalife.errors import BadInput
from nbalife.redaction import redact

if TYPE_CHECKING:
    import http.client
    import urllib.request


@dataclass(frozen=True)
class Delivery:
    """How one notifier fared; ``problem`` is None when it succeeded."""

    target: str
    problem: str | None


def check_webhook(url: str) -> str:
    """A webhook must be an http(s) URL with a host, and no blank or control character (the
    caller names the value, redacted; this message never repeats it)."""
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise BadInput("a URL holds no blank or control character (percent-encode it)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number or out of range raises here
    except ValueError:
        raise BadInput("expected an http:// or https:// URL with a valid host and port") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise BadInput("expected an http:// or https:// URL")
    return url


def split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without its userinfo, and the headers that carry it: ``USER:PASSWORD@`` becomes
    HTTP basic ``Authorization`` (urllib would take the userinfo for part of the host name)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, {}
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
    return urlunsplit(parts._replace(netloc=host)), {"Authorization": f"Basic {token}"}


def notify(payload: dict[str, Any], *, command: str | None, webhook: str | None,
           timeout_s: float) -> list[Delivery]:
    """Send ``payload`` to every configured notifier; failures are reported, never raised."""
    body = json.dumps(payload, default=str).encode()
    deliveries = []
    if command:
        deliveries.append(Delivery("command", _run_command(command, body, timeout_s)))
    if webhook:
        deliveries.append(Delivery("webhook", _post(webhook, body, timeout_s)))
    return deliveries


def _run_command(command: str, body: bytes, timeout_s: float) -> str | None:
    """Run ``command`` in its own process group, fed ``body``; at the timeout the whole group is
    killed, so neither the shell nor what it started (``curl …; sleep 60``, ``cmd &``) outlives
    the bound. (The group is only signalled while its leader is unreaped, so its id is ours.)"""
    import os
    import signal

    try:
        proc = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,  # noqa: S602
                                stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        return exc.strerror or str(exc)
    with proc:
        try:
            proc.communicate(body, timeout=timeout_s)
        except BaseException as exc:  # the timeout, or an interrupt: nothing of it may keep running
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
            if isinstance(exc, subprocess.TimeoutExpired):
                return f"timed out after {timeout_s:g} s"
            raise
    return None if proc.returncode == 0 else f"exit {proc.returncode}"


class _Connections:
    """The HTTP connections a request opened, so that a deadline can close them under it."""

    def __init__(self) -> None:
        self.opened: list[http.client.HTTPConnection] = []
        self.lock = threading.Lock()
        self.expired = False

    def handlers(self) -> list[urllib.request.BaseHandler]:
        import http.client
        import urllib.request

        connections = self

        def track(cls: type[http.client.HTTPConnection]):  # noqa: ANN202
            def make(*args: Any, **kwargs: Any) -> http.client.HTTPConnection:
                conn = cls(*args, **kwargs)
                with connections.lock:
                    if connections.expired:
                        raise OSError("timed out")
                    connections.opened.append(conn)
                return conn
            return make

        class Http(urllib.request.HTTPHandler):
            def http_open(self, req):  # noqa: ANN001, ANN202
                return self.do_open(track(http.client.HTTPConnection), req)

        class Https(urllib.request.HTTPSHandler):
            def https_open(self, req):  # noqa: ANN001, ANN202
                return self.do_open(track(http.client.HTTPSConnection), req, context=self._context)

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            """A webhook that redirects is reported (``HTTP 302``), not followed: urllib would
            resend the Authorization header to wherever the Location points."""

            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        return [Http(), Https(), NoRedirect()]

    def expire(self) -> None:
        """Close every connection: a read or write blocked on one returns at once."""
        with self.lock:
            self.expired = True
            for conn in self.opened:
                sock = conn.sock
                if sock is not None:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    sock.close()


def _post(url: str, body: bytes, timeout_s: float) -> str | None:
    """POST ``body`` within ``timeout_s`` for the whole call: connecting, sending, the server's
    answer. urllib's ``timeout`` bounds each socket operation only (a server that trickles a byte
    every half second never trips it), so the request runs in a worker thread and, at the
    deadline, its connections are closed under it; a worker still stuck (in a DNS lookup) is a
    daemon thread left behind, and the caller goes on either way."""
    import http.client
    import urllib.error
    import urllib.request

    target, headers = split_credentials(url)
    request = urllib.request.Request(target, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    connections = _Connections()
    opener = urllib.request.build_opener(*connections.handlers())
    outcome: list[str | None] = []

    def send() -> None:
        try:
            with opener.open(request, timeout=timeout_s) as response:  # http(s) checked by check_webhook
                outcome.append(None if 200 <= response.status < 300 else f"HTTP {response.status}")
        except urllib.error.HTTPError as exc:
            outcome.append(f"HTTP {exc.code}")
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            outcome.append(redact(str(getattr(exc, "reason", exc)))[:120])

    worker = threading.Thread(target=send, name="nbalife-webhook", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        connections.expire()
        worker.join(0.5)  # let it see the closed socket and finish
        return f"timed out after {timeout_s:g} s"
    return outcome[0] if outcome else "no answer"
