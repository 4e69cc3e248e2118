"""Small demand builders for the engine benchmarks."""

from __future__ import annotations

from datetime import datetime

from lgwan_sim.traffic import JST, Demand, ServiceDemand, SizeDist

START = datetime(2026, 4, 6, tzinfo=JST)


def one_way_demand(src: str, dst: str, rate_per_s: float, size: SizeDist) -> Demand:
    """One caller sending one-way messages at ``rate_per_s`` (Poisson)."""
    svc = ServiceDemand(
        name="s",
        primary=dst,
        callers=(src,),
        requests_per_day=rate_per_s * 86400.0,
        request_size=size,
        response_size=SizeDist.fixed(0.0),
        one_way=True,
    )
    return Demand(services=(svc,), start=START)


def trace_demand(
    callers: tuple[str, ...], dst: str, times_s: tuple[float, ...], size: SizeDist
) -> Demand:
    """Messages at the given times, callers in turn."""
    svc = ServiceDemand(
        name="s",
        primary=dst,
        callers=callers,
        requests_per_day=1.0,
        request_size=size,
        response_size=SizeDist.fixed(0.0),
        one_way=True,
        arrivals="trace",
        trace_s=times_s,
    )
    return Demand(services=(svc,), start=START)
