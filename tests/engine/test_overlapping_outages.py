"""Overlapping outages: an element is down while any event holds it down, in every fidelity.

Town ``a1`` hangs on its prefecture node by its only line, so each of these cuts it off: a
``link_down`` of that line, a ``site_down`` of the town, a ``region_down`` of its
prefecture and a ``region_down`` of a small circle around it. Every pair of them, in either
nesting, must keep it cut off from the first start to the last end.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from lgwan_sim.engine import EngineConfig, EventKind, Fidelity, Timeline, TimelineEvent, run
from lgwan_sim.network import SiteKind
from lgwan_sim.traffic import SizeDist
from tests.engine.support import demand, make_topology, one_way

FIDELITIES = [f.value for f in Fidelity]
BIN_S = 10.0
CONVERGENCE_S = 2.0


@pytest.fixture(scope="module")
def town():
    # a1 at lon 135.00, the others 0.01 degree (0.9 km) and more apart (tests.engine.support)
    return make_topology(
        [
            ("a1", "p1", 1e8, 0.001),
            ("a2", "p1", 1e8, 0.001),
            ("c", "p1", 1e9, 0.002),
            ("c", "h", 1e9, 0.001),
        ],
        kinds={"h": SiteKind.ASP, "c": SiteKind.CENTRAL, "p1": SiteKind.PREFECTURE_NODE},
        prefectures={"a1": "01", "a2": "01", "p1": "01"},
    )


def _down_up(kind: str, at_s: float, until_s: float) -> tuple[TimelineEvent, TimelineEvent]:
    e = TimelineEvent
    if kind == "link":
        return (
            e(at_s=at_s, kind=EventKind.LINK_DOWN, links=("a1~p1",)),
            e(at_s=until_s, kind=EventKind.LINK_UP, links=("a1~p1",)),
        )
    if kind == "site":
        return (
            e(at_s=at_s, kind=EventKind.SITE_DOWN, sites=("a1",)),
            e(at_s=until_s, kind=EventKind.SITE_UP, sites=("a1",)),
        )
    if kind == "prefecture":
        return (
            e(at_s=at_s, kind=EventKind.REGION_DOWN, prefectures=("01",)),
            e(at_s=until_s, kind=EventKind.REGION_UP, prefectures=("01",)),
        )
    circle = {"center_latlon": (35.0, 135.0), "radius_km": 0.5}
    return (
        e(at_s=at_s, kind=EventKind.REGION_DOWN, **circle),
        e(at_s=until_s, kind=EventKind.REGION_UP, **circle),
    )


KINDS = ("link", "site", "prefecture", "circle")
#: (first outage, second outage): nested (the second ends first) and staggered
SPANS = {"nested": ((100.0, 300.0), (150.0, 200.0)), "staggered": ((100.0, 200.0), (150.0, 300.0))}


@pytest.mark.parametrize("fidelity", FIDELITIES)
@pytest.mark.parametrize("spans", SPANS)
@pytest.mark.parametrize(("first", "second"), list(itertools.product(KINDS, KINDS)))
def test_an_element_is_down_while_any_event_holds_it(town, first, second, spans, fidelity):
    (a0, a1), (b0, b1) = SPANS[spans]
    events = (*_down_up(first, a0, a1), *_down_up(second, b0, b1))
    svc = one_way("s", ("a1",), "h", rate_per_s=50.0, size=SizeDist.fixed(1000.0))
    result = run(
        town,
        demand(svc),
        Timeline(events=events),
        fidelity=fidelity,
        duration_s=400.0,
        seed=3,
        config=EngineConfig(bin_s=BIN_S, convergence_delay_s=CONVERGENCE_S),
    )
    assert result.services["s"].balanced
    delivered = result.delivered_per_bin["s"]
    unreachable = result.unreachable_local_bodies
    start, end = min(a0, b0), max(a1, b1)
    held = slice(int(start // BIN_S), int(end // BIN_S))  # 100-300 s: bins 10..29
    assert delivered[held].sum() == 0, np.nonzero(delivered[held])
    assert (unreachable[held] == 1).all()
    # and it comes back when the last hold is gone (once routing has converged)
    after = slice(int(end // BIN_S) + 1, None)
    assert (delivered[after] > 0).all()
    assert (unreachable[after] == 0).all()
    assert delivered[: int(start // BIN_S)].min() > 0
