"""The one place where a validated :class:`Scenario` becomes the engine's inputs."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from lgwan_sim.engine import (
    EngineConfig,
    EngineInputs,
    EventKind,
    Outages,
    Timeline,
    TimelineEvent,
)
from lgwan_sim.network import Topology
from lgwan_sim.scenario._broadcast import BROADCAST_SERVICE, broadcast_trace
from lgwan_sim.scenario._events import CeptoarAlert, HostOutage
from lgwan_sim.scenario._model import Scenario, ScenarioEvent, ServiceChoice
from lgwan_sim.traffic import Demand, Profile, ServiceDemand, SizeDist

__all__ = ["EngineInputs", "engine_inputs"]


def demand_of(scenario: Scenario) -> Demand:
    """The services with their hosts, callers, sizes, profiles and growth-adjusted volume."""
    services = []
    for choice in scenario.services:
        spec = choice.spec
        broadcast: dict[str, Any] = {}
        response_size = spec.response_size.dist
        if choice.name == BROADCAST_SERVICE and any(
            isinstance(e, CeptoarAlert) for e in scenario.events
        ):
            trace, size = broadcast_trace(scenario.events, choice)
            broadcast = {"arrivals": "trace", "trace_s": trace}
            response_size = SizeDist.fixed(size)
        services.append(
            ServiceDemand(
                name=choice.name,
                primary=choice.primary,
                secondary=choice.secondary,
                callers=choice.callers,
                requests_per_day=choice.requests_per_day,
                request_size=spec.request_size.dist,
                response_size=response_size,
                service_time_s=spec.service_time_s.value,
                profile=Profile(
                    hourly=spec.profile.hourly,
                    weekly=spec.profile.weekly,
                    monthly=spec.profile.monthly,
                    window_h=spec.profile.window_h,
                ),
                slo_latency_s=spec.slo_latency_s.value,
                multiplier=choice.multiplier * scenario.growth_factor(choice),
                **broadcast,
            )
        )
    return Demand(
        services=tuple(services), start=scenario.start, multiplier=scenario.demand_multiplier
    )


def timeline_of(scenario: Scenario) -> Timeline:
    """Expand the scenario's events (with their restorations) into engine events."""
    out: list[TimelineEvent] = []
    holds: dict[str, ScenarioEvent] = {}
    for i, event in enumerate(scenario.events):
        holds[f"events[{i}]"] = event
        out.extend(event.expand(scenario.topology, hold=f"events[{i}]"))
    out.extend(failovers(scenario, Timeline(events=tuple(out)), holds))
    return Timeline(events=tuple(out))


@dataclass(frozen=True, slots=True)
class _Outage:
    """One spell of a host being down: from ``down_s`` to ``up_s`` (``inf``: to the end)."""

    down_s: float
    up_s: float
    holds: tuple[tuple[float, str], ...]
    """When each event took (or also held) the host down during the spell, and its hold."""


def _host_outages(
    topology: Topology, timeline: Timeline, hosts: set[str]
) -> dict[str, list[_Outage]]:
    """Every spell during which an event holds each host down, replaying the timeline."""
    outages = Outages(topology)
    spells: dict[str, list[_Outage]] = {h: [] for h in hosts}
    open_: dict[str, tuple[float, list[tuple[float, str]]]] = {}
    for ev in timeline.events:
        if ev.kind.outage_of not in ("sites", "region"):
            continue
        _, named = outages.elements(ev)
        _, changed = outages.apply(ev)
        if ev.kind.takes_down:
            for host in hosts.intersection(named):
                open_.setdefault(host, (ev.at_s, []))[1].append((ev.at_s, ev.hold))
        else:
            for host in hosts.intersection(changed):
                down_s, held = open_.pop(host)
                spells[host].append(_Outage(down_s, ev.at_s, tuple(held)))
    for host, (down_s, held) in open_.items():
        spells[host].append(_Outage(down_s, math.inf, tuple(held)))
    return spells


