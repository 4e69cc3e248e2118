"""Network state shared by the fidelities: directed links, capacities, routing, failures.

Two views of the network are kept apart on purpose. The *physical* view changes at the
moment of an event (a cut fibre carries nothing from then on). The *routing* view (the
:class:`~lgwan_sim.network.Router`) changes only when routing has converged, one
``convergence_delay_s`` later. In between, traffic that routing still sends over a dead
element is lost ("black-holed").
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lgwan_sim.engine._types import (
    DropReason,
    EngineConfig,
    EventKind,
    LossModel,
    TimelineEvent,
)
from lgwan_sim.errors import InputError, NoRouteError
from lgwan_sim.network import Router, RouterCheckpoint, Topology, great_circle_km
from lgwan_sim.traffic import Demand

__all__ = ["LossProcess", "NetState", "Outages", "Path", "directed_link_ids"]


def directed_link_ids(topology: Topology) -> list[str]:
    """``"a~b>"`` then ``"a~b<"`` for every link, links in id order."""
    out: list[str] = []
    for link_id in sorted(topology.links):
        out.append(f"{link_id}>")
        out.append(f"{link_id}<")
    return out


@dataclass(frozen=True, slots=True)
class Path:
    """A routed path as directed-link indices, with its propagation delay."""

    links: tuple[int, ...]
    delay_s: float
    sites: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TreeArrays:
    """The routing tree toward one site, as arrays over the topology's sites (in
    :attr:`NetState.site_index` order): what :meth:`NetState.route` walks, for every site at
    once. The root's own entries are ``next_site = root``, ``hop = dummy``."""

    root: int
    reach: npt.NDArray[np.bool_]  # the site has a route to the root
    next_site: npt.NDArray[np.int64]  # the next hop toward the root (itself where none)
    hop: npt.NDArray[np.int64]  # the directed link to it (the dummy link where none)
    hop_delay: npt.NDArray[np.float64]  # that link's delay (0 where none)


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """What applying a timeline event did, for the fidelity to react to."""

    newly_dead: frozenset[int] = frozenset()
    capacity_changed: tuple[int, ...] = ()
    demand_changed: bool = False
    reason: DropReason = DropReason.LINK_FAILURE
    routes_recomputed: int = 0
    links: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    converge: Callable[[], int] | None = None
    """Call after ``convergence_delay_s`` to update routing; returns trees recomputed."""
    schedule: tuple[TimelineEvent, ...] = ()
    """Events the change starts (a flapping link's next transition), for the timeline."""
    cancel: str = ""
    """A hold whose pending events the timeline forgets (a flapping that ended)."""


class LossProcess:
    """One directed link's loss: a :class:`LossModel` drawn from the link's own stream.

    :meth:`lose` is asked once per packet (or segment) that crosses the link: the packet is
    lost with the loss of the chain's state, then the chain moves (Good to Bad with
    ``p_good_to_bad``, Bad to Good with ``p_bad_to_good``). A random loss draws once.
    """

    __slots__ = ("bad", "loss_bad", "loss_good", "model", "p", "r", "rng")

    def __init__(self, model: LossModel, rng: random.Random) -> None:
        self.model = model
        self.rng = rng
        self.p = model.p_good_to_bad
        self.r = model.p_bad_to_good
        self.loss_good = model.loss_good
        self.loss_bad = model.loss_bad
        self.bad = False

    def lose(self) -> bool:
        draw = self.rng.random
        if self.bad:
            lost = draw() < self.loss_bad
            if draw() < self.r:
                self.bad = False
            return lost
        lost = self.loss_good > 0.0 and draw() < self.loss_good
        if self.p > 0.0 and draw() < self.p:
            self.bad = True
        return lost


class Latency:
    """One directed link's added one-way delay: ``delay_s``, uniform within ``jitter_s``."""

    __slots__ = ("delay_s", "jitter_s", "rng")

    def __init__(self, delay_s: float, jitter_s: float, rng: random.Random) -> None:
        self.delay_s = delay_s
        self.jitter_s = jitter_s
        self.rng = rng

    def draw(self) -> float:
        j = self.jitter_s
        return self.delay_s + self.rng.uniform(-j, j) if j else self.delay_s


