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

import heapq
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lgwan_sim.engine._metrics import (
    LOG_BUCKET_RATIO,
    MIN_VALUE_S,
    LatencyHistogram,
    ServiceStats,
    bucket_indices,
)
from lgwan_sim.engine._results import AppliedEvent, RunResult
from lgwan_sim.engine._state import Change, NetState
from lgwan_sim.engine._types import EngineConfig, Fidelity, Timeline, TimelineEvent
from lgwan_sim.network import Topology
from lgwan_sim.traffic import Demand, ServiceDemand

__all__ = ["OutageImpact", "n1_sweep", "run_analytic"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
REASONS = ("site_down", "no_route", "link_failure")
#: A link whose occupancy can add at most this fraction to the path's floor (its slowest
#: capacity) is taken as idle in the bottleneck expectation; a numerical tolerance.
_IDLE_TOL = 1e-4
#: Lattice points of each loaded link are summed until ``rho ** n`` falls below this.
_TAIL_TOL = 1e-13


@dataclass(frozen=True, slots=True)
class _ServiceSnapshot:
    """One service under one network state."""

    weight_bytes: FloatArray  # bytes per request per directed link, summed over callers
    lost: dict[str, int]  # callers lost, by reason
    ok_callers: IntArray  # indices of callers whose both legs are routable
    base_s: FloatArray  # propagation delays + service time, per ok caller
    req_paths: IntArray  # ok callers x hops, padded with the dummy link
    resp_paths: IntArray


def _fixed_order_matmul(counts: FloatArray, weights: FloatArray) -> FloatArray:
    """``counts @ weights``, summed over services in a fixed order.

    A BLAS matrix product may split its sums differently with the number of threads, which
    changes the last bits of a result between machines or Dask workers; elementwise sums
    in a fixed order keep one seed's run byte for byte the same everywhere.
    """
    out = np.zeros((counts.shape[0], weights.shape[1]))
    for k in range(counts.shape[1]):
        out += np.outer(counts[:, k], weights[k])
    return out


def _pad(paths: list[tuple[int, ...]], dummy: int) -> IntArray:
    width = max((len(p) for p in paths), default=0) or 1
    out = np.full((len(paths), width), dummy, dtype=np.int64)
    for i, p in enumerate(paths):
        out[i, : len(p)] = p
    return out


def _snapshot(state: NetState, svc: ServiceDemand, n_links: int) -> _ServiceSnapshot:
    host = state.hosts[svc.name]
    down = state.down_sites
    weight = np.zeros(n_links + 1)
    lost = dict.fromkeys(REASONS, 0)
    ok: list[int] = []
    base: list[float] = []
    req_paths: list[tuple[int, ...]] = []
    resp_paths: list[tuple[int, ...]] = []
    req_b = svc.request_size.mean_bytes
    resp_b = 0.0 if svc.one_way else svc.response_size.mean_bytes
    req_count: dict[int, int] = {}
    resp_count: dict[int, int] = {}
    for i, caller in enumerate(svc.callers):
        if caller in down or host in down:
            lost["site_down"] += 1
            continue
        fwd = state.route(caller, host)
        if fwd is None:
            lost["no_route"] += 1
            continue
        if state.blackholed(fwd):
            lost["link_failure"] += 1
            continue
        for link in fwd.links:
            req_count[link] = req_count.get(link, 0) + 1
        back_delay = 0.0
        back_links: tuple[int, ...] = ()
        if not svc.one_way:
            back = state.route_back(host, caller)
            if back is None:
                lost["no_route"] += 1
                continue
            if state.blackholed(back):
                lost["link_failure"] += 1
                continue
            back_delay, back_links = back.delay_s, back.links
            for link in back_links:
                resp_count[link] = resp_count.get(link, 0) + 1
        ok.append(i)
        base.append(fwd.delay_s + back_delay + (0.0 if svc.one_way else svc.service_time_s))
        req_paths.append(fwd.links)
        resp_paths.append(back_links)
    for link, n in req_count.items():
        weight[link] += n * req_b
    for link, n in resp_count.items():
        weight[link] += n * resp_b
    return _ServiceSnapshot(
        weight_bytes=weight[:n_links],
        lost=lost,
        ok_callers=np.asarray(ok, dtype=np.int64),
        base_s=np.asarray(base, dtype=float),
        req_paths=_pad(req_paths, n_links),
        resp_paths=_pad(resp_paths, n_links),
    )


def _lattice_points(top_rho: float) -> int:
    """How many lattice points of a link at ``top_rho`` to sum (the tail beyond is tiny)."""
    if top_rho <= 0:
        return 1
    return max(1, math.ceil(math.log(_TAIL_TOL) / math.log(top_rho)) + 1)


def _exact_max(rho: FloatArray, inv: FloatArray, floor: FloatArray) -> FloatArray:
    """``E[max(floor, max_l (N_l + 1) * inv_l)]`` for a few links, summed over the lattice.

    ``rho`` and ``inv`` are items x links. The expectation is the sum over every lattice
    point ``y = n * inv_l`` of ``y`` times the probability that link ``l`` is the maximum
    there (ties go to the lowest link index), plus ``floor`` times ``P(all <= floor)``.
    """
    width = rho.shape[1]
    n_pts = _lattice_points(float(rho.max(initial=0.0)))
    n = np.arange(1, n_pts + 1, dtype=float)[None, :]
    fl = floor[:, None]
    out = floor.copy()
    for link in range(width):
        out *= 1.0 - rho[:, link] ** np.floor(floor / inv[:, link] + 1e-9)
    for link in range(width):
        r = rho[:, link : link + 1]
        y = n * inv[:, link : link + 1]
        term = y * (1.0 - r) * r ** (n - 1.0) * (y > fl * (1 + 1e-12))
        for other in range(width):
            if other == link:
                continue
            ro = rho[:, other : other + 1]
            u = n * (inv[:, link : link + 1] / inv[:, other : other + 1])
            if other < link:  # P(Y_other <= y)
                term *= 1.0 - ro ** np.floor(u + 1e-9)
            else:  # P(Y_other < y)
                term *= 1.0 - ro ** (np.ceil(u - 1e-9) - 1.0)
        out += term.sum(axis=1)
    return out


def _bottleneck_seconds_per_bit(
    rho_links: FloatArray, paths: IntArray, inv_cap: FloatArray
) -> FloatArray:
    """``E[max_l (N_l + 1) / C_l]`` per path and bin (the module docstring's model).

    ``rho_links`` is links x bins (capped below 1), ``paths`` paths x hops (link indices),
    ``inv_cap`` paths x hops (``1 / C``, 0 for padding). The result is at least the path's
    floor ``d = max_l 1 / C_l``; a link adds its excess over the floor,
    ``E[(Y_l - d)^+] = (1 / C_l) rho_l**k ((1 - f) + rho_l / (1 - rho_l))`` with
    ``d C_l = k + f`` (``P(Y_l > y) = rho_l ** floor(y C_l)``): exact when one link is loaded,
    and the lattice sum of :func:`_exact_max` where two or more are (a link whose excess is
    below ``_IDLE_TOL`` of the floor counts as idle).
    """
    floor = inv_cap.max(axis=1)  # paths
    n_bins = rho_links.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(inv_cap > 0, floor[:, None] / np.where(inv_cap > 0, inv_cap, 1.0), 0.0)
        log_rho = np.log(rho_links)  # -inf for idle links
    k = np.maximum(np.floor(u + 1e-9), 1.0)  # >= 1 on every real hop, as d >= 1 / C_l
    head = np.where(inv_cap > 0, inv_cap, 0.0)
    frac = 1.0 - np.clip(u - k, 0.0, 1.0)
    q = rho_links / (1.0 - rho_links)
    # Only the hops that can exceed the idle tolerance in some bin are worked out per bin:
    # the excess grows with rho, so its value at the busiest bin bounds every other bin.
    top = rho_links.max(axis=1, initial=0.0)
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
    rk = np.exp(log_rho[paths] * k[:, :, None])
    excess = head[:, :, None] * rk * (frac[:, :, None] + q[paths])
    fl = floor[:, None, None]
    loaded = excess > _IDLE_TOL * fl
    out: FloatArray = floor[:, None] + excess.max(axis=1, initial=0.0)
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
    step = max(1, 1_000_000 // _lattice_points(float(sub_rho.max(initial=0.0))))
    vals = np.empty(len(p_idx))
    for start in range(0, len(p_idx), step):
        sl = slice(start, start + step)
        vals[sl] = _exact_max(sub_rho[sl], sub_inv[sl], floor[p_idx][sl])
    out[p_idx, b_idx] = vals
    return out


@dataclass(slots=True)
class _Segment:
    t0: float
    t1: float
    snaps: list[_ServiceSnapshot]
    multipliers: list[float]
    caps_bps: FloatArray
    unreachable: int


def _segments(
    state: NetState,
    timeline: Timeline,
    duration_s: float,
    config: EngineConfig,
    log_events: list[AppliedEvent],
) -> list[_Segment]:
    """Apply the timeline in order and snapshot the state between changes."""
    n_links = len(state.link_ids)
    services = state.demand.services
    actions: list[tuple[float, int, TimelineEvent | None, Change | None]] = []
    seq = 0
    for ev in timeline.events:
        if ev.at_s < duration_s:
            actions.append((ev.at_s, seq, ev, None))
            seq += 1
    heapq.heapify(actions)
    segments: list[_Segment] = []
    snap_cache: dict[tuple[object, ...], _ServiceSnapshot] = {}
    t = 0.0
    pending: dict[int, TimelineEvent] = {}

    def snapshot() -> tuple[list[_ServiceSnapshot], int]:
        dead, down = frozenset(state.dead), frozenset(state.down_sites)
        snaps = []
        for svc in services:
            host = state.hosts[svc.name]
            key = (svc.name, host, state.root_version.get(host, 0), dead, down)
            snap = snap_cache.get(key)
            if snap is None:
                snap = snap_cache[key] = _snapshot(state, svc, n_links)
            snaps.append(snap)
        return snaps, state.unreachable_local_bodies()

    snaps, unreachable = snapshot()
    while True:
        t_next = actions[0][0] if actions else duration_s
        t_next = min(t_next, duration_s)
        if t_next > t:
            segments.append(
                _Segment(
                    t0=t,
                    t1=t_next,
                    snaps=snaps,
                    multipliers=[state.multiplier(s.name) for s in services],
                    caps_bps=np.asarray(state.cap_bps, dtype=float),
                    unreachable=unreachable,
                )
            )
        if not actions or t_next >= duration_s:
            break
        t = t_next
        at, k, maybe_event, change = heapq.heappop(actions)
        if maybe_event is not None:
            event = maybe_event
            change = state.apply(event)
            log_events.append(
                AppliedEvent(
                    at_s=at,
                    kind=str(event.kind),
                    note=event.note,
                    links=change.links,
                    sites=change.sites,
                    service=event.service,
                )
            )
            if change.converge is not None:
                pending[seq] = event
                heapq.heappush(actions, (at + config.convergence_delay_s, seq, None, change))
                seq += 1
        else:
            assert change is not None
            assert change.converge is not None
            recomputed = change.converge()
            source = pending.pop(k)
            log_events.append(
                AppliedEvent(
                    at_s=at,
                    kind="converged",
                    note=f"routing after {source.kind} at {source.at_s:g}s",
                    links=change.links,
                    sites=change.sites,
                    routes_recomputed=recomputed,
                )
            )
        snaps, unreachable = snapshot()
    return segments


def _bin_overlaps(
    t0: float, t1: float, bin_s: float, n_bins: int
) -> list[tuple[int, float, float]]:
    out = []
    b = int(t0 // bin_s)
    while b < n_bins and b * bin_s < t1:
        lo, hi = max(t0, b * bin_s), min(t1, (b + 1) * bin_s)
        if hi > lo:
            out.append((b, lo, hi))
        b += 1
    return out


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


def run_analytic(
    topology: Topology,
    demand: Demand,
    timeline: Timeline,
    *,
    duration_s: float,
    seed: int,
    config: EngineConfig,
    progress: Callable[[float], None] | None = None,
) -> RunResult:
    """The analytic fidelity (see the module docstring for the model)."""
    wall0 = time.perf_counter()
    state = NetState(topology, demand, config)
    n_links = len(state.link_ids)
    bin_s = config.bin_s
    n_bins = max(1, math.ceil(duration_s / bin_s - 1e-9))
    services = demand.services
    n_svc = len(services)
    applied: list[AppliedEvent] = []
    segments = _segments(state, timeline, duration_s, config, applied)

    load = np.zeros((n_links, n_bins))  # bytes carried per directed link
    cap_s = np.zeros((n_links, n_bins))  # capacity-seconds (bits)
    offered = np.zeros((n_svc, n_bins))
    lost = {r: np.zeros((n_svc, n_bins)) for r in (*REASONS, "overload")}
    unreachable = np.zeros(n_bins, dtype=np.int64)
    # per (segment, bin): requests per caller for each service
    seg_counts: list[tuple[list[int], FloatArray]] = []
    for seg in segments:
        overlaps = _bin_overlaps(seg.t0, seg.t1, bin_s, n_bins)
        bins = [b for b, _, _ in overlaps]
        counts = np.zeros((len(overlaps), n_svc))
        for j, (b, lo, hi) in enumerate(overlaps):
            for k, svc in enumerate(services):
                counts[j, k] = demand.requests_per_caller(svc, lo, hi) * seg.multipliers[k]
            cap_s[:, b] += seg.caps_bps * (hi - lo)
            unreachable[b] = max(unreachable[b], seg.unreachable)
        weights = np.stack([s.weight_bytes for s in seg.snaps]) if n_svc else np.zeros((0, n_links))
        load[:, bins] += _fixed_order_matmul(counts, weights).T
        for k, svc in enumerate(services):
            n_callers = len(svc.callers)
            offered[k, bins] += counts[:, k] * n_callers
            for reason, n in seg.snaps[k].lost.items():
                if n:
                    lost[reason][k, bins] += counts[:, k] * n
        seg_counts.append((bins, counts))
        if progress is not None:
            progress(seg.t1)
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.where(cap_s > 0, load * 8.0 / cap_s, 0.0)

    # latency and overload loss, per segment and bin, over callers
    cap_rho = config.analytic_max_utilisation
    rho_ext = np.vstack([util, np.zeros((1, n_bins))])  # dummy link: idle
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
    chunk = 240
    for seg, (bins, counts) in zip(segments, seg_counts, strict=True):
        with np.errstate(divide="ignore"):
            inv_ext = np.append(np.where(seg.caps_bps > 0, 1.0 / seg.caps_bps, np.inf), 0.0)
        inv_paths = [(inv_ext[s.req_paths], inv_ext[s.resp_paths]) for s in seg.snaps]
        for start in range(0, len(bins), chunk):
            cb = bins[start : start + chunk]
            cc = counts[start : start + chunk]
            rho = rho_ext[:, cb]  # (L+1) x K
            overloaded = bool((rho > 1.0).any())
            rho_c = np.minimum(rho, cap_rho)
            for k, svc in enumerate(services):
                snap = seg.snaps[k]
                if snap.ok_callers.size == 0:
                    continue
                req_inv, resp_inv = inv_paths[k]
                t_req = _bottleneck_seconds_per_bit(rho_c, snap.req_paths, req_inv) * (
                    8.0 * svc.request_size.mean_bytes
                )
                keep: FloatArray | float = 1.0
                if overloaded:
                    keep = 1.0 / np.maximum(1.0, rho[snap.req_paths].max(axis=1))
                if svc.one_way:
                    lat = snap.base_s[:, None] + t_req  # callers x K
                else:
                    t_resp = _bottleneck_seconds_per_bit(rho_c, snap.resp_paths, resp_inv) * (
                        8.0 * svc.response_size.mean_bytes
                    )
                    if overloaded:
                        keep = keep / np.maximum(1.0, rho[snap.resp_paths].max(axis=1))
                    lat = snap.base_s[:, None] + t_req + t_resp
                w = np.broadcast_to(keep * cc[:, k][None, :], lat.shape)  # delivered
                w_bins = w.sum(axis=0)
                lost["overload"][k, cb] += cc[:, k] * snap.ok_callers.size - w_bins
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
                    single = (segs_per_bin[cb] == 1) & (total > 0)
                    pct[q, k, np.asarray(cb)[single]] = values[single]
    for (k, b), acc in partial.items():
        merged = LatencyHistogram()
        merged.buckets = acc
        merged.count = sum(acc.values())
        if merged.count > 0:
            for q, p in enumerate((50.0, 95.0, 99.0)):
                pct[q, k, b] = merged.percentile(p)

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
        wall_s=time.perf_counter() - wall0,
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
    prefectural office. Loads use the same traffic matrix as :func:`run_analytic`.
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
                svc, b * bin_s, min(duration_s, (b + 1) * bin_s)
            )
    spans = np.minimum(duration_s - np.arange(n_bins) * bin_s, bin_s)
    caps = np.asarray(base_state.cap_bps, dtype=float)
    # warm the routing trees of every host once; each failure then recomputes only its own
    base_state.router.warm(sorted({s.primary for s in services}))
    out: list[OutageImpact] = []
    for link_id in links:
        change = base_state.router.fail_links([link_id])
        base_state._routing_changed(change.recomputed_roots)
        try:
            snaps = [_snapshot(base_state, s, n_links) for s in services]
            unreachable = base_state.unreachable_local_bodies()
        finally:
            back = base_state.router.restore_links(change.links)
            base_state._routing_changed(back.recomputed_roots)
        weights = np.stack([s.weight_bytes for s in snaps])
        util = _fixed_order_matmul(counts, weights) * 8.0 / (caps[None, :] * spans[:, None])
        peak_bin, peak_link = np.unravel_index(int(np.argmax(util)), util.shape)
        lost_req = float(
            sum(counts[:, k].sum() * sum(snaps[k].lost.values()) for k in range(len(services)))
        )
        out.append(
            OutageImpact(
                link=link_id,
                peak_utilisation=float(util[peak_bin, peak_link]),
                worst_link=base_state.link_ids[int(peak_link)],
                lost_requests=lost_req,
                unreachable_local_bodies=unreachable,
            )
        )
    return out
