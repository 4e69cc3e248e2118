"""A pytest plugin: an emulator on loopback for the duration of a test.

Enable it with ``pytest -p lgwan_sim.backbone.pytest_plugin`` or, in a ``conftest.py``,
``pytest_plugins = ["lgwan_sim.backbone.pytest_plugin"]``. The fixture ``lgwan_emulator`` is a factory::

    def test_my_service_answers(lgwan_emulator):
        emu = lgwan_emulator("my-scenario.yaml", speed=60, duration="10m")
        service = Service(emu.endpoints, "asp-jlis-west", {"directory": handle})
        ...
        summary = emu.stop()          # SIGINT: the emulator writes its outputs
        assert summary["totals"]["in_flight"] == 0

Each emulator is a real ``lgwan-sim emulate`` process on 127.0.0.1 with a port the system
chose, writing into the test's ``tmp_path``; whatever is still running at the end of the
test is stopped and waited for.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = ["EmulatorProcess", "lgwan_emulator", "start_emulator"]


@dataclass
class EmulatorProcess:
    """A running ``lgwan-sim emulate``: its folder, ``endpoints.json`` and process."""

    out: Path
    process: subprocess.Popen[str]
    endpoints: Path = field(init=False)

    def __post_init__(self) -> None:
        self.endpoints = self.out / "endpoints.json"

    @property
    def info(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.endpoints.read_text(encoding="utf-8"))
        return data

    def stop(self, timeout_s: float = 120.0) -> dict[str, Any]:
        """SIGINT, wait for the outputs, and return ``summary.json``."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.wait(timeout_s)

    def close(self, timeout_s: float = 60.0) -> None:
        """End it (SIGINT if it still runs, then kill after ``timeout_s``) and close its pipes,
        also when it ended by itself; outputs are not read."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()

    def wait(self, timeout_s: float = 600.0) -> dict[str, Any]:
        """Wait for the run's end and return ``summary.json``."""
        out, err = self.process.communicate(timeout=timeout_s)
        if self.process.returncode != 0:
            raise RuntimeError(f"lgwan-sim emulate exited {self.process.returncode}: {err}")
        self.stdout, self.stderr = out, err
        summary: dict[str, Any] = json.loads((self.out / "summary.json").read_text("utf-8"))
        return summary


def start_emulator(
    scenario: str | Path,
    out: Path,
    *,
    speed: float | str = 1,
    duration: str | None = None,
    extra: tuple[str, ...] = (),
    timeout_s: float = 120.0,
) -> EmulatorProcess:
    """Start ``lgwan-sim emulate`` and return once its ``endpoints.json`` is written."""
    cmd = [
        sys.executable,
        "-m",
        "lgwan_sim",
        "emulate",
        str(scenario),
        "-o",
        str(out),
        "--speed",
        str(speed),
        "--no-plots",
        "-q",
        *(("--duration", duration) if duration else ()),
        *extra,
    ]
    env = dict(os.environ)
    process = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    emu = EmulatorProcess(out=out, process=process)
    deadline = time.monotonic() + timeout_s
    while not emu.endpoints.exists():
        if process.poll() is not None:
            _, err = process.communicate()
            raise RuntimeError(f"lgwan-sim emulate exited {process.returncode}: {err}")
        if time.monotonic() > deadline:
            process.kill()
            raise TimeoutError("the emulator did not start listening")
        time.sleep(0.05)
    return emu


@pytest.fixture
def lgwan_emulator(tmp_path: Path) -> Iterator[Any]:
    """A factory of emulators (see the module's description); all are stopped afterwards."""
    started: list[EmulatorProcess] = []

    def start(scenario: str | Path, **options: Any) -> EmulatorProcess:
        emu = start_emulator(scenario, tmp_path / f"emulator-{len(started)}", **options)
        started.append(emu)
        return emu

    yield start
    for emu in started:
        emu.close()