@dataclass(slots=True)
class _Flap:
    """A flapping in force: its links, means and each link's own stream."""

    links: tuple[str, ...]
    mtbf_s: float
    mttr_s: float
    rngs: dict[str, random.Random]
    note: str


class Outages:
    """Which holds keep each link and site down: an element is down while any hold remains.

    Every down event (``link_down``, ``site_down``, ``region_down``) puts its ``hold`` on the
    elements it names; an up event takes one hold of the same name off them again (holds are
    counted, so two down events of the default hold ``""`` need two up events). Two
    overlapping outages of one element therefore end when the later of them ends, whatever
    their order or kinds; an up event for an element its hold does not keep down does
    nothing. The engine's physical view and the scenario's failover planning replay the
    timeline through this one class, so they agree on what was down when; a run's reports
    read it back from the applied-event log (:class:`~lgwan_sim.engine.DownElements`).
    """

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        # element -> {hold: how many down events of that hold are in force}
        self._links: dict[str, dict[str, int]] = {}
        self._sites: dict[str, dict[str, int]] = {}

    @property
    def down_links(self) -> frozenset[str]:
        """Links held down by a link event (a down site's lines are not listed here)."""
        return frozenset(self._links)

    @property
    def down_sites(self) -> frozenset[str]:
        return frozenset(self._sites)

    def links_held_by(self, hold: str) -> tuple[str, ...]:
        """The links ``hold`` keeps down (another hold may keep them down too), in id order."""
        return tuple(sorted(x for x, held in self._links.items() if hold in held))

    def holds_of_site(self, site: str) -> frozenset[str]:
        return frozenset(self._sites.get(site, ()))

    def region_sites(self, event: TimelineEvent) -> tuple[str, ...]:
        """The sites inside a region event's prefectures and/or circle, in id order."""
        sites: set[str] = set()
        for code in event.prefectures:
            found = self.topology.sites_in_prefecture(code)
            if not found:
                raise InputError("no sites in prefecture", field="prefectures", value=code)
            sites.update(s.id for s in found)
        if event.center_latlon is not None and event.radius_km is not None:
            lat, lon = event.center_latlon
            sites.update(
                s.id
                for s in self.topology.sites.values()
                if great_circle_km(lat, lon, s.lat, s.lon) <= event.radius_km
            )
        return tuple(sorted(sites))

    def elements(self, event: TimelineEvent) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The links and the sites a down or up event names (canonical ids)."""
        of = event.kind.outage_of
        if of == "links":
            return tuple(self.topology.link(x).id for x in event.links), ()
        if of == "sites":
            return (), tuple(self.topology.site(x).id for x in event.sites)
        if of == "region":
            return (), self.region_sites(event)
        return (), ()

    def apply(self, event: TimelineEvent) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Put on or take off ``event``'s hold; return the links and sites that changed.

        A down event returns the elements it took down (not those already down for another
        hold); an up event those that came back (not those another hold still keeps down).
        """
        links, sites = self.elements(event)
        down = event.kind.takes_down
        return (
            _hold(self._links, links, event.hold, down),
            _hold(self._sites, sites, event.hold, down),
        )


def _hold(
    holders: dict[str, dict[str, int]], ids: tuple[str, ...], hold: str, down: bool
) -> tuple[str, ...]:
    changed: list[str] = []
    for x in dict.fromkeys(ids):
        held = holders.get(x)
        if down:
            if held is None:
                held = holders[x] = {}
                changed.append(x)
            held[hold] = held.get(hold, 0) + 1
        elif held is not None and hold in held:
            held[hold] -= 1
            if not held[hold]:
                del held[hold]
            if not held:
                del holders[x]
                changed.append(x)
    return tuple(changed)


