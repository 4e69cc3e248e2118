"""Processor sharing on one tight link gives what the water-filling gives.

The same workloads run with the groups enabled (``FlowEngine.ps_min_classes`` = 2, every
component held by one link becomes a group) and disabled (no group ever forms): offered,
delivered and dropped messages, messages per bin, every counter and the applied events are
equal; the bytes carried per link and bin and the latencies agree to the last bits that the
group's one clock (instead of one per class) may change.
"""

from __future__ import annotations

import numpy as np
import pytest

from lgwan_sim.engine import EngineConfig, EventKind, Timeline, TimelineEvent, run
from lgwan_sim.engine._flow import FlowEngine
from lgwan_sim.network import SiteKind
from lgwan_sim.traffic import ServiceDemand, SizeDist
from tests.engine.support import demand, make_topology

N_SOURCES = 24


def _star(slow: int):
    # h00..h23 on access lines into a hub, a 200 Mb/s line from the hub to the host "dc";
    # the first ``slow`` sources on 4 Mb/s lines, whose own cap binds once the hub line's
    # share rises above it, the others on 100 Mb/s; "dc2" and "dc3" hang off the hub at 1 Gb/s
    links = [("hub", "dc", 2e8, 0.001), ("hub", "dc2", 1e9, 0.002), ("hub", "dc3", 1e9, 0.003)]
    for i in range(N_SOURCES):
        links.append((f"h{i:02d}", "hub", 4e6 if i < slow else 1e8, 0.001 + 1e-4 * i))
    kinds = {name: SiteKind.DATA_CENTRE for name in ("dc", "dc2", "dc3")}
    return make_topology(links, kinds=kinds)


def _service(name, callers, host, rate_per_s, mean_bytes, response=None, **kw):
    return ServiceDemand(
        name=name,
        primary=host,
        callers=callers,
        requests_per_day=rate_per_s * 86400.0 / len(callers),
        request_size=SizeDist.exponential(mean_bytes),
        response_size=SizeDist.exponential(response or 0.0) if response else SizeDist.fixed(0.0),
        one_way=response is None,
        service_time_s=0.01,
        **kw,
    )


def _run(monkeypatch, groups: bool, dem, timeline=None, duration_s=20.0, seed=1, **cfg):
    monkeypatch.setattr(FlowEngine, "ps_min_classes", 2 if groups else 10**9)
    config = EngineConfig(bin_s=1.0, **cfg)
    return run(
        dem[0],
        dem[1],
        timeline or Timeline(),
        fidelity="flow",
        duration_s=duration_s,
        seed=seed,
        config=config,
    )


def _formed(monkeypatch, dem, timeline=None, **cfg) -> int:
    """How many groups formed in the run (a group must form for a test to mean anything)."""
    formed = 0
    original = FlowEngine._form

    def counting(self, *args):
        nonlocal formed
        formed += 1
        original(self, *args)

    monkeypatch.setattr(FlowEngine, "_form", counting)
    _run(monkeypatch, True, dem, timeline, **cfg)
    monkeypatch.setattr(FlowEngine, "_form", original)
    return formed


def _same(a, b) -> None:
    assert a.counters == b.counters
    assert a.events == b.events
    for name, sa in a.services.items():
        sb = b.services[name]
        assert (sa.offered, sa.delivered, sa.dropped) == (sb.offered, sb.delivered, sb.dropped)
        assert np.array_equal(a.delivered_per_bin[name], b.delivered_per_bin[name])
        assert np.array_equal(a.offered_per_bin[name], b.offered_per_bin[name])
        if sa.delivered:
            assert sa.latency.mean == pytest.approx(sb.latency.mean, rel=1e-9, abs=1e-12)
            for q in (50, 95, 99, 100):
                assert sa.latency.percentile(q) == pytest.approx(sb.latency.percentile(q), rel=1e-9)
    ua = np.asarray(a.link_utilisation[:, :])
    ub = np.asarray(b.link_utilisation[:, :])
    np.testing.assert_allclose(ua, ub, rtol=1e-9, atol=1e-12)


def _workload(slow: int, rate: float, response: float | None):
    topo = _star(slow)
    callers = tuple(f"h{i:02d}" for i in range(N_SOURCES))
    return topo, demand(_service("s", callers, "dc", rate, 400_000.0, response))


@pytest.mark.parametrize(
    ("slow", "rate", "response", "seed"),
    [(0, 80.0, None, 1), (0, 60.0, 300_000.0, 2), (6, 70.0, None, 3), (3, 90.0, 200_000.0, 4)],
)
def test_random_workloads_run_the_same_with_and_without_groups(
    monkeypatch, slow, rate, response, seed
):
    # 80 messages/s of 400 kB on average offer 256 Mb/s to the 200 Mb/s hub line: it stays
    # tight, flows pile up and leave; the slow lines' own caps bind now and then
    dem = _workload(slow, rate, response)
    assert _formed(monkeypatch, dem, seed=seed) > 0
    with_groups = _run(monkeypatch, True, dem, seed=seed)
    without = _run(monkeypatch, False, dem, seed=seed)
    assert with_groups.delivered > 100
    _same(with_groups, without)


