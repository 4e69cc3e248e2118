"""Common machinery of the event-driven fidelities (flow and packet).

SimPy orchestrates the timeline (one process applies the events; one process per pending
routing convergence). The hot path is a plain ``heapq`` loop in the fidelity: arrivals,
completions and deliveries are ``(time_s, seq, kind, obj, gen)`` tuples, ties broken by the
sequence counter, stale entries skipped by a generation number. Statistics are streaming.
"""

from __future__ import annotations

import heapq
import logging
import math
import random
import time
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy

from lgwan_sim.engine._metrics import _INV_LOG_R as _INV
from lgwan_sim.engine._metrics import _LOG_MIN, LatencyHistogram, ServiceStats, bucket_value
from lgwan_sim.engine._results import AppliedEvent, RunResult, check_accounting
from lgwan_sim.engine._state import Change, NetState, Path
from lgwan_sim.engine._streams import ArrivalStream
from lgwan_sim.engine._types import EngineConfig, Fidelity, Timeline, TimelineEvent
from lgwan_sim.network import Topology
from lgwan_sim.traffic import Demand

__all__ = ["EventEngine", "Msg"]

log = logging.getLogger(__name__)

# Heap entry kinds.
ARRIVAL = 0
COMPLETE = 1
RESPONSE = 2
DONE = 3
HOP = 4
ACK = 5


class Msg:
    """One exchange in progress: a request and (unless one-way) its response."""

    __slots__ = ("alive", "caller", "host", "leg", "svc", "t0")

    def __init__(self, svc: int, caller: str, host: str, t0: float) -> None:
        self.svc = svc
        self.caller = caller
        self.host = host
        self.t0 = t0
        self.leg = 0
        self.alive = True


