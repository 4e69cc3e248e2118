"""The N-1 study: each backbone element failed in turn over a day, routing converged.

A :class:`N1Study` holds one network state and the day's traffic matrix (requests per
caller and bin, the analytic fidelity's exact profile integrals). :meth:`N1Study.case`
fails one element (a link, a site, or every site of a campus) through the same outage
events a timeline applies, lets routing converge, moves every service whose primary host
is down to its standby (as a failover would once it has switched over), re-projects the
traffic matrix onto the links and restores the element. Everything is steady state with
the element down for the whole day: the seconds before routing converges and before a
failover completes are not in it (a scenario event shows those).

Per case it reports every directed link's peak and 95th-percentile utilisation over the
bins, the exchanges lost by reason (``site_down``, ``no_route``, and ``overload``: where a
path's busiest link is above capacity a leg keeps ``1 / rho`` of its traffic, as in the
analytic fidelity), the local bodies that cannot reach a service they use, and the services
in breach. A service is in breach when it loses exchanges, or when the 95th percentile of
its latency over its callers exceeds its latency objective in the bin where the links it
uses are busiest (the analytic fidelity's delay model, evaluated in that bin).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from lgwan_sim.engine._analytic import (
    _bottleneck_seconds_per_bit,
    _ServiceSnapshot,
    _snapshot,
)
from lgwan_sim.engine._series import fixed_order_matmul as _fixed_order_matmul
from lgwan_sim.engine._state import NetState
from lgwan_sim.engine._types import EngineConfig, EventKind, TimelineEvent
from lgwan_sim.errors import UnknownSiteError
from lgwan_sim.network import LinkKind, SiteKind, Topology
from lgwan_sim.traffic import Demand, ServiceDemand

__all__ = ["N1Case", "N1Impact", "N1Study", "n1_cases"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The case of the intact network, the reference every other case is read against.
BASE_CASE = "none"
#: How many of a case's busiest links it reports.
WORST_LINKS = 5
_HOLD = "n1"
#: How many of a service's busiest intact links per bin a case looks among first.
_BUSIEST = 8
#: Bins per block in which those are found.
_BUSIEST_BINS = 32


@dataclass(frozen=True, slots=True, kw_only=True)
class N1Case:
    """One element to fail: a link (``a~b``), a site, or a campus (``campus:east``)."""

    id: str
    kind: str  # "none", "link", "site" or "campus"
    links: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class N1Impact:
    """What one case does to the day (expected exchanges, so not whole numbers)."""

    case: str
    kind: str
    offered: float
    lost: dict[str, float]
    """Exchanges lost over the day, by reason (``site_down``, ``no_route``, ``overload``)."""
    peak_utilisation: float
    worst_links: tuple[tuple[str, float, float], ...]
    """The busiest directed links: ``(link, peak, p95)``, highest peak first."""
    overloaded_links: int
    """Directed links whose offered load exceeds their capacity in some bin."""
    unreachable: tuple[str, ...]
    """Local bodies that cannot reach a service they use, in id order."""
    breaches: dict[str, str]
    """Services in breach and why: ``cut off``, ``overload`` and/or ``latency``."""
    p95_latency_s: dict[str, float | None] = field(default_factory=dict)
    """Each service's 95th-percentile latency in its busiest bin (None: nothing delivered)."""
    failovers: tuple[str, ...] = ()
    """Services moved to their standby because the case takes their primary host down."""
    most_raised: tuple[str, float, float] | None = None
    """The link whose peak the failure raises most: ``(link, peak, intact peak)``; ``None``
    when no link's peak rises."""

    @property
    def lost_total(self) -> float:
        return math.fsum(self.lost.values())


