"""The engine's input types: fidelity, timeline events and configuration."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from lgwan_sim.errors import InputError
from lgwan_sim.network import Topology
from lgwan_sim.traffic import Demand

__all__ = [
    "DropReason",
    "EngineConfig",
    "EngineInputs",
    "EventKind",
    "Fidelity",
    "LossModel",
    "Timeline",
    "TimelineEvent",
]


class Fidelity(StrEnum):
    """How finely the engine resolves traffic."""

    ANALYTIC = "analytic"
    """Traffic matrix per time bin routed onto links; queueing delay from a formula."""
    FLOW = "flow"
    """Each message a fluid flow; links shared max-min fairly; event driven."""
    PACKET = "packet"
    """Packets through FIFO queues with finite buffers; for sub-networks."""


class DropReason(StrEnum):
    """Why a message was lost (the table in ``docs/engine.md``).

    Members are strings, so a result's ``dropped`` mapping reads the same with either.
    """

    SITE_DOWN = "site_down"
    """The caller or the host was down when a leg started, or a site failure cut a leg."""
    NO_ROUTE = "no_route"
    """Routing, converged, had no path."""
    LINK_FAILURE = "link_failure"
    """Sent over, or in transfer on, a failed link (the black hole before convergence)."""
    BUFFER_OVERFLOW = "buffer_overflow"
    """Packet fidelity: a packet of the message found its port's buffer full."""
    OVERLOAD = "overload"
    """The run stopped on sustained overload, or the analytic excess over a capacity."""
    NO_SERVICE = "no_service"
    """Emulation: no program served the address within the hold time (its program left)."""
    REJECTED = "rejected"
    """Emulation: the receiving endpoint refused the message (it failed the end-to-end check)."""
    FAULT = "fault"
    """Emulation: a message fault of the control API took it (``drop`` or ``error``)."""
    LINK_LOSS = "link_loss"
    """A packet of the message was lost on a lossy link (a ``link_loss`` event)."""
    BACKLOG = "backlog"
    """Emulation: the program's backlog of unanswered requests was full (``max_outstanding``)."""
    UNANSWERED = "unanswered"
    """Emulation: the program did not answer the request within its ``ttl`` (wall time)."""


class EventKind(StrEnum):
    """What a :class:`TimelineEvent` does.

    The outage kinds come in down/up pairs over links, sites or a region
    (:attr:`outage_of`); a down event puts its hold on what it names, an up event takes
    it off (:attr:`takes_down`).
    """

    LINK_DOWN = "link_down"
    LINK_UP = "link_up"
    SITE_DOWN = "site_down"
    SITE_UP = "site_up"
    REGION_DOWN = "region_down"
    REGION_UP = "region_up"
    CAPACITY = "capacity"
    DEMAND = "demand"
    FAILOVER = "failover"
    FAILBACK = "failback"
    LINK_LOSS = "link_loss"
    LINK_LATENCY = "link_latency"
    LINK_FLAP = "link_flap"

    @property
    def outage_of(self) -> Literal["links", "sites", "region"] | None:
        """What an outage kind takes down or brings back; ``None`` for the other kinds."""
        return _OUTAGE_OF.get(self)

    @property
    def takes_down(self) -> bool:
        """True for ``link_down``, ``site_down`` and ``region_down``."""
        return self in _DOWN_KINDS

    @property
    def drop_reason(self) -> DropReason:
        """Why a message an outage of this kind cuts is lost."""
        return DropReason.LINK_FAILURE if self.outage_of == "links" else DropReason.SITE_DOWN


_OUTAGE_OF: dict[EventKind, Literal["links", "sites", "region"]] = {
    EventKind.LINK_DOWN: "links",
    EventKind.LINK_UP: "links",
    EventKind.SITE_DOWN: "sites",
    EventKind.SITE_UP: "sites",
    EventKind.REGION_DOWN: "region",
    EventKind.REGION_UP: "region",
}
_DOWN_KINDS = frozenset({EventKind.LINK_DOWN, EventKind.SITE_DOWN, EventKind.REGION_DOWN})


_IMPAIRMENTS = (EventKind.LINK_LOSS, EventKind.LINK_LATENCY, EventKind.LINK_FLAP)


