"""The analytic fidelity and the N-1 sweep with every figure worked out by hand."""

from __future__ import annotations

import time

import pytest
from engine_support import demand, make_topology, one_way
from exact_support import demand_of, traced

from lgwan_sim.engine import n1_sweep, run
from lgwan_sim.traffic import SizeDist


def test_the_n1_sweep_covers_one_day_unless_told_otherwise():
    # a - b - c: losing b~c cuts c off, so every request of the day is lost: 2 a second.
    leaf = make_topology([("a", "b", 1e8, 0.001), ("b", "c", 1e8, 0.001)])
    d = demand(one_way("s", ("a",), "c", rate_per_s=2.0, size=SizeDist.fixed(1000.0)))
    (cut,) = n1_sweep(leaf, d, ["b~c"])
    assert cut.lost_requests == pytest.approx(2.0 * 86400.0, rel=1e-12)
    assert cut.unreachable_local_bodies == 1


@pytest.mark.parametrize("fidelity", ["analytic", "flow", "packet"])
def test_the_wall_time_reported_is_the_time_the_run_took(fidelity):
    topo = make_topology([("a", "b", 8e6, 0.001)])
    svc = traced("s", ("a",), "b", [1.0, 2.0], request_bytes=1000)
    began = time.perf_counter()
    result = run(topo, demand_of(svc), fidelity=fidelity, duration_s=10.0, seed=1)
    took = time.perf_counter() - began
    assert 0.0 < result.wall_s <= took
