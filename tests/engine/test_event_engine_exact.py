"""The event fidelities' common bookkeeping at its edges, worked out by hand: the count of
unreachable local bodies from the first instant, and a convergence on the run's last
instant when the run drains."""

from __future__ import annotations

import math
import time

import pytest

from lgwan_sim.engine import (
    SIMULATE,
    EngineConfig,
    EngineInputs,
    EventKind,
    FakeEndpoint,
    Observer,
    Observers,
    Reply,
    Timeline,
    TimelineEvent,
    build,
    run,
)
from lgwan_sim.errors import InputError
from lgwan_sim.network import SiteKind
from lgwan_sim.traffic import SizeDist
from tests.engine.support import bucket_middle, demand, make_topology, one_way, traced

FIDELITIES = ["analytic", "flow", "packet"]


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_a_caller_cut_off_from_the_start_is_unreachable_in_every_bin(fidelity):
    # z has a line, but only to y, which has no line to the host h: no route from 0 s on.
    topo = make_topology(
        [("x", "h", 1e8, 0.001), ("y", "z", 1e8, 0.001)], kinds={"h": SiteKind.ASP}
    )
    svc = traced("s", ("x", "z"), "h", [1.0, 2.0, 11.0, 12.0], request_bytes=1000)
    result = run(
        topo, demand(svc), fidelity=fidelity, duration_s=30.0, seed=1,
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
        topo, demand(svc), down, fidelity=fidelity, duration_s=30.0, seed=1,
        config=EngineConfig(bin_s=10.0, convergence_delay_s=3.0, drain=True),
    )  # fmt: skip
    assert [(e.at_s, e.kind) for e in result.events] == [(27.0, "site_down"), (30.0, "converged")]
    assert result.unreachable_local_bodies.tolist() == [0, 0, 1]
    assert result.services["s"].delivered == 2


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_an_event_of_the_timeline_comes_before_a_convergence_due_at_the_same_instant(fidelity):
    # x down at 5 s, up at 8 s, 3 s of convergence: the restoration (scheduled with the
    # timeline) is applied at 8 s before the convergence of the failure (scheduled at 5 s).
    topo = make_topology(
        [("x", "h", 1e8, 0.001), ("y", "h", 1e8, 0.001)], kinds={"h": SiteKind.ASP}
    )
    svc = traced("s", ("x", "y"), "h", [1.0, 2.0], request_bytes=1000)
    events = Timeline(
        events=(
            TimelineEvent(at_s=5.0, kind=EventKind.SITE_DOWN, sites=("x",)),
            TimelineEvent(at_s=8.0, kind=EventKind.SITE_UP, sites=("x",)),
        )
    )
    result = run(
        topo, demand(svc), events, fidelity=fidelity, duration_s=20.0, seed=1,
        config=EngineConfig(bin_s=10.0, convergence_delay_s=3.0),
    )  # fmt: skip
    assert [(e.at_s, e.kind, e.note) for e in result.events] == [
        (5.0, "site_down", ""),
        (8.0, "site_up", ""),
        (8.0, "converged", "routing after site_down at 5s"),
        (11.0, "converged", "routing after site_up at 8s"),
    ]
    # x is cut off from 5 s (down) to 11 s (routing learns it is back)
    assert result.unreachable_local_bodies.tolist() == [1, 1]


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_a_drained_run_never_applies_a_timeline_event_due_at_the_end(fidelity):
    # the failure is due at 30 s, the end: a drained run goes on for what is under way,
    # but the timeline stops at the end
    topo = make_topology([("a", "b", 8e6, 0.001)])
    svc = traced("s", ("a",), "b", [29.999], request_bytes=10_000)
    cut = Timeline(events=(TimelineEvent(at_s=30.0, kind=EventKind.LINK_DOWN, links=("a~b",)),))
    result = run(
        topo, demand(svc), cut, fidelity=fidelity, duration_s=30.0, seed=1,
        config=EngineConfig(bin_s=10.0, drain=True),
    )  # fmt: skip
    assert result.events == ()
    assert result.services["s"].delivered == 1
    assert result.counters["delivered_after_end"] == 1


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_an_endpoint_that_replies_without_a_delay_answers_at_once(fidelity):
    # a - b at 8 Mb/s, 1 ms: the endpoint at b answers 1000 B the instant a request arrives
    topo = make_topology([("a", "b", 8e6, 0.001)])
    svc = traced("rr", ("a",), "b", [1.0], request_bytes=460, response_bytes=960)
    service = FakeEndpoint(lambda message, at_s: Reply(size_bytes=1000.0))
    bins, ends = Bins(), []
    inputs = EngineInputs(
        topology=topo, demand=demand(svc), fidelity=fidelity, duration_s=10.0, seed=1,
        config=EngineConfig(bin_s=5.0),
    )  # fmt: skip
    result = build(inputs, endpoints={"b": service}, observer=Observers(bins)).finish()
    ((message, at_s),) = service.received
    assert (message.site, message.leg) == ("b", "request")
    leg = {"flow": lambda n: n * 1e-6 + 0.001, "packet": lambda n: (n + 40) * 1e-6 + 0.001}
    assert at_s == pytest.approx(1.0 + leg[fidelity](460), rel=1e-12)
    assert result.services["rr"].latency.mean == pytest.approx(
        leg[fidelity](460) + leg[fidelity](1000), rel=1e-9
    )
    assert [b.end_s for b in bins.seen] == [5.0, 10.0]
    run(topo, demand(svc), fidelity=fidelity, duration_s=10.0, seed=1,
        config=EngineConfig(bin_s=5.0), progress=ends.append, observer=bins)  # fmt: skip
    assert ends == [5.0, 10.0]
    assert [b.end_s for b in bins.seen] == [5.0, 10.0, 5.0, 10.0]


