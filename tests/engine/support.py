"""Helpers for the engine tests: small topologies and demands, replayed arrivals at chosen
instants (for expected values worked out by hand) and the histogram's documented bucket middle."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from lgwan_sim.network import Link, LinkKind, Site, SiteKind, Topology
from lgwan_sim.traffic import JST, Demand, Profile, ServiceDemand, SizeDist

#: A Monday, 00:00 Japan time.
MONDAY = datetime(2026, 4, 6, tzinfo=JST)


def make_topology(
    links: Sequence[tuple[str, str, float, float]],
    *,
    kinds: dict[str, SiteKind] | None = None,
    prefectures: dict[str, str] | None = None,
) -> Topology:
    """A topology from (a, b, capacity_bps, delay_s) tuples; sites are municipalities."""
    kinds = kinds or {}
    prefectures = prefectures or {}
    names = sorted({x for a, b, _, _ in links for x in (a, b)})
    sites = [
        Site(
            id=n,
            kind=kinds.get(n, SiteKind.MUNICIPALITY),
            name=n,
            lat=35.0,
            lon=135.0 + 0.01 * i,
            prefecture=prefectures.get(n),
        )
        for i, n in enumerate(names)
    ]
    return Topology.build(
        "test",
        sites,
        [
            Link(a=a, b=b, kind=LinkKind.ACCESS, capacity_bps=cap, delay_s=delay)
            for a, b, cap, delay in links
        ],
    )


def one_way(
    name: str,
    callers: tuple[str, ...],
    host: str,
    *,
    rate_per_s: float,
    size: SizeDist,
    secondary: str | None = None,
    slo_s: float | None = None,
) -> ServiceDemand:
    """A one-way service: ``rate_per_s`` messages per second in total over all callers."""
    return ServiceDemand(
        name=name,
        primary=host,
        secondary=secondary,
        callers=callers,
        requests_per_day=rate_per_s * 86400.0 / len(callers),
        request_size=size,
        response_size=SizeDist.fixed(0.0),
        one_way=True,
        slo_latency_s=slo_s,
    )


def demand(*services: ServiceDemand) -> Demand:
    return Demand(services=services, start=MONDAY)


FLAT = Profile.flat()


def national_demand(topology: Topology, *, messages_per_s: float, mean_bytes: float) -> Demand:
    """Every local body calls four ASP services (request + 2 KB response) and a DC service."""
    from lgwan_sim.network import SiteKind

    callers = tuple(
        s.id for s in topology.sites_of_kind(SiteKind.PREFECTURE, SiteKind.MUNICIPALITY)
    )
    per_day = messages_per_s * 86400.0 / len(callers)
    table = (
        ("juki", "asp-jlis-east", "asp-jlis-west", 0.4),
        ("eltax", "asp-eltax-east", "asp-eltax-west", 0.2),
        ("chukan", "asp-chukan-west", "asp-chukan-east", 0.2),
        ("cloud-kyoto", "dc-kyoto", None, 0.2),
    )
    return Demand(
        services=tuple(
            ServiceDemand(
                name=name,
                primary=primary,
                secondary=secondary,
                callers=callers,
                requests_per_day=per_day * share,
                request_size=SizeDist.exponential(mean_bytes),
                response_size=SizeDist.fixed(2_000.0),
                service_time_s=0.02,
                slo_latency_s=0.5,
            )
            for name, primary, secondary, share in table
        ),
        start=MONDAY,
    )


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


def bucket_middle(value_s: float) -> float:
    """What a histogram reports for ``value_s`` (docs/engine.md, Metrics): buckets of ratio
    1.019 from 100 ns, each reported as its geometric middle; below 100 ns, 0."""
    if value_s < 1e-7:
        return 0.0
    k = math.floor(math.log(value_s / 1e-7) / math.log(1.019))
    return 1e-7 * 1.019 ** (k + 0.5)