def n1_cases(topology: Topology, *, sites: bool = False, base: bool = True) -> list[N1Case]:
    """The cases of an N-1 study of ``topology``, in a fixed order.

    Every backbone link and every link of a prefecture node or prefectural office that does
    not lead to a municipality (a municipality's own line cuts off only that municipality);
    with ``sites`` also every prefecture node and every central site (its whole campus: core
    routers, security gateway and ASP segment). ``base`` puts the intact network first.
    """
    out = [N1Case(id=BASE_CASE, kind="none")] if base else []
    local = (SiteKind.PREFECTURE_NODE, SiteKind.PREFECTURE)
    for link in sorted(topology.links.values(), key=lambda lk: lk.id):
        if link.kind is LinkKind.BACKUP:
            continue
        ends = (topology.sites[link.a], topology.sites[link.b])
        if link.kind is LinkKind.BACKBONE or any(
            end.kind in local and other.kind is not SiteKind.MUNICIPALITY
            for end, other in (ends, ends[::-1])
        ):
            out.append(N1Case(id=link.id, kind="link", links=(link.id,)))
    if sites:
        for site in topology.sites_of_kind(SiteKind.PREFECTURE_NODE):
            out.append(N1Case(id=site.id, kind="site", sites=(site.id,)))
        campuses: dict[str, list[str]] = {}
        for site in topology.sites_of_kind(SiteKind.CENTRAL):
            if site.campus:
                campuses.setdefault(site.campus, [])
            else:
                out.append(N1Case(id=site.id, kind="site", sites=(site.id,)))
        for s in sorted(topology.sites.values(), key=lambda s: s.id):
            if s.campus in campuses:
                campuses[s.campus].append(s.id)
        for name, members in sorted(campuses.items()):
            out.append(N1Case(id=f"campus:{name}", kind="campus", sites=tuple(members)))
    return out


def case_of(topology: Topology, element: str) -> N1Case:
    """The case that fails ``element``: a link id, a site id or ``campus:NAME``."""
    if element == BASE_CASE:
        return N1Case(id=BASE_CASE, kind="none")
    if element.startswith("campus:"):
        name = element.removeprefix("campus:")
        members = tuple(sorted(s.id for s in topology.sites.values() if s.campus == name))
        if not members:
            known = sorted({s.campus for s in topology.sites.values() if s.campus})
            raise UnknownSiteError(name, what="campus", hint=f"known: {', '.join(known)}")
        return N1Case(id=element, kind="campus", sites=members)
    if "~" in element:
        link = topology.link(element)
        return N1Case(id=link.id, kind="link", links=(link.id,))
    topology.site(element)
    return N1Case(id=element, kind="site", sites=(element,))


