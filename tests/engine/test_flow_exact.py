"""The flow fidelity's classes, rates and reroutes with every time worked out by hand.

A fluid flow crosses its whole path at once: a leg of ``size`` bytes at ``rate`` takes
``size / rate`` and then the path's propagation delay.
"""

from __future__ import annotations

import pytest

from lgwan_sim.engine import AppliedEvent, EngineConfig, EventKind, Timeline, TimelineEvent, run
from lgwan_sim.traffic import Demand
from tests.engine.support import MONDAY, demand, make_topology, traced


def test_two_equal_flows_that_start_together_share_the_line_and_end_together():
    # Two services send 1000 B from a to b at 1.0 s: one class of two flows at 0.5 MB/s
    # each (8 Mb/s shared), both done at 1.002 s and delivered 1 ms later.
    topo = make_topology([("a", "b", 8e6, 0.001)])
    one = traced("one", ("a",), "b", [1.0], request_bytes=1000)
    two = traced("two", ("a",), "b", [1.0], request_bytes=1000)
    result = run(
        topo, Demand(services=(one, two), start=MONDAY), fidelity="flow", duration_s=5.0,
        seed=1, config=EngineConfig(bin_s=5.0),
    )  # fmt: skip
    for name in ("one", "two"):
        stats = result.services[name]
        assert (stats.offered, stats.delivered) == (1, 1)
        assert stats.latency.mean == pytest.approx(0.003, rel=1e-9)
    assert result.counters["flows"] == 2
    assert result.counters["peak_active_flows"] == 2
    assert result.counters["active_flows_at_end"] == 0
    assert result.utilisation_of("a~b>")[0] == pytest.approx(2 * 8000 / (8e6 * 5), rel=1e-12)


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_a_line_made_faster_carries_the_next_message_faster(fidelity):
    # 1000 B (no header) take 1 ms at 8 Mb/s; a~b doubles to 16 Mb/s at 5.0 s, so the
    # message of 6.0 s takes 0.5 ms. No propagation.
    topo = make_topology([("a", "b", 8e6, 0.0)])
    svc = traced("s", ("a",), "b", [1.0, 6.0], request_bytes=1000)
    faster = Timeline(
        events=(
            TimelineEvent(at_s=5.0, kind=EventKind.CAPACITY, links=("a~b",), capacity_bps=16e6),
        )
    )
    result = run(
        topo, demand(svc), faster, fidelity=fidelity, duration_s=10.0, seed=1,
        config=EngineConfig(bin_s=10.0, header_bytes=0.0),
    )  # fmt: skip
    stats = result.services["s"]
    assert stats.delivered == 2
    assert stats.latency.mean == pytest.approx((0.001 + 0.0005) / 2, rel=1e-9)
    assert stats.latency.total_s == pytest.approx(0.0015, rel=1e-9)


def test_a_flow_held_on_a_failed_link_resumes_on_the_new_route_with_what_it_had_left():
    # a - b - c (1 ms hops) and the detour a - d - c (5 ms hops), all 100 Mb/s (12.5 MB/s).
    # 125 kB leave a for c at 1.0 s; b~c fails at 1.004 s, when 50 kB are through. With
    # failed_flows = reroute the flow waits for routing (1 s) and sends its last 75 kB over
    # the detour from 2.004 s: 6 ms, then 10 ms of propagation, delivered at 2.020 s.
    topo = make_topology(
        [("a", "b", 1e8, 0.001), ("b", "c", 1e8, 0.001), ("a", "d", 1e8, 0.005),
         ("d", "c", 1e8, 0.005)]
    )  # fmt: skip
    svc = traced("s", ("a",), "c", [1.0], request_bytes=125_000)
    cut = Timeline(events=(TimelineEvent(at_s=1.004, kind=EventKind.LINK_DOWN, links=("b~c",)),))
    config = EngineConfig(bin_s=10.0, failed_flows="reroute", convergence_delay_s=1.0)
    result = run(topo, demand(svc), cut, fidelity="flow", duration_s=10.0, seed=1, config=config)
    stats = result.services["s"]
    assert (stats.offered, stats.delivered, stats.dropped) == (1, 1, {})
    assert stats.latency.mean == pytest.approx(1.020, rel=1e-9)
    assert result.events[0] == AppliedEvent(
        at_s=1.004, kind="link_down", links=("b~c",), messages_rerouted=1
    )
    converged = result.events[1]
    assert (converged.at_s, converged.kind) == (2.004, "converged")
    assert (converged.messages_lost, converged.messages_rerouted) == (0, 1)
    for link, carried in (("a~b>", 50_000), ("b~c>", 50_000), ("a~d>", 75_000), ("d~c>", 75_000)):
        assert result.utilisation_of(link)[0] == pytest.approx(carried * 8 / 1e9, rel=1e-9)


