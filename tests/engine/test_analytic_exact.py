"""The analytic fidelity and the N-1 sweep with every figure worked out by hand."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from lgwan_sim.engine import (
    EngineConfig,
    EngineInputs,
    EventKind,
    Observer,
    Timeline,
    TimelineEvent,
    build,
    n1_sweep,
    run,
)
from lgwan_sim.network import Link, LinkKind, Site, SiteKind, Topology
from lgwan_sim.traffic import ServiceDemand, SizeDist
from tests.engine.support import demand, make_topology, one_way, traced


def test_the_n1_sweep_covers_one_day_unless_told_otherwise():
    # a - b - c: losing b~c cuts c off, so every request of the day is lost: 2 a second.
    leaf = make_topology([("a", "b", 1e8, 0.001), ("b", "c", 1e8, 0.001)])
    d = demand(one_way("s", ("a",), "c", rate_per_s=2.0, size=SizeDist.fixed(1000.0)))
    (cut,) = n1_sweep(leaf, d, ["b~c"])
    assert cut.lost_requests == pytest.approx(2.0 * 86400.0, rel=1e-12)
    assert cut.unreachable_local_bodies == 1


def test_the_n1_sweep_counts_a_request_a_hair_past_the_last_whole_bin():
    # 10 s + 0.1 ns in 10 s bins is one bin that runs to the end: losing b~c loses all
    # four traced requests, the one at 10 s + 0.05 ns included
    leaf = make_topology([("a", "b", 1e8, 0.001), ("b", "c", 1e8, 0.001)])
    d = demand(traced("s", ("a",), "c", [4.0, 6.0, 8.0, 10.0 + 5e-11], request_bytes=1000))
    (cut,) = n1_sweep(leaf, d, ["b~c"], duration_s=10.0 + 1e-10, config=EngineConfig(bin_s=10.0))
    assert cut.lost_requests == pytest.approx(4.0, rel=1e-12)


@pytest.mark.parametrize("fidelity", ["analytic", "flow", "packet"])
def test_the_wall_time_reported_is_the_time_the_run_took(fidelity):
    topo = make_topology([("a", "b", 8e6, 0.001)])
    svc = traced("s", ("a",), "b", [1.0, 2.0], request_bytes=1000)
    began = time.perf_counter()
    result = run(topo, demand(svc), fidelity=fidelity, duration_s=10.0, seed=1)
    took = time.perf_counter() - began
    assert 0.0 < result.wall_s <= took


def _model_bottleneck_s_per_bit(rhos, caps):
    """``E[max_l (N_l + 1) / C_l]`` summed outright: ``P(N_l = n) = (1 - rho) rho^n``,
    independent from link to link (the model of docs/engine.md)."""
    n = np.arange(400, dtype=float)
    (r1, r2), (c1, c2) = rhos, caps
    p1, p2 = (1 - r1) * r1**n, (1 - r2) * r2**n
    y = np.maximum((n[:, None] + 1) / c1, (n[None, :] + 1) / c2)
    return float((p1[:, None] * p2[None, :] * y).sum())


@pytest.mark.parametrize("through_per_s", [1.0, 0.05])
def test_a_path_over_a_slow_line_and_a_busy_fast_one_takes_the_expected_bottleneck(
    through_per_s,
):
    # a -(8 Mb/s)- b -(16 Mb/s)- c. Cross traffic loads b~c to rho 0.5 (2000 x 500 B a
    # second); the through traffic (1000 B messages) is all there is on a~b: at 1 a second
    # that line counts as loaded (the lattice sum over both lines), at 0.05 a second as
    # idle (its excess is below 1e-4 of the floor: one loaded line, the closed form).
    topo = make_topology([("a", "b", 8e6, 0.0), ("b", "c", 16e6, 0.0)])
    size = SizeDist.fixed(1000.0)
    through = one_way("through", ("a",), "c", rate_per_s=through_per_s, size=size)
    cross = one_way("cross", ("b",), "c", rate_per_s=2000.0, size=SizeDist.fixed(500.0))
    result = run(topo, demand(through, cross), fidelity="analytic", duration_s=600.0, seed=1)
    rho1 = through_per_s * 8000 / 8e6
    rho2 = (2000.0 * 4000 + through_per_s * 8000) / 16e6
    assert result.utilisation_of("a~b>") == pytest.approx([rho1] * 10, rel=1e-9)
    assert result.utilisation_of("b~c>") == pytest.approx([rho2] * 10, rel=1e-9)
    expected = 8000 * _model_bottleneck_s_per_bit((rho1, rho2), (8e6, 16e6))
    assert result.services["through"].latency.mean == pytest.approx(expected, rel=1e-4)
    # the cross traffic has its line alone: the processor-sharing mean
    assert result.services["cross"].latency.mean == pytest.approx(4000 / 16e6 / (1 - rho2))


def test_a_caller_at_its_own_host_waits_only_for_the_service():
    # b calls the service it hosts: no line, no transfer, only the 20 ms of service; a
    # pays 2 x 1 ms of propagation and the two transfers on an almost idle line too.
    topo = make_topology([("a", "b", 8e6, 0.001)])
    svc = ServiceDemand(
        name="s",
        primary="b",
        callers=("a", "b"),
        requests_per_day=86400.0,
        request_size=SizeDist.fixed(1000.0),
        response_size=SizeDist.fixed(1000.0),
        service_time_s=0.02,
    )
    local = dataclasses.replace(svc, name="local", callers=("b",))
    result = run(topo, demand(svc, local), fidelity="analytic", duration_s=60.0, seed=1)
    stats = result.services["s"]
    assert (stats.offered, stats.delivered) == (120, 120)
    rho = 8000 / 8e6  # one request (and one response) of 1000 B a second
    from_a = 0.002 + 0.02 + 2 * 0.001 / (1 - rho)
    assert stats.latency.mean == pytest.approx((from_a + 0.02) / 2, rel=1e-12)
    # a service called only from its host crosses no line at all
    assert result.services["local"].delivered == 60
    assert result.services["local"].latency.mean == pytest.approx(0.02, rel=1e-12)


class _Bins(Observer):
    def __init__(self):
        self.bins = []

    def on_bin(self, record):
        self.bins.append(record)


def test_an_overloaded_bin_loses_the_excess_and_the_observer_sees_each_bin_as_it_closes():
    # 2000 messages of 1000 B a second on an 8 Mb/s line: rho = 2, so half the traffic is
    # lost as overload in every 10 s bin, as the bins close.
    topo = make_topology([("a", "b", 8e6, 0.0)])
    svc = one_way("s", ("a",), "b", rate_per_s=2000.0, size=SizeDist.fixed(1000.0))
    seen = _Bins()
    inputs = EngineInputs(
        topology=topo, demand=demand(svc), fidelity="analytic", duration_s=25.0, seed=1,
        config=EngineConfig(bin_s=10.0),
    )  # fmt: skip
    engine = build(inputs, observer=seen)
    engine.advance_to(12.0)
    assert [(b.index, b.start_s, b.end_s) for b in seen.bins] == [(0, 0.0, 10.0)]
    result = engine.finish()
    assert [(b.index, b.start_s, b.end_s) for b in seen.bins] == [
        (0, 0.0, 10.0), (1, 10.0, 20.0), (2, 20.0, 25.0)
    ]  # fmt: skip
    for record, span in zip(seen.bins, (10.0, 10.0, 5.0), strict=True):
        assert record.utilisation[result.link_ids.index("a~b>")] == pytest.approx(2.0)
        assert record.offered["s"] == pytest.approx(2000.0 * span, rel=1e-12)
        assert record.dropped["s"] == pytest.approx({"overload": 1000.0 * span}, rel=1e-12)
        assert record.delivered["s"] == pytest.approx(1000.0 * span, rel=1e-12)
    assert result.offered_per_bin["s"].tolist() == [20_000, 20_000, 10_000]
    assert result.delivered_per_bin["s"].tolist() == [10_000, 10_000, 5_000]
    assert result.dropped == {"overload": 25_000}


def test_a_latency_below_the_first_bucket_is_reported_as_zero_in_every_bin():
    # A one-way service called only from its host: no line, no service time, latency 0.
    # docs/engine.md: a latency below 100 ns is reported as 0, per bin as over the run, and
    # whether or not an event splits the bin (t = 15 s splits bin 1 into two segments).
    topo = make_topology([("a", "b", 8e6, 0.001)])
    local = one_way("local", ("b",), "b", rate_per_s=1.0, size=SizeDist.fixed(1000.0))
    other = one_way("other", ("a",), "b", rate_per_s=1.0, size=SizeDist.fixed(1000.0))
    split = Timeline(
        events=(TimelineEvent(at_s=15.0, kind=EventKind.DEMAND, service="other", multiplier=2.0),)
    )
    result = run(
        topo, demand(local, other), split, fidelity="analytic", duration_s=30.0, seed=1,
        config=EngineConfig(bin_s=10.0),
    )  # fmt: skip
    assert result.counters["segments"] == 2
    hist = result.services["local"].latency
    assert (hist.count, hist.mean, hist.percentile(50)) == (30, 0.0, 0.0)
    for series in (result.latency_p50_s, result.latency_p95_s, result.latency_p99_s):
        assert series["local"].tolist() == [0.0, 0.0, 0.0]


def test_the_n1_sweep_fails_the_backbone_and_the_prefecture_lines_by_default():
    # backbone c1~c2; the prefecture node p's lines to c1 and to the prefectural office o;
    # p's line to the town m and m's line to the town n are access lines of municipalities.
    kinds = {"c1": SiteKind.CENTRAL, "c2": SiteKind.CENTRAL, "p": SiteKind.PREFECTURE_NODE,
             "o": SiteKind.PREFECTURE, "m": SiteKind.MUNICIPALITY, "n": SiteKind.MUNICIPALITY}  # fmt: skip
    lines = [("c1", "c2", LinkKind.BACKBONE), ("c1", "p", LinkKind.ACCESS),
             ("p", "o", LinkKind.ACCESS), ("p", "m", LinkKind.ACCESS),
             ("m", "n", LinkKind.ACCESS)]  # fmt: skip
    topo = Topology.build(
        "sweep",
        [Site(id=s, kind=k, name=s, lat=35.0, lon=135.0 + 0.01 * i, prefecture="01")
         for i, (s, k) in enumerate(kinds.items())],
        [Link(a=a, b=b, kind=k, capacity_bps=1e8, delay_s=0.001) for a, b, k in lines],
    )  # fmt: skip
    d = demand(one_way("s", ("n",), "c2", rate_per_s=1.0, size=SizeDist.fixed(1000.0)))
    impacts = n1_sweep(topo, d, duration_s=600.0)
    assert [i.link for i in impacts] == ["c1~c2", "c1~p", "p~o"]
    # the backbone and c1~p cut n off from c2 (a tree): 600 requests lost; p~o does not
    assert [i.lost_requests for i in impacts] == pytest.approx([600.0, 600.0, 0.0])
