"""The one place where a validated :class:`Scenario` becomes the engine's inputs."""

from __future__ import annotations

from dataclasses import dataclass

from lgwan_sim.engine import EngineConfig, EventKind, Fidelity, Timeline, TimelineEvent
from lgwan_sim.network import Topology
from lgwan_sim.scenario._catalogue import SizeKind, SizeSpec
from lgwan_sim.scenario._model import EventType, Scenario, ScenarioEvent
from lgwan_sim.traffic import Demand, Profile, ServiceDemand, SizeDist

__all__ = ["EngineInputs", "engine_inputs"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineInputs:
    """Everything :func:`lgwan_sim.engine.run` takes, derived from one scenario."""

    topology: Topology
    demand: Demand
    timeline: Timeline
    fidelity: Fidelity
    duration_s: float
    seed: int
    config: EngineConfig


def _size(spec: SizeSpec) -> SizeDist:
    if spec.kind is SizeKind.FIXED:
        return SizeDist.fixed(spec.mean_bytes)
    if spec.kind is SizeKind.EXPONENTIAL:
        return SizeDist.exponential(spec.mean_bytes)
    if spec.kind is SizeKind.LOGNORMAL:
        assert spec.sigma is not None
        return SizeDist.lognormal(spec.mean_bytes, spec.sigma)
    return SizeDist.empirical(spec.values_bytes)


def demand_of(scenario: Scenario) -> Demand:
    """The services with their hosts, callers, sizes, profiles and growth-adjusted volume."""
    services = []
    for choice in scenario.services:
        spec = choice.spec
        services.append(
            ServiceDemand(
                name=choice.name,
                primary=choice.primary,
                secondary=choice.secondary,
                callers=choice.callers,
                requests_per_day=choice.requests_per_day,
                request_size=_size(spec.request_size),
                response_size=_size(spec.response_size),
                service_time_s=spec.service_time_s.value,
                profile=Profile(
                    hourly=spec.profile.hourly,
                    weekly=spec.profile.weekly,
                    monthly=spec.profile.monthly,
                    window_h=spec.profile.window_h,
                ),
                slo_latency_s=spec.slo_latency_s.value,
                multiplier=choice.multiplier * scenario.growth_factor(choice),
            )
        )
    return Demand(
        services=tuple(services), start=scenario.start, multiplier=scenario.demand_multiplier
    )


def timeline_of(scenario: Scenario) -> Timeline:
    """Expand the scenario's events (with their restorations) into engine events."""
    out: list[TimelineEvent] = []
    for i, event in enumerate(scenario.events):
        out.extend(_expand(scenario, event, hold=f"events[{i}]"))
    return Timeline(events=tuple(out))


def _expand(scenario: Scenario, ev: ScenarioEvent, *, hold: str) -> list[TimelineEvent]:
    """One scenario event as engine events; its outages all carry the hold ``hold``."""
    note = ev.note or ev.kind.value
    end = scenario.duration_s
    out: list[TimelineEvent] = []
    if ev.kind is EventType.LINK_DOWN:
        out.append(
            TimelineEvent(
                at_s=ev.at_s, kind=EventKind.LINK_DOWN, links=ev.links, note=note, hold=hold
            )
        )
        out.extend(
            TimelineEvent(
                at_s=r.at_s,
                kind=EventKind.LINK_UP,
                links=r.links,
                note=f"{note}: restored",
                hold=hold,
            )
            for r in ev.restore
        )
    elif ev.kind is EventType.SITE_DOWN:
        out.append(
            TimelineEvent(
                at_s=ev.at_s, kind=EventKind.SITE_DOWN, sites=ev.sites, note=note, hold=hold
            )
        )
        out.extend(
            TimelineEvent(
                at_s=r.at_s,
                kind=EventKind.SITE_UP,
                sites=r.sites,
                note=f"{note}: restored",
                hold=hold,
            )
            for r in ev.restore
        )
    elif ev.kind is EventType.REGION_DOWN:
        out.append(
            TimelineEvent(
                at_s=ev.at_s,
                kind=EventKind.REGION_DOWN,
                prefectures=ev.prefectures,
                center_latlon=ev.center_latlon,
                radius_km=ev.radius_km,
                note=note,
                hold=hold,
            )
        )
        for r in ev.restore:
            out.append(
                TimelineEvent(
                    at_s=r.at_s,
                    kind=EventKind.REGION_UP,
                    prefectures=r.prefectures,
                    center_latlon=None if r.prefectures else ev.center_latlon,
                    radius_km=None if r.prefectures else ev.radius_km,
                    note=f"{note}: restored " + (",".join(r.prefectures) or "all"),
                    hold=hold,
                )
            )
    elif ev.kind is EventType.DC_LOSS:
        site = ev.sites[0]
        hosted = [s for s in scenario.services if s.primary == site]
        out.append(
            TimelineEvent(
                at_s=ev.at_s, kind=EventKind.SITE_DOWN, sites=(site,), note=note, hold=hold
            )
        )
        switch_at = ev.at_s + ev.detection_s + ev.switchover_s
        for choice in hosted:
            if choice.secondary is not None and switch_at < end:
                out.append(
                    TimelineEvent(
                        at_s=switch_at,
                        kind=EventKind.FAILOVER,
                        service=choice.name,
                        note=f"{note}: {choice.name} fails over to {choice.secondary}",
                    )
                )
        for r in ev.restore:
            out.append(
                TimelineEvent(
                    at_s=r.at_s,
                    kind=EventKind.SITE_UP,
                    sites=(site,),
                    note=f"{note}: restored",
                    hold=hold,
                )
            )
            back_at = r.at_s + ev.switchover_s
            if ev.failback and back_at < end:
                out.extend(
                    TimelineEvent(
                        at_s=max(back_at, switch_at),
                        kind=EventKind.FAILBACK,
                        service=choice.name,
                        note=f"{note}: {choice.name} fails back to {site}",
                    )
                    for choice in hosted
                    if choice.secondary is not None and switch_at < end
                )
    elif ev.kind is EventType.CAPACITY:
        for link_id in ev.links:
            before = scenario.topology.link(link_id).capacity_bps
            after = ev.capacity_bps if ev.capacity_bps is not None else before * (ev.scale or 1.0)
            out.append(
                TimelineEvent(
                    at_s=ev.at_s,
                    kind=EventKind.CAPACITY,
                    links=(link_id,),
                    capacity_bps=after,
                    note=note,
                )
            )
            out.extend(
                TimelineEvent(
                    at_s=r.at_s,
                    kind=EventKind.CAPACITY,
                    links=(link_id,),
                    capacity_bps=before,
                    note=f"{note}: restored",
                )
                for r in ev.restore
            )
    else:  # demand surge
        out.append(
            TimelineEvent(
                at_s=ev.at_s,
                kind=EventKind.DEMAND,
                service=ev.service,
                multiplier=ev.multiplier,
                note=note,
            )
        )
        out.extend(
            TimelineEvent(
                at_s=r.at_s,
                kind=EventKind.DEMAND,
                service=ev.service,
                multiplier=1.0,
                note=f"{note}: over",
            )
            for r in ev.restore
        )
    return out


def engine_inputs(scenario: Scenario) -> EngineInputs:
    """Map a scenario to the engine's topology, demand, timeline, fidelity and config."""
    config = EngineConfig(bin_s=scenario.bin_s)
    if scenario.convergence_delay_s is not None:
        config = EngineConfig(
            bin_s=scenario.bin_s, convergence_delay_s=scenario.convergence_delay_s
        )
    return EngineInputs(
        topology=scenario.topology,
        demand=demand_of(scenario),
        timeline=timeline_of(scenario),
        fidelity=scenario.fidelity,
        duration_s=scenario.duration_s,
        seed=scenario.seed,
        config=config,
    )
