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
