"""Common machinery of the event-driven fidelities (flow and packet).

The timeline (scheduled events and pending routing convergences) comes from the one
:class:`~lgwan_sim.engine._timeline.TimelineCursor`. The hot path is a plain ``heapq`` loop
in the fidelity: arrivals, completions and deliveries are ``(time_s, seq, kind, obj, gen)``
tuples, ties broken by the sequence counter, stale entries skipped by a generation number.
Statistics are streaming.

The engine is pumped from outside, as a simpy ``Environment`` is: :meth:`EventEngine.peek`
tells when the next thing will happen, :meth:`EventEngine.advance_to` processes everything
due before a time, :meth:`EventEngine.finish` closes the run. Between two advances the
caller may :meth:`~EventEngine.apply` an event, :meth:`~EventEngine.inject` a request or
:meth:`~EventEngine.respond` to a message that an endpoint received.
"""

from __future__ import annotations

import heapq
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from lgwan_sim.engine._endpoint import (
    SIMULATE,
    BinRecord,
    DropRecord,
    Endpoint,
    Message,
    Observer,
    Reply,
)
from lgwan_sim.engine._metrics import _INV_LOG_R as _INV
from lgwan_sim.engine._metrics import _LOG_MIN, LatencyHistogram, ServiceStats, bucket_value
from lgwan_sim.engine._results import AppliedEvent, RunResult, check_accounting
from lgwan_sim.engine._state import Change, NetState, Path
from lgwan_sim.engine._streams import ArrivalStream
from lgwan_sim.engine._timeline import (
    Convergence,
    TimelineCursor,
    applied,
    check_advance,
    check_not_before,
    converged,
)
from lgwan_sim.engine._types import DropReason, EngineConfig, Fidelity, Timeline, TimelineEvent
from lgwan_sim.errors import InputError
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
HANDOVER = 6  # a leg reached a site with an endpoint (flow: at its arrival time)
REPLY = 7  # an endpoint's answer leaves its host: obj is (msg, size_bytes)
INJECT = 8  # a real client's request enters at its site: obj is (id, svc, caller, size)


