"""The network state's two directions of each link, worked out by hand in the event
fidelities: a failure takes down both directions, a capacity change sets both, on any link
of the topology (not only its first)."""

from __future__ import annotations

import dataclasses

import pytest

from lgwan_sim.engine import AppliedEvent, EngineConfig, EventKind, Timeline, TimelineEvent, run
from tests.engine.support import demand, make_topology, traced

EVENT_FIDELITIES = ["flow", "packet"]


@pytest.mark.parametrize(
    ("fidelity", "sent_back_bytes"),
    [
        # the response (960 B at 1 MB/s) flows from 1.00546 s: 0.54 ms of it by 1.006 s
        ("flow", 540.0),
        # the response packet (1000 B, 1 ms on the wire) left b at 1.0055 s: half of it
        ("packet", 500.0),
    ],
)
def test_a_failure_loses_a_response_on_the_reverse_direction(fidelity, sent_back_bytes):
    # a - b at 8 Mb/s with 5 ms of propagation; the request of 1.0 s reaches b at 1.00546 s
    # (flow: 460 B at 1 MB/s, then 5 ms) or 1.0055 s (packet: 500 B with the header). The
    # response is on b -> a when a~b fails at 1.006 s: lost by the event.
    topo = make_topology([("a", "b", 8e6, 0.005)])
    svc = traced("rr", ("a",), "b", [1.0], request_bytes=460, response_bytes=960)
    cut = Timeline(events=(TimelineEvent(at_s=1.006, kind=EventKind.LINK_DOWN, links=("a~b",)),))
    result = run(
        topo, demand(svc), cut, fidelity=fidelity, duration_s=10.0, seed=1,
        config=EngineConfig(bin_s=10.0),
    )  # fmt: skip
    stats = result.services["rr"]
    assert (stats.offered, stats.delivered, stats.in_flight) == (1, 0, 0)
    assert dict(stats.dropped) == {"link_failure": 1}
    assert result.events[0] == AppliedEvent(
        at_s=1.006, kind="link_down", links=("a~b",), messages_lost=1
    )
    request_bytes = 460.0 if fidelity == "flow" else 500.0
    assert result.utilisation_of("a~b>")[0] == pytest.approx(request_bytes * 8 / 8e7, rel=1e-9)
    assert result.utilisation_of("a~b<")[0] == pytest.approx(sent_back_bytes * 8 / 8e7, rel=1e-6)


@pytest.mark.parametrize("fidelity", EVENT_FIDELITIES)
def test_a_capacity_change_on_a_later_link_sets_both_of_its_directions(fidelity):
    # a - b - c, both 8 Mb/s without propagation; b~c (the second link) drops to 4 Mb/s at
    # 5.0 s. An exchange of 1000 B each way every second: each direction of b~c carries
    # 10 x 1000 B over 8e6 x 5 + 4e6 x 5 bit-seconds; a~b keeps its 8 Mb/s.
    topo = make_topology([("a", "b", 8e6, 0.0), ("b", "c", 8e6, 0.0)])
    times = [0.5 + k for k in range(10)]
    svc = traced("rr", ("a",), "c", times, request_bytes=1000, response_bytes=1000)
    slower = Timeline(
        events=(TimelineEvent(at_s=5.0, kind=EventKind.CAPACITY, links=("b~c",), capacity_bps=4e6),)
    )
    result = run(
        topo, demand(svc), slower, fidelity=fidelity, duration_s=10.0, seed=1,
        config=EngineConfig(bin_s=10.0, header_bytes=0.0),
    )  # fmt: skip
    assert result.services["rr"].delivered == 10
    for link in ("b~c>", "b~c<"):
        assert result.utilisation_of(link)[0] == pytest.approx(
            10 * 8000 / (8e6 * 5 + 4e6 * 5), rel=1e-9
        )
    for link in ("a~b>", "a~b<"):
        assert result.utilisation_of(link)[0] == pytest.approx(10 * 8000 / 8e7, rel=1e-9)