def test_a_second_tight_link_appearing_mid_run_gives_the_same_run(monkeypatch):
    # from 5 s on the first four sources also send to dc2: their 100 Mb/s access lines
    # then carry two classes that could together exceed them, so the hub line's group
    # meets a second tight link and must give way to the water-filling
    topo = _star(0)
    callers = tuple(f"h{i:02d}" for i in range(N_SOURCES))
    main = _service("s", callers, "dc", 80.0, 400_000.0)
    side = ServiceDemand(
        name="side",
        primary="dc2",
        callers=callers[:4],
        requests_per_day=1.0,
        request_size=SizeDist.fixed(3_000_000.0),
        response_size=SizeDist.fixed(0.0),
        one_way=True,
        arrivals="trace",
        trace_s=tuple(5.0 + 0.5 * k for k in range(12)),
    )
    dem = (topo, demand(main, side))
    assert _formed(monkeypatch, dem) > 1
    _same(_run(monkeypatch, True, dem), _run(monkeypatch, False, dem))


@pytest.mark.parametrize("failed_flows", ["lose", "reroute"])
def test_a_failure_and_a_capacity_change_under_a_group_give_the_same_run(monkeypatch, failed_flows):
    dem = _workload(0, 80.0, None)
    timeline = Timeline(
        events=(
            TimelineEvent(at_s=4.0, kind=EventKind.LINK_DOWN, links=("h03~hub",)),
            TimelineEvent(at_s=7.0, kind=EventKind.LINK_UP, links=("h03~hub",)),
            TimelineEvent(at_s=9.0, kind=EventKind.CAPACITY, links=("hub~dc",), capacity_bps=3e8),
            TimelineEvent(
                at_s=13.0, kind=EventKind.CAPACITY, links=("hub~dc",), capacity_bps=1.5e8
            ),
        )
    )
    cfg = {"failed_flows": failed_flows, "convergence_delay_s": 0.5}
    assert _formed(monkeypatch, dem, timeline, **cfg) > 1
    a = _run(monkeypatch, True, dem, timeline, **cfg)
    b = _run(monkeypatch, False, dem, timeline, **cfg)
    assert a.events[0].messages_lost + a.events[0].messages_rerouted > 0
    _same(a, b)


def test_a_class_arriving_on_a_group_link_and_another_tight_link_does_not_join(monkeypatch):
    # h00 and h01 keep sending to dc2 and dc3: their access lines are tight (two classes
    # of 12.5 MB/s each on 12.5 MB/s) without being on the hub line; their flows to dc
    # then cross the hub line's group and a second tight link, so must be solved
    topo = _star(0)
    callers = tuple(f"h{i:02d}" for i in range(N_SOURCES))
    main = _service("s", callers, "dc", 80.0, 400_000.0)
    side2 = _service("side2", callers[:2], "dc2", 30.0, 300_000.0)
    side3 = _service("side3", callers[:2], "dc3", 30.0, 300_000.0)
    dem = (topo, demand(main, side2, side3))
    assert _formed(monkeypatch, dem) > 0
    _same(_run(monkeypatch, True, dem), _run(monkeypatch, False, dem))


def test_three_hundred_paths_starting_together_share_the_line_as_the_water_filling(monkeypatch):
    # the concurrent benchmark's shape, small: 300 sources send one flow each at t = 0 over
    # 100 Mb/s lines into one 1 Gb/s line; 300 classes are above solver_numpy_min_classes,
    # so the group's rate changes count as the numpy solves the water-filling makes
    links = [("hub", "sink", 1e9, 0.001)]
    links += [(f"s{i:03d}", "hub", 1e8, 0.001) for i in range(300)]
    topo = make_topology(links, kinds={"sink": SiteKind.DATA_CENTRE})
    svc = ServiceDemand(
        name="s",
        primary="sink",
        callers=tuple(f"s{i:03d}" for i in range(300)),
        requests_per_day=1.0,
        request_size=SizeDist.exponential(1e6),
        response_size=SizeDist.fixed(0.0),
        one_way=True,
        arrivals="trace",
        trace_s=(0.0,) * 300,
    )
    dem = (topo, demand(svc))
    assert _formed(monkeypatch, dem, duration_s=60.0) == 1
    a = _run(monkeypatch, True, dem, duration_s=60.0)
    b = _run(monkeypatch, False, dem, duration_s=60.0)
    assert a.delivered == 300
    assert a.counters["numpy_solves"] > 40  # while 256 classes or more are left
    _same(a, b)