def failovers(
    scenario: Scenario, timeline: Timeline, holds: dict[str, ScenarioEvent]
) -> list[TimelineEvent]:
    """Failover and failback of every service whose primary host an outage takes down.

    Whatever holds a primary host down (``site_down``, a campus, ``region_down``,
    ``dc_loss``, several of them overlapping), the service moves to its secondary host
    ``detection_s + switchover_s`` after an event that allows failover took the host down,
    provided the host is still down when the health checks look (``detection_s`` later).
    It moves back ``switchover_s`` after the host is up again (its last hold gone), unless
    the event said ``failback: false``; if the host goes down again before that, the service
    stays on the secondary until the host is back for good. Times come from the event, else
    the scenario's ``failover:``, else the service's catalogue entry.
    """
    end = scenario.duration_s
    choices = [c for c in scenario.services if c.secondary is not None]
    spells = _host_outages(scenario.topology, timeline, {c.primary for c in choices})
    out: list[TimelineEvent] = []
    for choice in choices:
        on_secondary = False
        switched_s, switchover_s, failback, note = 0.0, 0.0, True, ""
        host_spells = spells[choice.primary]
        for k, spell in enumerate(host_spells):
            if not on_secondary:
                noticed = []
                for at_s, hold in spell.holds:
                    ev = holds[hold]
                    if not (isinstance(ev, HostOutage) and ev.failover):
                        continue
                    detection, switchover, back = _settings(scenario, choice, ev)
                    if at_s + detection < spell.up_s:
                        noticed.append((at_s + detection, switchover, back, ev.label))
                if not noticed:
                    continue
                seen_s, switchover_s, failback, note = min(noticed, key=lambda n: n[0])
                switched_s = seen_s + switchover_s
                if switched_s >= end:
                    break
                on_secondary = True
                out.append(
                    TimelineEvent(
                        at_s=switched_s,
                        kind=EventKind.FAILOVER,
                        service=choice.name,
                        note=f"{note}: {choice.name} fails over to {choice.secondary}",
                    )
                )
            if not failback:
                break
            back_s = max(spell.up_s + switchover_s, switched_s)
            next_down = host_spells[k + 1].down_s if k + 1 < len(host_spells) else math.inf
            if back_s < min(end, next_down):
                on_secondary = False
                out.append(
                    TimelineEvent(
                        at_s=back_s,
                        kind=EventKind.FAILBACK,
                        service=choice.name,
                        note=f"{note}: {choice.name} fails back to {choice.primary}",
                    )
                )
    return out


def _settings(
    scenario: Scenario, choice: ServiceChoice, ev: HostOutage
) -> tuple[float, float, bool]:
    """(detection_s, switchover_s, failback): the event's, the scenario's or the service's."""
    levels = (ev.failover_settings, scenario.failover)
    detection = next(
        (x.detection_s for x in levels if x.detection_s is not None),
        choice.spec.detection_s.value,
    )
    switchover = next(
        (x.switchover_s for x in levels if x.switchover_s is not None),
        choice.spec.switchover_s.value,
    )
    failback = next((x.failback for x in levels if x.failback is not None), True)
    return detection, switchover, failback


def engine_inputs(scenario: Scenario) -> EngineInputs:
    """Map a scenario to the engine's topology, demand, timeline, fidelity and config."""
    config = EngineConfig(bin_s=scenario.bin_s)
    if scenario.convergence_delay_s is not None:
        config = EngineConfig(
            bin_s=scenario.bin_s, convergence_delay_s=scenario.convergence_delay_s
        )
    if scenario.engine_options:
        changes: dict[str, Any] = dict(scenario.engine_options)
        config = dataclasses.replace(config, **changes)
    return EngineInputs(
        topology=scenario.topology,
        demand=demand_of(scenario),
        timeline=timeline_of(scenario),
        fidelity=scenario.fidelity,
        duration_s=scenario.duration_s,
        seed=scenario.seed,
        config=config,
    )
