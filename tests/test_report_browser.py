"""The report in a real browser: headless Chromium (Debian's package) renders the page to a
screenshot that is not blank, and its network log shows the page asked for nothing outside the
file. A page with one external image shows the check catches a request."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from test_report import build_season

WINDOW = (1200, 3000)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium binary; missing, the tests skip, except under CI where that fails the run."""
    path = shutil.which("chromium")
    if path is None:
        reason = "no chromium on PATH (Debian: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    return path


def screenshot(chromium: str, page: Path, work: Path) -> tuple[Path, Path]:
    """Render ``page`` headless; the PNG and Chromium's network log (NetLog JSON)."""
    shot, netlog = work / "shot.png", work / "net.json"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    f"--user-data-dir={work / 'profile'}", f"--screenshot={shot}",
                    f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--log-net-log={netlog}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    return shot, netlog


def page_requests(netlog: Path) -> list[str]:
    """The URLs the page made Chromium request: every URL request started on behalf of the
    file's site (its network isolation key). The browser's own background requests (time sync,
    accounts) carry another key and are not the page's."""
    log = json.loads(netlog.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    found = []
    for event in log["events"]:
        params = event.get("params", {})
        if event["type"] == start and "file://" in params.get("network_isolation_key", ""):
            found.append(params["url"])
    return found


def ink(png: Path) -> float:
    """The share of pixels that are not (near) white."""
    from matplotlib.image import imread

    pixels = imread(png)[..., :3]
    return float((pixels.min(axis=-1) < 0.9).mean())


def test_the_report_renders_and_asks_for_nothing_outside_the_file(cli, tiny_model_set, chromium: str,
                                                                  tmp_path: Path) -> None:
    from nbalife.store.engine import default_url, make_engine
    from nbalife.store.migrate import open_store

    engine = make_engine(default_url(cli.home))
    open_store(engine)
    build_season(cli.home, engine, tiny_model_set)
    engine.dispose()
    page = tmp_path / "report.html"
    assert cli("report", "--out", page).exit_code == 0
    shot, netlog = screenshot(chromium, page, tmp_path)
    from matplotlib.image import imread

    assert imread(shot).shape[:2] == (WINDOW[1], WINDOW[0])
    assert ink(shot) > 0.03  # the figures' lines, bars, text and tables
    assert page_requests(netlog) == []


def test_an_external_image_is_caught(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "external.html"
    page.write_text('<!DOCTYPE html><html><body><h1>one image</h1><img src="http://127.0.0.1:9/x.png"></body></html>')
    shot, netlog = screenshot(chromium, page, tmp_path)
    assert page_requests(netlog) == ["http://127.0.0.1:9/x.png"]
    assert 0 < ink(shot) < 0.03  # a heading only: the figure check tells a report from a near-empty page