def test_only_classes_that_share_a_tight_line_go_to_the_solver():
    # With solver_numpy_min_classes = 1 every solve is a numpy solve. a and b send 1000 B
    # to c at 1.0 s through m, whose line m~c (8 Mb/s) both classes need: it is tight, one
    # solve gives each 0.5 MB/s, both done at 1.002 s. d sends e 1000 B at 2.0 s and again
    # at 2.0005 s, one class on an untight line: the first has 500 B left when the second
    # joins, both go at 0.5 MB/s until 2.0015 s, then the second alone at 1 MB/s until
    # 2.002 s. No solver for that class: its flows just share its bottleneck.
    topo = make_topology(
        [("a", "m", 8e6, 0.0), ("b", "m", 8e6, 0.0), ("m", "c", 8e6, 0.0), ("d", "e", 8e6, 0.0)]
    )
    one = traced("one", ("a",), "c", [1.0], request_bytes=1000)
    two = traced("two", ("b",), "c", [1.0], request_bytes=1000)
    lone = traced("lone", ("d",), "e", [2.0, 2.0005], request_bytes=1000)
    result = run(
        topo, Demand(services=(one, two, lone), start=MONDAY), fidelity="flow",
        duration_s=5.0, seed=1, config=EngineConfig(bin_s=5.0, solver_numpy_min_classes=1),
    )  # fmt: skip
    assert result.services["one"].latency.mean == pytest.approx(0.002, rel=1e-9)
    assert result.services["two"].latency.mean == pytest.approx(0.002, rel=1e-9)
    assert result.services["lone"].latency.total_s == pytest.approx(0.0015 * 2, rel=1e-9)
    assert result.counters["numpy_solves"] == 1


@pytest.mark.parametrize("others", [2, 3])
def test_when_a_class_leaves_a_line_that_stays_shared_the_others_speed_up(others):
    # a, b (and d) reach h over their own 4 Mb/s lines (0.5 MB/s) and c over 8 Mb/s, all
    # through m~h at 8 Mb/s (1 MB/s). c sends 1000 B, the others 3000 B, all at 1.0 s.
    # Max-min on m~h: 1 / (others + 1) MB/s each, so c is done after 1000 B and the others
    # have 2000 B left. Then m~h is shared by the others alone: with two of them it is no
    # longer a bottleneck (each runs at its own 0.5 MB/s), with three it still is (1/3 MB/s
    # each); either way each of them goes faster from then on.
    names = "abd"[:others]
    topo = make_topology(
        [(n, "m", 4e6, 0.0) for n in names] + [("c", "m", 8e6, 0.0), ("m", "h", 8e6, 0.0)]
    )
    svcs = [traced(n, (n,), "h", [1.0], request_bytes=3000) for n in names]
    svcs.append(traced("c", ("c",), "h", [1.0], request_bytes=1000))
    result = run(
        topo, Demand(services=tuple(svcs), start=MONDAY), fidelity="flow", duration_s=5.0,
        seed=1, config=EngineConfig(bin_s=5.0, solver_numpy_min_classes=1),
    )  # fmt: skip
    # every solve is a numpy solve here: one at the start; a second when c leaves only if
    # m~h is still a bottleneck (with two others it is not: their rates need no solver)
    assert result.counters["numpy_solves"] == (1 if others == 2 else 2)
    share = 1e6 / (others + 1)
    c_done = 1000 / share
    after = min(0.5e6, 1e6 / others)
    assert result.services["c"].latency.mean == pytest.approx(c_done, rel=1e-9)
    for n in names:
        assert result.services[n].latency.mean == pytest.approx(c_done + 2000 / after, rel=1e-9)
    assert result.utilisation_of("m~h>")[0] == pytest.approx((1000 + others * 3000) * 8 / 4e7)