class EventEngine:
    """Accounting, bins, arrivals and the timeline; subclasses move the bytes."""

    fidelity: Fidelity

    def __init__(
        self,
        topology: Topology,
        demand: Demand,
        timeline: Timeline,
        *,
        duration_s: float,
        seed: int,
        config: EngineConfig,
        progress: Callable[[float], None] | None,
    ) -> None:
        self.topology = topology
        self.demand = demand
        self.timeline = timeline
        self.duration_s = duration_s
        self.seed = seed
        self.config = config
        self.progress = progress
        self.state = NetState(topology, demand, config)
        self.bin_s = config.bin_s
        self.n_bins = max(1, math.ceil(duration_s / self.bin_s - 1e-9))
        services = demand.services
        self.services = services
        n = len(services)
        self.streams = [
            ArrivalStream(s, i, self.state, random.Random(f"{seed}:{s.name}:arrivals"), duration_s)
            for i, s in enumerate(services)
        ]
        self.req_size = [
            s.request_size.sampler(random.Random(f"{seed}:{s.name}:request-size")) for s in services
        ]
        self.resp_size = [
            s.response_size.sampler(random.Random(f"{seed}:{s.name}:response-size"))
            for s in services
        ]
        self.service_time = [s.service_time_s for s in services]
        self.one_way = [s.one_way for s in services]
        self.slo = [math.inf if s.slo_latency_s is None else s.slo_latency_s for s in services]
        self.offered = [0] * n
        self.delivered = [0] * n
        self.dropped: list[dict[str, int]] = [{} for _ in services]
        self.hist = [LatencyHistogram() for _ in services]
        self.slo_breaches = [0] * n
        nb = self.n_bins
        # plain lists: numpy scalar updates are slow on the hot path
        self.bin_offered = [[0] * nb for _ in services]
        # one more slot than bins: deliveries after the end (drain) are counted there
        self.bin_delivered = [[0] * (nb + 1) for _ in services]
        self.bin_p = np.full((3, n, nb), np.nan)
        self.bin_hist: list[dict[int, int]] = [{} for _ in services]
        n_links = len(self.state.link_ids)
        self.util = np.zeros((n_links, nb))
        self.carried = [0.0] * n_links  # bytes carried in the current bin, per directed link
        self.cap_changes: list[tuple[float, int, float, float]] = []
        self.cur_bin = 0
        self.next_bin_t = self.bin_s
        self.unreachable = np.zeros(nb, dtype=np.int64)
        self.cur_unreachable = 0
        self.events: list[AppliedEvent] = []
        self.heap: list[tuple[float, int, int, Any, int]] = []
        self.seq = 0
        self.now = 0.0
        self.counters: dict[str, int] = {}
        self.overloaded = False
        self.overload_since: float | None = None  # start of the current overload, if any
        self.overload_reason: str | None = None
        self.stopped_at_s = duration_s
        self.env = simpy.Environment()
        self.env.process(self._timeline_process())

    # -- accounting -----------------------------------------------------------------------
    def offer(self, svc: int, t: float) -> None:
        self.offered[svc] += 1
        self.bin_offered[svc][self.cur_bin] += 1

    def drop(self, msg: Msg, reason: str) -> None:
        if not msg.alive:
            return
        msg.alive = False
        i = msg.svc
        d = self.dropped[i]
        d[reason] = d.get(reason, 0) + 1

    def leg_path(self, msg: Msg, src: str, dst: str) -> Path | None:
        """The path of a message's next leg, or None once it is dropped for having none.

        A leg from or to a site that is down is lost as ``site_down``; one with no route
        (routing has converged around a cut) as ``no_route``. Responses take the request's
        path back.
        """
        state = self.state
        down = state.down_sites
        if down and (src in down or dst in down):
            self.drop(msg, "site_down")
            return None
        path = state.route(src, dst) if msg.leg == 0 else state.route_back(src, dst)
        if path is None:
            self.drop(msg, "no_route")
        return path

    def deliver(self, msg: Msg, t: float) -> None:
        if not msg.alive:
            return
        msg.alive = False
        i = msg.svc
        self.delivered[i] += 1
        latency = t - msg.t0
        b = -1 if latency < 1e-7 else int((math.log(latency) - _LOG_MIN) * _INV)
        h = self.hist[i]
        h.buckets[b] = h.buckets.get(b, 0) + 1
        h.count += 1
        h.total_s += latency
        bh = self.bin_hist[i]
        bh[b] = bh.get(b, 0) + 1
        self.bin_delivered[i][self.cur_bin] += 1
        if latency > self.slo[i]:
            self.slo_breaches[i] += 1

    # -- bins -----------------------------------------------------------------------------
    def account_until(self, t: float) -> None:
        """Add bytes carried up to ``t`` to ``self.carried`` (flow fidelity overrides)."""

    def close_bins_until(self, t: float) -> None:
        """Close every bin that ends at or before ``t``."""
        while t >= self.next_bin_t and self.cur_bin < self.n_bins:
            end = self.next_bin_t
            self.account_until(end)
            self._close_bin(end)

    def _close_bin(self, end: float) -> None:
        b = self.cur_bin
        start = b * self.bin_s
        span = min(end, self.duration_s) - start
        caps = np.asarray(self.state.cap_bps, dtype=float)
        cap_s = caps * span
        for t, d, old, new in self.cap_changes:
            cap_s[d] += (old - new) * (t - start)
        self.cap_changes.clear()
        carried = np.asarray(self.carried, dtype=float)
        if span > 0:
            self.util[:, b] = carried * 8.0 / cap_s
        self.carried = [0.0] * len(self.carried)
        for i, bh in enumerate(self.bin_hist):
            if bh:
                total = sum(bh.values())
                keys = sorted(bh)
                for j, p in enumerate((50.0, 95.0, 99.0)):
                    rank = max(1, math.ceil(p / 100.0 * total - 1e-9))
                    cum = 0
                    for k in keys:
                        cum += bh[k]
                        if cum >= rank:
                            self.bin_p[j, i, b] = bucket_value(k)
                            break
                bh.clear()
        self.unreachable[b] = max(self.unreachable[b], self.cur_unreachable)
        self.cur_bin += 1
        self.next_bin_t = (self.cur_bin + 1) * self.bin_s
        if self.cur_bin < self.n_bins:
            self.unreachable[self.cur_bin] = self.cur_unreachable
        if self.progress is not None:
            self.progress(end)

    def note_capacity_change(self, t: float, links: tuple[int, ...], old: list[float]) -> None:
        for d, before in zip(links, old, strict=True):
            self.cap_changes.append((t, d, before, self.state.cap_bps[d]))

    # -- heap -----------------------------------------------------------------------------
    def push(self, t: float, kind: int, obj: Any, gen: int = 0) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, obj, gen))

    def start_arrivals(self) -> None:
        for stream in self.streams:
            t = stream.first()
            if t is not None:
                self.push(t, ARRIVAL, stream, stream.gen)

    # -- timeline -------------------------------------------------------------------------
    def _timeline_process(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        for event in self.timeline.events:
            if event.at_s >= self.duration_s:
                break
            if event.at_s > env.now:
                yield env.timeout(event.at_s - env.now)
            self._apply(event)

    def _apply(self, event: TimelineEvent) -> None:
        t = self.env.now
        self.before_event(t)
        old_caps = list(self.state.cap_bps)
        change = self.state.apply(event)
        if change.capacity_changed:
            self.note_capacity_change(
                t, change.capacity_changed, [old_caps[d] for d in change.capacity_changed]
            )
        lost, rerouted = self.on_change(change, t)
        if change.demand_changed:
            for stream in self.streams:
                stream.reset()
                nxt = stream.next_after(t)
                if nxt is not None:
                    self.push(nxt, ARRIVAL, stream, stream.gen)
        self.events.append(
            AppliedEvent(
                at_s=t,
                kind=str(event.kind),
                note=event.note,
                links=change.links,
                sites=change.sites,
                service=event.service,
                messages_lost=lost,
                messages_rerouted=rerouted,
            )
        )
        log.debug("t=%.3f applied %s", t, event.kind)
        self.cur_unreachable = self.state.unreachable_local_bodies()
        self._note_unreachable()
        if change.converge is not None:
            self.env.process(self._converge_after(change, event))

    def _note_unreachable(self) -> None:
        b = min(self.cur_bin, self.n_bins - 1)
        self.unreachable[b] = max(self.unreachable[b], self.cur_unreachable)

    def _converge_after(
        self, change: Change, event: TimelineEvent
    ) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(self.config.convergence_delay_s)
        t = self.env.now
        self.before_event(t)
        assert change.converge is not None
        recomputed = change.converge()
        lost, rerouted = self.on_converged(t)
        self.events.append(
            AppliedEvent(
                at_s=t,
                kind="converged",
                note=f"routing after {event.kind} at {event.at_s:g}s",
                links=change.links,
                sites=change.sites,
                routes_recomputed=recomputed,
                messages_lost=lost,
                messages_rerouted=rerouted,
            )
        )
        self.cur_unreachable = self.state.unreachable_local_bodies()
        self._note_unreachable()

    # -- hooks ----------------------------------------------------------------------------
    def before_event(self, t: float) -> None:
        """Bring the fidelity's state up to ``t`` before the network changes."""
        self.close_bins_until(t)
        self.now = t

    def on_change(self, change: Change, t: float) -> tuple[int, int]:
        """React to a physical change; returns (messages lost, messages rerouted)."""
        raise NotImplementedError

    def on_converged(self, t: float) -> tuple[int, int]:
        """React to a routing change; returns (messages lost, messages rerouted)."""
        return 0, 0

    def track_overload(
        self, t: float, count: int, limit: float, what: str, limit_name: str
    ) -> bool:
        """Follow a run of overload (``count`` above ``limit``); True once the run must stop.

        An overload that lasts ``overload_sustain_s`` stops the run through
        :meth:`stop_overloaded`; a moment back under the limit resets the clock. Callers on
        hot paths call this only while ``count > limit`` or an overload is being followed.
        """
        if count <= limit:
            self.overload_since = None
            return False
        if self.overload_since is None:
            self.overload_since = t
            return False
        if t - self.overload_since < self.config.overload_sustain_s:
            return False
        self.stop_overloaded(
            t,
            f"{count} {what} exceeded {limit_name}={limit} "
            f"for {t - self.overload_since:.1f}s (sustained overload)",
        )
        return True

    def stop_overloaded(self, t: float, reason: str) -> None:
        self.overloaded = True
        self.overload_reason = reason
        self.stopped_at_s = t
        log.warning("run stopped at t=%.1fs: %s", t, reason)

    # -- result ---------------------------------------------------------------------------
    def in_transfer(self) -> list[Msg]:
        """Every message the fidelity's own structures still hold (dead ones included)."""
        raise NotImplementedError

    def in_flight(self) -> list[int]:
        """Per service, the live exchanges found in the fidelity's structures.

        This is counted from what the engine holds, not kept as a counter, so that an
        exchange the engine lost track of shows up as an accounting error.
        """
        seen: set[int] = set()
        counts = [0] * len(self.services)
        for msg in self.in_transfer():
            if msg.alive and id(msg) not in seen:
                seen.add(id(msg))
                counts[msg.svc] += 1
        return counts

    def result(self, wall_s: float) -> RunResult:
        names = [s.name for s in self.services]
        in_flight = self.in_flight()
        if self.config.drain:
            self.counters["delivered_after_end"] = sum(b[-1] for b in self.bin_delivered)
        stats = {
            s.name: ServiceStats(
                name=s.name,
                offered=self.offered[i],
                delivered=self.delivered[i],
                dropped=dict(sorted(self.dropped[i].items())),
                in_flight=in_flight[i],
                latency=self.hist[i],
                slo_breaches=self.slo_breaches[i],
            )
            for i, s in enumerate(self.services)
        }
        check_accounting(self.fidelity, stats)
        return RunResult(
            fidelity=self.fidelity,
            seed=self.seed,
            duration_s=self.duration_s,
            bin_s=self.bin_s,
            start=self.demand.start,
            services=stats,
            link_ids=tuple(self.state.link_ids),
            link_capacity_bps=np.asarray(self.state.nominal_cap_bps, dtype=float),
            link_utilisation=self.util,
            offered_per_bin={
                n: np.asarray(self.bin_offered[i], dtype=np.int64) for i, n in enumerate(names)
            },
            delivered_per_bin={
                n: np.asarray(self.bin_delivered[i][: self.n_bins], dtype=np.int64)
                for i, n in enumerate(names)
            },
            latency_p50_s={n: self.bin_p[0, i] for i, n in enumerate(names)},
            latency_p95_s={n: self.bin_p[1, i] for i, n in enumerate(names)},
            latency_p99_s={n: self.bin_p[2, i] for i, n in enumerate(names)},
            unreachable_local_bodies=self.unreachable,
            events=tuple(self.events),
            overloaded=self.overloaded,
            overload_reason=self.overload_reason,
            stopped_at_s=self.stopped_at_s,
            counters=dict(self.counters),
            wall_s=wall_s,
        )

    def initial(self) -> None:
        self.cur_unreachable = self.state.unreachable_local_bodies()
        self.unreachable[0] = self.cur_unreachable

    def run(self) -> RunResult:
        t0 = time.perf_counter()
        self.initial()
        self.start_arrivals()
        self.loop()
        if self.config.drain and not self.overloaded:
            self.drain()
        return self.result(time.perf_counter() - t0)

    def loop(self) -> None:
        """Simulate up to ``duration_s`` (or an overload stop) and close every bin."""
        raise NotImplementedError

    def drain(self) -> None:
        """After the end: no arrivals; run until no exchange is left under way."""
        raise NotImplementedError
