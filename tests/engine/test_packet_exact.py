"""The packet fidelity's ports and sender with every time worked out by hand.

a -> b at 8 Mb/s (1 us a byte) with 1 ms of propagation; a 960 B message is one 1000 B
packet (the 40 B header): 1 ms on the wire, delivered 2 ms after it leaves an idle port.
"""

from __future__ import annotations

import math

import pytest

from lgwan_sim.engine import EngineConfig, EventKind, Timeline, TimelineEvent, run
from tests.engine.support import demand, make_topology, traced

LINE = [("a", "b", 8e6, 0.001)]


def test_the_buffer_holds_what_waits_and_frees_as_the_port_sends():
    # Buffer 2500 B. In each burst the first packet is sent at once (it waits for nothing),
    # the next two wait (1000 B, then 2000 B in the buffer) and the fourth, 0.3 ms in, finds
    # 2000 + 1000 B > 2500 B: tail drop. A second burst a second later finds the buffer
    # empty again and loses nothing; its three packets wait exactly as the first three did.
    first = [1.0, 1.0001, 1.0002, 1.0003]
    second = [2.0, 2.0001, 2.0002]
    svc = traced("s", ("a",), "b", first + second, request_bytes=960)
    result = run(
        make_topology(LINE), demand(svc), fidelity="packet", duration_s=5.0, seed=1,
        config=EngineConfig(bin_s=5.0, buffer_bytes=2500.0),
    )  # fmt: skip
    stats = result.services["s"]
    assert (stats.offered, stats.delivered, stats.in_flight) == (7, 6, 0)
    assert dict(stats.dropped) == {"buffer_overflow": 1}
    # latencies: 2 ms; 1 ms of waiting less 0.1 ms, + 2 ms; 2 ms of waiting less 0.2 ms, + 2 ms
    assert stats.latency.mean == pytest.approx((0.002 + 0.0029 + 0.0038) * 2 / 6, rel=1e-9)
    assert result.counters["packets"] == 7
    assert result.counters["packets_dropped"] == 1
    assert result.counters["packet_hops"] == 6
    assert result.utilisation_of("a~b>")[0] == pytest.approx(6 * 8000 / (8e6 * 5), rel=1e-12)


def test_a_packet_larger_than_the_buffer_is_sent_when_the_port_is_idle():
    # Buffer 500 B: a 1000 B packet never fits in it, but one that finds the port idle is
    # sent at once and never waits. The one offered while the port sends (0.2 ms later)
    # would have to wait: dropped.
    svc = traced("s", ("a",), "b", [1.0, 1.0002, 1.5], request_bytes=960)
    result = run(
        make_topology(LINE), demand(svc), fidelity="packet", duration_s=5.0, seed=1,
        config=EngineConfig(buffer_bytes=500.0),
    )  # fmt: skip
    stats = result.services["s"]
    assert (stats.offered, stats.delivered) == (3, 2)
    assert dict(stats.dropped) == {"buffer_overflow": 1}
    assert stats.latency.mean == pytest.approx(0.002, rel=1e-12)
    assert result.counters["packets_dropped"] == 1


@pytest.mark.parametrize("buffer_bytes", [math.inf, 1e6])
def test_a_failure_elsewhere_changes_nothing_for_a_windowed_transfer(buffer_bytes):
    # 40 segments from a to b (more than the first window: acknowledgements come back on
    # b -> a) while the unrelated line c~b is down: the run is the one without the failure.
    topo = make_topology([("a", "b", 8e6, 0.001), ("c", "b", 8e6, 0.001)])
    svc = traced("s", ("a",), "b", [1.0], request_bytes=40 * 1460)
    config = EngineConfig(bin_s=5.0, buffer_bytes=buffer_bytes)

    def once(timeline):
        return run(
            topo, demand(svc), timeline, fidelity="packet", duration_s=5.0, seed=1,
            config=config,
        )  # fmt: skip

    cut = Timeline(events=(TimelineEvent(at_s=0.5, kind=EventKind.LINK_DOWN, links=("b~c",)),))
    quiet, failed = once(Timeline()), once(cut)
    assert failed.services["s"].delivered == 1
    assert failed.dropped == {}
    assert failed.counters["acks"] == quiet.counters["acks"] > 0
    assert failed.services["s"].latency.mean == quiet.services["s"].latency.mean
    # 40 packets of 1500 B, and acknowledgements that do not occupy the ports
    for result in (quiet, failed):
        assert result.utilisation_of("a~b>")[0] == pytest.approx(40 * 12000 / 4e7, rel=1e-12)
        assert result.utilisation_of("a~b<")[0] == 0.0


def test_an_overload_stop_loses_the_exchanges_waiting_at_their_host():
    # Requests every 2 ms from 0.5 ms, 0.5 ms of propagation: request k leaves at t_k and
    # reaches b 1.5 ms later, where it is served for 5 s. At the arrival of request k the
    # heap holds the next arrival, request k's packet and the k exchanges being served:
    # k + 2 entries, above max_queued_packets = 10 from k = 9 on. Followed for 19 ms, the
    # overload stops the run at the arrival of k = 19 (0.5 ms + 38 ms): the 19 exchanges at
    # the host and the request on the wire are lost as overload; none was answered.
    topo = make_topology([("a", "b", 8e6, 0.0005)])
    times = [0.0005 + 0.002 * k for k in range(100)]
    svc = traced(
        "rr", ("a",), "b", times, request_bytes=960, response_bytes=960, service_time_s=5.0
    )
    config = EngineConfig(bin_s=1.0, max_queued_packets=10, overload_sustain_s=0.019)
    result = run(topo, demand(svc), fidelity="packet", duration_s=10.0, seed=1, config=config)
    assert result.overloaded
    assert result.stopped_at_s == times[19]
    stats = result.services["rr"]
    assert (stats.offered, stats.delivered, stats.in_flight) == (20, 0, 0)
    assert dict(stats.dropped) == {"overload": 20}
    assert result.offered_per_bin["rr"].tolist() == [20] + [0] * 9
    # bin 0 lasted until the stop; the packet of k = 19 was to be sent from then on
    util = result.utilisation_of("a~b>")
    assert util[0] == pytest.approx(19 * 8000 / (8e6 * times[19]), rel=1e-12)
    assert util[1:].tolist() == [0.0] * 9
    assert result.utilisation_of("a~b<").tolist() == [0.0] * 10