class NetState:
    """Capacities, failures, hosts and multipliers at the current simulated time."""

    def __init__(
        self, topology: Topology, demand: Demand, config: EngineConfig, *, seed: int = 0
    ) -> None:
        self.topology = topology
        self.seed = seed
        self.demand = demand
        self.config = config
        self.router = Router(topology)
        self.link_ids = directed_link_ids(topology)
        self.undirected = sorted(topology.links)
        self.link_pos = {link_id: i for i, link_id in enumerate(self.undirected)}
        self._link_pos_of = {id(topology.links[x]): i for x, i in self.link_pos.items()}
        caps: list[float] = []
        delays: list[float] = []
        for link_id in self.undirected:
            link = topology.links[link_id]
            caps += [link.capacity_bps, link.capacity_bps]
            delays += [link.delay_s, link.delay_s]
        self.nominal_cap_bps = list(caps)
        self.cap_bps = caps
        self.delay_s = delays
        self.outages = Outages(topology)
        self.down_links: frozenset[str] = frozenset()
        self.down_sites: frozenset[str] = frozenset()
        self.dead: set[int] = set()
        self.hosts = {s.name: s.primary for s in demand.services}
        self.service_multiplier = {s.name: 1.0 for s in demand.services}
        self.global_multiplier = 1.0
        # capacity and demand changes in force, by hold, in the order they were made
        self._capacity_holds: dict[int, dict[str, float]] = {}
        self._demand_holds: dict[str | None, dict[str, float]] = {}
        # impairments in force per directed link (only impaired links are keys), by hold
        self.loss: dict[int, LossProcess] = {}
        self.latency: dict[int, Latency] = {}
        self._loss_holds: dict[int, dict[str, LossModel]] = {}
        self._latency_holds: dict[int, dict[str, tuple[float, float]]] = {}
        self._rngs: dict[str, random.Random] = {}
        self._flaps: dict[str, _Flap] = {}  # by the hold of its transitions
        self._flap_hold: dict[str, str] = {}  # a flapping event's hold -> its transitions'
        self._flap_count = 0
        # routes by destination: a routing change invalidates only the trees it recomputed
        self._routes: dict[str, dict[str, Path | None]] = {}
        self._trees: dict[str, TreeArrays] = {}
        self.site_index = {site_id: i for i, site_id in enumerate(topology.sites)}
        self._site_indices: dict[tuple[str, ...], npt.NDArray[np.int64]] = {}
        self._back: dict[str, dict[str, Path | None]] = {}
        self.route_version = 0
        self.root_version: dict[str, int] = {}
        self._site_links: dict[str, list[str]] = {}
        for link_id in self.undirected:
            link = topology.links[link_id]
            self._site_links.setdefault(link.a, []).append(link_id)
            self._site_links.setdefault(link.b, []).append(link_id)
        for svc in demand.services:
            for site in (svc.primary, svc.secondary, *svc.callers):
                if site is not None:
                    topology.site(site)
        self.local_bodies = {s.id for s in topology.sites.values() if s.kind.is_local_body}

    # -- routing --------------------------------------------------------------------------
    def route(self, src: str, dst: str) -> Path | None:
        """The routing view's path (cached), or ``None`` when routing has no path."""
        by_src = self._routes.get(dst)
        if by_src is None:
            by_src = self._routes[dst] = {}
        elif src in by_src:
            return by_src[src]
        path: Path | None
        try:
            route = self.router.route(src, dst)
        except NoRouteError:
            path = None
        else:
            pos = self.link_pos
            links = tuple(2 * pos[link.id] + (0 if fwd else 1) for link, fwd in route.directed())
            path = Path(links, route.delay_s, route.sites)
        by_src[src] = path
        return path

    def tree(self, root: str) -> TreeArrays:
        """The routing view's tree toward ``root`` as arrays (cached like the routes)."""
        found = self._trees.get(root)
        if found is not None:
            return found
        index, dummy = self.site_index, 2 * len(self.link_pos)
        pos = self._link_pos_of  # by the link object itself: its id is formatted when asked
        n = len(index)
        r = index[root]
        next_site = np.arange(n, dtype=np.int64)
        hop = np.full(n, dummy, dtype=np.int64)
        hop_delay = np.zeros(n)
        reach = np.zeros(n, dtype=bool)
        reach[r] = self.router.reachable(root, root)
        for site, (nxt, link) in self.router.next_hops(root).items():
            i = index[site]
            reach[i] = True
            next_site[i] = index[nxt]
            hop[i] = 2 * pos[id(link)] + (0 if link.a == site else 1)
            hop_delay[i] = link.delay_s
        found = self._trees[root] = TreeArrays(r, reach, next_site, hop, hop_delay)
        return found

    def site_indices(self, sites: tuple[str, ...]) -> npt.NDArray[np.int64]:
        """The :attr:`site_index` of each of ``sites`` (cached per tuple)."""
        found = self._site_indices.get(sites)
        if found is None:
            index = self.site_index
            found = np.fromiter((index[s] for s in sites), np.int64, len(sites))
            self._site_indices[sites] = found
        return found

    def path_sites(self, src: str, dst: str) -> tuple[str, ...] | None:
        """The sites of the routing view's path from ``src`` to ``dst`` (``None``: none)."""
        for site in (src, dst):
            self.topology.site(site)  # an unknown id is an UnknownSiteError naming it
        path = self.route(src, dst)
        return None if path is None else path.sites

    def route_back(self, src: str, dst: str) -> Path | None:
        """The path from a host ``src`` back to ``dst``: the reverse of ``dst``'s route to it.

        Links are symmetric, so the reverse of a shortest path is a shortest path; using it
        keeps the routing trees to the (few) hosts only, instead of one per caller.
        """
        by_src = self._back.get(src)
        if by_src is None:
            by_src = self._back[src] = {}
        elif dst in by_src:
            return by_src[dst]
        fwd = self.route(dst, src)
        path = (
            None
            if fwd is None
            else Path(tuple(link ^ 1 for link in reversed(fwd.links)), fwd.delay_s, fwd.sites[::-1])
        )
        by_src[dst] = path
        return path

    def _routing_changed(self, roots: tuple[str, ...] = ()) -> None:
        for root in roots:
            self._routes.pop(root, None)
            self._back.pop(root, None)
            self._trees.pop(root, None)
            self.root_version[root] = self.root_version.get(root, 0) + 1
        self.route_version += 1

    def routing_checkpoint(self) -> tuple[RouterCheckpoint, dict[str, TreeArrays]]:
        """The routing view now (the router's trees and their arrays), for
        :meth:`rollback_routing`."""
        return self.router.checkpoint(), dict(self._trees)

    def rollback_routing(self, checkpoint: tuple[RouterCheckpoint, dict[str, TreeArrays]]) -> None:
        """Put the routing view back as it was at ``checkpoint`` (the physical view is the
        events' business): the same as restoring what failed since and converging."""
        router_cp, arrays = checkpoint
        changed = self.router.rollback(router_cp)
        self._routing_changed(changed)
        for root in changed:
            if root in arrays:
                self._trees[root] = arrays[root]

    def blackholed(self, path: Path) -> bool:
        """True when the path crosses a physically dead link."""
        dead = self.dead
        return bool(dead) and any(link in dead for link in path.links)

    def _recompute_dead(self) -> None:
        dead: set[int] = set()
        for link_id in self.down_links:
            i = self.link_pos[link_id]
            dead.update((2 * i, 2 * i + 1))
        for site in self.down_sites:
            for link_id in self._site_links.get(site, ()):
                i = self.link_pos[link_id]
                dead.update((2 * i, 2 * i + 1))
        self.dead = dead

    def unreachable_local_bodies(self) -> int:
        """How many local bodies cannot reach the current host of a service they call."""
        return len(self.unreachable_local_body_ids())

    def unreachable_local_body_ids(self) -> set[str]:
        """The local bodies that cannot reach the current host of a service they call."""
        lost: set[str] = set()
        by_host: dict[str, dict[str, float]] = {}
        for svc in self.demand.services:
            host = self.hosts[svc.name]
            if host not in by_host:
                by_host[host] = {} if host in self.down_sites else self.router.distances_to(host)
            dist = by_host[host]
            for caller in svc.callers:
                if (
                    caller in self.local_bodies
                    and (caller not in dist or caller in self.down_sites)
                    and caller != host
                ):
                    lost.add(caller)
        return lost

    # -- events ---------------------------------------------------------------------------
    def region_sites(self, event: TimelineEvent) -> tuple[str, ...]:
        """The sites inside a region event's prefectures and/or circle, in id order."""
        return self.outages.region_sites(event)

    def apply(self, event: TimelineEvent) -> Change:
        """Apply an event to the physical view; routing changes come via ``converge``."""
        kind = event.kind
        if kind.outage_of is not None:
            return self._outage(event)
        return _APPLY[kind](self, event)

    def _capacity(self, event: TimelineEvent) -> Change:
        """Set (or end) ``event.hold``'s capacity of its links."""
        changed: list[int] = []
        ids = tuple(self.topology.link(x).id for x in event.links)
        for link_id in ids:
            i = self.link_pos[link_id]
            held = self._capacity_holds.setdefault(i, {})
            held.pop(event.hold, None)  # a hold set again becomes the latest
            if event.capacity_bps is not None:
                held[event.hold] = float(event.capacity_bps)
            # the latest change still in force, else the link's own capacity
            cap = next(reversed(held.values())) if held else self.nominal_cap_bps[2 * i]
            if not held:
                del self._capacity_holds[i]
            for d in (2 * i, 2 * i + 1):
                self.cap_bps[d] = cap
                changed.append(d)
        return Change(capacity_changed=tuple(changed), links=ids)

    def _demand(self, event: TimelineEvent) -> Change:
        """Set (or end, with 1) ``event.hold``'s multiplier of a service or of all demand."""
        assert event.multiplier is not None
        if event.service is not None:
            self.demand.service(event.service)
        factors = self._demand_holds.setdefault(event.service, {})
        if event.multiplier == 1.0:
            factors.pop(event.hold, None)
        else:
            factors[event.hold] = event.multiplier
        product = math.prod(factors.values())  # in the order the holds began
        if event.service is None:
            self.global_multiplier = product
        else:
            self.service_multiplier[event.service] = product
        return Change(demand_changed=True)

    def _host(self, event: TimelineEvent) -> Change:
        """Serve ``event.service`` from its secondary host (failover) or its primary."""
        assert event.service is not None
        svc = self.demand.service(event.service)
        if event.kind is EventKind.FAILOVER:
            if svc.secondary is None:
                raise InputError(
                    "failover of a service without a secondary host",
                    field="service",
                    value=event.service,
                )
            self.hosts[svc.name] = svc.secondary
        else:
            self.hosts[svc.name] = svc.primary
        return Change()

    def _loss(self, event: TimelineEvent) -> Change:
        """Set (or end) ``event.hold``'s loss model of its links."""
        return self._impair(event, self._loss_holds, event.loss, self._set_loss)

    def _latency(self, event: TimelineEvent) -> Change:
        """Set (or end) ``event.hold``'s added delay and jitter of its links."""
        value = None if event.delay_s is None else (float(event.delay_s), event.jitter_s or 0.0)
        return self._impair(event, self._latency_holds, value, self._set_latency)

    def _outage(self, event: TimelineEvent) -> Change:
        """A down or up event: only elements whose state changes reach the network.

        An element another hold keeps down stays down (and out of routing); one already down
        for another hold is not taken down again. Nothing changed, nothing to converge.
        """
        before = set(self.dead)
        links, sites = self.outages.apply(event)
        self.down_links = self.outages.down_links
        self.down_sites = self.outages.down_sites
        self._recompute_dead()
        down = event.kind.takes_down
        router = self.router

        def converge() -> int:
            recomputed = 0
            for change in (
                (router.fail_links(links), router.fail_sites(sites))
                if down
                else (router.restore_links(links), router.restore_sites(sites))
            ):
                self._routing_changed(change.changed_roots)
                recomputed += len(change.recomputed_roots)
            return recomputed

        schedule: tuple[TimelineEvent, ...] = ()
        flap = self._flaps.get(event.hold)
        if flap is not None and event.kind in (EventKind.LINK_DOWN, EventKind.LINK_UP):
            nxt = EventKind.LINK_UP if down else EventKind.LINK_DOWN
            schedule = tuple(
                self._transition(event.hold, flap, x, event.at_s, nxt) for x in event.links
            )
        return Change(
            schedule=schedule,
            newly_dead=frozenset(self.dead - before),
            reason=event.kind.drop_reason,
            links=links,
            sites=sites,
            converge=converge if links or sites else None,
        )

    # -- impairments ---------------------------------------------------------------------
    def rng(self, what: str, link_id: str) -> random.Random:
        """The stream of ``what`` on ``link_id``: from the run's seed and the link's id only,
        so one link's draws do not depend on what the other links do."""
        key = f"{self.seed}:{link_id}:{what}"
        stream = self._rngs.get(key)
        if stream is None:
            stream = self._rngs[key] = random.Random(key)
        return stream

    def _impair(
        self,
        event: TimelineEvent,
        holds: dict[int, dict[str, Any]],
        value: Any,
        put: Callable[[int, Any], None],
    ) -> Change:
        ids = tuple(self.topology.link(x).id for x in event.links)
        for link_id in ids:
            i = self.link_pos[link_id]
            for d in (2 * i, 2 * i + 1):
                held = holds.setdefault(d, {})
                held.pop(event.hold, None)  # a hold set again becomes the latest
                if value is not None:
                    held[event.hold] = value
                if not held:
                    del holds[d]
                put(d, next(reversed(held.values())) if held else None)
        return Change(links=ids)

    def _set_loss(self, d: int, model: LossModel | None) -> None:
        if model is None:
            self.loss.pop(d, None)
        else:
            current = self.loss.get(d)
            if current is None or current.model != model:
                self.loss[d] = LossProcess(model, self.rng("loss", self.link_ids[d]))

    def _set_latency(self, d: int, value: tuple[float, float] | None) -> None:
        if value is None:
            self.latency.pop(d, None)
        else:
            self.latency[d] = Latency(value[0], value[1], self.rng("jitter", self.link_ids[d]))

    def _flap(self, event: TimelineEvent) -> Change:
        """Start (or end) a flapping: each link's transitions, one at a time, on the timeline.

        The transitions are ``link_down`` and ``link_up`` events under a hold of their own
        (``flap:HOLD#N``, a new one each time the flapping starts), so that they overlap
        with other outages as any outage does and a flapping that ends forgets its pending
        transition without touching another's.
        """
        ids = tuple(self.topology.link(x).id for x in event.links)
        cancel = ""
        up: list[TimelineEvent] = []
        old = self._flap_hold.pop(event.hold, None)
        if old is not None:
            self._flaps.pop(old)
            cancel = old
            for link_id in self.outages.links_held_by(old):
                up.append(
                    TimelineEvent(
                        at_s=event.at_s,
                        kind=EventKind.LINK_UP,
                        links=(link_id,),
                        note=f"{event.note or 'flap'}: up (flapping over)",
                        hold=old,
                    )
                )
        if event.mtbf_s is None:
            return Change(links=ids, schedule=tuple(up), cancel=cancel)
        assert event.mttr_s is not None
        self._flap_count += 1
        hold = f"flap:{event.hold}#{self._flap_count}"
        flap = _Flap(
            links=ids,
            mtbf_s=float(event.mtbf_s),
            mttr_s=float(event.mttr_s),
            rngs={x: self.rng(f"flap:{event.hold}", x) for x in ids},
            note=event.note or "flap",
        )
        self._flap_hold[event.hold] = hold
        self._flaps[hold] = flap
        first = [self._transition(hold, flap, x, event.at_s, EventKind.LINK_DOWN) for x in ids]
        return Change(links=ids, schedule=(*up, *first), cancel=cancel)

    def _transition(
        self, hold: str, flap: _Flap, link_id: str, now_s: float, kind: EventKind
    ) -> TimelineEvent:
        """The next transition of ``link_id``: down after an up time, up after a down time."""
        mean = flap.mtbf_s if kind is EventKind.LINK_DOWN else flap.mttr_s
        after = flap.rngs[link_id].expovariate(1.0 / mean)
        what = "down" if kind is EventKind.LINK_DOWN else "up"
        return TimelineEvent(
            at_s=now_s + after, kind=kind, links=(link_id,), note=f"{flap.note}: {what}", hold=hold
        )

    def multiplier(self, service: str) -> float:
        return self.global_multiplier * self.service_multiplier[service]

    def min_cap_bps(self, links: tuple[int, ...]) -> float:
        cap = self.cap_bps
        return min((cap[i] for i in links), default=math.inf)


#: How :meth:`NetState.apply` applies each kind that is not an outage.
_APPLY: dict[EventKind, Callable[[NetState, TimelineEvent], Change]] = {
    EventKind.CAPACITY: NetState._capacity,
    EventKind.DEMAND: NetState._demand,
    EventKind.FAILOVER: NetState._host,
    EventKind.FAILBACK: NetState._host,
    EventKind.LINK_LOSS: NetState._loss,
    EventKind.LINK_LATENCY: NetState._latency,
    EventKind.LINK_FLAP: NetState._flap,
}
