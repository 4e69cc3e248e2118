"""The analytic fidelity: per time bin, route the traffic matrix and estimate delay.

Model (see ``docs/engine.md``). Time is cut into *segments* at every timeline event and
every routing convergence; inside a segment the network state is constant. For each
service and caller the request path (caller to host) and the response path (host to
caller) are routed; a caller whose path is missing is lost as ``no_route``, one whose path
crosses an element that has failed but whose routing has not converged yet as
``link_failure``, one whose own site or host is down as ``site_down``. The expected
requests of each (bin, segment) overlap come from the profile's exact integral.

Link load is the mean bytes per second carried per directed link; utilisation
``rho = load * 8 / capacity``. The delay of a message leg is its propagation delay plus a
transfer time set by the path's bottleneck at each instant::

    T = E[size] * 8 * E[ max over links l on the path of (N_l + 1) / C_l ]

with ``N_l`` the other messages on link ``l``, independent from link to link, each with the
stationary law of an M/G/1 processor-sharing queue, ``P(N_l >= n) = rho_l ** n``. Under
max-min sharing (the flow fidelity) a message moves at its fair share on its bottleneck
link, ``C_l / (N_l + 1)`` where that is smallest; on one link the formula is exactly the PS
mean sojourn ``E[size] * 8 / (C (1 - rho))``. ``rho`` is capped at
``analytic_max_utilisation``. Where ``rho > 1`` the excess is lost: a leg keeps the fraction
``min(1, 1 / max rho)`` of its traffic and the rest is dropped as ``overload``. Latency
percentiles per bin are taken over callers, each weighted by its delivered messages
(within-bin variation of a message's own delay is not modelled: use the flow fidelity for
that).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from lgwan_sim.engine._endpoint import BinRecord, Endpoint, Message, Observer
from lgwan_sim.engine._metrics import (
    LOG_BUCKET_RATIO,
    MIN_VALUE_S,
    LatencyHistogram,
    ServiceStats,
    bucket_indices,
)
from lgwan_sim.engine._results import AppliedEvent, RunResult, check_accounting
from lgwan_sim.engine._series import UtilisationSeries
from lgwan_sim.engine._series import fixed_order_matmul as _fixed_order_matmul
from lgwan_sim.engine._state import NetState
from lgwan_sim.engine._timeline import (
    Convergence,
    TimelineCursor,
    applied,
    check_advance,
    check_not_before,
    converged,
)
from lgwan_sim.engine._types import (
    DropReason,
    EngineConfig,
    EngineInputs,
    EventKind,
    Fidelity,
    TimelineEvent,
)
from lgwan_sim.errors import AccountingError, InputError
from lgwan_sim.network import Topology
from lgwan_sim.traffic import Demand, ServiceDemand

__all__ = ["AnalyticEngine", "OutageImpact", "n1_sweep"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
REASONS = (DropReason.SITE_DOWN, DropReason.NO_ROUTE, DropReason.LINK_FAILURE)
#: A link whose occupancy can add at most this fraction to the path's floor (its slowest
#: capacity) is taken as idle in the bottleneck expectation; a numerical tolerance.
_IDLE_TOL = 1e-4
#: Lattice values per block of :func:`_exact_max` (items x points): its arrays fit a cache.
_EXACT_BLOCK = 65_536
#: Hop-bin values per block of the per-bin excess in :func:`_bottleneck_seconds_per_bit`.
_EXCESS_BLOCK = 65_536
#: Lattice points of each loaded link are summed until ``rho ** n`` falls below this.
_TAIL_TOL = 1e-13


@dataclass(frozen=True, slots=True)
class _ServiceSnapshot:
    """One service under one network state."""

    weight_bytes: FloatArray  # bytes per request per directed link, summed over callers
    lost: dict[DropReason, int]  # callers lost, by reason
    ok_callers: IntArray  # indices of callers whose both legs are routable
    base_s: FloatArray  # propagation delays + service time, per ok caller
    req_paths: IntArray  # ok callers x hops, padded with the dummy link
    resp_paths: IntArray


def _snapshot(state: NetState, svc: ServiceDemand, n_links: int) -> _ServiceSnapshot:
    """Route every caller of ``svc`` to its host and back, all callers at once.

    The paths are walked down the routing view's tree toward the host
    (:meth:`NetState.tree`), one hop of every caller per step, and each path's delay is
    summed hop by hop from the caller, as a single route's is, so every figure is the one
    :meth:`NetState.route` gives caller by caller. A caller is lost, in this order of
    precedence, as ``site_down`` (its site or the host is down), ``no_route`` (no path) or
    ``link_failure`` (its path, or the way back, crosses a dead link).
    """
    host = state.hosts[svc.name]
    down = state.down_sites
    dummy = n_links
    callers = state.site_indices(svc.callers)
    lost = dict.fromkeys(REASONS, 0)
    tree = state.tree(host)
    if host in down:
        site_down = np.ones(len(callers), dtype=bool)
    else:
        site_down = np.isin(callers, [state.site_index[s] for s in down])
    routed = ~site_down & tree.reach[callers]
    # one hop of every routed caller per step, until each has reached the host
    cur = np.where(routed, callers, tree.root)
    hops: list[IntArray] = []
    delay = np.zeros(len(callers))
    while True:
        moving = cur != tree.root
        if not moving.any():
            break
        hops.append(np.where(moving, tree.hop[cur], dummy))
        delay += tree.hop_delay[cur]  # 0 once at the host: the same sum as hop by hop
        cur = tree.next_site[cur]
    fwd = np.stack(hops, axis=1) if hops else np.full((len(callers), 0), dummy, np.int64)
    depth = (fwd != dummy).sum(axis=1)
    dead = np.zeros(n_links + 1, dtype=bool)
    if state.dead:
        dead[np.fromiter(state.dead, dtype=np.int64)] = True
    fwd_dead = dead[fwd].any(axis=1)
    # the way back is the reverse of the way there, each link in its other direction
    width = fwd.shape[1]
    back_idx = depth[:, None] - 1 - np.arange(width)[None, :]
    rows = np.arange(len(callers))[:, None]
    back = np.where(back_idx >= 0, fwd[rows, np.maximum(back_idx, 0)] ^ 1, dummy)
    back_dead = dead[back].any(axis=1) if not svc.one_way else np.zeros(len(callers), bool)
    lost[DropReason.SITE_DOWN] = int(site_down.sum())
    lost[DropReason.NO_ROUTE] = int((~site_down & ~routed).sum())
    req_ok = routed & ~fwd_dead  # its request links are counted (as a caller's would be)
    ok = req_ok & ~back_dead
    lost[DropReason.LINK_FAILURE] = int((routed & ~ok).sum())
    req_b = svc.request_size.mean_bytes
    resp_b = 0.0 if svc.one_way else svc.response_size.mean_bytes
    weight = np.zeros(n_links + 1)
    req_count = np.bincount(fwd[req_ok].ravel(), minlength=n_links + 1)
    np.add(weight, req_count * req_b, out=weight, where=req_count > 0)
    if not svc.one_way:
        resp_count = np.bincount(back[ok].ravel(), minlength=n_links + 1)
        np.add(weight, resp_count * resp_b, out=weight, where=resp_count > 0)
    ok_idx = np.flatnonzero(ok)
    fwd_delay = delay[ok_idx]
    back_delay = np.zeros(len(ok_idx)) if svc.one_way else fwd_delay
    base = fwd_delay + back_delay + (0.0 if svc.one_way else svc.service_time_s)
    keep = max(1, int(depth[ok_idx].max(initial=0)))
    req_paths = np.full((len(ok_idx), keep), dummy, dtype=np.int64)
    resp_paths = np.full((len(ok_idx), keep), dummy, dtype=np.int64)
    req_paths[:, : min(keep, width)] = fwd[ok_idx, :keep]
    if not svc.one_way:
        resp_paths[:, : min(keep, width)] = back[ok_idx, :keep]
    else:
        resp_paths = resp_paths[:, :1]
    return _ServiceSnapshot(
        weight_bytes=weight[:n_links],
        lost=lost,
        ok_callers=ok_idx.astype(np.int64),
        base_s=base,
        req_paths=req_paths,
        resp_paths=resp_paths,
    )


def _lattice_points(top_rho: float) -> int:
    """How many lattice points of a link at ``top_rho`` to sum (the tail beyond is tiny)."""
    if top_rho <= 0:
        return 1
    return max(1, math.ceil(math.log(_TAIL_TOL) / math.log(top_rho)) + 1)


def _exact_max(
    rho: FloatArray, inv: FloatArray, floor: FloatArray, n_pts: int | None = None
) -> FloatArray:
    """``E[max(floor, max_l (N_l + 1) * inv_l)]`` for a few links, summed over the lattice.

    ``rho`` and ``inv`` are items x links. The expectation is the sum over every lattice
    point ``y = n * inv_l`` of ``y`` times the probability that link ``l`` is the maximum
    there (ties go to the lowest link index), plus ``floor`` times ``P(all <= floor)``.
    ``n_pts`` lattice points are summed (by default as many as the busiest link needs);
    each item's sum depends on ``n_pts`` only, so items may be worked out in any blocks.
    """
    width = rho.shape[1]
    if n_pts is None:
        n_pts = _lattice_points(float(rho.max(initial=0.0)))
    n = np.arange(1, n_pts + 1, dtype=float)[None, :]
    n_less = n - 1.0
    above = floor[:, None] * (1 + 1e-12)
    out = floor.copy()
    for link in range(width):
        out *= 1.0 - rho[:, link] ** np.floor(floor / inv[:, link] + 1e-9)
    u = np.empty((rho.shape[0], n_pts))  # the same operations as written out, in place
    for link in range(width):
        r = rho[:, link : link + 1]
        inv_l = inv[:, link : link + 1]
        y = n * inv_l
        term = y * (1.0 - r)
        term *= r**n_less
        term *= y > above
        for other in range(width):
            if other == link:
                continue
            np.multiply(n, inv_l / inv[:, other : other + 1], out=u)
            if other < link:  # P(Y_other <= y): 1 - ro ** floor(u + 1e-9)
                u += 1e-9
                np.floor(u, out=u)
            else:  # P(Y_other < y): 1 - ro ** (ceil(u - 1e-9) - 1)
                u -= 1e-9
                np.ceil(u, out=u)
                u -= 1.0
            np.power(rho[:, other : other + 1], u, out=u)
            np.subtract(1.0, u, out=u)
            term *= u
        out += term.sum(axis=1)
    return out


class _RhoTerms(NamedTuple):
    """What :func:`_bottleneck_seconds_per_bit` derives from ``rho`` alone, per link and bin
    (``top`` per link): worked out once for every leg over the same ``rho``."""

    log_rho: FloatArray  # -inf for idle links
    q: FloatArray  # rho / (1 - rho)
    top: FloatArray  # the busiest bin's rho


def _rho_terms(rho_links: FloatArray) -> _RhoTerms:
    with np.errstate(divide="ignore", invalid="ignore"):
        log_rho = np.log(rho_links)
    return _RhoTerms(log_rho, rho_links / (1.0 - rho_links), rho_links.max(axis=1, initial=0.0))


def _bottleneck_seconds_per_bit(
    rho_links: FloatArray,
    paths: IntArray,
    inv_cap: FloatArray,
    terms: _RhoTerms | None = None,
) -> FloatArray:
    """``E[max_l (N_l + 1) / C_l]`` per path and bin (the module docstring's model).

    ``rho_links`` is links x bins (capped below 1), ``paths`` paths x hops (link indices),
    ``inv_cap`` paths x hops (``1 / C``, 0 for padding). The result is at least the path's
    floor ``d = max_l 1 / C_l``; a link adds its excess over the floor,
    ``E[(Y_l - d)^+] = (1 / C_l) rho_l**k ((1 - f) + rho_l / (1 - rho_l))`` with
    ``d C_l = k + f`` (``P(Y_l > y) = rho_l ** floor(y C_l)``): exact when one link is loaded,
    and the lattice sum of :func:`_exact_max` where two or more are (a link whose excess is
    below ``_IDLE_TOL`` of the floor counts as idle). ``terms`` is ``_rho_terms(rho_links)``,
    given when several legs share one ``rho_links``.
    """
    floor = inv_cap.max(axis=1)  # paths
    n_bins = rho_links.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(inv_cap > 0, floor[:, None] / np.where(inv_cap > 0, inv_cap, 1.0), 0.0)
    log_rho, q, top = _rho_terms(rho_links) if terms is None else terms
    k = np.maximum(np.floor(u + 1e-9), 1.0)  # >= 1 on every real hop, as d >= 1 / C_l
    head = np.where(inv_cap > 0, inv_cap, 0.0)
    frac = 1.0 - np.clip(u - k, 0.0, 1.0)
    # Only the hops that can exceed the idle tolerance in some bin are worked out per bin:
    # the excess grows with rho, so its value at the busiest bin bounds every other bin.
    with np.errstate(divide="ignore"):
        bound = head * np.exp(np.log(top)[paths] * k) * (frac + (top / (1.0 - top))[paths])
    busy = bound > _IDLE_TOL * floor[:, None]
    width = int(busy.sum(axis=1).max(initial=0))
    if width == 0:
        return np.repeat(floor[:, None], n_bins, axis=1)
    rows = np.arange(len(paths))[:, None]
    cols = np.argsort(~busy, axis=1, kind="stable")[:, :width]
    keep = busy[rows, cols]
    paths = paths[rows, cols]
    inv_cap = np.where(keep, inv_cap[rows, cols], 0.0)
    head, k, frac = np.where(keep, head[rows, cols], 0.0), k[rows, cols], frac[rows, cols]
    # the excess head * rho**k * (frac + q) of every hop and bin, worked out in place for a
    # block of paths at a time (each value on its own: the same in any blocks)
    out: FloatArray = np.empty((len(paths), n_bins))
    loaded = np.empty((len(paths), width, n_bins), dtype=bool)
    block = max(1, _EXCESS_BLOCK // (width * n_bins))
    for lo in range(0, len(paths), block):
        sl = slice(lo, lo + block)
        excess = log_rho[paths[sl]]
        excess *= k[sl, :, None]
        np.exp(excess, out=excess)
        excess *= head[sl, :, None]
        share = q[paths[sl]]
        share += frac[sl, :, None]
        excess *= share
        np.greater(excess, _IDLE_TOL * floor[sl, None, None], out=loaded[sl])
        out[sl] = floor[sl, None] + excess.max(axis=1, initial=0.0)
    many = loaded.sum(axis=1) >= 2
    if not many.any():
        return out
    p_idx, b_idx = np.nonzero(many)
    sub_loaded = loaded[p_idx, :, b_idx]
    # the loaded links of each such item, first; the others (idle) stay at rho = 0
    order = np.argsort(~sub_loaded, axis=1, kind="stable")
    width = int(sub_loaded.sum(axis=1).max())
    cols = order[:, :width]
    rows = np.arange(len(p_idx))[:, None]
    sub_links = paths[p_idx][rows, cols]
    sub_rho = np.where(sub_loaded[rows, cols], rho_links[sub_links, b_idx[:, None]], 0.0)
    sub_inv = inv_cap[p_idx][rows, cols]
    sub_inv = np.where(sub_inv > 0, sub_inv, floor[p_idx][:, None])
    sub_floor = floor[p_idx]
    # each item's lattice: as many points as the busiest item of its chunk of a million
    # lattice values needs (the chunks the items have always been summed in)
    step = max(1, 1_000_000 // _lattice_points(float(sub_rho.max(initial=0.0))))
    n_pts = np.empty(len(p_idx), dtype=np.int64)
    for start in range(0, len(p_idx), step):
        stop = min(start + step, len(p_idx))
        n_pts[start:stop] = _lattice_points(float(sub_rho[start:stop].max(initial=0.0)))
    # Callers of one place share their loads and capacities: many items are the same
    # numbers (the national day: 30 times over). Each distinct item is summed once; its
    # sum depends on its own numbers and lattice only, so it is the same value.
    key = np.concatenate([sub_rho, sub_inv, sub_floor[:, None], n_pts[:, None]], axis=1)
    first, inverse = _distinct_rows(key)
    vals = np.empty(len(first))
    for pts in sorted(set(n_pts[first].tolist())):
        group = np.flatnonzero(n_pts[first] == pts)
        items = first[group]
        block = max(1, _EXACT_BLOCK // pts)  # summed in blocks that stay in the CPU's cache
        for lo in range(0, len(items), block):
            at = items[lo : lo + block]
            vals[group[lo : lo + block]] = _exact_max(sub_rho[at], sub_inv[at], sub_floor[at], pts)
    out[p_idx, b_idx] = vals[inverse]
    return out


def _distinct_rows(values: FloatArray) -> tuple[IntArray, IntArray]:
    """The first row of each distinct row of ``values`` (bit for bit: ``-0.0`` is not
    ``0.0``) and, for every row, which of those it is."""
    bits = np.ascontiguousarray(values).view(np.int64)
    order = np.lexsort(bits.T[::-1])
    ranked = bits[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (ranked[1:] != ranked[:-1]).any(axis=1)
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return order[new], inverse


class _Legs:
    """:func:`_bottleneck_seconds_per_bit` of the legs over one ``rho``, each worked out
    once: services routed alike (the same host, the same callers) share it."""

    def __init__(self, rho: FloatArray) -> None:
        self.rho = rho
        self.terms = _rho_terms(rho)
        self.found: dict[tuple[tuple[int, ...], bytes, bytes], FloatArray] = {}

    def seconds_per_bit(self, paths: IntArray, inv_cap: FloatArray) -> FloatArray:
        key = (paths.shape, paths.tobytes(), inv_cap.tobytes())
        found = self.found.get(key)
        if found is None:
            found = self.found[key] = _bottleneck_seconds_per_bit(
                self.rho, paths, inv_cap, self.terms
            )
        return found


@dataclass(slots=True)
class _Segment:
    t0: float
    t1: float
    snaps: list[_ServiceSnapshot]
    multipliers: list[float]
    caps_bps: FloatArray
    unreachable: int
    weights: FloatArray  # services x links: bytes per request, shared by the segment's parts


def _nonzero(counts: FloatArray) -> tuple[list[int], list[float]]:
    offsets = np.flatnonzero(counts)
    return offsets.tolist(), counts[offsets].tolist()


def _int_series(values: FloatArray, total: int) -> IntArray:
    """Whole messages per bin that add up to exactly ``total``.

    Every prefix sum is rounded, so no bin drifts by more than a message; the running sum is
    then held to ``total`` (which the caller rounded on its own, from the same expectations),
    so the series and the run's totals agree. It stays non-negative.
    """
    cum = np.minimum(np.rint(np.cumsum(values)).astype(np.int64), total)
    if cum.size:
        cum[-1] = total
    return np.diff(cum, prepend=0)


def _check_expected_accounting(
    services: tuple[ServiceDemand, ...],
    offered: FloatArray,
    lost: dict[DropReason, FloatArray],
    delivered_w: FloatArray,
) -> None:
    """Expected offered = expected delivered + expected lost, per service, before rounding.

    ``delivered_w`` is summed where latencies are taken (callers with both legs routed,
    less the overload excess), independently of the loss tallies, so a loss that is
    neither tallied nor delivered shows up here. The analytic fidelity finishes every
    exchange in the bin it is offered in: nothing is in flight at the end, drained or not.
    """
    for k, svc in enumerate(services):
        off = float(offered[k].sum())
        gone = sum(float(series[k].sum()) for series in lost.values())
        got = float(delivered_w[k].sum())
        if abs(off - gone - got) > 1e-6 * max(1.0, off):
            raise AccountingError(
                f"analytic run lost track of exchanges: {svc.name}: offered {off:.3f} != "
                f"delivered {got:.3f} + dropped {gone:.3f} + in flight 0"
            )


def _refuse_per_packet(event: TimelineEvent) -> None:
    """Loss and added latency act on each packet: the analytic fidelity has none.

    (A ``link_flap`` is an outage like any other: its transitions apply here too.)
    """
    if event.kind in (EventKind.LINK_LOSS, EventKind.LINK_LATENCY):
        raise InputError(
            f"the analytic fidelity models no per-packet {event.kind}: use flow or packet",
            field="fidelity",
            value="analytic",
        )


class AnalyticEngine:
    """The analytic fidelity, advanced from outside bin by bin (see the module docstring).

    Segments are cut at every timeline event and convergence as time reaches them; the
    traffic of each (segment, bin) overlap is accumulated as soon as the bin has ended or
    the segment is cut, so an observer sees every bin's loads when it closes. Latency and
    overload loss need the utilisation of every bin and are worked out by :meth:`finish`.
    """

    def __init__(self, inputs: EngineInputs, *, observer: Observer | None = None) -> None:
        self.wall_s = 0.0
        began = time.perf_counter()
        self.inputs = inputs
        self.observer = observer
        self.demand = demand = inputs.demand
        self.config = config = inputs.config
        self.duration_s = inputs.duration_s
        self.state = state = NetState(inputs.topology, demand, config)
        self.n_links = n_links = len(state.link_ids)
        self.bin_s = bin_s = config.bin_s
        self.n_bins = n_bins = max(1, math.ceil(self.duration_s / bin_s - 1e-9))
        self.services = services = demand.services
        n_svc = len(services)
        self.applied: list[AppliedEvent] = []
        for event in inputs.timeline.events:
            _refuse_per_packet(event)
        self.cursor = TimelineCursor(inputs.timeline.events, self.duration_s)
        self.snap_cache: dict[tuple[object, ...], _ServiceSnapshot] = {}
        # bytes carried and capacity-seconds per directed link and bin, as their factors
        self.series = UtilisationSeries(n_links, n_bins)
        self.offered = np.zeros((n_svc, n_bins))
        self.lost = {r: np.zeros((n_svc, n_bins)) for r in (*REASONS, DropReason.OVERLOAD)}
        self.unreachable = np.zeros(n_bins, dtype=np.int64)
        self.segments: list[_Segment] = []
        # per (segment, bin): requests per caller for each service
        self.seg_counts: list[tuple[list[int], FloatArray]] = []
        self.clock_s = 0.0
        self.bins_closed = 0  # bins handed to the observer
        # for the observer: each bin's (snapshots, requests per caller) by segment
        self.bin_parts: dict[int, list[tuple[list[_ServiceSnapshot], FloatArray]]] = {}
        self._open_segment(0.0)
        self.wall_s += time.perf_counter() - began

    # -- segments -------------------------------------------------------------------------
    def _snapshot(self) -> tuple[list[_ServiceSnapshot], int]:
        state = self.state
        dead, down = frozenset(state.dead), frozenset(state.down_sites)
        snaps = []
        for svc in self.services:
            host = state.hosts[svc.name]
            key = (svc.name, host, state.root_version.get(host, 0), dead, down)
            snap = self.snap_cache.get(key)
            if snap is None:
                snap = self.snap_cache[key] = _snapshot(state, svc, self.n_links)
            snaps.append(snap)
        return snaps, state.unreachable_local_bodies()

    def _open_segment(self, t0: float) -> None:
        snaps, unreachable = self._snapshot()
        self.seg = _Segment(
            t0=t0,
            t1=t0,
            snaps=snaps,
            multipliers=[self.state.multiplier(s.name) for s in self.services],
            caps_bps=np.asarray(self.state.cap_bps, dtype=float),
            unreachable=unreachable,
            weights=np.stack([s.weight_bytes for s in snaps])
            if snaps
            else np.zeros((0, self.n_links)),
        )
        self.seg_bin = int(t0 // self.bin_s)  # the next bin of this segment to accumulate
        self.seg_rows: list[tuple[list[int], FloatArray]] = []  # bins, requests per caller

    def _accumulate(self, t1: float, closing: bool) -> None:
        """Accumulate the open segment's overlaps with the bins that end by ``t1``.

        With ``closing`` the segment ends at ``t1`` and its last, partial overlap is taken
        too. Each (segment, bin) overlap is accumulated exactly once, in bin order.
        """
        seg, bin_s, n_bins = self.seg, self.bin_s, self.n_bins
        demand, services = self.demand, self.services
        overlaps: list[tuple[int, float, float]] = []
        b = self.seg_bin
        while b < n_bins and b * bin_s < t1:
            hi_bin = self._bin_end(b)
            if not closing and hi_bin > t1:
                break
            lo, hi = max(seg.t0, b * bin_s), min(t1, hi_bin)
            if hi > lo:
                overlaps.append((b, lo, hi))
            b += 1
        self.seg_bin = b
        if not overlaps:
            return
        # one row of requests per caller per bin, in one array (no object per bin)
        counts = np.zeros((len(overlaps), len(services)))
        for i, (b, lo, hi) in enumerate(overlaps):
            row = counts[i]
            for k, svc in enumerate(services):
                row[k] = demand.requests_per_caller(svc, lo, hi) * seg.multipliers[k]
            self.unreachable[b] = max(self.unreachable[b], seg.unreachable)
            if self.observer is not None:
                self.bin_parts.setdefault(b, []).append((seg.snaps, row))
        bins = [b for b, _, _ in overlaps]
        self.series.add(
            bins, counts, [hi - lo for _, lo, hi in overlaps], seg.weights, seg.caps_bps
        )
        for k, svc in enumerate(services):
            n_callers = len(svc.callers)
            self.offered[k, bins] += counts[:, k] * n_callers
            for reason, n in seg.snaps[k].lost.items():
                if n:
                    self.lost[reason][k, bins] += counts[:, k] * n
        self.seg_rows.append((bins, counts))

    def _close_segment(self, t1: float) -> None:
        seg = self.seg
        if t1 > seg.t0:
            self._accumulate(t1, closing=True)
            seg.t1 = t1
            self.segments.append(seg)
            rows = self.seg_rows
            counts = (
                np.concatenate([c for _, c in rows]) if rows else np.zeros((0, len(self.services)))
            )
            self.seg_counts.append(([b for bins, _ in rows for b in bins], counts))

    def _bin_end(self, b: int) -> float:
        """When bin ``b`` ends: at its whole multiple of ``bin_s``, the last one at the run's
        end (the bin count allows 1e-9 of a bin for rounding, so a run a hair longer than a
        whole number of bins has its last bin run on to the end, as in the event fidelities)."""
        return self.duration_s if b >= self.n_bins - 1 else (b + 1) * self.bin_s

    def _close_bins(self, t: float, *, final: bool = False) -> None:
        """Hand the observer every bin that has ended by ``t`` (the last one only when final)."""
        end = self.duration_s
        while self.bins_closed < self.n_bins:
            b = self.bins_closed
            b_end = self._bin_end(b)
            if b_end > t or (b_end == end and not final):
                return
            if self.observer is not None:
                self.observer.on_bin(self._bin_record(b, b_end))
            self.bins_closed += 1

    def _bin_record(self, b: int, b_end: float) -> BinRecord:
        util = self.series.columns(b, b + 1)[:, 0]
        # the overload share, as finish() works it out: a leg keeps 1 / max rho of its path
        rho = np.append(util, 0.0)  # the dummy link of padded paths is idle
        overload = np.zeros(len(self.services))
        parts = self.bin_parts.pop(b, [])
        if bool((rho <= 1.0).all()):
            parts = []  # every leg keeps all its traffic: no overload share to add
        for snaps, row in parts:
            for k, svc in enumerate(self.services):
                snap = snaps[k]
                if snap.ok_callers.size == 0 or row[k] == 0:
                    continue
                keep = 1.0 / np.maximum(1.0, rho[snap.req_paths].max(axis=1))
                if not svc.one_way:
                    keep = keep / np.maximum(1.0, rho[snap.resp_paths].max(axis=1))
                overload[k] += row[k] * float(snap.ok_callers.size - keep.sum())
        offered: dict[str, float] = {}
        delivered: dict[str, float] = {}
        dropped: dict[str, dict[str, float]] = {}
        for k, svc in enumerate(self.services):
            off = float(self.offered[k, b])
            drops: dict[str, float] = {
                r: float(self.lost[r][k, b]) for r in REASONS if self.lost[r][k, b] > 0
            }
            if overload[k] > 0:
                drops[DropReason.OVERLOAD] = float(overload[k])
            offered[svc.name] = off
            dropped[svc.name] = drops
            delivered[svc.name] = off - sum(drops.values())
        return BinRecord(
            index=b,
            start_s=b * self.bin_s,
            end_s=b_end,
            utilisation=util,
            unreachable=int(self.unreachable[b]),
            offered=offered,
            delivered=delivered,
            dropped=dropped,
        )

    # -- the pump -------------------------------------------------------------------------
    @property
    def now_s(self) -> float:
        return self.clock_s

    def peek(self) -> float:
        """The next timeline item or bin end; ``math.inf`` once only the finish is left."""
        b_end = self._bin_end(self.bins_closed)
        if self.bins_closed >= self.n_bins or b_end >= self.duration_s:
            t = self.cursor.peek()
            return t if t < self.duration_s else math.inf
        t = self.cursor.peek()
        return t if t < b_end else b_end

    def advance_to(self, t_s: float) -> None:
        """Apply every timeline item due before ``t_s`` and close the bins ended by then."""
        check_advance(self.clock_s, t_s)
        began = time.perf_counter()
        until = min(t_s, self.duration_s)
        cursor = self.cursor
        while cursor.peek() < until:
            at, item = cursor.pop()
            self._accumulate(at, closing=False)
            self._close_bins(at)
            self._close_segment(at)
            self._step(at, item)
            self._open_segment(at)
        self._accumulate(until, closing=False)
        self._close_bins(until)
        self.clock_s = max(self.clock_s, until)
        self.wall_s += time.perf_counter() - began

    def _step(self, at: float, item: TimelineEvent | Convergence) -> None:
        if isinstance(item, Convergence):
            entry = converged(at, item, item.run())
        else:
            change = self.state.apply(item)
            entry = applied(at, item, change)
            self.cursor.converge_later(at, item, change, self.config.convergence_delay_s)
            self.cursor.follow(change)
        self.applied.append(entry)
        if self.observer is not None:
            self.observer.on_event(entry)

    def path(self, src: str, dst: str) -> tuple[str, ...] | None:
        """The sites routing sends ``src``'s traffic to ``dst`` through now."""
        return self.state.path_sites(src, dst)

    def apply(self, event: TimelineEvent) -> None:
        """Apply ``event`` at its ``at_s`` (now or later), as the timeline would."""
        check_not_before(self.clock_s, event.at_s, "at_s")
        _refuse_per_packet(event)
        if event.service is not None:
            self.demand.service(event.service)
        self.cursor.schedule(event.at_s, event)

    def inject(self, service: str, caller_site: str, size_bytes: float, at_s: float) -> Message:
        raise InputError(
            "the analytic fidelity carries no messages: use flow or packet",
            field="fidelity",
            value="analytic",
        )

    def respond(self, message: Message, size_bytes: float, at_s: float) -> None:
        raise InputError(
            "the analytic fidelity carries no messages: use flow or packet",
            field="fidelity",
            value="analytic",
        )

    def attach(self, site: str, endpoint: Endpoint) -> None:
        raise InputError(
            "the analytic fidelity has no messages to hand over: use flow or packet",
            field="fidelity",
            value="analytic",
        )

    def detach(self, site: str) -> None:
        """Nothing is attached to an analytic run."""

    def end_now(self) -> None:
        raise InputError(
            "an analytic run cannot be cut short: give it a shorter duration",
            field="fidelity",
            value="analytic",
        )

    def discard(self, message: Message, reason: DropReason | str) -> None:
        self.respond(message, 0.0, self.now_s)

    def finish(self) -> RunResult:
        """Advance to the end, then work out latency, overload loss and the totals."""
        end = self.duration_s
        self.advance_to(end)
        began = time.perf_counter()
        self._close_segment(end)
        self._close_bins(end, final=True)
        result = _analytic_result(self)
        self.wall_s += time.perf_counter() - began
        return dataclasses.replace(result, wall_s=self.wall_s)


def _analytic_result(engine: AnalyticEngine) -> RunResult:
    """Latency and overload loss per segment and bin, then the run's totals."""
    series, offered, lost = engine.series, engine.offered, engine.lost
    unreachable, segments, seg_counts = engine.unreachable, engine.segments, engine.seg_counts
    services, config, n_bins = engine.services, engine.config, engine.n_bins
    state, demand, bin_s = engine.state, engine.demand, engine.bin_s
    n_svc = len(services)
    duration_s, seed, applied = engine.duration_s, engine.inputs.seed, engine.applied
    # a small series is worked out whole, once; a large one a chunk of bins at a time
    util: FloatArray | UtilisationSeries = series.dense() if series.kept_dense() else series
    chunk = 240

    # latency and overload loss, per segment and bin, over callers
    cap_rho = config.analytic_max_utilisation
    hist = [LatencyHistogram() for _ in services]
    slo = np.zeros(n_svc)
    delivered_w = np.zeros((n_svc, n_bins))
    pct = np.full((3, n_svc, n_bins), np.nan)
    # Per-bin percentiles come from log-bucketed histograms (1 % like every fidelity): one
    # 2-D bincount per chunk; a bin split between segments is merged before it is read.
    segs_per_bin = np.zeros(n_bins, dtype=np.int64)
    for bins, _ in seg_counts:
        segs_per_bin[bins] += 1
    partial: dict[tuple[int, int], dict[int, float]] = {}
    for seg, (bins, counts) in zip(segments, seg_counts, strict=True):
        with np.errstate(divide="ignore"):
            inv_ext = np.append(np.where(seg.caps_bps > 0, 1.0 / seg.caps_bps, np.inf), 0.0)
        inv_paths = [(inv_ext[s.req_paths], inv_ext[s.resp_paths]) for s in seg.snaps]
        for start in range(0, len(bins), chunk):
            cb = bins[start : start + chunk]
            cc = counts[start : start + chunk]
            c0, c1 = cb[0], cb[-1] + 1  # (L+1) x K, the dummy link of padded paths idle
            rho = np.vstack([series.columns(c0, c1), np.zeros((1, c1 - c0))])
            rho = rho[:, np.subtract(cb, c0)]
            overloaded = bool((rho > 1.0).any())
            rho_c = np.minimum(rho, cap_rho)
            # services routed alike (the same host, the same callers) share their legs'
            # bottleneck terms: each distinct leg of the chunk is worked out once
            legs = _Legs(rho_c)
            for k, svc in enumerate(services):
                snap = seg.snaps[k]
                if snap.ok_callers.size == 0:
                    continue
                req_inv, resp_inv = inv_paths[k]
                t_req = legs.seconds_per_bit(snap.req_paths, req_inv) * (
                    8.0 * svc.request_size.mean_bytes
                )
                keep: FloatArray | float = 1.0
                if overloaded:
                    keep = 1.0 / np.maximum(1.0, rho[snap.req_paths].max(axis=1))
                if svc.one_way:
                    lat = snap.base_s[:, None] + t_req  # callers x K
                else:
                    t_resp = legs.seconds_per_bit(snap.resp_paths, resp_inv) * (
                        8.0 * svc.response_size.mean_bytes
                    )
                    if overloaded:
                        keep = keep / np.maximum(1.0, rho[snap.resp_paths].max(axis=1))
                    lat = snap.base_s[:, None] + t_req + t_resp
                w = np.broadcast_to(keep * cc[:, k][None, :], lat.shape)  # delivered
                w_bins = w.sum(axis=0)
                lost[DropReason.OVERLOAD][k, cb] += cc[:, k] * snap.ok_callers.size - w_bins
                delivered_w[k, cb] += w_bins
                if svc.slo_latency_s is not None:
                    slo[k] += float(w[lat > svc.slo_latency_s].sum())
                idx = bucket_indices(lat)
                lo, hi = int(idx.min()), int(idx.max())
                width = hi - lo + 1
                flat = (idx - lo) + np.arange(len(cb))[None, :] * width
                grid = np.bincount(flat.ravel(), weights=w.ravel(), minlength=len(cb) * width)
                grid = grid.reshape(len(cb), width)
                h = hist[k]
                for off, weight in zip(*_nonzero(grid.sum(axis=0)), strict=True):
                    h.buckets[off + lo] = h.buckets.get(off + lo, 0.0) + weight
                h.count += float(w_bins.sum())
                h.total_s += float((lat * w).sum())
                for j, b in enumerate(cb):
                    if segs_per_bin[b] > 1:
                        acc = partial.setdefault((k, b), {})
                        for off in np.flatnonzero(grid[j]).tolist():
                            acc[off + lo] = acc.get(off + lo, 0.0) + float(grid[j, off])
                cum = np.cumsum(grid, axis=1)
                total = cum[:, -1]
                for q, p in enumerate((0.50, 0.95, 0.99)):
                    pos = (cum >= (p * total * (1 - 1e-12))[:, None]).argmax(axis=1)
                    values = MIN_VALUE_S * np.exp((pos + lo + 0.5) * LOG_BUCKET_RATIO)
                    values[pos + lo < 0] = 0.0  # the bucket below 100 ns (bucket_value)
                    single = (segs_per_bin[cb] == 1) & (total > 0)
                    pct[q, k, np.asarray(cb)[single]] = values[single]
    for (k, b), acc in partial.items():
        merged = LatencyHistogram()
        merged.buckets = acc
        merged.count = sum(acc.values())
        if merged.count > 0:
            for q, p in enumerate((50.0, 95.0, 99.0)):
                pct[q, k, b] = merged.percentile(p)

    _check_expected_accounting(services, offered, lost, delivered_w)
    stats: dict[str, ServiceStats] = {}
    offered_bins: dict[str, IntArray] = {}
    delivered_bins: dict[str, IntArray] = {}
    for k, svc in enumerate(services):
        off_total = round(float(offered[k].sum()))
        drops = {r: round(float(lost[r][k].sum())) for r in lost}
        drops = {r: n for r, n in drops.items() if n > 0}
        excess = sum(drops.values()) - off_total
        if excess > 0:  # rounding can only overshoot by a message or two
            for r in sorted(drops, key=lambda r: -drops[r]):
                cut = min(excess, drops[r])
                drops[r] -= cut
                excess -= cut
        stats[svc.name] = ServiceStats(
            name=svc.name,
            offered=off_total,
            delivered=off_total - sum(drops.values()),
            dropped=dict(sorted(drops.items())),
            in_flight=0,
            latency=hist[k],
            slo_breaches=round(slo[k]),
        )
        offered_bins[svc.name] = _int_series(offered[k], off_total)
        delivered_bins[svc.name] = _int_series(delivered_w[k], stats[svc.name].delivered)
    check_accounting(Fidelity.ANALYTIC, stats)
    names = [s.name for s in services]
    return RunResult(
        fidelity=Fidelity.ANALYTIC,
        seed=seed,
        duration_s=duration_s,
        bin_s=bin_s,
        start=demand.start,
        services=stats,
        link_ids=tuple(state.link_ids),
        link_capacity_bps=np.asarray(state.nominal_cap_bps, dtype=float),
        link_utilisation=util,
        offered_per_bin=offered_bins,
        delivered_per_bin=delivered_bins,
        latency_p50_s={n: pct[0, i] for i, n in enumerate(names)},
        latency_p95_s={n: pct[1, i] for i, n in enumerate(names)},
        latency_p99_s={n: pct[2, i] for i, n in enumerate(names)},
        unreachable_local_bodies=unreachable,
        events=tuple(applied),
        counters={"segments": len(segments)},
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class OutageImpact:
    """What losing one link does to a day of demand (analytic, routing converged)."""

    link: str
    peak_utilisation: float
    worst_link: str
    lost_requests: float
    unreachable_local_bodies: int


def n1_sweep(
    topology: Topology,
    demand: Demand,
    links: list[str] | None = None,
    *,
    duration_s: float = 86400.0,
    config: EngineConfig | None = None,
) -> list[OutageImpact]:
    """Fail each link in turn (routing converged) and report the peak load and the loss.

    ``links`` defaults to every backbone link and every link of a prefecture node or
    prefectural office. Loads use the same traffic matrix as the analytic fidelity.
    """
    config = config or EngineConfig()
    base_state = NetState(topology, demand, config)
    if links is None:
        links = sorted(
            lk.id
            for lk in topology.links.values()
            if lk.kind.value == "backbone"
            or any(
                topology.sites[end].kind.value in ("prefecture_node", "prefecture")
                and topology.sites[lk.other(end)].kind.value != "municipality"
                for end in (lk.a, lk.b)
            )
        )
    n_links = len(base_state.link_ids)
    bin_s = config.bin_s
    n_bins = max(1, math.ceil(duration_s / bin_s - 1e-9))
    services = demand.services
    counts = np.zeros((n_bins, len(services)))
    for k, svc in enumerate(services):
        for b in range(n_bins):
            counts[b, k] = demand.requests_per_caller(
                svc, b * bin_s, duration_s if b == n_bins - 1 else (b + 1) * bin_s
            )
    # the last bin runs to the end (a hair past a whole bin included), as in the engine
    spans = np.minimum(duration_s - np.arange(n_bins) * bin_s, bin_s)
    spans[-1] = duration_s - (n_bins - 1) * bin_s
    caps = np.asarray(base_state.cap_bps, dtype=float)
    # warm the routing trees of every host once; each failure then recomputes only its own
    base_state.router.warm(sorted({s.primary for s in services}))
    base_snaps = [_snapshot(base_state, s, n_links) for s in services]
    base_weights = _stack_weights(base_snaps, n_links)
    # every link's peak over the day without a failure: a failure changes few links' loads
    base_peak, base_peak_bin = _column_peaks(counts, base_weights, caps, spans)
    out: list[OutageImpact] = []
    for link_id in links:
        change = base_state.router.fail_links([link_id])
        base_state._routing_changed(change.changed_roots)
        changed = set(change.changed_roots)
        try:
            # a service whose host's routing tree is untouched keeps its snapshot
            snaps = [
                _snapshot(base_state, s, n_links) if base_state.hosts[s.name] in changed else b
                for s, b in zip(services, base_snaps, strict=True)
            ]
            unreachable = base_state.unreachable_local_bodies()
        finally:
            back = base_state.router.restore_links(change.links)
            base_state._routing_changed(back.changed_roots)
        weights = _stack_weights(snaps, n_links)
        cols = np.flatnonzero((weights != base_weights).any(axis=0))
        peak, peak_bin = base_peak.copy(), base_peak_bin.copy()
        peak[cols], peak_bin[cols] = _column_peaks(counts, weights[:, cols], caps[cols], spans)
        if np.isfinite(peak).all() and peak.size:
            # the first maximum in (bin, link) order, as argmax over bins x links takes it
            tied = np.flatnonzero(peak == peak.max())
            peak_link = int(tied[np.argmin(peak_bin[tied])])
            peak_util = float(peak[peak_link])
        else:  # an undefined utilisation somewhere: take the dense array's own argmax
            util = _fixed_order_matmul(counts, weights) * 8.0 / (caps[None, :] * spans[:, None])
            at = np.unravel_index(int(np.argmax(util)), util.shape)
            peak_util, peak_link = float(util[at]), int(at[1])
        lost_req = float(
            sum(counts[:, k].sum() * sum(snaps[k].lost.values()) for k in range(len(services)))
        )
        out.append(
            OutageImpact(
                link=link_id,
                peak_utilisation=peak_util,
                worst_link=base_state.link_ids[peak_link],
                lost_requests=lost_req,
                unreachable_local_bodies=unreachable,
            )
        )
    return out


def _stack_weights(snaps: list[_ServiceSnapshot], n_links: int) -> FloatArray:
    return np.stack([s.weight_bytes for s in snaps]) if snaps else np.zeros((0, n_links))


def _column_peaks(
    counts: FloatArray, weights: FloatArray, caps: FloatArray, spans: FloatArray
) -> tuple[FloatArray, IntArray]:
    """Each link's peak utilisation over the bins and the first bin that reaches it.

    The values are the elements of ``counts @ weights * 8 / (caps * spans)`` summed in the
    fixed order, worked out a block of links at a time (memory bounded in the bin count).
    """
    n_links = weights.shape[1]
    peak = np.zeros(n_links)
    first = np.zeros(n_links, dtype=np.int64)
    step = max(1, (8 * 2**20) // max(1, 8 * counts.shape[0]))
    for c0 in range(0, n_links, step):
        c1 = min(n_links, c0 + step)
        util = (
            _fixed_order_matmul(counts, weights[:, c0:c1])
            * 8.0
            / (caps[None, c0:c1] * spans[:, None])
        )
        if util.shape[0]:
            first[c0:c1] = util.argmax(axis=0)
            peak[c0:c1] = util[first[c0:c1], np.arange(c1 - c0)]
    return peak, first
