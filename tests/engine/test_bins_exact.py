"""Per-bin series at their edges, with every value worked out by hand: percentiles that
must pick the right bucket, arrivals, deliveries and events exactly on a bin boundary, and
the last, partial bin of a run stopped by overload."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lgwan_sim.engine import EngineConfig, EventKind, Timeline, TimelineEvent, run
from lgwan_sim.network import SiteKind
from tests.engine.support import bucket_middle, demand, make_topology, traced

EVENT_FIDELITIES = ["flow", "packet"]

#: Callers c1..c4 reach the host h over 1, 2, 4 and 8 ms of propagation at 800 Mb/s.
DELAYS = {"c1": 0.001, "c2": 0.002, "c3": 0.004, "c4": 0.008}


def star():
    return make_topology([(c, "h", 8e8, d) for c, d in DELAYS.items()], kinds={"h": SiteKind.ASP})


def one_way_latency(fidelity: str, caller: str, size_bytes: float) -> float:
    """Transmission (with the 40 B header per packet) plus propagation on one hop."""
    on_wire = size_bytes + (40.0 if fidelity == "packet" else 0.0)
    return on_wire * 8 / 8e8 + DELAYS[caller]


@pytest.mark.parametrize("fidelity", EVENT_FIDELITIES)
def test_per_bin_percentiles_take_the_nearest_rank_bucket(fidelity):
    # bin 0: one message from each caller (ranks 1..4 = c1..c4); bin 1: c1, c2, c3 again.
    times = [0.1, 0.2, 0.3, 0.4, 10.1, 10.2, 10.3]
    svc = traced("s", tuple(DELAYS), "h", times, request_bytes=1000)
    result = run(
        star(), demand(svc), fidelity=fidelity, duration_s=30.0, seed=1,
        config=EngineConfig(bin_s=10.0),
    )  # fmt: skip
    lat = {c: one_way_latency(fidelity, c, 1000) for c in DELAYS}

    def reported(caller):
        return bucket_middle(lat[caller])

    # nearest rank: p50 of 4 is the 2nd, p95 and p99 the 4th; of 3, the 2nd and the 3rd
    p50, p95, p99 = (
        result.latency_p50_s["s"],
        result.latency_p95_s["s"],
        result.latency_p99_s["s"],
    )
    assert p50[:2] == pytest.approx([reported("c2"), reported("c2")], rel=1e-12)
    assert p95[:2] == pytest.approx([reported("c4"), reported("c3")], rel=1e-12)
    assert p99[:2] == pytest.approx([reported("c4"), reported("c3")], rel=1e-12)
    assert np.isnan([p50[2], p95[2], p99[2]]).all()  # nothing delivered in bin 2
    # the whole run: c1 c1 c2 c2 c3 c3 c4; p50 is the 4th, p95 and p99 the 7th
    hist = result.services["s"].latency
    assert hist.count == 7
    assert hist.percentile(50) == pytest.approx(reported("c2"), rel=1e-12)
    assert hist.percentile(95) == pytest.approx(reported("c4"), rel=1e-12)
    assert hist.percentile(100 * 5 / 7) == pytest.approx(reported("c3"), rel=1e-12)
    order = ["c1", "c2", "c3", "c4", "c1", "c2", "c3"]
    assert hist.mean == pytest.approx(sum(lat[c] for c in order) / 7, rel=1e-12)
    assert result.delivered_per_bin["s"].tolist() == [4, 3, 0]


@pytest.mark.parametrize("fidelity", EVENT_FIDELITIES)
def test_an_arrival_and_a_delivery_on_a_bin_boundary_belong_to_the_next_bin(fidelity):
    # 8192 b/s and 1024 B without header: 1.0 s of transmission, then 0.5 s of propagation.
    # Sent at 10.0 s (the edge of bins 0 and 1), delivered at 11.5 s; sent at 18.5 s,
    # delivered at exactly 20.0 s (the edge of bins 1 and 2). Every figure is exact in binary.
    topo = make_topology([("a", "b", 8192.0, 0.5)])
    svc = traced("s", ("a",), "b", [10.0, 18.5], request_bytes=1024)
    result = run(
        topo, demand(svc), fidelity=fidelity, duration_s=30.0, seed=1,
        config=EngineConfig(bin_s=10.0, header_bytes=0.0),
    )  # fmt: skip
    assert result.offered_per_bin["s"].tolist() == [0, 2, 0]
    assert result.delivered_per_bin["s"].tolist() == [0, 1, 1]
    assert result.services["s"].latency.mean == 1.5
    assert np.isnan(result.latency_p50_s["s"][0])
    assert result.latency_p50_s["s"][1:] == pytest.approx([bucket_middle(1.5)] * 2, rel=1e-12)


@pytest.mark.parametrize("fidelity", ["analytic", *EVENT_FIDELITIES])
def test_an_event_on_a_bin_boundary_counts_from_the_bin_it_opens(fidelity):
    # x calls h; x goes down at exactly 10.0 s, the start of bin 1.
    topo = make_topology(
        [("x", "h", 1e8, 0.001), ("y", "h", 1e8, 0.001)], kinds={"h": SiteKind.ASP}
    )
    svc = traced("s", ("x", "y"), "h", [1.0, 2.0], request_bytes=1000)
    down = Timeline(events=(TimelineEvent(at_s=10.0, kind=EventKind.SITE_DOWN, sites=("x",)),))
    result = run(
        topo, demand(svc), down, fidelity=fidelity, duration_s=30.0, seed=1,
        config=EngineConfig(bin_s=10.0),
    )  # fmt: skip
    assert result.unreachable_local_bodies.tolist() == [0, 1, 1]
    assert (result.events[0].at_s, result.events[0].kind) == (10.0, "site_down")


@pytest.mark.parametrize("fidelity", EVENT_FIDELITIES)
def test_a_capacity_change_on_a_bin_boundary_weighs_only_the_bin_it_opens(fidelity):
    # 1000 B without header every second at 8 Mb/s -> 2 Mb/s at 10.0 s: bin 0 carries 10
    # messages on 8 Mb/s x 10 s, bin 1 ten on 2 Mb/s x 10 s.
    topo = make_topology([("a", "b", 8e6, 0.0)])
    times = [0.5 + k for k in range(20)]
    svc = traced("s", ("a",), "b", times, request_bytes=1000)
    cut = Timeline(
        events=(
            TimelineEvent(at_s=10.0, kind=EventKind.CAPACITY, links=("a~b",), capacity_bps=2e6),
        )
    )
    result = run(
        topo, demand(svc), cut, fidelity=fidelity, duration_s=20.0, seed=1,
        config=EngineConfig(bin_s=10.0, header_bytes=0.0),
    )  # fmt: skip
    util = result.utilisation_of("a~b>")
    assert util.tolist() == pytest.approx([10 * 8000 / 8e7, 10 * 8000 / 2e7], rel=1e-9)


@pytest.mark.parametrize("fidelity", EVENT_FIDELITIES)
def test_a_capacity_change_inside_a_bin_is_weighted_by_time(fidelity):
    # 8 Mb/s for the first 4 s of the bin and 2 Mb/s for the last 6: 8e6 x 4 + 2e6 x 6 bits.
    topo = make_topology([("a", "b", 8e6, 0.0)])
    times = [0.5 + k for k in range(10)]
    svc = traced("s", ("a",), "b", times, request_bytes=1000)
    cut = Timeline(
        events=(TimelineEvent(at_s=4.0, kind=EventKind.CAPACITY, links=("a~b",), capacity_bps=2e6),)
    )
    result = run(
        topo, demand(svc), cut, fidelity=fidelity, duration_s=10.0, seed=1,
        config=EngineConfig(bin_s=10.0, header_bytes=0.0),
    )  # fmt: skip
    assert result.utilisation_of("a~b>")[0] == pytest.approx(10 * 8000 / (8e6 * 4 + 2e6 * 6))


def test_the_last_partial_bin_of_an_overloaded_packet_run_is_closed_at_the_stop():
    # a -> b: 8 Mb/s (1000 B packets take 1 ms, no queueing at one every 2 ms) and 1 s of
    # propagation, so about 500 packets are in flight at once: more than
    # max_queued_packets = 100 from the arrival at 0.1985 s on. That overload is followed
    # for 0.899 s: the arrival at 1.0985 s (the 550th) stops the run, inside bin 1.
    topo = make_topology([("a", "b", 8e6, 1.0)])
    times = [0.0005 + 0.002 * k for k in range(1000)]
    svc = traced("s", ("a",), "b", times, request_bytes=960)
    config = EngineConfig(
        bin_s=1.0, max_queued_packets=100, overload_sustain_s=0.899, buffer_bytes=math.inf
    )
    result = run(topo, demand(svc), fidelity="packet", duration_s=5.0, seed=1, config=config)
    assert result.overloaded
    assert "max_queued_packets=100" in (result.overload_reason or "")
    assert result.stopped_at_s == times[549]
    stats = result.services["s"]
    # sent: k = 0..549; delivered 1.001 s later: those sent up to 0.0965 s (k <= 48)
    assert (stats.offered, stats.delivered, stats.in_flight) == (550, 49, 0)
    assert dict(stats.dropped) == {"overload": 501}
    assert result.offered_per_bin["s"].tolist() == [500, 50, 0, 0, 0]
    assert result.delivered_per_bin["s"].tolist() == [0, 49, 0, 0, 0]
    # bin 0: 500 packets over 1 s; bin 1: k = 500..548 over the 0.0985 s it lasted (the
    # packet of k = 549 would be transmitted from the stop on, so it never is)
    util = result.utilisation_of("a~b>")
    assert util[0] == pytest.approx(500 * 8000 / 8e6, rel=1e-12)
    assert util[1] == pytest.approx(49 * 8000 / (8e6 * (times[549] - 1.0)), rel=1e-9)
    assert util[2:].tolist() == [0.0, 0.0, 0.0]
    p50 = result.latency_p50_s["s"]
    assert p50[1] == pytest.approx(bucket_middle(0.001 + 1.0), rel=1e-12)
    assert np.isnan(p50[[0, 2, 3, 4]]).all()


@pytest.mark.parametrize("fidelity", ["analytic", *EVENT_FIDELITIES])
@pytest.mark.parametrize(
    ("up_s", "delay_s", "expected"),
    [(20.0, 0.0, [1, 1, 0]), (20.0, 3.0, [1, 1, 1]), (17.0, 3.0, [1, 1, 0])],
)
def test_a_restoration_on_a_bin_boundary_counts_only_while_unreachable(
    fidelity, up_s, delay_s, expected
):
    # x goes down at 5.0 s and comes back at up_s. Back at exactly 20.0 s, the start of
    # bin 2, without a convergence delay: x is reachable from 20.0 s on, bin 2 counts nobody.
    # With 3 s of convergence routing has no path to x in [20, 23), so bin 2 counts x. Back
    # at 17.0 s, routing converges at exactly 20.0 s: bin 2 counts nobody again.
    topo = make_topology(
        [("x", "h", 1e8, 0.001), ("y", "h", 1e8, 0.001)], kinds={"h": SiteKind.ASP}
    )
    svc = traced("s", ("x", "y"), "h", [1.0, 2.0], request_bytes=1000)
    events = Timeline(
        events=(
            TimelineEvent(at_s=5.0, kind=EventKind.SITE_DOWN, sites=("x",)),
            TimelineEvent(at_s=up_s, kind=EventKind.SITE_UP, sites=("x",)),
        )
    )
    result = run(
        topo, demand(svc), events, fidelity=fidelity, duration_s=30.0, seed=1,
        config=EngineConfig(bin_s=10.0, convergence_delay_s=delay_s),
    )  # fmt: skip
    assert result.unreachable_local_bodies.tolist() == expected
