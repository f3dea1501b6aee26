"""Notifications of findings: a shell command fed the event as JSON, and/or a webhook POST."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from nbalife.errors import BadInput


@dataclass(frozen=True)
class Delivery:
    """How one notifier fared; ``problem`` is None when it succeeded."""

    target: str
    problem: str | None


def check_webhook(url: str) -> str:
    """A webhook must be an http(s) URL with a host."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise BadInput(f"notify.webhook {url[:80]!r}: expected an http:// or https:// URL")
    return url


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
    try:
        proc = subprocess.run(command, shell=True, input=body, capture_output=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout_s:g} s"
    except OSError as exc:
        return exc.strerror or str(exc)
    return None if proc.returncode == 0 else f"exit {proc.returncode}"


def _post(url: str, body: bytes, timeout_s: float) -> str | None:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - http(s) checked
            return None if 200 <= response.status < 300 else f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return str(getattr(exc, "reason", exc))[:120]