class Bins(Observer):
    def __init__(self):
        self.seen = []

    def on_bin(self, record):
        self.seen.append(record)


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_a_bin_percentile_counts_every_message_of_a_bucket_once(fidelity):
    # Callers 1, 2 and 4 ms from h at 800 Mb/s, taken in turn: c1, c2, c3, c1 in one bin.
    # Nearest rank, the p50 of four is the second (c1's again), the p95 the fourth (c3's).
    delays = {"c1": 0.001, "c2": 0.002, "c3": 0.004}
    topo = make_topology([(c, "h", 8e8, d) for c, d in delays.items()], kinds={"h": SiteKind.ASP})
    svc = traced("s", tuple(delays), "h", [0.1, 0.2, 0.3, 0.4], request_bytes=1000)
    result = run(
        topo, demand(svc), fidelity=fidelity, duration_s=10.0, seed=1,
        config=EngineConfig(bin_s=10.0),
    )  # fmt: skip
    wire = (1000 + (40 if fidelity == "packet" else 0)) * 8 / 8e8
    assert result.services["s"].delivered == 4
    assert result.latency_p50_s["s"][0] == pytest.approx(
        bucket_middle(wire + delays["c1"]), rel=1e-12
    )
    assert result.latency_p95_s["s"][0] == pytest.approx(
        bucket_middle(wire + delays["c3"]), rel=1e-12
    )


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_requests_injected_one_after_the_other_have_ids_of_their_own(fidelity):
    # a - b at 8 Mb/s, 1 ms; a client at a injects two requests, the service at b answers
    # each 1 ms later: each response reaches the client under its own request's id.
    topo = make_topology([("a", "b", 8e6, 0.001)])
    svc = traced("rr", ("a",), "b", [], request_bytes=1000, response_bytes=1000)
    client = FakeEndpoint(lambda m, t: None)
    service = FakeEndpoint(lambda m, t: Reply(size_bytes=500.0, after_s=0.001))
    inputs = EngineInputs(
        topology=topo, demand=demand(svc), fidelity=fidelity, duration_s=10.0, seed=1
    )
    engine = build(inputs, endpoints={"a": client, "b": service})
    first = engine.inject("rr", "a", 1000.0, 1.0)
    second = engine.inject("rr", "a", 2000.0, 2.0)
    result = engine.finish()
    assert first.id != second.id
    assert [m.id for m, _ in service.received] == [first.id, second.id]
    assert [(m.id, m.leg) for m, _ in client.received] == [
        (first.id, "response"), (second.id, "response")
    ]  # fmt: skip
    assert result.services["rr"].delivered == 2


