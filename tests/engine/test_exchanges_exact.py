"""Exchanges on small networks with every time worked out by hand (flow and packet).

Arrivals are replayed at chosen instants and sizes are fixed, so each latency is a sum of
transmission times (bytes x 8 / capacity, per hop for packets: store and forward) and
propagation delays; the event log and the drop reasons follow from the same arithmetic.
"""

from __future__ import annotations

import pytest

from lgwan_sim.engine import AppliedEvent, EngineConfig, EventKind, Timeline, TimelineEvent, run
from tests.engine.support import bucket_middle, demand, make_topology, traced

#: a - b - c, 8 Mb/s (1 us per byte), 5 ms then 3 ms of propagation.
LINE = [("a", "b", 8e6, 0.005), ("b", "c", 8e6, 0.003)]


def test_every_request_response_exchange_is_delivered_on_an_idle_network():
    # Requests of 460 B (one 500 B packet with the 40 B header), responses of 960 B (1000 B),
    # 2 ms at the host, one exchange every second: the network is idle for each.
    svc = traced(
        "rr", ("a",), "c", [1.0, 2.0, 3.0], request_bytes=460, response_bytes=960,
        service_time_s=0.002, slo_s=0.02,
    )  # fmt: skip
    result = run(
        make_topology(LINE), demand(svc), fidelity="packet", duration_s=10.0, seed=1,
        config=EngineConfig(bin_s=10.0),
    )  # fmt: skip
    stats = result.services["rr"]
    assert (stats.offered, stats.delivered, stats.in_flight) == (3, 3, 0)
    assert dict(stats.dropped) == {}
    # request: (0.5 ms + 5 ms) + (0.5 ms + 3 ms); host 2 ms; response: (1 + 3) + (1 + 5) ms
    latency = 0.0005 + 0.005 + 0.0005 + 0.003 + 0.002 + 0.001 + 0.003 + 0.001 + 0.005
    assert stats.latency.count == 3
    assert stats.latency.mean == pytest.approx(latency, rel=1e-12)
    assert stats.latency.percentile(50) == pytest.approx(bucket_middle(latency), rel=1e-12)
    assert result.latency_p99_s["rr"][0] == pytest.approx(bucket_middle(latency), rel=1e-12)
    assert stats.slo_breaches == 3  # 21 ms > 20 ms
    # per direction: 3 x 500 B out, 3 x 1000 B back, over 10 s at 8 Mb/s
    for link, carried in (("a~b>", 1500), ("b~c>", 1500), ("a~b<", 3000), ("b~c<", 3000)):
        assert result.utilisation_of(link)[0] == pytest.approx(carried * 8 / 8e7, rel=1e-12)
    assert result.counters["packets"] == 6
    assert result.counters["packet_hops"] == 12


def test_a_flow_exchange_takes_the_bottleneck_rate_and_the_delays_both_ways():
    svc = traced(
        "rr", ("a",), "c", [1.0, 2.0], request_bytes=460, response_bytes=960,
        service_time_s=0.002,
    )  # fmt: skip
    result = run(
        make_topology(LINE), demand(svc), fidelity="flow", duration_s=10.0, seed=1,
        config=EngineConfig(bin_s=10.0),
    )  # fmt: skip
    stats = result.services["rr"]
    assert (stats.offered, stats.delivered, stats.in_flight) == (2, 2, 0)
    # a fluid flow crosses both links at once: 460 B at 1 MB/s, then 8 ms of propagation
    latency = 0.00046 + 0.008 + 0.002 + 0.00096 + 0.008
    assert stats.latency.mean == pytest.approx(latency, rel=1e-9)
    assert result.utilisation_of("b~c<")[0] == pytest.approx(2 * 960 * 8 / 8e7, rel=1e-9)


