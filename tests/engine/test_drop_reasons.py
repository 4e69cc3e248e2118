"""Drop reasons around a cut and a restoration, as docs/engine.md's table gives them.

``link_failure`` only while routing still sends traffic over the dead element (the
convergence window); ``no_route`` once routing has converged and has no path, and until a
restoration has converged. The same physical events give the same drops whatever the route
cache held before (a leaf cut off behind its only line, a staged restoration).
"""

from __future__ import annotations

import math

import pytest

from lgwan_sim.engine import EngineConfig, EventKind, Fidelity, Timeline, TimelineEvent, run
from lgwan_sim.network import SiteKind
from lgwan_sim.traffic import SizeDist
from tests.engine.support import demand, make_topology, one_way

FIDELITIES = [f.value for f in Fidelity]
CONVERGENCE_S = 2.0
RATE = 100.0  # messages per second per service, spread over its callers


@pytest.fixture(scope="module")
def two_prefectures():
    """A host ``h`` on a core ``c``; prefecture 01 (node p1, towns a1, a2) and 02 (p2, b1).

    Each town hangs on its prefecture node by its only line; p1 and p2 are dual-homed to the
    core and to each other, so routing has trees with relays to recompute.
    """
    return make_topology(
        [
            ("h", "c", 1e9, 0.001),
            ("c", "p1", 1e9, 0.002),
            ("c", "p2", 1e9, 0.002),
            ("p1", "p2", 1e9, 0.004),
            ("a1", "p1", 1e8, 0.001),
            ("a2", "p1", 1e8, 0.001),
            ("b1", "p2", 1e8, 0.001),
        ],
        kinds={"h": SiteKind.ASP, "c": SiteKind.CENTRAL, "p1": SiteKind.PREFECTURE_NODE,
               "p2": SiteKind.PREFECTURE_NODE},
        prefectures={"p1": "01", "a1": "01", "a2": "01", "p2": "02", "b1": "02"},
    )  # fmt: skip


def _demand():
    size = SizeDist.fixed(1000.0)
    return demand(
        one_way("from-01", ("a1", "a2"), "h", rate_per_s=RATE, size=size),
        one_way("from-02", ("b1",), "h", rate_per_s=RATE, size=size),
    )


def _run(topology, events, fidelity, *, seed=7, duration_s=400.0):
    cfg = EngineConfig(bin_s=10.0, convergence_delay_s=CONVERGENCE_S)
    return run(
        topology,
        _demand(),
        Timeline(events=tuple(events)),
        fidelity=fidelity,
        duration_s=duration_s,
        seed=seed,
        config=cfg,
    )


def _close(count: int, expected: float, fidelity: str) -> bool:
    """Exact (to rounding) for the analytic expectation; 4 sigma of a Poisson count else."""
    if fidelity == "analytic":
        return abs(count - expected) <= 1
    return abs(count - expected) <= 4 * math.sqrt(expected) + 1


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_a_leaf_cut_off_is_link_failure_only_until_routing_converges(two_prefectures, fidelity):
    cut, back = 100.0, 200.0
    result = _run(
        two_prefectures,
        [
            TimelineEvent(at_s=cut, kind=EventKind.LINK_DOWN, links=("a1~p1",)),
            TimelineEvent(at_s=back, kind=EventKind.LINK_UP, links=("a1~p1",)),
        ],
        fidelity,
    )
    stats = result.services["from-01"]
    assert stats.balanced
    per_caller = RATE / 2  # a1 sends half of the service's messages
    assert set(stats.dropped) == {"link_failure", "no_route"}
    # sent into the dead line before routing knew: the convergence window only
    assert _close(stats.dropped["link_failure"], per_caller * CONVERGENCE_S, fidelity)
    # routing converged without a path from cut + 2 s until the restoration converged
    assert _close(stats.dropped["no_route"], per_caller * (back - cut), fidelity)
    # the other prefecture is untouched
    assert result.services["from-02"].dropped == {}


def _region(at_s, codes, kind=EventKind.REGION_DOWN):
    return TimelineEvent(at_s=at_s, kind=kind, prefectures=tuple(codes))


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_a_staged_restoration_loses_what_a_one_step_one_does(two_prefectures, fidelity):
    """Prefecture 01 comes back at 300 s in both runs; only the other's return differs.

    Staged, prefecture 02 returns first (200 s) and routing recomputes its trees then; one
    step, both return at 300 s. Prefecture 01's own losses must not depend on that history.
    """
    down = _region(100.0, ("01", "02"))
    staged = _run(
        two_prefectures,
        [
            down,
            _region(200.0, ("02",), EventKind.REGION_UP),
            _region(300.0, ("01",), EventKind.REGION_UP),
        ],
        fidelity,
    )
    one_step = _run(
        two_prefectures, [down, _region(300.0, ("01", "02"), EventKind.REGION_UP)], fidelity
    )
    a_staged, a_once = staged.services["from-01"], one_step.services["from-01"]
    assert a_staged.balanced
    assert a_once.balanced
    assert a_staged.dropped == a_once.dropped
    # down from 100 to 300 s (site_down), then no route until the return converged
    assert _close(a_once.dropped["site_down"], RATE * 200.0, fidelity)
    assert _close(a_once.dropped.get("no_route", 0), RATE * CONVERGENCE_S, fidelity)
    assert "link_failure" not in a_once.dropped
    # prefecture 02's return in stages has its own convergence window, counted the same way
    b = staged.services["from-02"]
    assert _close(b.dropped.get("no_route", 0), RATE * CONVERGENCE_S, fidelity)