@pytest.mark.parametrize(
    ("fidelity", "config"),
    [
        ("flow", EngineConfig(max_active_flows=300, overload_sustain_s=5.0)),
        (
            "packet",
            EngineConfig(
                max_queued_packets=300, overload_sustain_s=5.0, buffer_bytes=math.inf,
                mss_bytes=math.inf,
            ),
        ),
    ],
)  # fmt: skip
def test_an_overload_stop_loses_what_the_seam_holds(fidelity, config):
    # a -> b at 1 MB/s with rho = 1.5 overloads within seconds. Meanwhile three requests of
    # rr reach the endpoint at b, or are on their way there, when the run stops: c's is on a
    # 100 s line (flow: an empty request, handed over at 101 s), d's is answered 500 s
    # later, e's is never answered. All three are lost as overload; nothing is left.
    topo = make_topology(
        [("a", "b", 8e6, 0.0), ("c", "b", 8e6, 100.0), ("d", "b", 8e6, 0.001),
         ("e", "b", 8e6, 0.001)]
    )  # fmt: skip
    flood = one_way("s", ("a",), "b", rate_per_s=1500.0, size=SizeDist.exponential(1000.0))
    rr = traced("rr", ("c", "d", "e"), "b", [1.0, 1.0, 1.0], request_bytes=0.0,
                response_bytes=1000)  # fmt: skip
    answers = {"c": None, "d": Reply(size_bytes=1000.0, after_s=500.0), "e": None}
    service = FakeEndpoint(lambda m, t: answers[m.caller] if m.service == "rr" else SIMULATE)
    inputs = EngineInputs(
        topology=topo, demand=demand(flood, rr), fidelity=fidelity, duration_s=600.0,
        seed=2, config=config,
    )  # fmt: skip
    engine = build(inputs, endpoints={"b": service})
    result = engine.finish()
    assert result.overloaded
    assert sorted(m.caller for m, _ in service.received if m.service == "rr") == ["d", "e"]
    stats = result.services["rr"]
    assert (stats.offered, stats.delivered, stats.in_flight) == (3, 0, 0)
    assert dict(stats.dropped) == {"overload": 3}
    # e's exchange is lost: it no longer waits for an answer
    ((e, _),) = [(m, t) for m, t in service.received if m.caller == "e"]
    with pytest.raises(InputError, match="no request with this id"):
        engine.respond(e, 100.0, engine.now_s)


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_the_wall_time_of_a_run_counts_its_drain(fidelity):
    # the one request reaches b after the end: the drain hands it to an endpoint that takes
    # 0.3 s of wall time, which the run's wall time must include
    topo = make_topology([("a", "b", 8e6, 0.01)])
    svc = traced("s", ("a",), "b", [9.999], request_bytes=1000)

    def slow(message, at_s):
        time.sleep(0.3)
        return SIMULATE

    inputs = EngineInputs(
        topology=topo, demand=demand(svc), fidelity=fidelity, duration_s=10.0, seed=1,
        config=EngineConfig(drain=True),
    )  # fmt: skip
    result = build(inputs, endpoints={"b": FakeEndpoint(slow)}).finish()
    assert result.counters["delivered_after_end"] == 1
    assert result.wall_s >= 0.3


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_the_wall_time_of_a_run_counts_its_advances(fidelity):
    # the same, the request reaching b at 1.01 s, well before the end: the advance that
    # hands it over takes the endpoint's 0.3 s
    topo = make_topology([("a", "b", 8e6, 0.01)])
    svc = traced("s", ("a",), "b", [1.0], request_bytes=1000)

    def slow(message, at_s):
        time.sleep(0.3)
        return SIMULATE

    inputs = EngineInputs(
        topology=topo, demand=demand(svc), fidelity=fidelity, duration_s=10.0, seed=1
    )
    engine = build(inputs, endpoints={"b": FakeEndpoint(slow)})
    engine.advance_to(5.0)
    assert engine.wall_s >= 0.3
    result = engine.finish()
    assert result.services["s"].delivered == 1
    assert result.wall_s >= 0.3


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_the_last_bin_runs_to_the_end_when_the_duration_is_a_hair_past_a_whole_bin(fidelity):
    # 10 s + 0.1 ns in 10 s bins is one bin (the count allows 1e-9 of a bin for rounding):
    # it runs to the end, so the request at 10 s + 0.05 ns is offered in it (and, 1 ms
    # away, still in flight at the end) like the three before it
    topo = make_topology([("a", "b", 8e6, 0.001)])
    svc = traced("s", ("a",), "b", [4.0, 6.0, 8.0, 10.0 + 5e-11], request_bytes=1000)
    result = run(
        topo, demand(svc), fidelity=fidelity, duration_s=10.0 + 1e-10, seed=1,
        config=EngineConfig(bin_s=10.0),
    )  # fmt: skip
    stats = result.services["s"]
    assert (stats.offered, stats.delivered, stats.in_flight) == (4, 3, 1)
    assert result.offered_per_bin["s"].tolist() == [4]
    assert result.delivered_per_bin["s"].tolist() == [3]