def test_a_packet_failure_loses_what_is_on_the_failed_link_and_black_holes_the_rest():
    # a-b: 100 ms of propagation, 8e8 b/s (a 500 B packet takes 5 us); b-c: 1 ms.
    # b~c fails at 1.05 s. The message sent at 0.949 s reached b at 1.049005 s and is on b~c
    # (until 1.05001 s): lost by the event. Those sent at 1.00, 1.02 and 1.04 s are on a~b;
    # they reach b after the failure and routing (3 s to converge) still sends them into
    # b~c: black-holed, link_failure too, but not lost by the event. Routing then prunes c
    # from its own tree (nothing can re-attach it): no tree is recomputed.
    topo = make_topology([("a", "b", 8e8, 0.1), ("b", "c", 8e8, 0.001)])
    svc = traced("s", ("a",), "c", [0.949, 1.0, 1.02, 1.04], request_bytes=460)
    cut = Timeline(events=(TimelineEvent(at_s=1.05, kind=EventKind.LINK_DOWN, links=("b~c",)),))
    result = run(topo, demand(svc), cut, fidelity="packet", duration_s=10.0, seed=1)
    stats = result.services["s"]
    assert (stats.offered, stats.delivered, stats.in_flight) == (4, 0, 0)
    assert dict(stats.dropped) == {"link_failure": 4}
    assert result.events == (
        AppliedEvent(at_s=1.05, kind="link_down", links=("b~c",), messages_lost=1),
        AppliedEvent(
            at_s=4.05, kind="converged", note="routing after link_down at 1.05s",
            links=("b~c",), routes_recomputed=0,
        ),
    )  # fmt: skip


def test_a_packet_failure_counts_each_message_on_the_link_once():
    # Three messages are on a~b (100 ms of propagation) when it fails at 1.05 s; the one
    # sent at 1.06 s is black-holed (routing has not converged); none reaches c.
    topo = make_topology([("a", "b", 8e8, 0.1), ("b", "c", 8e8, 0.001)])
    svc = traced("s", ("a",), "c", [1.0, 1.02, 1.04, 1.06], request_bytes=460)
    cut = Timeline(events=(TimelineEvent(at_s=1.05, kind=EventKind.LINK_DOWN, links=("a~b",)),))
    result = run(topo, demand(svc), cut, fidelity="packet", duration_s=3.0, seed=1)
    stats = result.services["s"]
    assert dict(stats.dropped) == {"link_failure": 4}
    assert [(e.kind, e.messages_lost) for e in result.events] == [("link_down", 3)]


def test_a_multi_packet_message_on_a_failed_link_is_lost_once():
    # 4000 B with mss 1460: packets of 1460 + 1460 + 1080 B payload, all on a~b at 1.05 s.
    topo = make_topology([("a", "b", 8e8, 0.1), ("b", "c", 8e8, 0.001)])
    svc = traced("s", ("a",), "c", [1.0], request_bytes=4000)
    cut = Timeline(events=(TimelineEvent(at_s=1.05, kind=EventKind.LINK_DOWN, links=("a~b",)),))
    result = run(topo, demand(svc), cut, fidelity="packet", duration_s=3.0, seed=1)
    assert result.counters["packets"] == 3
    assert dict(result.services["s"].dropped) == {"link_failure": 1}
    assert [(e.kind, e.messages_lost) for e in result.events] == [("link_down", 1)]


def test_a_host_that_fails_while_serving_loses_the_response_as_site_down():
    # The request reaches c at 1.009 s (0.5 + 5 + 0.5 + 3 ms); c goes down at 1.03 s, while
    # serving (50 ms): the response leg starts at a site that is down. The exchange at
    # 2.0 s finds its host down when it starts.
    svc = traced(
        "rr", ("a",), "c", [1.0, 2.0], request_bytes=460, response_bytes=960,
        service_time_s=0.05,
    )  # fmt: skip
    down = Timeline(events=(TimelineEvent(at_s=1.03, kind=EventKind.SITE_DOWN, sites=("c",)),))
    result = run(make_topology(LINE), demand(svc), down, fidelity="packet", duration_s=5.0, seed=1)
    stats = result.services["rr"]
    assert (stats.offered, stats.delivered, stats.in_flight) == (2, 0, 0)
    assert dict(stats.dropped) == {"site_down": 2}
    assert result.counters["packets"] == 1  # the first request; nothing else was sent