class N1Study:
    """One network state and one day of demand; :meth:`case` fails an element and restores it.

    A case leaves the state as it found it, so the cases can run in any order, and a case
    gives the same numbers alone or after any others.
    """

    def __init__(
        self,
        topology: Topology,
        demand: Demand,
        *,
        duration_s: float = 86400.0,
        config: EngineConfig | None = None,
        shortcuts: bool = True,
    ) -> None:
        self.topology = topology
        #: ``False`` works every case out in full: routing restored and converged, every
        #: service routed, every link loaded, every latency summed on its own. The same
        #: numbers, slower: the reference the shortcuts are held to.
        self.shortcuts = shortcuts
        self.demand = demand
        self.config = config = config or EngineConfig()
        self.state = state = NetState(topology, demand, config)
        self.n_links = len(state.link_ids)
        bin_s = config.bin_s
        self.n_bins = n_bins = max(1, math.ceil(duration_s / bin_s - 1e-9))
        self.services = services = demand.services
        counts = np.zeros((n_bins, len(services)))
        for k, svc in enumerate(services):
            for b in range(n_bins):
                counts[b, k] = demand.requests_per_caller(
                    svc, b * bin_s, min(duration_s, (b + 1) * bin_s)
                )
        self.counts = counts
        self.day_per_caller = counts.sum(axis=0)
        spans = np.minimum(duration_s - np.arange(n_bins) * bin_s, bin_s)
        caps = np.asarray(state.cap_bps, dtype=float)
        self.cap_bits = caps[None, :] * spans[:, None]  # bins x links
        with np.errstate(divide="ignore"):
            self.inv_ext = np.append(np.where(caps > 0, 1.0 / caps, np.inf), 0.0)
        state.router.warm(sorted({s.primary for s in services}))
        # A case whose failure leaves a host's routing tree alone leaves the routes of that
        # host's services as they are in the intact network: their snapshots are reused.
        self.base_snaps = [_snapshot(state, svc, self.n_links) for svc in services]
        self.base_weights = self._weights(self.base_snaps)
        # the intact day's utilisation, (links + 1) x bins (the dummy link of padded paths
        # idle): a case works out again only the links whose loads it changes
        self.base_rho_ext = np.vstack(
            [self._utilisation(self.base_weights).T, np.zeros((1, n_bins))]
        )
        self.base_peaks = self.base_rho_ext[:-1].T.max(axis=0, initial=0.0)
        # the links each service's intact routes load or cross: a case that reloads none of
        # them and keeps its snapshot leaves its busiest bin and latency as they are
        self.base_links = [
            np.union1d(np.flatnonzero(s.weight_bytes), np.union1d(s.req_paths, s.resp_paths))
            for s in self.base_snaps
        ]
        # each service's busiest links in every bin over its intact links, busiest first: a
        # case finds a bin's maximum over the intact links it keeps among them
        self.base_busiest: list[tuple[FloatArray, IntArray, npt.NDArray[np.bool_]] | None] = []
        for s in self.base_snaps:
            used = np.flatnonzero(s.weight_bytes)
            if not used.size or not np.isfinite(self.base_rho_ext[used]).all():
                self.base_busiest.append(None)
                continue
            n_top = min(_BUSIEST, used.size)
            vals = np.empty((n_top, n_bins))
            links = np.empty((n_top, n_bins), dtype=np.int64)
            for b0 in range(0, n_bins, _BUSIEST_BINS):  # a block of bins at a time (memory)
                cols = slice(b0, b0 + _BUSIEST_BINS)
                rows = self.base_rho_ext[used, cols]
                part = np.argpartition(-rows, n_top - 1, axis=0)[:n_top]  # n_top x bins
                top = np.take_along_axis(rows, part, axis=0)
                order = np.argsort(-top, axis=0, kind="stable")
                vals[:, cols] = np.take_along_axis(top, order, axis=0)
                links[:, cols] = used[np.take_along_axis(part, order, axis=0)]
            mask = np.zeros(self.n_links + 1, dtype=bool)
            mask[used] = True
            self.base_busiest.append((vals, links, mask))
        legs: dict[tuple[int, tuple[int, ...], bytes], FloatArray] = {}
        self.base_latency = [
            self._busiest_latency(svc, snap, self.base_rho_ext, legs, {})
            if snap.ok_callers.size
            else None
            for svc, snap in zip(services, self.base_snaps, strict=True)
        ]

    def cases(self, *, sites: bool = False) -> list[N1Case]:
        return n1_cases(self.topology, sites=sites)

    def case(self, case: N1Case) -> N1Impact:
        """Fail ``case``'s elements, measure the day, restore them."""
        state = self.state
        events = []
        if case.links:
            events.append(EventKind.LINK_DOWN)
        if case.sites:
            events.append(EventKind.SITE_DOWN)
        before = dict(state.root_version)
        checkpoint = state.routing_checkpoint()
        for kind in events:
            self._outage(kind, case)
        changed = {r for r, v in state.root_version.items() if before.get(r) != v}
        moved = []
        try:
            for svc in self.services:
                if (
                    svc.primary in state.down_sites
                    and svc.secondary is not None
                    and svc.secondary not in state.down_sites
                ):
                    state.apply(TimelineEvent(at_s=0.0, kind=EventKind.FAILOVER, service=svc.name))
                    moved.append(svc.name)
            try:
                return self._measure(case, tuple(moved), changed)
            finally:
                for name in moved:
                    state.apply(TimelineEvent(at_s=0.0, kind=EventKind.FAILBACK, service=name))
        finally:
            # the elements come back in the physical view; routing goes back to the trees
            # it had (what converging after the restoration would recompute, unsearched)
            up = {EventKind.LINK_DOWN: EventKind.LINK_UP, EventKind.SITE_DOWN: EventKind.SITE_UP}
            for kind in reversed(events):
                self._outage(up[kind], case, converge=not self.shortcuts)
            if self.shortcuts:
                state.rollback_routing(checkpoint)

    def _outage(self, kind: EventKind, case: N1Case, *, converge: bool = True) -> None:
        links = case.links if kind in (EventKind.LINK_DOWN, EventKind.LINK_UP) else ()
        sites = case.sites if kind in (EventKind.SITE_DOWN, EventKind.SITE_UP) else ()
        change = self.state.apply(
            TimelineEvent(at_s=0.0, kind=kind, links=links, sites=sites, hold=_HOLD)
        )
        if converge and change.converge is not None:
            change.converge()

    def _measure(self, case: N1Case, moved: tuple[str, ...], changed: set[str]) -> N1Impact:
        state, services, counts = self.state, self.services, self.counts
        down = state.down_sites
        snaps = [
            base
            if self.shortcuts
            and svc.name not in moved
            and svc.primary not in changed
            and svc.primary not in down
            and not down.intersection(svc.callers)
            else _snapshot(state, svc, self.n_links)
            for svc, base in zip(services, self.base_snaps, strict=True)
        ]
        unreachable = tuple(sorted(state.unreachable_local_body_ids()))
        weights = self._weights(snaps)
        reloaded = (
            np.flatnonzero((weights != self.base_weights).any(axis=0))
            if self.shortcuts
            else np.arange(self.n_links)
        )
        rho_ext = self.base_rho_ext.copy()  # (links + 1) x bins
        peaks = self.base_peaks.copy()  # a link's peak is its own bins' maximum
        if reloaded.size:
            rows = self._utilisation(weights, reloaded).T
            rho_ext[reloaded] = rows
            peaks[reloaded] = rows.max(axis=1, initial=0.0)
        util = rho_ext[:-1].T  # bins x links
        rise = peaks - self.base_peaks
        up = int(np.argmax(rise))
        raised = (
            (state.link_ids[up], float(peaks[up]), float(self.base_peaks[up]))
            if rise[up] > 1e-12
            else None
        )
        top = np.argsort(-peaks, kind="stable")[:WORST_LINKS]
        worst = tuple(
            (
                state.link_ids[int(i)],
                float(peaks[i]),
                float(np.percentile(util[:, i], 95.0)),
            )
            for i in top
        )
        overloaded = bool(peaks.max(initial=0.0) > 1.0)
        lost = {"site_down": 0.0, "no_route": 0.0, "overload": 0.0}
        breaches: dict[str, str] = {}
        p95: dict[str, float | None] = {}
        hit = np.zeros(self.n_links + 1, dtype=bool)  # the links this case reloads
        hit[reloaded] = True
        legs: dict[tuple[int, tuple[int, ...], bytes], FloatArray] = {}
        busiest: dict[bytes, int] = {}
        offered = 0.0
        for k, (svc, snap) in enumerate(zip(services, snaps, strict=True)):
            day = float(self.day_per_caller[k])
            offered += day * len(svc.callers)
            why = []
            cut = 0
            for reason, n in snap.lost.items():
                if n:
                    lost["no_route" if reason == "link_failure" else reason] += day * n
                    cut += n
            if cut:
                why.append("cut off")
            if snap.ok_callers.size == 0:
                p95[svc.name] = None
                breaches[svc.name] = ", ".join(why)
                continue
            if overloaded:
                over = self._overload(svc.one_way, snap, rho_ext, counts[:, k])
                if over > 0:
                    lost["overload"] += over
                    why.append("overload")
            base = self.base_latency[k]
            if (
                self.shortcuts
                and base is not None
                and snap is self.base_snaps[k]
                and not hit[self.base_links[k]].any()
            ):
                p95_s = base
            else:
                p95_s = self._busiest_latency(svc, snap, rho_ext, legs, busiest, k, hit)
            p95[svc.name] = p95_s
            if svc.slo_latency_s is not None and p95_s > svc.slo_latency_s:
                why.append("latency")
            if why:
                breaches[svc.name] = ", ".join(why)
        return N1Impact(
            case=case.id,
            kind=case.kind,
            offered=offered,
            lost=lost,
            peak_utilisation=float(peaks.max(initial=0.0)),
            worst_links=worst,
            overloaded_links=int((peaks > 1.0).sum()),
            unreachable=unreachable,
            breaches=breaches,
            p95_latency_s=p95,
            failovers=moved,
            most_raised=raised,
        )

    def _weights(self, snaps: list[_ServiceSnapshot]) -> FloatArray:
        """Bytes per request of each service (rows) on each directed link under ``snaps``."""
        if not snaps:
            return np.zeros((0, self.n_links))
        return np.stack([s.weight_bytes for s in snaps])

    def _utilisation(self, weights: FloatArray, links: IntArray | None = None) -> FloatArray:
        """Utilisation per bin and directed link (of ``links`` only, if given) of the day
        under ``weights``; each value is worked out alone, so a subset has the same ones."""
        cols = slice(None) if links is None else links
        util: FloatArray = (
            _fixed_order_matmul(self.counts, weights[:, cols]) * 8.0 / self.cap_bits[:, cols]
        )
        return util

    @staticmethod
    def _overload(
        one_way: bool, snap: _ServiceSnapshot, rho_ext: FloatArray, per_caller: FloatArray
    ) -> float:
        """Exchanges lost to overload over the day: a leg keeps ``1 / max rho`` of its path."""
        bins = np.flatnonzero((rho_ext > 1.0).any(axis=0) & (per_caller > 0))
        if bins.size == 0:
            return 0.0
        rho = rho_ext[:, bins]
        keep = 1.0 / np.maximum(1.0, rho[snap.req_paths].max(axis=1))  # callers x bins
        if not one_way:
            keep = keep / np.maximum(1.0, rho[snap.resp_paths].max(axis=1))
        return float(((1.0 - keep) * per_caller[bins][None, :]).sum())

    def _busiest_latency(
        self,
        svc: ServiceDemand,
        snap: _ServiceSnapshot,
        rho_ext: FloatArray,
        legs: dict[tuple[int, tuple[int, ...], bytes], FloatArray],
        busiest: dict[bytes, int],
        k: int = -1,
        hit: npt.NDArray[np.bool_] | None = None,
    ) -> float:
        """:meth:`_p95_latency` in the bin where the links ``snap`` loads are busiest
        (``busiest``: that bin of each set of links already looked at, over ``rho_ext``).

        Service ``k`` under a case that reloads the links ``hit``: a bin's maximum over the
        links ``snap`` loads is the larger of the maximum over those of its intact links
        that the case keeps (found among the intact busiest) and over the others."""
        used = np.flatnonzero(snap.weight_bytes)
        key = used.tobytes()
        if not self.shortcuts:
            busiest = {}
        b = busiest.get(key, -1)
        if b >= 0:
            pass
        elif (
            self.shortcuts
            and hit is not None
            and used.size
            and (found := self.base_busiest[k]) is not None
        ):
            # the links kept: intact links of the service, still used, not reloaded (their
            # rows are the intact ones); a bin's maximum over them is the first of its
            # busiest intact links that is kept (every other intact link is at most that),
            # worked out over them all only where none of those is kept
            vals, links, was_used = found
            now_used = np.zeros(self.n_links + 1, dtype=bool)
            now_used[used] = True
            kept = was_used & now_used & ~hit
            kept_top = kept[links]  # n_top x bins
            has = kept_top.any(axis=0)
            top = vals[kept_top.argmax(axis=0), np.arange(vals.shape[1])]
            redo = np.flatnonzero(~has)
            if redo.size:
                keep_links = np.flatnonzero(kept)
                top[redo] = (
                    self.base_rho_ext[np.ix_(keep_links, redo)].max(axis=0)
                    if keep_links.size
                    else -np.inf
                )
            rest = used[~kept[used]]  # reloaded, or newly used: this case's rows
            if rest.size:
                top = np.maximum(top, rho_ext[rest].max(axis=0))
            b = busiest[key] = int(np.argmax(top))
        else:
            b = busiest[key] = int(np.argmax(rho_ext[used].max(axis=0))) if used.size else 0
        return self._p95_latency(svc, snap, rho_ext[:, b], b, legs)

    def _p95_latency(
        self,
        svc: ServiceDemand,
        snap: _ServiceSnapshot,
        rho_bin: FloatArray,
        b: int,
        legs: dict[tuple[int, tuple[int, ...], bytes], FloatArray],
    ) -> float:
        """The 95th percentile over callers of the latency in one bin ``b`` (equal weights).

        ``legs`` holds the bottleneck terms of the legs already worked out over bin ``b``
        of the same loads: services routed alike (one host, the same callers) share them."""
        rho_c = np.minimum(rho_bin, self.config.analytic_max_utilisation)[:, None]
        inv = self.inv_ext
        if not self.shortcuts:
            legs = {}

        def per_bit(paths: IntArray) -> FloatArray:
            key = (b, paths.shape, paths.tobytes())
            found = legs.get(key)
            if found is None:
                found = legs[key] = _bottleneck_seconds_per_bit(rho_c, paths, inv[paths])[:, 0]
            return found

        lat = snap.base_s + per_bit(snap.req_paths) * (8.0 * svc.request_size.mean_bytes)
        if not svc.one_way:
            lat = lat + per_bit(snap.resp_paths) * (8.0 * svc.response_size.mean_bytes)
        ordered = np.sort(lat)
        return float(ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)])


def run_cases(study: N1Study, cases: Iterable[N1Case]) -> list[N1Impact]:
    """Every case in turn on one study (the serial form of the study)."""
    return [study.case(c) for c in cases]
