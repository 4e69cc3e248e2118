"""Shared pieces of the live map's tests: a short national run, an emulator, a browser.

Browser tests are marked ``browser`` and skip only when Chromium or Playwright is missing
(``.ci/run`` installs Debian's chromium; Playwright is in the ``dev`` extra and is launched
on that binary, never with a browser of its own).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live.support import CHROMIUM, LAUNCH_ARGS, MINI


@pytest.fixture(scope="session")
def mini_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An hour of the national network around a Tohoku outage, 12 bins of 5 minutes."""
    from lgwan_sim.cli import main

    out = tmp_path_factory.mktemp("live") / "mini"
    assert main(["run", str(MINI), "-o", str(out), "--no-plots", "-q"]) == 0
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``lgwan-sim emulate`` on the national network at night (light load), 30x, flow."""
    from lgwan_sim.backbone.pytest_plugin import start_emulator

    emu = start_emulator(
        "national-weekday",
        tmp_path_factory.mktemp("emu") / "out",
        speed=30,
        duration="2h",
        extra=("--fidelity", "flow"),
    )
    yield emu
    emu.close()