class Msg:
    """One exchange in progress: a request and (unless one-way) its response."""

    __slots__ = ("alive", "caller", "extra", "host", "leg", "svc", "t0")

    def __init__(self, svc: int, caller: str, host: str, t0: float) -> None:
        self.svc = svc
        self.caller = caller
        self.host = host
        self.t0 = t0
        self.leg = 0
        self.alive = True
        self.extra = 0.0  # flow: the added link latency of the leg under way


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
        endpoints: Mapping[str, Endpoint] | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.topology = topology
        self.demand = demand
        self.timeline = timeline
        self.duration_s = duration_s
        self.seed = seed
        self.config = config
        self.endpoints: dict[str, Endpoint] = dict(endpoints or {})
        self.observer = observer
        self.state = NetState(topology, demand, config, seed=seed)
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
        self.next_bin_t = self.bin_end(0)
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
        self.cursor = TimelineCursor(timeline.events, duration_s)
        self.started = False
        self.clock_s = 0.0  # everything due before this time has been processed
        self.wall_s = 0.0  # wall time spent advancing
        # the seam: exchanges handed to endpoints, and their ids
        self.ids: dict[Msg, int] = {}
        self.waiting: dict[int, Msg] = {}  # requests at an endpoint, awaiting respond()
        self.next_id = 0
        # sites whose endpoint is told when a leg toward it leaves (``Endpoint.departing``)
        self.departures: dict[str, Callable[[Message, float], None]] = {}
        for site, endpoint in self.endpoints.items():
            self._watch_departures(site, endpoint)
        self.service_index = {s.name: i for i, s in enumerate(services)}
        self.bin_dropped: list[dict[str, int]] = [{} for _ in services]

    # -- accounting -----------------------------------------------------------------------
    def offer(self, svc: int, t: float) -> None:
        self.offered[svc] += 1
        self.bin_offered[svc][self.cur_bin] += 1

    def drop(self, msg: Msg, reason: DropReason) -> None:
        if not msg.alive:
            return
        msg.alive = False
        i = msg.svc
        d = self.dropped[i]
        d[reason] = d.get(reason, 0) + 1
        if self.observer is not None:
            bd = self.bin_dropped[i]
            bd[reason] = bd.get(reason, 0) + 1
            self.observer.on_drop(
                DropRecord(
                    at_s=self.now,
                    service=self.services[i].name,
                    caller=msg.caller,
                    host=msg.host,
                    reason=reason,
                    message_id=self.ids.get(msg) if self.ids else None,
                )
            )
        if self.ids:
            self.ids.pop(msg, None)  # the exchange is over: the seam forgets its id

    def leg_path(self, msg: Msg, src: str, dst: str) -> Path | None:
        """The path of a message's next leg, or None once it is dropped for having none.

        A leg from or to a site that is down is lost as ``site_down``; one with no route
        (routing has converged around a cut) as ``no_route``. Responses take the request's
        path back.
        """
        state = self.state
        down = state.down_sites
        if down and (src in down or dst in down):
            self.drop(msg, DropReason.SITE_DOWN)
            return None
        path = state.route(src, dst) if msg.leg == 0 else state.route_back(src, dst)
        if path is None:
            self.drop(msg, DropReason.NO_ROUTE)
        elif self.departures:
            departing = self.departures.get(dst)
            if departing is not None:
                departing(self._seam_message(msg), self.now)
        return path

    def deliver(self, msg: Msg, t: float) -> None:
        if not msg.alive:
            return
        msg.alive = False
        if self.ids:
            self.ids.pop(msg, None)  # the exchange is over: the seam forgets its id
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

    def bin_end(self, b: int) -> float:
        """When bin ``b`` closes: at its whole multiple of ``bin_s``, the last one at the end.

        The bin count allows 1e-9 of a bin for rounding, so a run a hair longer than a whole
        number of bins has its last bin run on to the end rather than a bin of its own.
        """
        return self.duration_s if b >= self.n_bins - 1 else (b + 1) * self.bin_s

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
        self.next_bin_t = self.bin_end(self.cur_bin)
        if self.cur_bin < self.n_bins:
            self.unreachable[self.cur_bin] = self.cur_unreachable
        if self.observer is not None:
            names = [s.name for s in self.services]
            self.observer.on_bin(
                BinRecord(
                    index=b,
                    start_s=start,
                    end_s=min(end, self.duration_s),
                    utilisation=self.util[:, b].copy(),
                    unreachable=int(self.unreachable[b]),
                    offered={n: self.bin_offered[i][b] for i, n in enumerate(names)},
                    delivered={n: self.bin_delivered[i][b] for i, n in enumerate(names)},
                    dropped={
                        n: dict(sorted(self.bin_dropped[i].items())) for i, n in enumerate(names)
                    },
                )
            )
            for bd in self.bin_dropped:
                bd.clear()

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
    def step_timeline(self) -> None:
        """Apply the cursor's next item: a timeline event, or a routing convergence."""
        at, item = self.cursor.pop()
        if isinstance(item, Convergence):
            self._converge(item, at)
        else:
            self._apply(item, at)

    def _log(self, entry: AppliedEvent) -> None:
        self.events.append(entry)
        if self.observer is not None:
            self.observer.on_event(entry)

    def _apply(self, event: TimelineEvent, t: float) -> None:
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
        self._log(applied(t, event, change, lost=lost, rerouted=rerouted))
        log.debug("t=%.3f applied %s", t, event.kind)
        self.cur_unreachable = self.state.unreachable_local_bodies()
        self._note_unreachable(t)
        self.cursor.converge_later(t, event, change, self.config.convergence_delay_s)
        self.cursor.follow(change)

    def _note_unreachable(self, t: float) -> None:
        """Count the unreachable local bodies from ``t`` on in the bin that holds ``t``.

        A change at the very start of a bin replaces the count the bin opened with: the
        state before it lasted no time in this bin (the analytic fidelity's segments agree).
        """
        b = self.cur_bin
        if b < self.n_bins and t == b * self.bin_s:
            self.unreachable[b] = self.cur_unreachable
            return
        b = min(b, self.n_bins - 1)
        self.unreachable[b] = max(self.unreachable[b], self.cur_unreachable)

    def _converge(self, item: Convergence, t: float) -> None:
        self.before_event(t)
        recomputed = item.run()
        lost, rerouted = self.on_converged(t)
        self._log(converged(t, item, recomputed, lost=lost, rerouted=rerouted))
        self.cur_unreachable = self.state.unreachable_local_bodies()
        self._note_unreachable(t)

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

    def seam_held(self) -> list[Msg]:
        """Messages the seam holds: at an endpoint, handed over or answered but not yet sent."""
        out = list(self.waiting.values())
        for entry in self.heap:
            if entry[2] == HANDOVER:
                out.append(entry[3])
            elif entry[2] == REPLY:
                out.append(entry[3][0])
        return out

    def in_flight(self) -> list[int]:
        """Per service, the live exchanges found in the fidelity's structures.

        This is counted from what the engine holds, not kept as a counter, so that an
        exchange the engine lost track of shows up as an accounting error.
        """
        seen: set[int] = set()
        counts = [0] * len(self.services)
        for msg in (*self.in_transfer(), *self.seam_held()):
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

    # -- the pump -------------------------------------------------------------------------
    @property
    def now_s(self) -> float:
        """Simulated time: everything due before it has been processed."""
        return self.clock_s

    def peek(self) -> float:
        """The time of the next thing that will happen; ``math.inf`` when nothing will.

        Until the first advance this is 0 (the run starts there). A superseded entry of the
        fidelity's heap can make it a little early: advancing past it then does nothing.
        """
        if not self.started:
            return 0.0
        if self.overloaded:
            return math.inf
        t = self.heap[0][0] if self.heap else math.inf
        t_tl = self.cursor.peek()
        t = t_tl if t_tl < t else t
        return t if t < self.duration_s else math.inf

    def advance_to(self, t_s: float) -> None:
        """Process everything due before ``t_s`` (at most the run's end); time is then ``t_s``."""
        check_advance(self.clock_s, t_s)
        began = time.perf_counter()
        if not self.started:
            self.started = True
            self.initial()
            self.start_arrivals()
        until = min(t_s, self.duration_s)
        if not self.overloaded and until > self.clock_s:
            self._process(until)
            if self.overloaded:
                self.stop_run()
            else:
                self.close_bins_until(until)
        self.clock_s = max(self.clock_s, until)
        self.wall_s += time.perf_counter() - began

    def finish(self) -> RunResult:
        """Advance to the end of the run, close the last bin and return the result."""
        end = self.duration_s
        self.advance_to(end)
        began = time.perf_counter()
        if not self.overloaded and self.cur_bin < self.n_bins:
            self.account_until(end)
            self._close_bin(end)
        self.on_finish()
        if self.config.drain and not self.overloaded:
            self._process(math.inf)
        self.wall_s += time.perf_counter() - began
        return self.result(self.wall_s)

    def run(self) -> RunResult:
        return self.finish()

    def end_now(self) -> None:
        """Make the current time the end of the run (an emulation stopped by its user).

        No new exchange is offered after it; :meth:`finish` then closes the bin under way
        and counts what is still under way as in flight (or drains it, with ``drain``).
        """
        t = self.clock_s
        if t >= self.duration_s:
            return
        nb = max(1, math.ceil(t / self.bin_s - 1e-9))
        self.duration_s = self.stopped_at_s = t
        self.n_bins = nb
        self.next_bin_t = self.bin_end(self.cur_bin)
        for offered in self.bin_offered:
            del offered[nb:]
        for delivered in self.bin_delivered:
            del delivered[nb:]
            delivered.append(0)  # the slot of deliveries after the end
        self.bin_p = self.bin_p[:, :, :nb].copy()
        self.util = self.util[:, :nb].copy()
        self.unreachable = self.unreachable[:nb].copy()
        for stream in self.streams:
            stream.t_end = t
        self.heap[:] = [entry for entry in self.heap if entry[2] != ARRIVAL]
        heapq.heapify(self.heap)

    def on_finish(self) -> None:
        """Last words of the fidelity before the result is made (counters)."""

    def _process(self, end: float) -> None:
        """Handle every heap entry and timeline step before ``end`` (the fidelity's hot loop).

        It returns early when the run stops on overload; :meth:`stop_run` then ends it.
        """
        raise NotImplementedError

    def stop_run(self) -> None:
        """After an overload stop: lose what is under way and close the bins to the stop."""
        raise NotImplementedError

    # -- the seam: events, endpoints and real clients --------------------------------------
    def _not_before_now(self, at_s: float, field: str) -> None:
        check_not_before(self.clock_s, at_s, field)

    def path(self, src: str, dst: str) -> tuple[str, ...] | None:
        """The sites routing sends ``src``'s traffic to ``dst`` through now."""
        return self.state.path_sites(src, dst)

    def apply(self, event: TimelineEvent) -> None:
        """Apply ``event`` at its ``at_s`` (now or later) through the timeline's own path.

        It takes effect at the next advance past ``at_s``, before anything else due then,
        exactly as a timeline event scheduled at that time would.
        """
        self._not_before_now(event.at_s, "at_s")
        if event.service is not None and event.service not in self.service_index:
            raise InputError("unknown service", field="service", value=event.service)
        self.cursor.schedule(event.at_s, event)

    def inject(self, service: str, caller_site: str, size_bytes: float, at_s: float) -> Message:
        """A real client's request: ``size_bytes`` enter the network at ``caller_site``.

        The exchange is offered at ``at_s`` and then travels as a simulated one would; its
        response is handed to the endpoint at ``caller_site`` (if there is one). Returns the
        message, whose ``id`` the response will carry.
        """
        svc = self.service_index.get(service)
        if svc is None:
            raise InputError("unknown service", field="service", value=service)
        if caller_site not in self.topology.sites:
            raise InputError("unknown site", field="caller_site", value=caller_site)
        if not (
            isinstance(size_bytes, int | float) and math.isfinite(size_bytes) and size_bytes >= 0
        ):
            raise InputError("must be finite and >= 0", field="size_bytes", value=size_bytes)
        self._not_before_now(at_s, "at_s")
        mid = self.next_id
        self.next_id += 1
        self.push(at_s, INJECT, (mid, svc, caller_site, float(size_bytes)))
        return Message(
            id=mid,
            service=service,
            caller=caller_site,
            host=self.state.hosts[service],
            leg="request",
            sent_at_s=at_s,
            size_bytes=float(size_bytes),
        )

    def respond(self, message: Message, size_bytes: float, at_s: float) -> None:
        """An endpoint's answer to ``message``: ``size_bytes`` leave its host at ``at_s``."""
        msg = self.waiting.get(message.id)
        if msg is None:
            raise InputError(
                "no request with this id is waiting for a response", field="id", value=message.id
            )
        if not (
            isinstance(size_bytes, int | float) and math.isfinite(size_bytes) and size_bytes >= 0
        ):
            raise InputError("must be finite and >= 0", field="size_bytes", value=size_bytes)
        self._not_before_now(at_s, "at_s")
        del self.waiting[message.id]
        self.push(at_s, REPLY, (msg, float(size_bytes)))

    def has_endpoint(self, msg: Msg) -> bool:
        """Whether the site this leg arrives at has an endpoint (callers test ``endpoints`` first)."""
        return (msg.host if msg.leg == 0 else msg.caller) in self.endpoints

    def _seam_message(self, msg: Msg) -> Message:
        """The endpoints' view of ``msg``'s leg under way, its exchange given an id if it
        has none yet (the id stays until the exchange is delivered or dropped)."""
        mid = self.ids.get(msg)
        if mid is None:
            mid = self.ids[msg] = self.next_id
            self.next_id += 1
        request = msg.leg == 0
        return Message(
            id=mid,
            service=self.services[msg.svc].name,
            caller=msg.caller,
            host=msg.host,
            leg="request" if request else "response",
            sent_at_s=msg.t0,
        )

    def hand_over(self, msg: Msg, t: float) -> None:
        """A leg reached a site with an endpoint: give it the message at ``t``."""
        if not msg.alive:
            return
        fresh = msg not in self.ids
        message = self._seam_message(msg)
        mid = message.id
        request = msg.leg == 0
        awaits = request and not self.one_way[msg.svc]
        endpoint = self.endpoints.get(msg.host if request else msg.caller)
        if endpoint is None:  # detached while the leg was under way
            self.ids.pop(msg, None)
            self.simulate_leg_end(msg, t)
            return
        if awaits:
            self.waiting[mid] = msg
        reply = endpoint.receive(message, t)
        if reply is SIMULATE:  # the endpoint leaves this message to the engine
            if awaits:
                del self.waiting[mid]
            if fresh:  # a simulated exchange: it needs no id once it is back in the model
                del self.ids[msg]
            self.simulate_leg_end(msg, t)
            return
        if not awaits:
            self.deliver(msg, t)
            self.ids.pop(msg, None)
        elif isinstance(reply, Reply) and mid in self.waiting:
            self.respond(message, reply.size_bytes, t + reply.after_s)

    def simulate_leg_end(self, msg: Msg, t: float) -> None:
        """A leg reached a site where nothing stands in: the host answers after its service
        time, or the message is delivered (the fidelity's own rule, without endpoints)."""
        if msg.leg == 0 and not self.one_way[msg.svc]:
            self.push(t + self.service_time[msg.svc], RESPONSE, msg)
        else:
            self.deliver(msg, t)
            self.ids.pop(msg, None)

    def attach(self, site: str, endpoint: Endpoint) -> None:
        """Put ``endpoint`` at ``site`` from now on (a program that connected mid-run).

        Legs that reach the site afterwards are handed to it; what is already on its way
        is handed over too when it arrives (flow: when its arrival is processed).
        """
        if site not in self.topology.sites:
            raise InputError("an endpoint names an unknown site", field="site", value=site)
        self.endpoints[site] = endpoint
        self._watch_departures(site, endpoint)

    def detach(self, site: str) -> None:
        """Take the endpoint away from ``site``: legs arriving there are simulated again."""
        self.endpoints.pop(site, None)
        self.departures.pop(site, None)

    def _watch_departures(self, site: str, endpoint: Endpoint) -> None:
        departing = getattr(endpoint, "departing", None)
        if callable(departing):
            self.departures[site] = departing
        else:
            self.departures.pop(site, None)

    def discard(self, message: Message, reason: DropReason | str) -> None:
        """Lose the exchange ``message`` that waits at an endpoint, for ``reason``.

        For a program that will not answer (it went away, it refused the request): the
        exchange is dropped with ``reason`` like any other loss, so it is accounted for.
        """
        try:
            why = DropReason(reason)
        except ValueError:
            raise InputError("not a drop reason", field="reason", value=reason) from None
        msg = self.waiting.pop(message.id, None)
        if msg is None:
            raise InputError(
                "no request with this id is waiting for a response", field="id", value=message.id
            )
        self.now = self.clock_s  # the drop happens now, not at the last event processed
        self.drop(msg, why)
        self.ids.pop(msg, None)

    def special(self, kind: int, obj: Any, t: float) -> None:
        """The seam's heap entries: handovers, endpoints' replies, injected requests."""
        if kind == HANDOVER:
            self.hand_over(obj, t)
        elif kind == REPLY:
            msg, size = obj
            if msg.alive:
                msg.leg = 1
                self.start_leg(msg, msg.host, msg.caller, size, t)
        elif kind == INJECT:
            mid, svc, caller, size = obj
            host = self.state.hosts[self.services[svc].name]
            msg = Msg(svc, caller, host, t)
            self.ids[msg] = mid
            self.offer(svc, t)
            self.start_leg(msg, caller, host, size, t)

    def start_leg(self, msg: Msg, src: str, dst: str, size: float, t: float) -> None:
        raise NotImplementedError

    def abort_seam(self) -> None:
        """On overload: the seam's messages are lost as ``overload`` too."""
        for msg in self.waiting.values():
            self.drop(msg, DropReason.OVERLOAD)
        self.waiting.clear()
        for entry in self.heap:
            if entry[2] == HANDOVER:
                self.drop(entry[3], DropReason.OVERLOAD)
            elif entry[2] == REPLY:
                self.drop(entry[3][0], DropReason.OVERLOAD)
