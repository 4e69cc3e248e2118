"""The scenario's event vocabulary: one small class per ``kind:`` of an entry in ``events``.

Each kind reads itself from the file (:meth:`ScenarioEvent.read`, which validates every key
it owns and names ``file:line`` and the field on a bad one) and expands itself into the
engine's :class:`~lgwan_sim.engine.TimelineEvent` records (:meth:`ScenarioEvent.expand`),
its restorations included. The loader finds the class of a kind in :data:`EVENT_KINDS`;
nothing else knows what a kind means. The classes hold what the file says in the file's
own terms (a capacity ``scale``, staged ``restore``, failover settings, a campus already
resolved to its sites); what the engine does with it is the engine's record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from lgwan_sim._fields import MAX_MULTIPLIER, Fields
from lgwan_sim._yaml import LineDict
from lgwan_sim.engine import EventKind, LossModel, TimelineEvent
from lgwan_sim.network import Topology, great_circle_km

if TYPE_CHECKING:
    from lgwan_sim.scenario._model import ServiceChoice

__all__ = [
    "BROADCAST_SERVICE",
    "EVENT_KINDS",
    "CapacityChange",
    "CeptoarAlert",
    "DcLoss",
    "DemandSurge",
    "EventReader",
    "EventType",
    "FailoverSettings",
    "HostOutage",
    "LinkDown",
    "LinkFlap",
    "LinkLatency",
    "LinkLoss",
    "RegionDown",
    "Restore",
    "ScenarioEvent",
    "SiteDown",
]

BROADCAST_SERVICE = "ceptoar-alert"
"""The catalogue service that carries every ``ceptoar_alert`` event's mails."""

_FAILOVER_KEYS = ("detection_s", "switchover_s", "failback")


class EventType(StrEnum):
    """Timeline events a scenario file can name (``kind:`` of an entry in ``events``)."""

    LINK_DOWN = "link_down"
    SITE_DOWN = "site_down"
    REGION_DOWN = "region_down"
    DC_LOSS = "dc_loss"
    CAPACITY = "capacity"
    DEMAND_SURGE = "demand_surge"
    CEPTOAR_ALERT = "ceptoar_alert"
    LINK_LOSS = "link_loss"
    LINK_LATENCY = "link_latency"
    LINK_FLAP = "link_flap"


@dataclass(frozen=True, slots=True, kw_only=True)
class Restore:
    """One stage of a restoration: what comes back at ``at_s``."""

    at_s: float
    links: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    prefectures: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FailoverSettings:
    """How services move to their secondary host when an outage takes their primary down.

    ``None`` leaves a setting to the next level: an event's settings override the
    scenario's ``failover:``, which override each service's catalogue values.
    """

    detection_s: float | None = None
    """From the host going down to the health checks noticing."""
    switchover_s: float | None = None
    """From noticing to serving from the secondary; also the time to fail back."""
    failback: bool | None = None
    """Move back to the primary host ``switchover_s`` after it returns (default yes)."""


class _Loads(Protocol):
    """The loader's readers an event kind uses (the same ones its edits and services use)."""

    f: Fields

    def time(
        self,
        m: LineDict,
        key: str,
        path: str,
        *,
        start: datetime,
        duration_s: float,
        after: float,
        after_what: str = ...,
    ) -> float: ...

    def link_ids(self, parent: Any, key: str, path: str, topology: Topology) -> tuple[str, ...]: ...

    def site_ids(self, parent: Any, key: str, path: str, topology: Topology) -> tuple[str, ...]: ...

    def site_id(self, parent: Any, key: str, path: str, topology: Topology) -> str: ...

    def prefectures(self, parent: Any, key: str, path: str) -> tuple[str, ...]: ...

    def failover_settings(self, m: LineDict, path: str) -> FailoverSettings: ...

    def capacity_or_scale(self, m: LineDict, path: str) -> tuple[float | None, float | None]: ...


