"""Fixtures shared by every test package: the national topology and the shared roster."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lgwan_sim.network import Topology, build_national

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
