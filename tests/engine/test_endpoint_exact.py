"""The seam's small parts at their edges: observers chained, and SIMULATE surviving a copy."""

from __future__ import annotations

import copy
import pickle

import pytest

from lgwan_sim.engine import (
    SIMULATE,
    EngineConfig,
    EngineInputs,
    EventKind,
    FakeEndpoint,
    Observer,
    Observers,
    Timeline,
    TimelineEvent,
    build,
    run,
)
from lgwan_sim.network import SiteKind
from tests.engine.support import demand, make_topology, traced


class Log(Observer):
    """Writes what it sees, under its name, into a log shared with other observers."""

    def __init__(self, name: str, log: list[tuple[str, str, float]]) -> None:
        self.name = name
        self.log = log

    def on_event(self, event):
        self.log.append((self.name, f"event {event.kind}", event.at_s))

    def on_bin(self, record):
        self.log.append((self.name, "bin", record.end_s))

    def on_drop(self, record):
        self.log.append((self.name, f"drop {record.reason}", record.at_s))


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_observers_pass_every_event_bin_and_drop_to_each_in_the_order_given(fidelity):
    # z's only line goes to y, which has none to the host h: z's requests (the 2nd and 4th,
    # at 2 s and 12 s) are dropped as no_route when they leave; y goes down at 15 s.
    topo = make_topology(
        [("x", "h", 1e8, 0.001), ("y", "z", 1e8, 0.001)], kinds={"h": SiteKind.ASP}
    )
    svc = traced("s", ("x", "z"), "h", [1.0, 2.0, 11.0, 12.0], request_bytes=1000)
    down = Timeline(events=(TimelineEvent(at_s=15.0, kind=EventKind.SITE_DOWN, sites=("y",)),))
    log: list[tuple[str, str, float]] = []
    run(
        topo, demand(svc), down, fidelity=fidelity, duration_s=20.0, seed=1,
        config=EngineConfig(bin_s=10.0, convergence_delay_s=0.0),
        observer=Observers(Log("a", log), Log("b", log)),
    )  # fmt: skip
    seen = [
        ("drop no_route", 2.0),
        ("bin", 10.0),
        ("drop no_route", 12.0),
        ("event site_down", 15.0),
        ("event converged", 15.0),
        ("bin", 20.0),
    ]
    assert log == [(name, what, t) for what, t in seen for name in ("a", "b")]


def test_simulate_stays_itself_through_a_copy_or_a_pickle():
    # an endpoint behind a process boundary sends its answer back pickled
    assert copy.copy(SIMULATE) is SIMULATE
    assert copy.deepcopy(SIMULATE) is SIMULATE
    assert pickle.loads(pickle.dumps(SIMULATE)) is SIMULATE
    assert type(SIMULATE)() is SIMULATE
    assert repr(SIMULATE) == "SIMULATE"
    # and a silent answer (None, respond later) is not taken for it
    assert SIMULATE is not None


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_an_endpoint_answering_with_a_pickled_simulate_leaves_the_site_to_the_engine(fidelity):
    # a - b at 8 Mb/s, 1 ms, a request-response exchange at 1 s with 10 ms of service
    topo = make_topology([("a", "b", 8e6, 0.001)])
    svc = traced(
        "rr", ("a",), "b", [1.0], request_bytes=1000, response_bytes=1000, service_time_s=0.01
    )
    inputs = EngineInputs(
        topology=topo, demand=demand(svc), fidelity=fidelity, duration_s=5.0, seed=1
    )
    answer = pickle.dumps(SIMULATE)
    service = FakeEndpoint(lambda m, t: pickle.loads(answer))
    result = build(inputs, endpoints={"b": service}).finish()
    alone = build(inputs).finish()
    assert len(service.received) == 1
    stats = result.services["rr"]
    assert (stats.delivered, stats.in_flight) == (1, 0)
    # both legs over the line and the service time, as without an endpoint
    wire = {"flow": 1000 * 8 / 8e6, "packet": 1040 * 8 / 8e6}[fidelity]
    assert stats.latency.mean == pytest.approx(2 * (wire + 0.001) + 0.01, rel=1e-9)
    assert stats.latency.mean == alone.services["rr"].latency.mean