@dataclass(frozen=True, slots=True)
class EventReader:
    """What an event kind reads itself with: the file's readers and the run it lies in."""

    loader: _Loads
    topology: Topology
    services: tuple[ServiceChoice, ...]
    start: datetime
    duration_s: float

    @property
    def f(self) -> Fields:
        return self.loader.f

    def time(
        self, m: LineDict, key: str, path: str, *, after: float, after_what: str | None = None
    ) -> float:
        """A moment of the run after ``after`` (an offset or a date-time in the file)."""
        extra = {} if after_what is None else {"after_what": after_what}
        return self.loader.time(
            m, key, path, start=self.start, duration_s=self.duration_s, after=after, **extra
        )

    def links(self, m: LineDict, key: str, path: str) -> tuple[str, ...]:
        return self.loader.link_ids(m, key, path, self.topology)

    def sites(self, m: LineDict, key: str, path: str) -> tuple[str, ...]:
        return self.loader.site_ids(m, key, path, self.topology)

    def site(self, m: LineDict, key: str, path: str) -> str:
        return self.loader.site_id(m, key, path, self.topology)

    def prefectures(self, m: LineDict, key: str, path: str) -> tuple[str, ...]:
        return self.loader.prefectures(m, key, path)

    def until(
        self,
        m: LineDict,
        path: str,
        at: float,
        *,
        links: tuple[str, ...] = (),
        sites: tuple[str, ...] = (),
        prefectures: tuple[str, ...] = (),
    ) -> tuple[Restore, ...]:
        """The one restoration ``until:`` gives, or none without it."""
        if "until" not in m:
            return ()
        when = self.time(m, "until", f"{path}.until", after=at)
        return (Restore(at_s=when, links=links, sites=sites, prefectures=prefectures),)

    def failover(self, m: LineDict, path: str) -> dict[str, Any]:
        """An outage event's ``failover``, ``detection_s``, ``switchover_s``, ``failback``."""
        f = self.f
        enabled = f.boolean(m, "failover", f"{path}.failover") if "failover" in m else True
        if not enabled:
            for key in _FAILOVER_KEYS:
                if key in m:
                    raise f.error(
                        "has no effect with 'failover: false'", m, key, f"{path}.{key}", m[key]
                    )
        if "failback" in m and not ("until" in m or "restore" in m):
            raise f.error(
                "failback needs 'until' (when the site comes back)",
                m,
                "failback",
                f"{path}.failback",
                m["failback"],
            )
        settings = self.loader.failover_settings(m, path)
        return {
            "failover": enabled,
            "detection_s": settings.detection_s,
            "switchover_s": settings.switchover_s,
            "failback": settings.failback,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioEvent:
    """One entry of the scenario's ``events`` list, validated; times in seconds from start.

    A subclass per kind names its ``kind``, the ``keys`` it allows besides ``kind``, ``at``
    and ``note``, how it reads them (:meth:`read`) and what it becomes on the engine's
    timeline (:meth:`expand`).
    """

    kind: ClassVar[EventType]
    keys: ClassVar[tuple[str, ...]] = ()
    at_s: float
    restore: tuple[Restore, ...] = ()
    note: str = ""
    line: int | None = None

    @classmethod
    def read(cls, r: EventReader, m: LineDict, path: str, common: dict[str, Any]) -> ScenarioEvent:
        """The event from its mapping ``m``; ``common`` holds ``at_s``, ``note`` and ``line``."""
        raise NotImplementedError

    def expand(self, topology: Topology, *, hold: str) -> list[TimelineEvent]:
        """The engine events of this event and its restorations, all under ``hold``."""
        raise NotImplementedError

    @property
    def label(self) -> str:
        """The event's note, else its kind: how its engine events and failovers name it."""
        return self.note or self.kind.value


@dataclass(frozen=True, slots=True, kw_only=True)
class HostOutage(ScenarioEvent):
    """An outage of sites: the services whose primary host it takes down fail over."""

    sites: tuple[str, ...] = ()
    failover: bool = True
    """Whether taking a service's primary host down fails the service over."""
    detection_s: float | None = None
    switchover_s: float | None = None
    failback: bool | None = None
    """This event's failover settings; ``None``: the scenario's, else the service's."""

    @property
    def failover_settings(self) -> FailoverSettings:
        return FailoverSettings(
            detection_s=self.detection_s, switchover_s=self.switchover_s, failback=self.failback
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkDown(ScenarioEvent):
    """``link_down``: lines cut, back at ``until``."""

    kind: ClassVar[EventType] = EventType.LINK_DOWN
    keys: ClassVar[tuple[str, ...]] = ("links", "until")
    links: tuple[str, ...] = ()

    @classmethod
    def read(cls, r: EventReader, m: LineDict, path: str, common: dict[str, Any]) -> LinkDown:
        r.f.require(m, "links", path)
        links = r.links(m, "links", f"{path}.links")
        return cls(links=links, restore=r.until(m, path, common["at_s"], links=links), **common)

    def expand(self, topology: Topology, *, hold: str) -> list[TimelineEvent]:
        note = self.label
        return [
            TimelineEvent(
                at_s=self.at_s, kind=EventKind.LINK_DOWN, links=self.links, note=note, hold=hold
            ),
            *(
                TimelineEvent(
                    at_s=s.at_s,
                    kind=EventKind.LINK_UP,
                    links=s.links,
                    note=f"{note}: restored",
                    hold=hold,
                )
                for s in self.restore
            ),
        ]


def _site_outage(ev: HostOutage, hold: str) -> list[TimelineEvent]:
    note = ev.label
    return [
        TimelineEvent(at_s=ev.at_s, kind=EventKind.SITE_DOWN, sites=ev.sites, note=note, hold=hold),
        *(
            TimelineEvent(
                at_s=s.at_s,
                kind=EventKind.SITE_UP,
                sites=s.sites,
                note=f"{note}: restored",
                hold=hold,
            )
            for s in ev.restore
        ),
    ]


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteDown(HostOutage):
    """``site_down``: sites (or whole campuses) lost, back at ``until``."""

    kind: ClassVar[EventType] = EventType.SITE_DOWN
    keys: ClassVar[tuple[str, ...]] = ("sites", "campuses", "until", "failover", *_FAILOVER_KEYS)

    @classmethod
    def read(cls, r: EventReader, m: LineDict, path: str, common: dict[str, Any]) -> SiteDown:
        f = r.f
        sites: list[str] = []
        if not ("sites" in m or "campuses" in m):
            raise f.error("needs 'sites' or 'campuses'", m, None, path, None)
        if "sites" in m:
            sites.extend(r.sites(m, "sites", f"{path}.sites"))
        if "campuses" in m:
            campuses = f.text_list(m, "campuses", f"{path}.campuses")
            every = r.topology.sites.values()
            known = sorted({s.campus for s in every if s.campus})
            for j, campus in enumerate(campuses):
                if campus not in known:
                    raise f.error(
                        f"unknown campus; this topology has {', '.join(known) or 'none'}",
                        m["campuses"],
                        j,
                        f"{path}.campuses[{j}]",
                        campus,
                    )
                sites.extend(s.id for s in every if s.campus == campus)
        site_tuple = tuple(dict.fromkeys(sites))
        until = r.until(m, path, common["at_s"], sites=site_tuple)
        return cls(sites=site_tuple, restore=until, **r.failover(m, path), **common)

    def expand(self, topology: Topology, *, hold: str) -> list[TimelineEvent]:
        return _site_outage(self, hold)


@dataclass(frozen=True, slots=True, kw_only=True)
class DcLoss(HostOutage):
    """``dc_loss``: the data centre that is a service's primary host is lost."""

    kind: ClassVar[EventType] = EventType.DC_LOSS
    keys: ClassVar[tuple[str, ...]] = ("site", "detection_s", "switchover_s", "until", "failback")

    @classmethod
    def read(cls, r: EventReader, m: LineDict, path: str, common: dict[str, Any]) -> DcLoss:
        f = r.f
        f.require(m, "site", path)
        site = r.site(m, "site", f"{path}.site")
        if not any(s.primary == site for s in r.services):
            raise f.error(
                "no service in this scenario has this site as its primary host "
                "(use site_down for other sites)",
                m,
                "site",
                f"{path}.site",
                site,
            )
        until = r.until(m, path, common["at_s"], sites=(site,))
        return cls(sites=(site,), restore=until, **r.failover(m, path), **common)

    def expand(self, topology: Topology, *, hold: str) -> list[TimelineEvent]:
        return _site_outage(self, hold)


@dataclass(frozen=True, slots=True, kw_only=True)
class RegionDown(HostOutage):
    """``region_down``: every site of some prefectures or of a circle, restored in stages.

    ``sites`` stays empty: the engine finds the sites of the region when it applies it.
    """

    kind: ClassVar[EventType] = EventType.REGION_DOWN
    keys: ClassVar[tuple[str, ...]] = (
        "prefectures",
        "center",
        "radius_km",
        "until",
        "restore",
        "failover",
        *_FAILOVER_KEYS,
    )
    prefectures: tuple[str, ...] = ()
    center_latlon: tuple[float, float] | None = None
    radius_km: float | None = None

    @classmethod
    def read(cls, r: EventReader, m: LineDict, path: str, common: dict[str, Any]) -> RegionDown:
        f = r.f
        at = common["at_s"]
        topology = r.topology
        by_list = "prefectures" in m
        by_circle = "center" in m or "radius_km" in m
        if by_list == by_circle:
            raise f.error(
                "needs either 'prefectures' or 'center' with 'radius_km'", m, None, path, None
            )
        prefectures: tuple[str, ...] = ()
        center: tuple[float, float] | None = None
        radius: float | None = None
        if by_list:
            prefectures = r.prefectures(m, "prefectures", f"{path}.prefectures")
            present = {s.prefecture for s in topology.sites.values()}
            for j, code in enumerate(prefectures):
                if code not in present:
                    raise f.error(
                        "this topology has no site in this prefecture",
                        m["prefectures"],
                        j,
                        f"{path}.prefectures[{j}]",
                        code,
                    )
        else:
            for key in ("center", "radius_km"):
                f.require(m, key, path)
            pair = f.seq(m, "center", f"{path}.center")
            if len(pair) != 2:
                raise f.error("must be [lat, lon]", m, "center", f"{path}.center", list(pair))
            center = (
                f.number(pair, 0, f"{path}.center[0]", minimum=-90.0, maximum=90.0),
                f.number(pair, 1, f"{path}.center[1]", minimum=-180.0, maximum=180.0),
            )
            radius = f.number(
                m,
                "radius_km",
                f"{path}.radius_km",
                minimum=0.0,
                exclusive_minimum=True,
                maximum=3000.0,
            )
            inside = [
                s
                for s in topology.sites.values()
                if great_circle_km(s.lat, s.lon, center[0], center[1]) <= radius
            ]
            if not inside:
                raise f.error(
                    "no site lies inside this circle", m, "radius_km", f"{path}.radius_km", radius
                )
        if "until" in m and "restore" in m:
            raise f.error(
                "give either 'until' or staged 'restore', not both",
                m,
                "restore",
                f"{path}.restore",
                None,
            )
        stages = list(r.until(m, path, at, prefectures=prefectures))
        if "restore" in m:
            if not by_list:
                raise f.error(
                    "staged restoration works by prefecture; use 'until' with a circle",
                    m,
                    "restore",
                    f"{path}.restore",
                    None,
                )
            stages.extend(_stages(r, m, path, at, prefectures))
        return cls(
            prefectures=prefectures,
            center_latlon=center,
            radius_km=radius,
            restore=tuple(stages),
            **r.failover(m, path),
            **common,
        )

    def expand(self, topology: Topology, *, hold: str) -> list[TimelineEvent]:
        note = self.label
        out = [
            TimelineEvent(
                at_s=self.at_s,
                kind=EventKind.REGION_DOWN,
                prefectures=self.prefectures,
                center_latlon=self.center_latlon,
                radius_km=self.radius_km,
                note=note,
                hold=hold,
            )
        ]
        for s in self.restore:
            out.append(
                TimelineEvent(
                    at_s=s.at_s,
                    kind=EventKind.REGION_UP,
                    prefectures=s.prefectures,
                    center_latlon=None if s.prefectures else self.center_latlon,
                    radius_km=None if s.prefectures else self.radius_km,
                    note=f"{note}: restored " + (",".join(s.prefectures) or "all"),
                    hold=hold,
                )
            )
        return out


def _stages(
    r: EventReader, m: LineDict, path: str, at: float, prefectures: tuple[str, ...]
) -> list[Restore]:
    """A region's staged ``restore``: each stage later than the last, no prefecture twice."""
    f = r.f
    items = f.seq(m, "restore", f"{path}.restore")
    if not items:
        raise f.error("must not be empty", m, "restore", f"{path}.restore", [])
    stages: list[Restore] = []
    restored: set[str] = set()
    previous = at
    previous_what = "the event's start"
    for j in range(len(items)):
        sp = f"{path}.restore[{j}]"
        sm = f.mapping(items, j, sp)
        f.only(sm, ("at", "prefectures"), sp)
        for key in ("at", "prefectures"):
            f.require(sm, key, sp)
        when = r.time(sm, "at", f"{sp}.at", after=previous, after_what=previous_what)
        codes = r.prefectures(sm, "prefectures", f"{sp}.prefectures")
        for k, code in enumerate(codes):
            if code not in prefectures:
                raise f.error(
                    "this prefecture is not part of the outage",
                    sm["prefectures"],
                    k,
                    f"{sp}.prefectures[{k}]",
                    code,
                )
            if code in restored:
                raise f.error(
                    "this prefecture is already restored by an earlier stage",
                    sm["prefectures"],
                    k,
                    f"{sp}.prefectures[{k}]",
                    code,
                )
        restored.update(codes)
        previous = when
        previous_what = f"the previous stage ({path}.restore[{j}].at: {sm['at']})"
        stages.append(Restore(at_s=when, prefectures=codes))
    return stages


@dataclass(frozen=True, slots=True, kw_only=True)
class CapacityChange(ScenarioEvent):
    """``capacity``: lines set to ``capacity_bps`` or scaled by ``scale``, until ``until``."""

    kind: ClassVar[EventType] = EventType.CAPACITY
    keys: ClassVar[tuple[str, ...]] = ("links", "capacity_bps", "scale", "until")
    links: tuple[str, ...] = ()
    capacity_bps: float | None = None
    scale: float | None = None

    @classmethod
    def read(cls, r: EventReader, m: LineDict, path: str, common: dict[str, Any]) -> CapacityChange:
        r.f.require(m, "links", path)
        links = r.links(m, "links", f"{path}.links")
        capacity, scale = r.loader.capacity_or_scale(m, path)
        until = r.until(m, path, common["at_s"], links=links)
        return cls(links=links, capacity_bps=capacity, scale=scale, restore=until, **common)

    def expand(self, topology: Topology, *, hold: str) -> list[TimelineEvent]:
        note = self.label
        out: list[TimelineEvent] = []
        for link_id in self.links:
            before = topology.link(link_id).capacity_bps
            after = (
                self.capacity_bps if self.capacity_bps is not None else before * (self.scale or 1.0)
            )
            out.append(
                TimelineEvent(
                    at_s=self.at_s,
                    kind=EventKind.CAPACITY,
                    links=(link_id,),
                    capacity_bps=after,
                    note=note,
                    hold=hold,
                )
            )
            out.extend(
                TimelineEvent(
                    at_s=s.at_s,
                    kind=EventKind.CAPACITY,
                    links=(link_id,),
                    capacity_bps=None,
                    note=f"{note}: restored",
                    hold=hold,
                )
                for s in self.restore
            )
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class DemandSurge(ScenarioEvent):
    """``demand_surge``: the demand of one service (or of all) times ``multiplier``."""

    kind: ClassVar[EventType] = EventType.DEMAND_SURGE
    keys: ClassVar[tuple[str, ...]] = ("service", "multiplier", "until")
    service: str | None = None
    multiplier: float = 1.0

    @classmethod
    def read(cls, r: EventReader, m: LineDict, path: str, common: dict[str, Any]) -> DemandSurge:
        f = r.f
        f.require(m, "multiplier", path)
        service = None
        if "service" in m:
            service = f.text(m, "service", f"{path}.service")
            names = [s.name for s in r.services]
            if service not in names:
                raise f.error(
                    f"not a service of this scenario; one of {', '.join(names)}",
                    m,
                    "service",
                    f"{path}.service",
                    service,
                )
        multiplier = f.number(
            m, "multiplier", f"{path}.multiplier", minimum=0.0, maximum=MAX_MULTIPLIER
        )
        until = r.until(m, path, common["at_s"])
        return cls(service=service, multiplier=multiplier, restore=until, **common)

    def expand(self, topology: Topology, *, hold: str) -> list[TimelineEvent]:
        note = self.label
        return [
            TimelineEvent(
                at_s=self.at_s,
                kind=EventKind.DEMAND,
                service=self.service,
                multiplier=self.multiplier,
                note=note,
                hold=hold,
            ),
            *(
                TimelineEvent(
                    at_s=s.at_s,
                    kind=EventKind.DEMAND,
                    service=self.service,
                    multiplier=1.0,
                    note=f"{note}: over",
                    hold=hold,
                )
                for s in self.restore
            ),
        ]


@dataclass(frozen=True, slots=True, kw_only=True)
class CeptoarAlert(ScenarioEvent):
    """``ceptoar_alert``: one alert mailed to every local body (``scenario/_broadcast.py``).

    A broadcast is demand (a trace of the ``ceptoar-alert`` service), not a change of the
    network, so it expands to no timeline event.
    """

    kind: ClassVar[EventType] = EventType.CEPTOAR_ALERT
    keys: ClassVar[tuple[str, ...]] = ("size_bytes",)
    size_bytes: float | None = None
    """The mail's size; ``None``: the service's catalogue size."""

    @classmethod
    def read(cls, r: EventReader, m: LineDict, path: str, common: dict[str, Any]) -> CeptoarAlert:
        f = r.f
        if BROADCAST_SERVICE not in {s.name for s in r.services}:
            raise f.error(
                f"needs the {BROADCAST_SERVICE!r} service in the catalogue",
                m,
                "kind",
                path,
                m["kind"],
            )
        size = (
            f.number(m, "size_bytes", f"{path}.size_bytes", minimum=1.0, maximum=1.0e9)
            if "size_bytes" in m
            else None
        )
        return cls(size_bytes=size, **common)

    def expand(self, topology: Topology, *, hold: str) -> list[TimelineEvent]:
        return []


_GE_KEYS = ("p_good_to_bad", "p_bad_to_good", "loss_good", "loss_bad")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Impairment(ScenarioEvent):
    """A link impairment set at ``at`` on ``links`` and ended at ``until`` (or never)."""

    engine_kind: ClassVar[EventKind]
    links: tuple[str, ...] = ()

    def values(self, *, end: bool) -> dict[str, Any]:
        """The engine event's own fields; ``end``: those that end the impairment."""
        raise NotImplementedError

    def expand(self, topology: Topology, *, hold: str) -> list[TimelineEvent]:
        note = self.label
        kind = self.engine_kind
        return [
            TimelineEvent(
                at_s=self.at_s,
                kind=kind,
                links=self.links,
                note=note,
                hold=hold,
                **self.values(end=False),
            ),
            *(
                TimelineEvent(
                    at_s=s.at_s,
                    kind=kind,
                    links=self.links,
                    note=f"{note}: over",
                    hold=hold,
                    **self.values(end=True),
                )
                for s in self.restore
            ),
        ]


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkLoss(_Impairment):
    """``link_loss``: packets lost on ``links``, random (``loss``) or Gilbert-Elliott."""

    kind: ClassVar[EventType] = EventType.LINK_LOSS
    engine_kind: ClassVar[EventKind] = EventKind.LINK_LOSS
    keys: ClassVar[tuple[str, ...]] = ("links", "loss", *_GE_KEYS, "until")
    model: LossModel | None = None

    @classmethod
    def read(cls, r: EventReader, m: LineDict, path: str, common: dict[str, Any]) -> LinkLoss:
        f = r.f
        f.require(m, "links", path)
        links = r.links(m, "links", f"{path}.links")
        given = [k for k in _GE_KEYS if k in m]
        if ("loss" in m) == bool(given):
            raise f.error(
                "needs either 'loss' (random) or 'p_good_to_bad' with 'p_bad_to_good' "
                "(Gilbert-Elliott)",
                m,
                given[0] if given else None,
                f"{path}.{given[0]}" if given else path,
                None,
            )

        def prob(key: str) -> float:
            return f.number(m, key, f"{path}.{key}", minimum=0.0, maximum=1.0)

        if "loss" in m:
            model = LossModel.random(prob("loss"))
        else:
            for key in ("p_good_to_bad", "p_bad_to_good"):
                f.require(m, key, path)
            p = prob("p_good_to_bad")
            rr = f.number(
                m,
                "p_bad_to_good",
                f"{path}.p_bad_to_good",
                minimum=0.0,
                exclusive_minimum=True,
                maximum=1.0,
            )
            model = LossModel(
                p_good_to_bad=p,
                p_bad_to_good=rr,
                loss_good=prob("loss_good") if "loss_good" in m else 0.0,
                loss_bad=prob("loss_bad") if "loss_bad" in m else 1.0,
            )
        until = r.until(m, path, common["at_s"], links=links)
        return cls(links=links, model=model, restore=until, **common)

    def values(self, *, end: bool) -> dict[str, Any]:
        return {"loss": None if end else self.model}


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkLatency(_Impairment):
    """``link_latency``: ``delay_s`` more one way on ``links``, uniform within ``jitter_s``."""

    kind: ClassVar[EventType] = EventType.LINK_LATENCY
    engine_kind: ClassVar[EventKind] = EventKind.LINK_LATENCY
    keys: ClassVar[tuple[str, ...]] = ("links", "delay_s", "jitter_s", "until")
    delay_s: float = 0.0
    jitter_s: float = 0.0

    @classmethod
    def read(cls, r: EventReader, m: LineDict, path: str, common: dict[str, Any]) -> LinkLatency:
        f = r.f
        for key in ("links", "delay_s"):
            f.require(m, key, path)
        links = r.links(m, "links", f"{path}.links")
        delay = f.number(m, "delay_s", f"{path}.delay_s", minimum=0.0, maximum=3600.0)
        jitter = 0.0
        if "jitter_s" in m:
            jitter = f.number(m, "jitter_s", f"{path}.jitter_s", minimum=0.0, maximum=3600.0)
            if jitter > delay:
                raise f.error(
                    "must not exceed delay_s (a delay is never negative)",
                    m,
                    "jitter_s",
                    f"{path}.jitter_s",
                    jitter,
                )
        until = r.until(m, path, common["at_s"], links=links)
        return cls(links=links, delay_s=delay, jitter_s=jitter, restore=until, **common)

    def values(self, *, end: bool) -> dict[str, Any]:
        if end:
            return {"delay_s": None}
        return {"delay_s": self.delay_s, "jitter_s": self.jitter_s}


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkFlap(_Impairment):
    """``link_flap``: ``links`` down and up, exponential up (``mtbf_s``) and down times."""

    kind: ClassVar[EventType] = EventType.LINK_FLAP
    engine_kind: ClassVar[EventKind] = EventKind.LINK_FLAP
    keys: ClassVar[tuple[str, ...]] = ("links", "mtbf_s", "mttr_s", "until")
    mtbf_s: float = 1.0
    mttr_s: float = 1.0

    @classmethod
    def read(cls, r: EventReader, m: LineDict, path: str, common: dict[str, Any]) -> LinkFlap:
        f = r.f
        for key in ("links", "mtbf_s", "mttr_s"):
            f.require(m, key, path)
        links = r.links(m, "links", f"{path}.links")
        mtbf, mttr = (
            f.number(m, key, f"{path}.{key}", minimum=0.0, exclusive_minimum=True, maximum=1.0e7)
            for key in ("mtbf_s", "mttr_s")
        )
        until = r.until(m, path, common["at_s"], links=links)
        return cls(links=links, mtbf_s=mtbf, mttr_s=mttr, restore=until, **common)

    def values(self, *, end: bool) -> dict[str, Any]:
        if end:
            return {"mtbf_s": None}
        return {"mtbf_s": self.mtbf_s, "mttr_s": self.mttr_s}


#: The class of every kind a scenario file can name.
EVENT_KINDS: Mapping[EventType, type[ScenarioEvent]] = {
    cls.kind: cls
    for cls in (
        LinkDown,
        SiteDown,
        RegionDown,
        DcLoss,
        CapacityChange,
        DemandSurge,
        CeptoarAlert,
        LinkLoss,
        LinkLatency,
        LinkFlap,
    )
}
