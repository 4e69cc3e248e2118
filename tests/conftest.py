"""Fixtures shared by every test package: the national topology, the shared roster and an
in-process ``lgwan-sim`` runner."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from lgwan_sim.cli import main
from lgwan_sim.network import Topology, build_national
from tests.support import CliResult

os.environ.setdefault("MPLBACKEND", "Agg")

pytest_plugins = ["lgwan_sim.backbone.pytest_plugin"]

#: Data that lives beside the project (not in it): the real 1,741-row municipal roster.
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def national() -> Topology:
    """The bundled national topology with synthetic municipalities (built once)."""
    return build_national()


@pytest.fixture(scope="session")
def roster_path() -> Path:
    """The real municipal roster beside the project; tests using it skip when it is absent."""
    path = SHARED / "data" / "municipalities.csv"
    if not path.is_file():
        pytest.skip("the shared municipal roster is not present beside the project")
    return path


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``lgwan-sim`` in-process and capture its exit code, stdout and stderr.

    Output printed before the call (by the test or an earlier fixture) is discarded, so each
    result holds only what that one command printed.
    """

    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
