"""Fixtures for the engine tests."""

from __future__ import annotations

import pytest

from lgwan_sim.network import Topology
from tests.engine.support import make_topology


@pytest.fixture
def single_link() -> Topology:
    """``a`` to ``b``: 8 Mb/s (1 MB/s), no propagation delay."""
    return make_topology([("a", "b", 8e6, 0.0)])


@pytest.fixture
def diamond() -> Topology:
    """a-b-c (1 ms hops) with a slower detour a-d-c (5 ms hops), all 100 Mb/s."""
    return make_topology(
        [
            ("a", "b", 1e8, 0.001),
            ("b", "c", 1e8, 0.001),
            ("a", "d", 1e8, 0.005),
            ("d", "c", 1e8, 0.005),
        ]
    )
