"""The analytic fidelity routes every caller of a service at once (``_snapshot``): the same
losses, weights, delays and paths, bit for bit, as routing each caller in turn through
``NetState.route`` and ``route_back``, the definition written out below."""

from __future__ import annotations

import numpy as np
import pytest

from lgwan_sim.engine import EngineConfig, EventKind, TimelineEvent
from lgwan_sim.engine._analytic import REASONS, _snapshot
from lgwan_sim.engine._state import NetState
from lgwan_sim.engine._types import DropReason
from lgwan_sim.traffic import ServiceDemand, SizeDist
from tests.engine.support import demand, make_topology, one_way

# A ring of six with two spurs and a tail: delays that do not add up exactly in floating
# point, so a sum in another order would show in the last bits.
LINKS = [
    ("a", "b", 1e8, 0.0013), ("b", "c", 1e8, 0.0007), ("c", "d", 5e7, 0.0031),
    ("d", "e", 1e8, 0.0011), ("e", "f", 1e8, 0.0029), ("f", "a", 2e7, 0.0017),
    ("c", "s1", 1e7, 0.0003), ("s1", "s2", 1e7, 0.0019), ("e", "t", 1e7, 0.0023),
]  # fmt: skip
CALLERS = ("a", "b", "d", "e", "f", "s1", "s2", "t")


def _services() -> tuple[ServiceDemand, ...]:
    rr = ServiceDemand(
        name="rr", primary="c", secondary=None, callers=CALLERS, requests_per_day=1e5,
        request_size=SizeDist.exponential(3_333.3), response_size=SizeDist.fixed(1_717.1),
        service_time_s=0.0123,
    )  # fmt: skip
    ow = one_way("ow", ("s2", "t", "b", "c"), "f", rate_per_s=3.0, size=SizeDist.fixed(9e3))
    return (rr, ow)


def _cut(state: NetState, path, lost) -> bool:  # type: ignore[no-untyped-def]
    """Count a leg with no path, or over a dead link, as lost; True if it is."""
    reason = (
        DropReason.NO_ROUTE
        if path is None
        else DropReason.LINK_FAILURE
        if state.blackholed(path)
        else None
    )
    if reason is not None:
        lost[reason] += 1
    return reason is not None


def _reference(state: NetState, svc: ServiceDemand, n_links: int):
    """Each caller in turn, as the analytic fidelity's definition reads."""
    host = state.hosts[svc.name]
    weight = np.zeros(n_links + 1)
    lost = dict.fromkeys(REASONS, 0)
    ok, base, req_paths, resp_paths = [], [], [], []
    req_b = svc.request_size.mean_bytes
    resp_b = 0.0 if svc.one_way else svc.response_size.mean_bytes
    req_count: dict[int, int] = {}
    resp_count: dict[int, int] = {}
    for i, caller in enumerate(svc.callers):
        if caller in state.down_sites or host in state.down_sites:
            lost[DropReason.SITE_DOWN] += 1
            continue
        fwd = state.route(caller, host)
        if _cut(state, fwd, lost):
            continue
        for link in fwd.links:
            req_count[link] = req_count.get(link, 0) + 1
        back_delay, back_links = 0.0, ()
        if not svc.one_way:
            back = state.route_back(host, caller)
            if _cut(state, back, lost):
                continue
            back_delay, back_links = back.delay_s, back.links
            for link in back_links:
                resp_count[link] = resp_count.get(link, 0) + 1
        ok.append(i)
        base.append(fwd.delay_s + back_delay + (0.0 if svc.one_way else svc.service_time_s))
        req_paths.append(fwd.links)
        resp_paths.append(back_links)
    for link, n in req_count.items():
        weight[link] += n * req_b
    for link, n in resp_count.items():
        weight[link] += n * resp_b

    def pad(paths):
        width = max((len(p) for p in paths), default=0) or 1
        out = np.full((len(paths), width), n_links, dtype=np.int64)
        for i, p in enumerate(paths):
            out[i, : len(p)] = p
        return out

    return (
        weight[:n_links],
        lost,
        ok,
        np.asarray(base, dtype=float),
        pad(req_paths),
        pad(resp_paths),
    )


def _down(kind: EventKind, links=(), sites=()) -> TimelineEvent:
    return TimelineEvent(at_s=0.0, kind=kind, links=links, sites=sites)


#: (events, converge them): each a state the network can be in
STATES = {
    "intact": ((), False),
    "cut, routing not converged": ((_down(EventKind.LINK_DOWN, links=("c~d",)),), False),
    "cut, converged": ((_down(EventKind.LINK_DOWN, links=("c~d",)),), True),
    "spur cut off": ((_down(EventKind.LINK_DOWN, links=("c~s1",)),), True),
    "spur cut, not converged": ((_down(EventKind.LINK_DOWN, links=("c~s1",)),), False),
    "caller down": ((_down(EventKind.SITE_DOWN, sites=("e",)),), True),
    "transit site down, not converged": ((_down(EventKind.SITE_DOWN, sites=("b",)),), False),
    "host down": ((_down(EventKind.SITE_DOWN, sites=("c",)),), True),
}


@pytest.mark.parametrize("name", list(STATES))
def test_every_caller_at_once_is_each_caller_in_turn(name: str) -> None:
    events, converge = STATES[name]
    topo = make_topology(LINKS)
    services = _services()
    state = NetState(topo, demand(*services), EngineConfig())
    for event in events:
        change = state.apply(event)
        if converge and change.converge is not None:
            change.converge()
    n_links = len(state.link_ids)
    seen = set()
    for svc in services:
        snap = _snapshot(state, svc, n_links)
        weight, lost, ok, base, req, resp = _reference(state, svc, n_links)
        assert snap.weight_bytes.tobytes() == weight.tobytes()
        assert snap.lost == lost
        assert snap.ok_callers.tolist() == ok
        assert snap.ok_callers.dtype == np.int64
        assert snap.base_s.tobytes() == base.tobytes()
        assert snap.req_paths.tobytes() == req.tobytes()
        assert snap.req_paths.shape == req.shape
        assert snap.resp_paths.tobytes() == resp.tobytes()
        assert snap.resp_paths.shape == resp.shape
        seen.update(r for r, n in lost.items() if n)
    # each state loses callers the way its name says
    expected = {
        "intact": set(),
        "cut, routing not converged": {DropReason.LINK_FAILURE},
        "cut, converged": set(),
        "spur cut off": {DropReason.NO_ROUTE},
        "spur cut, not converged": {DropReason.LINK_FAILURE},
        "caller down": {DropReason.SITE_DOWN, DropReason.NO_ROUTE},  # t is behind e
        "transit site down, not converged": {DropReason.SITE_DOWN, DropReason.LINK_FAILURE},
        "host down": {DropReason.SITE_DOWN, DropReason.NO_ROUTE},  # s2 is behind c
    }[name]
    assert seen == expected
