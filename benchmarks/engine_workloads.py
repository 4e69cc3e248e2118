"""Workloads shared by the engine benchmarks: the national day and the tandem."""

from __future__ import annotations

from datetime import datetime

from lgwan_sim.network import SiteKind, Topology
from lgwan_sim.traffic import JST, Demand, Profile, ServiceDemand, SizeDist

#: Office-hours shape (local time): quiet at night, a morning and an afternoon peak.
OFFICE_HOURS = (
    0.15, 0.1, 0.1, 0.1, 0.1, 0.2, 0.4, 0.8, 1.6, 2.2, 2.3, 2.1,
    1.5, 2.0, 2.2, 2.1, 1.8, 1.2, 0.7, 0.5, 0.4, 0.3, 0.2, 0.15,
)  # fmt: skip

#: (service, primary, secondary, share of the messages)
SERVICES = (
    ("juki", "asp-jlis-east", "asp-jlis-west", 0.30),
    ("eltax", "asp-eltax-east", "asp-eltax-west", 0.20),
    ("chukan", "asp-chukan-east", "asp-chukan-west", 0.20),
    ("hosting-east", "asp-hosting-east", "asp-hosting-west", 0.10),
    ("hosting-west", "asp-hosting-west", "asp-hosting-east", 0.10),
    ("cloud-kyoto", "dc-kyoto", None, 0.10),
)


def national_demand(
    topology: Topology,
    *,
    messages_per_s: float = 300.0,
    mean_bytes: float = 50_000.0,
    profile: Profile | None = None,
    one_way: bool = True,
    start: datetime | None = None,
) -> Demand:
    """Every local body calls six services; ``messages_per_s`` on average over a day.

    Messages are exponential with ``mean_bytes``; with ``one_way`` each message is a single
    transfer (as in the peers' workload), otherwise a request with a 2 KB response.
    """
    callers = tuple(
        s.id for s in topology.sites_of_kind(SiteKind.PREFECTURE, SiteKind.MUNICIPALITY)
    )
    per_day = messages_per_s * 86400.0 / len(callers)
    profile = profile or Profile(hourly=OFFICE_HOURS)
    services = tuple(
        ServiceDemand(
            name=name,
            primary=primary,
            secondary=secondary,
            callers=callers,
            requests_per_day=per_day * share,
            request_size=SizeDist.exponential(mean_bytes),
            response_size=SizeDist.fixed(2_000.0),
            service_time_s=0.05,
            profile=profile,
            slo_latency_s=1.0,
            one_way=one_way,
        )
        for name, primary, secondary, share in SERVICES
    )
    # Monday 6 April 2026, 00:00 JST: a working day.
    return Demand(services=services, start=start or datetime(2026, 4, 6, tzinfo=JST))
