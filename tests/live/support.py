"""Helpers of the live map's tests: pages that may not leave 127.0.0.1, a served source."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
MINI = HERE / "mini-tohoku.yaml"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_BROWSER = Path(CHROMIUM).exists() and importlib.util.find_spec("playwright") is not None
LAUNCH_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]

#: CI sets this: there a missing browser is a failure, never a skip.
REQUIRED = bool(os.environ.get("LGWAN_SIM_BROWSER_REQUIRED"))
needs_browser = pytest.mark.skipif(
    not HAVE_BROWSER and not REQUIRED, reason="needs Debian's chromium and the playwright package"
)


def offline_page(browser: Any, url: str) -> tuple[Any, Any, list[str]]:
    """A page whose every request beyond 127.0.0.1 is refused and recorded."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tried: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith("http://127.0.0.1:"):
            r.continue_()
        else:
            tried.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_function("window.live && window.live.snapshots > 0")
    page.errors = errors
    return context, page, tried


def close_page(context: Any, page: Any) -> None:
    page.evaluate("window.es && window.es.close()")  # or the server waits for the stream
    context.close()


class Served:
    """A live source served by uvicorn in a thread of the test process."""

    def __init__(self, source: Any) -> None:
        from lgwan_sim.live import LiveServer

        self.server = LiveServer(source)
        self.url = self.server.start()

    def post(self, verb: str, body: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(
            self.url + "api/" + verb,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            out: dict[str, Any] = json.loads(r.read())
            return out

    def stop(self) -> None:
        self.server.stop()


def wait_until(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
