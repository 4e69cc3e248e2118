"""The engine's seam: stepping from outside, endpoints, injected requests, apply, observer."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from lgwan_sim.engine import (
    SIMULATE,
    EngineConfig,
    EngineInputs,
    EventKind,
    FakeEndpoint,
    LossModel,
    Message,
    Observer,
    Reply,
    Timeline,
    TimelineEvent,
    build,
    run,
)
from lgwan_sim.errors import InputError
from lgwan_sim.scenario import bundled_scenarios, engine_inputs, load_scenario
from lgwan_sim.traffic import ServiceDemand, SizeDist
from tests.engine.support import demand, make_topology

FIDELITIES = ("analytic", "flow", "packet")


def dump(result) -> str:
    return json.dumps(result.to_dict(), sort_keys=True)


def zoom_inputs(fidelity: str, hours: float) -> EngineInputs:
    path = next(b.path for b in bundled_scenarios() if b.name == "packet-zoom")
    inputs = engine_inputs(load_scenario(path))
    return dataclasses.replace(inputs, fidelity=fidelity, duration_s=hours * 3600.0)


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_a_thousand_uneven_steps_give_the_same_result_as_one_run(fidelity):
    # packet-zoom's events fall in its second and third hours: 3 h covers them all
    inputs = zoom_inputs(fidelity, 3.0 if fidelity != "packet" else 2.5)
    whole = build(inputs).finish()
    rng = random.Random(7)
    times = sorted(rng.uniform(0.0, inputs.duration_s) for _ in range(1000))
    engine = build(inputs)
    for t in times:
        engine.advance_to(t)
        assert engine.now_s == t
    stepped = engine.finish()
    assert dump(stepped) == dump(whole)
    assert stepped.events, "the steps must cross the scenario's events"


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_run_of_the_record_is_build_then_finish_and_the_fields_form_is_the_same(fidelity):
    inputs = zoom_inputs(fidelity, 1.0)
    seen: list[float] = []
    whole = dump(run(inputs, progress=seen.append))
    assert whole == dump(build(inputs).finish())
    assert seen
    assert seen[-1] == inputs.duration_s
    by_fields = run(
        inputs.topology,
        inputs.demand,
        inputs.timeline,
        fidelity=fidelity,
        duration_s=inputs.duration_s,
        seed=inputs.seed,
        config=inputs.config,
    )
    assert dump(by_fields) == whole


def test_run_refuses_a_record_and_fields_together():
    inputs = zoom_inputs("analytic", 1.0)
    with pytest.raises(InputError) as err:
        run(inputs, seed=3)  # type: ignore[call-overload]
    assert err.value.field == "seed"
    with pytest.raises(InputError) as err:
        run(inputs.topology, None, duration_s=60.0, seed=1)  # type: ignore[call-overload]
    assert err.value.field == "demand"


def test_run_of_a_record_takes_no_fidelity_of_its_own():
    inputs = zoom_inputs("analytic", 0.25)
    assert run(inputs).fidelity == inputs.fidelity  # the default fidelity is not "given"
    for fidelity in ("flow", "packet"):
        with pytest.raises(InputError) as err:
            run(inputs, fidelity=fidelity)  # type: ignore[call-overload]
        assert err.value.field == "fidelity"


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_path_is_routings_view_and_follows_a_failure_once_it_converges(fidelity):
    from lgwan_sim.errors import UnknownSiteError

    # packet-zoom: a star through core; its first event (Morioka's line) comes at +1 h
    engine = build(zoom_inputs(fidelity, 2.0))
    assert engine.path("m1", "dc-b") == ("m1", "core", "dc-b")
    assert engine.path("dc-b", "m2") == ("dc-b", "core", "m2")
    engine.advance_to(60.0)
    engine.apply(TimelineEvent(at_s=60.0, kind=EventKind.LINK_DOWN, links=("core~dc-b",)))
    engine.advance_to(61.0)
    # routing's view until it converges (the black hole before convergence)
    assert engine.path("m1", "dc-b") == ("m1", "core", "dc-b")
    engine.advance_to(60.0 + EngineConfig().convergence_delay_s + 1.0)
    assert engine.path("m1", "dc-b") is None  # converged: no way to Osaka is left
    assert engine.path("m1", "dc-a") == ("m1", "core", "dc-a")
    engine.apply(TimelineEvent(at_s=120.0, kind=EventKind.LINK_UP, links=("core~dc-b",)))
    engine.advance_to(1800.0)
    assert engine.path("m1", "dc-b") == ("m1", "core", "dc-b")
    with pytest.raises(UnknownSiteError):
        engine.path("m1", "nowhere")


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_peek_is_when_the_next_thing_happens(fidelity):
    inputs = zoom_inputs(fidelity, 0.5)
    engine = build(inputs)
    assert 0.0 <= engine.peek() <= inputs.duration_s
    steps = 0
    while (t := engine.peek()) < inputs.duration_s and steps < 200:
        engine.advance_to(t + 1e-9)
        assert engine.peek() >= t
        steps += 1
    assert steps > 0


def rpc_world(*, trace_s=(1.0, 2.5, 4.0), one_way=False):
    """a-b-c, 100 Mbit/s and 1 ms a hop; a service at c called from a at ``trace_s``."""
    topo = make_topology([("a", "b", 1e8, 0.001), ("b", "c", 1e8, 0.001)])
    svc = ServiceDemand(
        name="dir",
        primary="c",
        callers=("a",),
        requests_per_day=0.0,
        request_size=SizeDist.fixed(1250.0),
        response_size=SizeDist.fixed(1000.0),
        arrivals="trace",
        trace_s=tuple(trace_s),
        one_way=one_way,
    )
    return topo, demand(svc)


# one-way delay of a leg of `size` bytes over a-b-c, by fidelity (docs/engine.md):
#   flow:   size*8/C at the bottleneck, then 2 ms of propagation
#   packet: store and forward, one packet (size <= 1460) + 40 header bytes on each of 2 hops
LEG = {
    "flow": lambda size: size * 8 / 1e8 + 0.002,
    "packet": lambda size: 2 * ((size + 40) * 8 / 1e8 + 0.001),
}


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_a_fake_service_answers_with_exactly_the_modelled_latency(fidelity):
    topo, d = rpc_world()
    service = FakeEndpoint(lambda message, at_s: Reply(size_bytes=1000.0, after_s=0.005))
    inputs = EngineInputs(topology=topo, demand=d, fidelity=fidelity, duration_s=10.0, seed=1)
    result = build(inputs, endpoints={"c": service}).finish()
    leg = LEG[fidelity]
    # the whole log of what the service received: each request once, at its modelled time
    assert [(m.service, m.caller, m.host, m.leg) for m, _ in service.received] == [
        ("dir", "a", "c", "request")
    ] * 3
    assert [m.sent_at_s for m, _ in service.received] == [1.0, 2.5, 4.0]
    for message, at_s in service.received:
        assert at_s == pytest.approx(message.sent_at_s + leg(1250.0), abs=1e-12)
    assert len({m.id for m, _ in service.received}) == 3
    stats = result.services["dir"]
    assert (stats.offered, stats.delivered, stats.in_flight, stats.dropped) == (3, 3, 0, {})
    expected = leg(1250.0) + 0.005 + leg(1000.0)
    assert stats.latency.mean == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
@pytest.mark.parametrize("loss", [0.0, 0.3])
def test_the_seam_keeps_nothing_of_an_exchange_that_is_over(fidelity, loss):
    """Delivered or dropped, an exchange handed to an endpoint leaves no id behind: an
    emulation that runs for hours must not keep one per exchange."""
    topo, d = rpc_world(trace_s=tuple(0.01 * i for i in range(1, 400)))
    service = FakeEndpoint(lambda message, at_s: Reply(size_bytes=1000.0, after_s=0.001))
    impair = TimelineEvent(
        at_s=0.0, kind=EventKind.LINK_LOSS, links=("a~b",), loss=LossModel.random(loss)
    )
    inputs = EngineInputs(
        topology=topo,
        demand=d,
        timeline=Timeline(events=(impair,) if loss else ()),
        fidelity=fidelity,
        duration_s=10.0,
        seed=1,
    )
    engine = build(inputs, endpoints={"c": service})
    stats = engine.finish().services["dir"]
    assert stats.offered == 399
    assert stats.in_flight == 0
    assert (stats.dropped.get("link_loss", 0) > 0) == (loss > 0)
    assert engine.ids == {}  # type: ignore[attr-defined]


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_a_silent_endpoint_leaves_its_requests_in_flight(fidelity):
    topo, d = rpc_world()
    silent = FakeEndpoint(lambda message, at_s: None)
    inputs = EngineInputs(topology=topo, demand=d, fidelity=fidelity, duration_s=10.0, seed=1)
    engine = build(inputs, endpoints={"c": silent})
    result = engine.finish()
    stats = result.services["dir"]
    assert (stats.offered, stats.delivered, stats.in_flight) == (3, 0, 3)
    assert result.balanced


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_a_real_service_answers_later_through_respond(fidelity):
    topo, d = rpc_world(trace_s=(1.0,))
    inbox: list[tuple[Message, float]] = []
    inputs = EngineInputs(topology=topo, demand=d, fidelity=fidelity, duration_s=10.0, seed=1)
    engine = build(inputs, endpoints={"c": FakeEndpoint(lambda m, t: inbox.append((m, t)))})
    engine.advance_to(2.0)
    ((message, at_s),) = inbox
    assert at_s == pytest.approx(1.0 + LEG[fidelity](1250.0), abs=1e-12)
    assert engine.peek() == float("inf")  # nothing happens until the service answers
    engine.respond(message, 1000.0, 2.0)
    with pytest.raises(InputError, match="no request with this id"):
        engine.respond(message, 1000.0, 2.0)
    result = engine.finish()
    stats = result.services["dir"]
    assert (stats.offered, stats.delivered) == (1, 1)
    assert stats.latency.mean == pytest.approx(2.0 - 1.0 + LEG[fidelity](1000.0), rel=1e-9)


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_an_injected_request_is_accounted_like_any_other(fidelity):
    topo, d = rpc_world(trace_s=(1.0,))
    client = FakeEndpoint(lambda m, t: None)
    service = FakeEndpoint(lambda m, t: Reply(size_bytes=100.0, after_s=0.001))
    inputs = EngineInputs(topology=topo, demand=d, fidelity=fidelity, duration_s=10.0, seed=1)
    engine = build(inputs, endpoints={"a": client, "c": service})
    engine.advance_to(3.0)
    sent = engine.inject("dir", "a", 500.0, 3.5)
    assert (sent.service, sent.caller, sent.host, sent.leg) == ("dir", "a", "c", "request")
    result = engine.finish()
    stats = result.services["dir"]
    assert (stats.offered, stats.delivered, stats.in_flight) == (2, 2, 0)
    # the service saw both; the client got the response to its own request, by id
    assert [m.sent_at_s for m, _ in service.received] == [1.0, 3.5]
    responses = [(m, t) for m, t in client.received]
    assert [m.leg for m, _ in responses] == ["response", "response"]
    mine = [t for m, t in responses if m.id == sent.id]
    leg = LEG[fidelity]
    assert mine == [pytest.approx(3.5 + leg(500.0) + 0.001 + leg(100.0), abs=1e-12)]


def test_bad_seam_calls_name_their_field():
    topo, d = rpc_world()
    engine = build(EngineInputs(topology=topo, demand=d, fidelity="flow", duration_s=10.0, seed=1))
    engine.advance_to(5.0)
    for call, field in (
        (lambda: engine.inject("nope", "a", 1.0, 6.0), "service"),
        (lambda: engine.inject("dir", "zz", 1.0, 6.0), "caller_site"),
        (lambda: engine.inject("dir", "a", float("nan"), 6.0), "size_bytes"),
        (lambda: engine.inject("dir", "a", 1.0, 4.0), "at_s"),
        (lambda: engine.advance_to(1.0), "t_s"),
        (
            lambda: engine.apply(TimelineEvent(at_s=1.0, kind=EventKind.LINK_DOWN, links=("a~b",))),
            "at_s",
        ),
    ):
        with pytest.raises(InputError) as info:
            call()
        assert info.value.field == field
    with pytest.raises(InputError) as info:
        build(
            EngineInputs(topology=topo, demand=d, fidelity="flow", duration_s=1.0, seed=1),
            endpoints={"zz": FakeEndpoint(lambda m, t: None)},
        )
    assert info.value.field == "endpoints"
    with pytest.raises(InputError, match="analytic"):
        build(
            EngineInputs(topology=topo, demand=d, duration_s=1.0, seed=1),
            endpoints={"c": FakeEndpoint(lambda m, t: None)},
        )


def diamond_inputs(fidelity: str, timeline: Timeline | None = None) -> EngineInputs:
    topo = make_topology(
        [
            ("a", "b", 1e8, 0.001),
            ("b", "c", 1e8, 0.001),
            ("a", "d", 1e8, 0.005),
            ("d", "c", 1e8, 0.005),
        ]
    )
    svc = ServiceDemand(
        name="dir",
        primary="c",
        callers=("a", "b", "d"),
        requests_per_day=400.0 * 86400,
        request_size=SizeDist.exponential(20_000.0),
        response_size=SizeDist.fixed(4_000.0),
    )
    return EngineInputs(
        topology=topo,
        demand=demand(svc),
        timeline=timeline or Timeline(),
        fidelity=fidelity,
        duration_s=30.0,
        seed=5,
    )


CUT = TimelineEvent(at_s=10.0, kind=EventKind.LINK_DOWN, links=("b~c",), note="cut")
MEND = TimelineEvent(at_s=20.0, kind=EventKind.LINK_UP, links=("b~c",), note="mend")


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_apply_mid_run_is_the_same_as_a_scheduled_event(fidelity):
    scheduled = build(diamond_inputs(fidelity, Timeline(events=(CUT, MEND)))).finish()
    engine = build(diamond_inputs(fidelity))
    engine.advance_to(10.0)
    engine.apply(CUT)
    engine.advance_to(15.0)
    engine.apply(MEND)  # later than now: it waits for its time
    applied = engine.finish()
    assert dump(applied) == dump(scheduled)
    if fidelity != "analytic":
        assert scheduled.dropped.get("link_failure", 0) > 0


class Recorder(Observer):
    def __init__(self):
        self.events, self.bins, self.drops = [], [], []

    def on_event(self, event):
        self.events.append(event)

    def on_bin(self, record):
        self.bins.append(record)

    def on_drop(self, record):
        self.drops.append(record)


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_the_observer_sees_what_the_result_records(fidelity):
    inputs = dataclasses.replace(
        diamond_inputs(fidelity, Timeline(events=(CUT, MEND))),
        config=dataclasses.replace(diamond_inputs(fidelity).config, bin_s=7.0),
    )
    seen = Recorder()
    result = build(inputs, observer=seen).finish()
    assert seen.events == list(result.events)
    assert [b.index for b in seen.bins] == list(range(result.n_bins))
    assert [b.end_s for b in seen.bins] == [7.0, 14.0, 21.0, 28.0, 30.0]
    for record in seen.bins:
        assert record.utilisation.tolist() == result.link_utilisation[:, record.index].tolist()
        assert record.offered["dir"] == pytest.approx(
            float(result.offered_per_bin["dir"][record.index]), abs=1.0
        )
    if fidelity == "analytic":
        lost = sum(sum(b.dropped["dir"].values()) for b in seen.bins)
        assert lost == pytest.approx(sum(result.dropped.values()), abs=1.0)
    else:
        by_reason: dict[str, int] = {}
        for d in seen.drops:
            by_reason[d.reason] = by_reason.get(d.reason, 0) + 1
        assert by_reason == result.dropped
        assert sum(sum(b.dropped["dir"].values()) for b in seen.bins) == len(seen.drops)
        times = [d.at_s for d in seen.drops]
        assert times == sorted(times)
        assert all(0.0 <= t <= 30.0 for t in times)
        # the cut's own losses are told at the cut
        assert sum(1 for d in seen.drops if d.at_s == 10.0 and d.reason == "link_failure") > 0
        for record in seen.bins:
            assert record.delivered["dir"] == result.delivered_per_bin["dir"][record.index]


class Announced(FakeEndpoint):
    """A fake endpoint that is also told when a leg toward its site leaves (``departing``)."""

    def __init__(self, handler) -> None:
        super().__init__(handler)
        self.departed: list[tuple[Message, float]] = []

    def departing(self, message: Message, at_s: float) -> None:
        self.departed.append((message, at_s))


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
@pytest.mark.parametrize("told", [False, True], ids=["receive", "and-departing"])
def test_an_endpoint_that_leaves_every_message_to_the_engine_changes_nothing(fidelity, told):
    """Nor does being told of every leg's departure (the ids it mints go with the exchange)."""
    inputs = zoom_inputs(fidelity, 0.5)
    whole = build(inputs).finish()
    passing = (Announced if told else FakeEndpoint)(lambda m, t: SIMULATE)
    hosts = sorted({s.primary for s in inputs.demand.services})
    callers = sorted({c for s in inputs.demand.services for c in s.callers})[:20]
    engine = build(inputs, endpoints={site: passing for site in hosts + callers})
    passed = engine.finish()
    assert passing.received, "the endpoints must have been asked"
    assert {m.leg for m, _ in passing.received} == {"request", "response"}
    a, b = whole.to_dict(), passed.to_dict()
    a.pop("wall_s", None)
    b.pop("wall_s", None)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert not engine.ids, "simulated exchanges keep no seam ids"  # type: ignore[attr-defined]
    if told:
        departed = passing.departed  # type: ignore[attr-defined]
        assert len(departed) >= len(passing.received)
        assert {m.id for m, _ in passing.received} <= {m.id for m, _ in departed}


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_an_endpoint_is_told_when_a_leg_toward_it_leaves_with_the_id_it_will_receive(fidelity):
    topo, d = rpc_world()
    service = Announced(lambda m, t: Reply(size_bytes=1000.0, after_s=0.005))
    caller = Announced(lambda m, t: None)
    inputs = EngineInputs(topology=topo, demand=d, fidelity=fidelity, duration_s=10.0, seed=1)
    engine = build(inputs, endpoints={"c": service, "a": caller})
    engine.advance_to(2.0)
    # the first request left at 1.0 and was received; the second has not left yet
    assert [(m.leg, t) for m, t in service.departed] == [("request", 1.0)]
    result = engine.finish()
    leg = LEG[fidelity]
    # each request: announced as it leaves a (its offer), then received with the same id
    assert [(m.leg, m.caller, m.host, t) for m, t in service.departed] == [
        ("request", "a", "c", t0) for t0 in (1.0, 2.5, 4.0)
    ]
    assert [m for m, _ in service.departed] == [m for m, _ in service.received]
    # each response: announced to the caller's endpoint when the service's reply leaves c
    replies = [t0 + leg(1250.0) + 0.005 for t0 in (1.0, 2.5, 4.0)]
    assert [m.leg for m, _ in caller.departed] == ["response"] * 3
    assert [t for _, t in caller.departed] == pytest.approx(replies, abs=1e-12)
    assert [m.id for m, _ in caller.departed] == [m.id for m, _ in service.received]
    assert [m for m, _ in caller.departed] == [m for m, _ in caller.received]
    stats = result.services["dir"]
    assert (stats.offered, stats.delivered, stats.in_flight) == (3, 3, 0)
    assert engine.ids == {}  # type: ignore[attr-defined]


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_a_leg_lost_on_its_way_was_announced_and_its_drop_carries_the_id(fidelity):
    topo, d = rpc_world()
    service = Announced(lambda m, t: Reply(size_bytes=1000.0))
    drops: list = []

    class Drops(Observer):
        def on_drop(self, record):
            drops.append(record)

    lossy = TimelineEvent(
        at_s=0.0, kind=EventKind.LINK_LOSS, links=("a~b",), loss=LossModel.random(1.0)
    )
    inputs = EngineInputs(
        topology=topo,
        demand=d,
        timeline=Timeline(events=(lossy,)),
        fidelity=fidelity,
        duration_s=10.0,
        seed=1,
    )
    engine = build(inputs, endpoints={"c": service}, observer=Drops())
    result = engine.finish()
    assert service.received == []
    assert len(service.departed) == 3
    assert [(r.reason, r.message_id) for r in drops] == [
        ("link_loss", m.id) for m, _ in service.departed
    ]
    assert result.services["dir"].dropped == {"link_loss": 3}
    assert engine.ids == {}  # type: ignore[attr-defined]


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_an_endpoint_attached_mid_run_gets_what_arrives_after(fidelity):
    topo, d = rpc_world()
    inputs = EngineInputs(topology=topo, demand=d, fidelity=fidelity, duration_s=10.0, seed=1)
    engine = build(inputs)
    engine.advance_to(2.0)
    service = FakeEndpoint(lambda m, t: Reply(size_bytes=1000.0))
    engine.attach("c", service)  # type: ignore[attr-defined]
    engine.advance_to(3.0)
    engine.detach("c")  # type: ignore[attr-defined]
    result = engine.finish()
    assert [m.sent_at_s for m, _ in service.received] == [2.5]
    stats = result.services["dir"]
    assert (stats.offered, stats.delivered, stats.in_flight) == (3, 3, 0)
    with pytest.raises(InputError, match="unknown site"):
        engine.attach("nowhere", service)  # type: ignore[attr-defined]


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_a_discarded_request_is_dropped_with_its_reason_and_its_id(fidelity):
    topo, d = rpc_world(trace_s=(1.0, 2.0))
    inbox: list[Message] = []
    drops: list = []

    class Drops(Observer):
        def on_drop(self, record):
            drops.append(record)

    inputs = EngineInputs(topology=topo, demand=d, fidelity=fidelity, duration_s=10.0, seed=1)
    engine = build(
        inputs,
        endpoints={"c": FakeEndpoint(lambda m, t: inbox.append(m))},
        observer=Drops(),
    )
    engine.advance_to(5.0)
    first, second = inbox
    engine.discard(first, "no_service")  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="no request with this id"):
        engine.discard(first, "no_service")  # type: ignore[attr-defined]
    engine.respond(second, 10.0, 5.0)
    result = engine.finish()
    stats = result.services["dir"]
    assert (stats.offered, stats.delivered, stats.in_flight) == (2, 1, 0)
    assert stats.dropped == {"no_service": 1}
    assert result.balanced
    assert [(r.reason, r.message_id, r.at_s) for r in drops] == [("no_service", first.id, 5.0)]


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_a_run_ended_now_is_the_run_of_that_duration(fidelity):
    # ending at 20 min counts exactly what a 20-minute run counts: offered, delivered,
    # in flight, per-bin series, the same bins
    inputs = zoom_inputs(fidelity, 1.0)
    short = build(dataclasses.replace(inputs, duration_s=1200.0)).finish()
    engine = build(inputs)
    engine.advance_to(1200.0)
    engine.end_now()  # type: ignore[attr-defined]
    assert engine.peek() == float("inf")
    ended = engine.finish()
    a, b = short.to_dict(), ended.to_dict()
    a.pop("wall_s", None)
    b.pop("wall_s", None)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert sum(s.offered for s in ended.services.values()) > 0
