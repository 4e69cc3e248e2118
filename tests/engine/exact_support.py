"""Helpers for tests whose expected values are worked out by hand: replayed arrivals at
chosen instants, fixed sizes, and the histogram's documented bucket middle."""

from __future__ import annotations

import math
from collections.abc import Sequence

from engine_support import MONDAY

from lgwan_sim.traffic import Demand, ServiceDemand, SizeDist


def traced(
    name: str,
    callers: tuple[str, ...],
    host: str,
    times_s: Sequence[float],
    *,
    request_bytes: float,
    response_bytes: float | None = None,
    service_time_s: float = 0.0,
    slo_s: float | None = None,
    secondary: str | None = None,
) -> ServiceDemand:
    """A service whose requests leave at ``times_s``, the i-th from ``callers[i % n]``.

    One-way when ``response_bytes`` is None, else request-response.
    """
    return ServiceDemand(
        name=name,
        primary=host,
        secondary=secondary,
        callers=callers,
        requests_per_day=1.0,
        request_size=SizeDist.fixed(request_bytes),
        response_size=SizeDist.fixed(response_bytes or 0.0),
        service_time_s=service_time_s,
        one_way=response_bytes is None,
        slo_latency_s=slo_s,
        arrivals="trace",
        trace_s=tuple(times_s),
    )


def demand_of(*services: ServiceDemand) -> Demand:
    return Demand(services=services, start=MONDAY)


def bucket_middle(value_s: float) -> float:
    """What a histogram reports for ``value_s`` (docs/engine.md, Metrics): buckets of ratio
    1.019 from 100 ns, each reported as its geometric middle; below 100 ns, 0."""
    if value_s < 1e-7:
        return 0.0
    k = math.floor(math.log(value_s / 1e-7) / math.log(1.019))
    return 1e-7 * 1.019 ** (k + 0.5)