def test_the_analytic_last_bin_runs_to_the_end_when_the_duration_is_a_hair_past_a_whole_bin():
    # as above: the request traced at 10 s + 0.05 ns falls in the one bin, which runs to the
    # run's end, so the analytic fidelity offers it too (it once ended the bin at 10 s)
    topo = make_topology([("a", "b", 8e6, 0.001)])
    svc = traced("s", ("a",), "b", [4.0, 6.0, 8.0, 10.0 + 5e-11], request_bytes=1000)
    result = run(
        topo, demand(svc), fidelity="analytic", duration_s=10.0 + 1e-10, seed=1,
        config=EngineConfig(bin_s=10.0),
    )  # fmt: skip
    assert result.services["s"].offered == 4
    assert result.offered_per_bin["s"].tolist() == [4]


@pytest.mark.parametrize(
    ("fidelity", "config"),
    [
        ("flow", EngineConfig(bin_s=10.0, max_active_flows=1, overload_sustain_s=6.0)),
        ("packet", EngineConfig(bin_s=10.0, max_queued_packets=1, overload_sustain_s=6.0)),
    ],
)
def test_an_overload_stop_in_the_last_hair_of_a_run_closes_its_one_bin(fidelity, config):
    # 100 kB requests on an 8 kb/s line stay in flight (100 s each): over the limit of one
    # from the second at 4 s on (packet: the first, with the next arrival's entry), the
    # overload has lasted its 6 s at the arrival at 10 s + 0.05 ns, which stops the run
    topo = make_topology([("a", "b", 8e3, 0.001)])
    svc = traced("s", ("a",), "b", [4.0, 4.0, 8.0, 10.0 + 5e-11], request_bytes=100_000)
    result = run(
        topo, demand(svc), fidelity=fidelity, duration_s=10.0 + 1e-10, seed=1, config=config
    )
    assert result.overloaded
    assert result.stopped_at_s == 10.0 + 5e-11
    stats = result.services["s"]
    assert (stats.offered, stats.delivered, stats.in_flight) == (4, 0, 0)
    assert dict(stats.dropped) == {"overload": 4}
    assert result.offered_per_bin["s"].tolist() == [4]
    assert result.link_utilisation.shape == (2, 1)


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_a_caller_cut_off_from_the_start_counts_in_the_first_bin_after_a_failover_mends_it(
    fidelity,
):
    # z's only line goes to the secondary host s2 (the primary h is on an island of its
    # own): z is cut off from 0 s until the service fails over to s2 at 5 s. Bin 0 had one
    # local body cut off for its first half, bin 1 none.
    topo = make_topology(
        [("x", "h", 1e8, 0.001), ("z", "s2", 1e8, 0.001)],
        kinds={"h": SiteKind.ASP, "s2": SiteKind.ASP},
    )
    svc = traced("s", ("z",), "h", [1.0, 12.0], request_bytes=1000, secondary="s2")
    move = Timeline(events=(TimelineEvent(at_s=5.0, kind=EventKind.FAILOVER, service="s"),))
    result = run(
        topo, demand(svc), move, fidelity=fidelity, duration_s=20.0, seed=1,
        config=EngineConfig(bin_s=10.0),
    )  # fmt: skip
    assert result.unreachable_local_bodies.tolist() == [1, 0]


@pytest.mark.parametrize(
    ("fidelity", "config"),
    [
        ("flow", EngineConfig(bin_s=5.0, max_active_flows=1, overload_sustain_s=6.0)),
        ("packet", EngineConfig(bin_s=5.0, max_queued_packets=1, overload_sustain_s=6.0)),
    ],
)
def test_an_overload_stop_on_a_bin_boundary_leaves_the_bin_it_opens_empty(fidelity, config):
    # as above, but the overload stops the run at the arrival at 10 s, the start of bin 2:
    # bins 0 and 1 close as usual, bin 2 closes at its start (no time, nothing carried)
    topo = make_topology([("a", "b", 8e3, 0.001)])
    svc = traced("s", ("a",), "b", [4.0, 4.0, 8.0, 10.0], request_bytes=100_000)
    result = run(topo, demand(svc), fidelity=fidelity, duration_s=20.0, seed=1, config=config)
    assert (result.overloaded, result.stopped_at_s) == (True, 10.0)
    assert result.offered_per_bin["s"].tolist() == [2, 1, 1, 0]
    assert dict(result.services["s"].dropped) == {"overload": 4}
    assert result.link_utilisation[:, 2:].tolist() == [[0.0, 0.0], [0.0, 0.0]]