@pytest.mark.parametrize("fidelity", ["analytic", *EVENT_FIDELITIES])
def test_a_response_takes_the_request_path_back_where_two_paths_tie(fidelity):
    # A ring of six 1 ms lines: a - b - z - c and a - y - d - c tie at 3 ms. Routing toward
    # c takes b and z from a, routing toward a takes d and y from c; the request follows
    # the first, and its response comes back the same way (docs/engine.md), so y and d
    # carry nothing. One exchange of 1000 B each way a second, no header.
    ring = [("a", "b"), ("b", "z"), ("z", "c"), ("a", "y"), ("y", "d"), ("d", "c")]
    topo = make_topology([(x, y, 8e6, 0.001) for x, y in ring])
    svc = traced("rr", ("a",), "c", [0.5 + k for k in range(10)], request_bytes=1000,
                 response_bytes=1000)  # fmt: skip
    if fidelity == "analytic":
        svc = dataclasses.replace(svc, arrivals="poisson", trace_s=(), requests_per_day=86400.0)
    result = run(
        topo, demand(svc), fidelity=fidelity, duration_s=10.0, seed=1,
        config=EngineConfig(bin_s=10.0, header_bytes=0.0),
    )  # fmt: skip
    assert result.services["rr"].delivered == 10
    for link in ("a~b>", "b~z>", "z~c>", "z~c<", "b~z<", "a~b<"):
        assert result.utilisation_of(link)[0] == pytest.approx(10 * 8000 / 8e7, rel=1e-9), link
    for link in ("a~y>", "a~y<", "y~d>", "y~d<", "d~c>", "d~c<"):
        assert result.utilisation_of(link)[0] == 0.0, link


def test_a_service_and_a_global_demand_multiplier_multiply():
    # 10 one-way messages a second for 10 s (analytic: exact expectations); from 5 s on the
    # service's own demand is doubled and all demand tripled: 10 x 5, then 10 x 2 x 3 x 5
    from lgwan_sim.traffic import SizeDist
    from tests.engine.support import one_way

    topo = make_topology([("a", "b", 8e6, 0.001)])
    svc = one_way("s", ("a",), "b", rate_per_s=10.0, size=SizeDist.fixed(1000.0))
    events = Timeline(
        events=(
            TimelineEvent(at_s=5.0, kind=EventKind.DEMAND, service="s", multiplier=2.0),
            TimelineEvent(at_s=5.0, kind=EventKind.DEMAND, multiplier=3.0),
        )
    )
    result = run(
        topo, demand(svc), events, fidelity="analytic", duration_s=10.0, seed=1,
        config=EngineConfig(bin_s=5.0),
    )  # fmt: skip
    assert result.offered_per_bin["s"].tolist() == [50, 300]
    assert result.services["s"].offered == 350


def test_a_site_that_goes_down_takes_the_packet_crossing_it_with_it():
    # a - m - b, the packet of 1.0 s from a to b is past m (on m~b, 50 ms of propagation)
    # when m goes down at 1.02 s: m's lines stop with it, so the message is lost (a fluid
    # flow would be through already: the flow fidelity only propagates it then)
    fidelity = "packet"
    topo = make_topology([("a", "m", 8e6, 0.001), ("m", "b", 8e6, 0.05)])
    svc = traced("s", ("a",), "b", [1.0], request_bytes=1000)
    down = Timeline(events=(TimelineEvent(at_s=1.02, kind=EventKind.SITE_DOWN, sites=("m",)),))
    result = run(
        topo, demand(svc), down, fidelity=fidelity, duration_s=5.0, seed=1,
        config=EngineConfig(bin_s=5.0),
    )  # fmt: skip
    stats = result.services["s"]
    assert (stats.offered, stats.delivered, stats.in_flight) == (1, 0, 0)
    assert dict(stats.dropped) == {"site_down": 1}
    assert [(e.at_s, e.kind, e.messages_lost) for e in result.events][:1] == [
        (1.02, "site_down", 1)
    ]
