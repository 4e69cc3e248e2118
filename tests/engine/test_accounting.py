"""offered = delivered + dropped + in flight, with in flight counted from the engine's own state.

In flight is not a counter: each fidelity counts the exchanges its structures still hold
(packets and acks on links, flows in classes, flows held for a reroute, exchanges at their
host). An exchange the engine forgets therefore breaks the identity, and the run raises
:class:`AccountingError` instead of reporting numbers that add up by construction.
"""

from __future__ import annotations

import json

import pytest

from lgwan_sim.engine import EngineConfig, EventKind, Timeline, TimelineEvent, _analytic, run
from lgwan_sim.engine._event_engine import EventEngine
from lgwan_sim.errors import AccountingError
from lgwan_sim.traffic import ServiceDemand, SizeDist
from tests.engine.support import demand, make_topology, one_way

FIDELITIES = ("analytic", "flow", "packet")


def _two_path_topology():
    # a reaches c over b (1 ms hops) or, once a~b is cut and routing converged, over d
    return make_topology(
        [
            ("a", "b", 1e7, 0.001),
            ("b", "c", 1e7, 0.001),
            ("a", "d", 1e7, 0.005),
            ("d", "c", 1e7, 0.005),
        ]
    )


def _exchange(rate_per_s: float, size: SizeDist) -> ServiceDemand:
    """Requests from a to c with a 20 ms service time and a 5 kB response."""
    return ServiceDemand(
        name="x",
        primary="c",
        callers=("a",),
        requests_per_day=rate_per_s * 86400.0,
        request_size=size,
        response_size=SizeDist.fixed(5_000.0),
        service_time_s=0.02,
    )


CUT = Timeline(
    events=(
        TimelineEvent(at_s=20.0, kind=EventKind.LINK_DOWN, links=("a~b",)),
        TimelineEvent(at_s=40.0, kind=EventKind.LINK_UP, links=("a~b",)),
        TimelineEvent(at_s=59.0, kind=EventKind.LINK_DOWN, links=("b~c",)),
    )
)


def _run(fidelity: str, **config: object):
    d = demand(_exchange(40.0, SizeDist.exponential(100_000.0)))
    return run(
        _two_path_topology(),
        d,
        CUT,
        fidelity=fidelity,
        duration_s=60.0,
        seed=3,
        config=EngineConfig(bin_s=10.0, **config),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_in_flight_is_what_the_engine_still_holds(fidelity: str) -> None:
    """A 50 MB request sent 1 s before the end, and an exchange waiting at its host."""
    topo = make_topology([("a", "b", 1e8, 0.001)])
    big = one_way("big", ("a",), "b", rate_per_s=1.0, size=SizeDist.fixed(50e6))
    big = ServiceDemand(**{**_fields(big), "arrivals": "trace", "trace_s": (9.0,)})
    slow = ServiceDemand(
        name="slow",
        primary="b",
        callers=("a",),
        requests_per_day=1.0,
        request_size=SizeDist.fixed(100.0),
        response_size=SizeDist.fixed(100.0),
        service_time_s=5.0,
        arrivals="trace",
        trace_s=(1.0, 8.0),
    )
    result = run(topo, demand(big, slow), fidelity=fidelity, duration_s=10.0, seed=1)
    assert result.services["big"].in_flight == 1
    assert (result.services["slow"].delivered, result.services["slow"].in_flight) == (1, 1)
    assert result.balanced


def _fields(svc: ServiceDemand) -> dict[str, object]:
    return {name: getattr(svc, name) for name in svc.__dataclass_fields__}


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_a_drop_that_is_not_counted_is_an_accounting_error(fidelity: str, monkeypatch) -> None:
    """Plant a leak: link failures end the message but are not counted as drops."""
    honest = EventEngine.drop

    def leaky(self, msg, reason):
        if reason == "link_failure":
            msg.alive = False  # forgotten: neither dropped nor in flight
            return
        honest(self, msg, reason)

    baseline = _run(fidelity)
    assert baseline.dropped.get("link_failure", 0) > 0
    monkeypatch.setattr(EventEngine, "drop", leaky)
    with pytest.raises(AccountingError, match="lost track of exchanges"):
        _run(fidelity)


def test_an_analytic_loss_that_is_not_counted_is_an_accounting_error(monkeypatch) -> None:
    """Plant a leak: callers cut off are neither delivered nor counted as lost."""
    honest = _analytic._snapshot

    def leaky(state, svc, n_links):
        snap = honest(state, svc, n_links)
        snap.lost["link_failure"] = 0
        return snap

    baseline = _run("analytic")
    assert baseline.dropped.get("link_failure", 0) > 0
    monkeypatch.setattr(_analytic, "_snapshot", leaky)
    with pytest.raises(AccountingError, match="lost track of exchanges"):
        _run("analytic")


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_drain_leaves_nothing_in_flight(fidelity: str) -> None:
    """With drain the run goes on after the end until every exchange is finished."""
    plain = _run(fidelity)
    drained = _run(fidelity, drain=True)
    assert drained.in_flight == 0
    assert drained.balanced
    assert drained.offered == plain.offered
    if fidelity != "analytic":
        assert plain.in_flight > 0
    # what was in flight at the end is now delivered or dropped; the bins are unchanged
    assert drained.delivered + sum(drained.dropped.values()) == plain.offered
    assert drained.delivered >= plain.delivered
    assert drained.digest() == plain.digest()
    assert sum(s.latency.count for s in drained.services.values()) == drained.delivered


def test_drain_waits_for_the_reroute_that_converges_after_the_end() -> None:
    """Flows held for a reroute when b~c fails at 59 s move to a-d-c at 62 s, after the end."""
    plain = _run("flow", failed_flows="reroute")
    drained = _run("flow", failed_flows="reroute", drain=True)
    assert plain.in_flight > 0
    assert drained.in_flight == 0
    # legs that start on the dead route before it converges are black-holed, as in the run
    assert set(drained.dropped) == set(plain.dropped) == {"link_failure"}
    converged = [e for e in drained.events if e.kind == "converged" and e.at_s > 60.0]
    assert converged
    assert converged[0].messages_rerouted > 0


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_drain_is_deterministic(fidelity: str) -> None:
    first = json.dumps(_run(fidelity, drain=True).to_dict(), sort_keys=True)
    assert json.dumps(_run(fidelity, drain=True).to_dict(), sort_keys=True) == first
