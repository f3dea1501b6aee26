"""Notifications of findings: a command fed JSON on stdin, a webhook against a real local server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from nbalife.cli.app import notify_finding
from nbalife.cli.runtime import Runtime
from nbalife.ops.notify import notify


class Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"type": self.headers["Content-Type"], "body": json.loads(body)})
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def webhook() -> Iterator[tuple[str, type[Receiver]]]:
    receiver = type("R", (Receiver,), {"received": [], "status": 200})
    server = HTTPServer(("127.0.0.1", 0), receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", receiver
    server.shutdown()
    server.server_close()


def test_webhook_and_command_receive_the_payload(webhook, tmp_path: Path) -> None:
    url, receiver = webhook
    out = tmp_path / "event.json"
    payload = {"finding": "coverage 0.81 below 0.90", "job": "metrics check"}
    deliveries = notify(payload, command=f"cat > {out}", webhook=url, timeout_s=5)
    assert [(d.target, d.problem) for d in deliveries] == [("command", None), ("webhook", None)]
    assert json.loads(out.read_text()) == payload
    assert receiver.received == [{"type": "application/json", "body": payload}]


def test_failing_notifiers_are_reported_not_raised(webhook) -> None:
    url, receiver = webhook
    receiver.status = 500
    deliveries = notify({"x": 1}, command="exit 7", webhook=url, timeout_s=5)
    assert [(d.target, d.problem) for d in deliveries] == [("command", "exit 7"), ("webhook", "HTTP 500")]
    unreachable = notify({"x": 1}, command=None, webhook="http://127.0.0.1:9/none", timeout_s=2)
    assert unreachable[0].problem


def test_a_finding_reaches_the_webhook_and_a_failing_one_only_warns(webhook, tmp_path: Path, capsys) -> None:
    url, receiver = webhook
    (tmp_path / "config.yaml").write_text(f"notify:\n  webhook: {url}\n  command: exit 3\n")
    notify_finding(Runtime(home=tmp_path), "metrics check", "MAE 9.1 above 8.0")
    [received] = receiver.received
    assert received["body"]["finding"] == "MAE 9.1 above 8.0" and received["body"]["job"] == "metrics check"
    assert received["body"]["exit_code"] == 1
    assert capsys.readouterr().err.strip() == "warning: notify command failed: exit 3"


@pytest.mark.parametrize("url", ["ftp://example.org/x", "example.org/hook", "http://"])
def test_webhook_that_is_not_http_is_exit_2(cli, home: Path, url: str) -> None:
    (home / "config.yaml").write_text(f"notify:\n  webhook: '{url}'\n")
    result = cli("config", "show")
    assert result.exit_code == 2
    assert "notify.webhook" in result.stderr and len(result.stderr.strip().splitlines()) == 1


class Trickler:
    """A real HTTP server on 127.0.0.1 that reads the request, then answers one byte every
    ``pause_s`` seconds: each read succeeds well within a per-operation timeout, the whole answer
    takes a minute."""

    ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 160\r\n\r\n" + b"x" * 160

    def __init__(self, pause_s: float) -> None:
        import socket

        self.pause_s = pause_s
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        self.bytes_sent = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn) -> None:  # noqa: ANN001
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(65536)
                for byte in self.ANSWER:
                    if self.stopped.wait(self.pause_s):
                        return
                    conn.sendall(bytes([byte]))
                    self.bytes_sent += 1
            except OSError:  # the client gave up and closed: what a deadline does
                return

    def close(self) -> None:
        self.stopped.set()
        self.sock.close()


@pytest.fixture
def trickler() -> Iterator[Trickler]:
    server = Trickler(pause_s=0.3)
    yield server
    server.close()


@pytest.mark.parametrize("timeout_s", [0.5, 1.0])
def test_a_trickling_webhook_is_cut_at_the_timeout(trickler: Trickler, timeout_s: float) -> None:
    import time

    started = time.monotonic()
    [delivery] = notify({"x": 1}, command=None, webhook=f"http://127.0.0.1:{trickler.port}/hook",
                        timeout_s=timeout_s)
    elapsed = time.monotonic() - started
    assert delivery.problem == f"timed out after {timeout_s:g} s"
    assert timeout_s <= elapsed < timeout_s + 0.6, elapsed
    assert trickler.bytes_sent >= 1  # it did trickle: each read met the per-operation timeout


def test_a_trickling_webhook_does_not_hold_the_command(trickler: Trickler, tmp_path: Path, real_games: Path) -> None:
    """A real ``metrics check`` that finds an alert: the command exits 1 within the notify
    timeout (plus start-up), although the server would take about a minute to answer."""
    import time

    from nbalife.store.engine import default_url, make_engine
    from nbalife.store.migrate import open_store
    from tests.conftest import run_nbalife
    from tests.test_metrics import seed

    engine = make_engine(default_url(tmp_path))
    open_store(engine)
    seed(engine, real_games)
    engine.dispose()
    (tmp_path / "config.yaml").write_text(
        "monitoring:\n  min_predictions: 1000\n"
        f"notify:\n  webhook: http://127.0.0.1:{trickler.port}/hook\n  timeout_s: 1\n")
    started = time.monotonic()
    proc = run_nbalife("--home", str(tmp_path), "metrics", "check", "--days", "10")
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    assert "warning: notify webhook failed: timed out after 1 s" in proc.stderr
    assert elapsed < 20, elapsed  # the answer alone takes 0.3 s x 230 bytes = 69 s
    assert trickler.bytes_sent < 30


def test_webhook_userinfo_becomes_basic_authorization(tmp_path: Path) -> None:
    import base64

    seen: list[tuple[str, str | None]] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.path, self.headers.get("Authorization")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://ops%40team:p%3Ass%20w@127.0.0.1:{server.server_port}/hook?x=1"
        [delivery] = notify({"x": 1}, command=None, webhook=url, timeout_s=5)
        plain = f"http://127.0.0.1:{server.server_port}/plain"
        [unauthenticated] = notify({"x": 1}, command=None, webhook=plain, timeout_s=5)
    finally:
        server.shutdown()
        server.server_close()
    assert delivery.problem is None and unauthenticated.problem is None
    token = base64.b64encode(b"ops@team:p:ss w").decode()
    assert seen == [("/hook?x=1", f"Basic {token}"), ("/plain", None)]


def test_a_failed_delivery_never_names_the_password() -> None:
    [delivery] = notify({"x": 1}, command=None, webhook="http://ops:Zq7Secret@127.0.0.1:9/hook", timeout_s=2)
    assert delivery.problem and "Zq7Secret" not in delivery.problem


@pytest.mark.parametrize("command", ["sleep 20", "sleep 20; true", "(sleep 1.5; touch {marker}) & wait",
                                     "cat >/dev/null; (sleep 1.5; touch {marker}) & sleep 20"])
def test_a_slow_command_is_killed_with_everything_it_started(tmp_path: Path, command: str) -> None:
    import time

    marker = tmp_path / "survived"
    started = time.monotonic()
    [delivery] = notify({"x": 1}, command=command.format(marker=marker), webhook=None, timeout_s=0.5)
    assert delivery.problem == "timed out after 0.5 s"
    assert time.monotonic() - started < 1.2
    time.sleep(1.6)
    assert not marker.exists()  # the shell's children were killed with it


def test_a_redirecting_webhook_is_reported_and_the_credentials_stay_home() -> None:
    seen: list[str | None] = []

    class Elsewhere(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen.append(self.headers.get("Authorization"))
            self.send_response(200)
            self.end_headers()

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args: object) -> None:
            return

    elsewhere = HTTPServer(("127.0.0.1", 0), Elsewhere)

    class Redirector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{elsewhere.server_port}/steal")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    redirector = HTTPServer(("127.0.0.1", 0), Redirector)
    for server in (elsewhere, redirector):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        [delivery] = notify({"x": 1}, command=None, webhook=f"http://ops:pw@127.0.0.1:{redirector.server_port}/hook",
                            timeout_s=5)
    finally:
        for server in (elsewhere, redirector):
            server.shutdown()
            server.server_close()
    assert delivery.problem == "HTTP 302" and seen == []
