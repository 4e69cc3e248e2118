"""Which local bodies lost a service because its host was down, from when and for how long.

A service is out while the site serving it is down: its primary until the service fails
over, its secondary after (a secondary that is down serves nobody), the primary again after
the failback. Every local body calling the service loses it for that spell. The spells come
from the run's applied-event log (outages, failovers and failbacks as the engine applied
them), so they agree with the drops (``site_down``) and the unreachable counts of the run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

from lgwan_sim.engine import AppliedEvent, DownElements, EventKind
from lgwan_sim.network import SiteKind
from lgwan_sim.scenario._model import Scenario

__all__ = ["ServiceOutage", "service_outages"]

_LOCAL_BODIES = (SiteKind.MUNICIPALITY, SiteKind.PREFECTURE)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceOutage:
    """One spell of a service without a serving host; ``until_s`` is ``inf`` to the end."""

    service: str
    host: str
    from_s: float
    until_s: float
    local_bodies: tuple[str, ...]
    """The local bodies calling the service, in id order: each lost it for the spell."""


def service_outages(scenario: Scenario, events: Sequence[AppliedEvent]) -> list[ServiceOutage]:
    """Every spell in which a service of ``scenario`` had no serving host, by start and name.

    ``events`` is the run's applied-event log (``RunResult.events``), in time order.
    """
    down_now = DownElements()
    host = {c.name: c.primary for c in scenario.services}
    choices = {c.name: c for c in scenario.services}
    open_: dict[str, tuple[str, float]] = {}
    out: list[ServiceOutage] = []

    def close(name: str, at_s: float) -> None:
        down_host, since = open_.pop(name)
        callers = choices[name].callers
        bodies = tuple(
            c
            for c in callers
            if c in scenario.topology and scenario.topology.site(c).kind in _LOCAL_BODIES
        )
        if bodies:
            out.append(
                ServiceOutage(
                    service=name, host=down_host, from_s=since, until_s=at_s, local_bodies=bodies
                )
            )

    for at_s, group in groupby(events, key=lambda e: e.at_s):
        for ev in group:
            if ev.kind == EventKind.FAILOVER and ev.service in host:
                host[ev.service] = choices[ev.service].secondary or host[ev.service]
            elif ev.kind == EventKind.FAILBACK and ev.service in host:
                host[ev.service] = choices[ev.service].primary
            else:
                down_now.apply(ev)
        down = down_now.sites
        for name in sorted(host):
            serving = host[name] not in down
            if name in open_ and (serving or open_[name][0] != host[name]):
                close(name, at_s)
            if not serving and name not in open_:
                open_[name] = (host[name], at_s)
    for name in sorted(open_):
        close(name, math.inf)
    return sorted(out, key=lambda o: (o.from_s, o.service))
