"""How much work a run is, before it starts: expected packet hops at packet fidelity.

The packet fidelity spends one event per packet per hop, so its running time is close to
proportional to the number of packet hops. The estimate is, over the services,

    expected exchanges x (E[packets of a request] + E[packets of a response]) x mean hops

where the exchanges come from the demand (its profile over the run, multiplied by the
timeline's demand events), a message of ``s`` bytes is ``ceil(s / mss_bytes)`` packets
(at least one; its expectation taken over a fixed sample of the size distribution), and
the hops are those of each caller's route to the service's primary host on the intact
network. Outages, failovers and drops make the real figure smaller, never much larger.
The CPU time divides the hops by :data:`PACKET_HOPS_PER_S`, a measured rate.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass

from lgwan_sim.engine import EventKind
from lgwan_sim.errors import NoRouteError
from lgwan_sim.network import Router
from lgwan_sim.scenario._build import EngineInputs
from lgwan_sim.traffic import Demand, ServiceDemand, SizeDist

__all__ = ["LONG_RUN_S", "PACKET_HOPS_PER_S", "WorkEstimate", "estimate_work", "long_run_warning"]

#: Packet hops per CPU second the packet fidelity reached on the bundled ``packet-zoom``
#: scenario (``python benchmarks/bench_packet_rate.py``: 295,000 on one core of a shared
#: 2-core x86-64 machine, CPython 3.11). CPU time, so a busy machine takes longer in wall time.
PACKET_HOPS_PER_S = 300_000.0

#: Runs estimated to take longer than this (CPU seconds) are warned about.
LONG_RUN_S = 600.0

_SIZE_SAMPLES = 4096


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkEstimate:
    """Expected work of a packet-fidelity run (see the module's formula)."""

    exchanges: float
    packets: float
    packet_hops: float

    @property
    def cpu_s(self) -> float:
        """Expected CPU time at :data:`PACKET_HOPS_PER_S`."""
        return self.packet_hops / PACKET_HOPS_PER_S


def _mean_packets(size: SizeDist, mss: float, name: str) -> float:
    """E[max(1, ceil(size / mss))], exact for a fixed size, else over a fixed sample."""
    draw = size.sampler(random.Random(f"estimate:{name}"))
    n = 1 if size.kind == "fixed" else _SIZE_SAMPLES
    return math.fsum(max(1, math.ceil(draw() / mss)) for _ in range(n)) / n


def _exchanges(demand: Demand, svc: ServiceDemand, inputs: EngineInputs) -> float:
    """Expected requests of all callers over the run, with the timeline's demand events."""
    cuts = sorted(
        {0.0, inputs.duration_s}
        | {
            e.at_s
            for e in inputs.timeline.events
            if e.kind is EventKind.DEMAND and 0 < e.at_s < inputs.duration_s
        }
    )
    overall, own = 1.0, 1.0
    pending = [e for e in inputs.timeline.events if e.kind is EventKind.DEMAND]
    total = 0.0
    for t0, t1 in itertools.pairwise(cuts):
        while pending and pending[0].at_s <= t0:
            event = pending.pop(0)
            assert event.multiplier is not None
            if event.service is None:
                overall = event.multiplier
            elif event.service == svc.name:
                own = event.multiplier
        if svc.arrivals == "poisson":
            per_caller = demand.requests_per_caller(svc, t0, t1) * overall * own
        else:
            per_caller = demand.requests_per_caller(svc, t0, t1)
        total += per_caller * len(svc.callers)
    return total


def estimate_work(inputs: EngineInputs) -> WorkEstimate:
    """Expected exchanges, packets and packet hops of ``inputs`` at packet fidelity."""
    router = Router(inputs.topology)
    mss = inputs.config.mss_bytes
    exchanges = packets = hops = 0.0
    for svc in inputs.demand.services:
        n = _exchanges(inputs.demand, svc, inputs)
        if n == 0:
            continue
        per_msg = _mean_packets(svc.request_size, mss, f"{svc.name}:request")
        if not svc.one_way:
            per_msg += _mean_packets(svc.response_size, mss, f"{svc.name}:response")
        lengths = []
        for caller in svc.callers:
            try:
                lengths.append(router.route(caller, svc.primary).hops)
            except NoRouteError:
                lengths.append(0)
        mean_hops = math.fsum(lengths) / len(lengths)
        exchanges += n
        packets += n * per_msg
        hops += n * per_msg * mean_hops
    return WorkEstimate(exchanges=exchanges, packets=packets, packet_hops=hops)


def _duration(seconds: float) -> str:
    if seconds >= 5400:
        return f"{seconds / 3600:.1f} hours"
    return f"{max(1, round(seconds / 60))} minutes"


def _count(n: float) -> str:
    for size, word in ((1e9, "billion"), (1e6, "million")):
        if n >= size:
            return f"{n / size:.3g} {word}"
    return f"{n:,.0f}"


def long_run_warning(inputs: EngineInputs) -> str | None:
    """A one-line warning when a packet-fidelity run will take long, else ``None``."""
    if inputs.fidelity != "packet":
        return None
    est = estimate_work(inputs)
    if est.cpu_s <= LONG_RUN_S:
        return None
    return (
        f"packet fidelity: this run is about {_count(est.packet_hops)} packet hops "
        f"({_count(est.exchanges)} exchanges, {_count(est.packets)} packets), about "
        f"{_duration(est.cpu_s)} of CPU at the {PACKET_HOPS_PER_S:,.0f} packet hops per CPU "
        "second measured on packet-zoom; --fidelity flow is far cheaper, or study a "
        "sub-network"
    )