def test_a_line_made_faster_under_a_flow_does_not_become_a_bottleneck():
    # With solver_numpy_min_classes = 1 every solve is a numpy solve. 10 kB leave a for b at
    # 1.0 s (8 Mb/s, 1 MB/s); a~b doubles at 1.005 s with 5 kB left, which take 2.5 ms at
    # 2 MB/s: done at 1.0075 s. The one class needs all of the faster line, no more: the
    # line is not tight, so no solver runs.
    topo = make_topology([("a", "b", 8e6, 0.0)])
    svc = traced("s", ("a",), "b", [1.0], request_bytes=10_000)
    faster = Timeline(
        events=(
            TimelineEvent(at_s=1.005, kind=EventKind.CAPACITY, links=("a~b",), capacity_bps=16e6),
        )
    )
    result = run(
        topo, demand(svc), faster, fidelity="flow", duration_s=5.0, seed=1,
        config=EngineConfig(bin_s=5.0, solver_numpy_min_classes=1),
    )  # fmt: skip
    assert result.services["s"].latency.total_s == pytest.approx(0.0075, rel=1e-9)
    assert result.counters["numpy_solves"] == 0


def test_a_flow_due_just_over_a_nanosecond_after_another_of_its_class_ends_on_its_own():
    # Two flows leave a for b at 1.0 s on one class, 0.5 MB/s each: 1000 B and 1000.0008 B.
    # The first is done at 1.002 s; a completion also takes the flows due within 1 ns of
    # it at their rate (0.0005 B, plus 1e-6 B of slack), and 0.0008 B is more: the second
    # goes on alone at 1 MB/s and is done 0.8 ns later.
    topo = make_topology([("a", "b", 8e6, 0.0)])
    one = traced("one", ("a",), "b", [1.0], request_bytes=1000)
    two = traced("two", ("a",), "b", [1.0], request_bytes=1000.0008)
    result = run(
        topo, Demand(services=(one, two), start=MONDAY), fidelity="flow", duration_s=5.0,
        seed=1, config=EngineConfig(bin_s=5.0),
    )  # fmt: skip
    assert result.services["one"].latency.total_s == pytest.approx(0.002, abs=1e-15)
    assert result.services["two"].latency.total_s == pytest.approx(0.002 + 8e-10, abs=1e-15)


def test_the_peak_of_active_flows_is_kept_when_fewer_flows_follow():
    # 1000 B and 2000 B leave a for b at 1.0 s, one class at 0.5 MB/s each: two flows are
    # active until 1.002 s, then one (alone at 1 MB/s, done at 1.003 s): the peak is two
    topo = make_topology([("a", "b", 8e6, 0.0)])
    one = traced("one", ("a",), "b", [1.0], request_bytes=1000)
    two = traced("two", ("a",), "b", [1.0], request_bytes=2000)
    result = run(
        topo, Demand(services=(one, two), start=MONDAY), fidelity="flow", duration_s=5.0,
        seed=1, config=EngineConfig(bin_s=5.0),
    )  # fmt: skip
    assert result.services["two"].latency.total_s == pytest.approx(0.003, rel=1e-12)
    assert result.counters["peak_active_flows"] == 2
    assert result.counters["active_flows_at_end"] == 0
