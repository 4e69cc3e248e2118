"""The event fidelities' common bookkeeping at its edges, worked out by hand: the count of
unreachable local bodies from the first instant, and a convergence on the run's last
instant when the run drains."""

from __future__ import annotations

import pytest
from engine_support import make_topology
from exact_support import demand_of, traced

from lgwan_sim.engine import EngineConfig, EventKind, Timeline, TimelineEvent, run
from lgwan_sim.network import SiteKind

FIDELITIES = ["analytic", "flow", "packet"]


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_a_caller_cut_off_from_the_start_is_unreachable_in_every_bin(fidelity):
    # z has a line, but only to y, which has no line to the host h: no route from 0 s on.
    topo = make_topology(
        [("x", "h", 1e8, 0.001), ("y", "z", 1e8, 0.001)], kinds={"h": SiteKind.ASP}
    )
    svc = traced("s", ("x", "z"), "h", [1.0, 2.0, 11.0, 12.0], request_bytes=1000)
    result = run(
        topo, demand_of(svc), fidelity=fidelity, duration_s=30.0, seed=1,
        config=EngineConfig(bin_s=10.0),
    )  # fmt: skip
    assert result.unreachable_local_bodies.tolist() == [1, 1, 1]
    stats = result.services["s"]
    assert (stats.offered, stats.delivered) == (4, 2)
    assert dict(stats.dropped) == {"no_route": 2}


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_a_drained_run_applies_a_convergence_due_on_its_last_instant(fidelity):
    # x goes down at 27 s; routing converges 3 s later, at exactly the end (30 s). The run
    # drains, so the convergence is applied; it belongs to the last bin, which already
    # counts x as unreachable from 27 s on.
    topo = make_topology(
        [("x", "h", 1e8, 0.001), ("y", "h", 1e8, 0.001)], kinds={"h": SiteKind.ASP}
    )
    svc = traced("s", ("x", "y"), "h", [1.0, 2.0], request_bytes=1000)
    down = Timeline(events=(TimelineEvent(at_s=27.0, kind=EventKind.SITE_DOWN, sites=("x",)),))
    result = run(
        topo, demand_of(svc), down, fidelity=fidelity, duration_s=30.0, seed=1,
        config=EngineConfig(bin_s=10.0, convergence_delay_s=3.0, drain=True),
    )  # fmt: skip
    assert [(e.at_s, e.kind) for e in result.events] == [(27.0, "site_down"), (30.0, "converged")]
    assert result.unreachable_local_bodies.tolist() == [0, 0, 1]
    assert result.services["s"].delivered == 2