def _probability(value: object, field: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and 0.0 <= value <= 1.0)
    ):
        raise InputError("must be a probability in [0, 1]", field=field, value=value)
    return float(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class LossModel:
    """A link's loss process: the Gilbert-Elliott two-state Markov chain, per packet.

    In the literature's names (Gilbert 1960, Elliott 1963; Hasslinger and Hohlfeld 2008):
    ``p_good_to_bad`` is *p*, ``p_bad_to_good`` is *r*, ``loss_good`` is *1 - k* and
    ``loss_bad`` is *1 - h*. Each packet is lost with the loss of the chain's state, then
    the chain moves. A state Bad lasts ``1 / r`` packets on average; in the long run a
    packet is lost with probability ``(r (1-k) + p (1-h)) / (p + r)``. Random (Bernoulli)
    loss is the one-state case :meth:`random`: ``p = 0``, ``1 - k`` the loss.
    """

    p_good_to_bad: float = 0.0
    p_bad_to_good: float = 1.0
    loss_good: float = 0.0
    loss_bad: float = 1.0

    def __post_init__(self) -> None:
        for name in ("p_good_to_bad", "p_bad_to_good", "loss_good", "loss_bad"):
            object.__setattr__(self, name, _probability(getattr(self, name), name))
        if self.p_good_to_bad > 0 and self.p_bad_to_good == 0:
            raise InputError(
                "p_bad_to_good must be > 0 (else the chain stays Bad for ever)",
                field="p_bad_to_good",
                value=self.p_bad_to_good,
            )

    @classmethod
    def random(cls, p: float) -> LossModel:
        """Each packet lost with probability ``p``, independently."""
        return cls(loss_good=_probability(p, "loss"))

    @property
    def mean_loss(self) -> float:
        """The long-run fraction of packets lost."""
        p, r = self.p_good_to_bad, self.p_bad_to_good
        if p == 0:
            return self.loss_good
        return (r * self.loss_good + p * self.loss_bad) / (p + r)


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineEvent:
    """One change applied at simulated time ``at_s``.

    ``links`` and ``sites`` name what a link/site/capacity event touches. A region event
    names ``prefectures`` (JIS codes "01".."47") and/or a circle (``center_latlon`` and
    ``radius_km``). ``capacity_bps`` is the new capacity (each direction) of ``links``.
    ``multiplier`` is the new demand multiplier, of ``service`` or of all demand when
    ``service`` is None. Failover/failback name the ``service``.

    ``hold`` names the cause that keeps elements down: a down event (``link_down``,
    ``site_down``, ``region_down``) puts one hold of that name on the links or sites it
    names, and an up event takes one hold of the same name off them. An element is down
    while any hold remains, so overlapping outages end when the last of them ends. Events
    without a ``hold`` share the default hold ``""`` and simply count: two down events on
    one element need two up events. Scenario events each have their own hold, so a
    restoration brings back only what its own event took down.

    Capacity and demand changes are held the same way. ``capacity`` sets ``hold``'s
    capacity on ``links``; with ``capacity_bps=None`` it ends that hold's change. A link
    has the capacity of the latest change still in force, or its own when none is. A
    ``demand`` event sets ``hold``'s multiplier (of ``service``, or of all demand), and the
    multipliers of different holds in force multiply; a multiplier of 1 ends the hold.

    The impairments of ``links`` are held so too, the latest change in force winning:
    ``link_loss`` sets ``hold``'s ``loss`` model (``None`` ends it); ``link_latency`` adds
    ``delay_s`` one way, each packet (or flow leg) drawing uniformly within ``jitter_s`` of
    it (``delay_s=None`` ends it); ``link_flap`` takes each of ``links`` down and up again
    for ever, up times drawn from an exponential of mean ``mtbf_s`` and down times of mean
    ``mttr_s``, each transition a ``link_down`` or ``link_up`` of its own (``mtbf_s=None``
    ends the flapping and brings back a link it holds down).
    """

    at_s: float
    kind: EventKind
    links: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    prefectures: tuple[str, ...] = ()
    center_latlon: tuple[float, float] | None = None
    radius_km: float | None = None
    capacity_bps: float | None = None
    multiplier: float | None = None
    service: str | None = None
    note: str = ""
    hold: str = ""
    loss: LossModel | None = None
    delay_s: float | None = None
    jitter_s: float | None = None
    mtbf_s: float | None = None
    mttr_s: float | None = None

    def __post_init__(self) -> None:
        where = f"event at {self.at_s!r}s"
        if not isinstance(self.kind, EventKind):
            raise InputError("unknown event kind", field=f"{where}.kind", value=self.kind)
        if not (math.isfinite(self.at_s) and self.at_s >= 0):
            raise InputError("at_s must be finite and >= 0", field=f"{where}.at_s", value=self.at_s)
        for check in _CHECKS[self.kind]:
            check(self, where)

    def _check_impairment(self, where: str) -> None:
        kind = self.kind
        if not self.links:
            raise InputError(f"{kind} needs links", field=f"{where}.links")
        if kind is EventKind.LINK_LOSS and not (
            self.loss is None or isinstance(self.loss, LossModel)
        ):
            raise InputError("loss must be a LossModel", field=f"{where}.loss", value=self.loss)
        if kind is EventKind.LINK_LATENCY and self.delay_s is not None:
            jitter = 0.0 if self.jitter_s is None else self.jitter_s
            for name, value in (("delay_s", self.delay_s), ("jitter_s", jitter)):
                if not (math.isfinite(value) and value >= 0):
                    raise InputError("must be >= 0", field=f"{where}.{name}", value=value)
            if jitter > self.delay_s:
                raise InputError(
                    "jitter_s must not exceed delay_s (a delay is never negative)",
                    field=f"{where}.jitter_s",
                    value=jitter,
                )
        if kind is EventKind.LINK_FLAP and self.mtbf_s is not None:
            for name, mean in (("mtbf_s", self.mtbf_s), ("mttr_s", self.mttr_s)):
                if mean is None or not (math.isfinite(mean) and mean > 0):
                    raise InputError("must be > 0", field=f"{where}.{name}", value=mean)


def _needs_links(e: TimelineEvent, where: str) -> None:
    if not e.links:
        raise InputError(f"{e.kind} needs links", field=f"{where}.links")


def _needs_sites(e: TimelineEvent, where: str) -> None:
    if not e.sites:
        raise InputError(f"{e.kind} needs sites", field=f"{where}.sites")


def _needs_region(e: TimelineEvent, where: str) -> None:
    circle = e.center_latlon is not None or e.radius_km is not None
    if circle and (e.center_latlon is None or e.radius_km is None):
        raise InputError("a region circle needs both center_latlon and radius_km", field=where)
    if e.radius_km is not None and not e.radius_km > 0:
        raise InputError("radius_km must be > 0", field=f"{where}.radius_km", value=e.radius_km)
    if not circle and not e.prefectures:
        raise InputError(f"{e.kind} needs prefectures or a circle", field=where)


def _needs_capacity(e: TimelineEvent, where: str) -> None:
    if e.capacity_bps is not None and not (math.isfinite(e.capacity_bps) and e.capacity_bps > 0):
        raise InputError(
            "capacity needs capacity_bps > 0 (or None to end its hold)",
            field=f"{where}.capacity_bps",
            value=e.capacity_bps,
        )


def _needs_multiplier(e: TimelineEvent, where: str) -> None:
    if e.multiplier is None or not (math.isfinite(e.multiplier) and e.multiplier >= 0):
        raise InputError(
            "demand needs multiplier >= 0", field=f"{where}.multiplier", value=e.multiplier
        )


def _needs_service(e: TimelineEvent, where: str) -> None:
    if not e.service:
        raise InputError(f"{e.kind} needs a service", field=f"{where}.service")


def _needs_impairment(e: TimelineEvent, where: str) -> None:
    e._check_impairment(where)


#: What each kind needs of a :class:`TimelineEvent`'s fields, checked in this order.
_CHECKS: dict[EventKind, tuple[Callable[[TimelineEvent, str], None], ...]] = {
    EventKind.LINK_DOWN: (_needs_links,),
    EventKind.LINK_UP: (_needs_links,),
    EventKind.SITE_DOWN: (_needs_sites,),
    EventKind.SITE_UP: (_needs_sites,),
    EventKind.REGION_DOWN: (_needs_region,),
    EventKind.REGION_UP: (_needs_region,),
    EventKind.CAPACITY: (_needs_links, _needs_capacity),
    EventKind.DEMAND: (_needs_multiplier,),
    EventKind.FAILOVER: (_needs_service,),
    EventKind.FAILBACK: (_needs_service,),
    EventKind.LINK_LOSS: (_needs_impairment,),
    EventKind.LINK_LATENCY: (_needs_impairment,),
    EventKind.LINK_FLAP: (_needs_impairment,),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeline:
    """Events in time order (a stable sort keeps the given order of simultaneous events)."""

    events: tuple[TimelineEvent, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "events", tuple(sorted(self.events, key=lambda e: e.at_s)))

    def __len__(self) -> int:
        return len(self.events)


FailedFlows = Literal["lose", "reroute"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineConfig:
    """Engine settings. Every default is an assumption, stated in ``docs/engine.md``.

    ``convergence_delay_s``: time from a failure to rerouted forwarding (detection plus
    route recomputation). Until it passes, traffic routed over a failed element is lost.
    ``failed_flows``: what happens to messages that are in transfer on a failed element:
    ``"lose"`` (counted as ``link_failure``/``site_down``) or ``"reroute"`` (held, then moved
    to the new route after convergence, lost as ``no_route`` if there is none).
    ``window_bytes`` and ``initial_window_segments``: the packet fidelity's sender sends at
    most ``initial_window_segments`` segments before its first acknowledgement, then one
    more per acknowledgement (slow start) up to ``window_bytes`` of payload in flight.
    ``drain``: after ``duration_s`` no new exchanges start, and the run goes on until every
    exchange under way has been delivered or dropped (so nothing is left in flight).
    """

    bin_s: float = 60.0
    convergence_delay_s: float = 3.0
    failed_flows: FailedFlows = "lose"
    max_flow_rate_bps: float = math.inf
    solver_numpy_min_classes: int = 256
    max_active_flows: int = 200_000
    overload_sustain_s: float = 60.0
    mss_bytes: float = 1460.0
    header_bytes: float = 40.0
    buffer_bytes: float = 1_000_000.0
    window_bytes: float = 262_144.0
    initial_window_segments: int = 10
    drain: bool = False
    max_queued_packets: int = 2_000_000
    analytic_max_utilisation: float = 0.99

    def __post_init__(self) -> None:
        positive = {
            "bin_s": self.bin_s,
            "max_flow_rate_bps": self.max_flow_rate_bps,
            "mss_bytes": self.mss_bytes,
            "overload_sustain_s": self.overload_sustain_s,
            "window_bytes": self.window_bytes,
        }
        for name, value in positive.items():
            if not value > 0:
                raise InputError(f"{name} must be > 0", field=name, value=value)
        for name, value in (
            ("convergence_delay_s", self.convergence_delay_s),
            ("header_bytes", self.header_bytes),
            ("buffer_bytes", self.buffer_bytes),
        ):
            if not (value >= 0 and not math.isnan(value)):
                raise InputError(f"{name} must be >= 0", field=name, value=value)
        if self.failed_flows not in ("lose", "reroute"):
            raise InputError(
                "failed_flows must be 'lose' or 'reroute'",
                field="failed_flows",
                value=self.failed_flows,
            )
        if (
            isinstance(self.initial_window_segments, bool)
            or not isinstance(self.initial_window_segments, int)
            or self.initial_window_segments < 1
        ):
            raise InputError(
                "initial_window_segments must be an integer >= 1",
                field="initial_window_segments",
                value=self.initial_window_segments,
            )
        if not isinstance(self.drain, bool):
            raise InputError("drain must be true or false", field="drain", value=self.drain)
        if not 0 < self.analytic_max_utilisation < 1:
            raise InputError(
                "analytic_max_utilisation must be in (0, 1)",
                field="analytic_max_utilisation",
                value=self.analytic_max_utilisation,
            )
        if (
            self.max_active_flows < 1
            or self.max_queued_packets < 1
            or self.solver_numpy_min_classes < 1
        ):
            raise InputError("limits must be >= 1", field="max_active_flows")


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineInputs:
    """Everything a run needs: the network, its demand, the timeline and how to simulate.

    ``fidelity`` may be given as its name (``"analytic"``, ``"flow"``, ``"packet"``).
    ``duration_s`` is the simulated time; ``seed`` derives every random stream, so the same
    inputs give the same result byte for byte. Raises :class:`InputError` naming the field.
    """

    topology: Topology
    demand: Demand
    timeline: Timeline = Timeline()
    fidelity: Fidelity = Fidelity.ANALYTIC
    duration_s: float
    seed: int
    config: EngineConfig = EngineConfig()

    def __post_init__(self) -> None:
        try:
            fidelity = Fidelity(self.fidelity)
        except ValueError:
            raise InputError(
                "fidelity must be analytic, flow or packet", field="fidelity", value=self.fidelity
            ) from None
        object.__setattr__(self, "fidelity", fidelity)
        d = self.duration_s
        if isinstance(d, bool) or not (isinstance(d, int | float) and math.isfinite(d) and d > 0):
            raise InputError("duration_s must be > 0", field="duration_s", value=d)
        object.__setattr__(self, "duration_s", float(d))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise InputError("seed must be an integer", field="seed", value=self.seed)
        for event in self.timeline.events:
            if event.service is not None:
                self.demand.service(event.service)
