"""The flow fidelity: every message leg is a fluid flow; links are shared max-min fairly.

Flows with the same path form a *class*: max-min gives them the same rate, so a class has
one rate, one virtual clock ``v`` (bytes each of its flows has received since the class
became active) and a heap of its flows keyed by the ``v`` at which each finishes. A rate
change therefore costs O(1) per class, not per flow, and the global event heap holds one
completion entry per class (stale entries are skipped by a generation number).

Only *tight* links couple classes: a link is tight when the classes on it could together
exceed its capacity (the sum of their own bottleneck capacities is above it). A link that
is not tight can never be saturated, so dropping it from the max-min problem (while keeping
each class's own bottleneck as a cap) does not change the allocation. An arrival,
completion or failure recomputes only the connected component of classes joined through
tight links that it touched; a lone class just gets its bottleneck share. Components are
solved by the pure-Python water-filling below ``solver_numpy_min_classes`` classes and by
numpy above. Events at the same instant are applied together before one recomputation.

*Processor sharing per tight link.* When a component's solution has one tight link and every
class on it is held by that link alone (its own cap is not below the link's share), every flow
gets the same rate, the link's capacity over its flow count: exactly what the water-filling
gives. From ``ps_min_classes`` classes on, such a component becomes a *group*: one virtual
clock ``V`` for the link (bytes each of its flows has received), every flow's finish tag
(``V`` at its arrival + its size) in one heap, one completion entry for the link. An arrival
or a completion then changes the rate to capacity / flows in O(log flows), without a solve
and without touching the other classes; a class's carried bytes are added when its count
changes or a bin closes. Anything else (a second tight link, a class whose own cap binds, the
link no longer tight, a failure or a capacity change) dissolves the group back into classes
(each flow's remaining bytes kept) and the water-filling takes over.
"""

from __future__ import annotations

import heapq
import math
from typing import Any

from lgwan_sim.engine._event_engine import (
    ARRIVAL,
    COMPLETE,
    DONE,
    HANDOVER,
    RESPONSE,
    EventEngine,
    Msg,
)
from lgwan_sim.engine._solver import waterfill_numpy, waterfill_python
from lgwan_sim.engine._state import Change
from lgwan_sim.engine._types import DropReason, Fidelity

__all__ = ["FlowEngine"]

_TIGHT_EPS = 1e-9
_TIGHT_UP = 1 + _TIGHT_EPS
GROUP_COMPLETE = 16  # heap entry kind: a group's next completion (obj is the _Group)


class _Class:
    """The active flows that share one path."""

    __slots__ = (
        "b",
        "bver",
        "delay",
        "flows",
        "gen",
        "links",
        "n",
        "ps",
        "rate",
        "t",
        "v",
        "vacc",
    )

    def __init__(self, links: tuple[int, ...], delay: float) -> None:
        self.links = links
        self.delay = delay
        self.b = 0.0  # bottleneck capacity of the path, bytes/s
        self.bver = -1  # capacity version b was computed at
        self.n = 0
        self.v = 0.0
        self.t = 0.0
        self.rate = 0.0  # per flow, bytes/s
        self.flows: list[tuple[float, int, Msg]] = []
        self.gen = 0
        self.ps: _Group | None = None  # the group holding its flows, if any
        self.vacc = 0.0  # the group's clock when its carried bytes were last added


class _Group:
    """The classes on one tight link sharing it equally: processor sharing by finish tags."""

    __slots__ = ("broken", "cap", "classes", "gen", "lims", "link", "n", "rate", "t", "tags", "v")

    def __init__(self, link: int, cap: float, t: float) -> None:
        self.link = link
        self.cap = cap  # bytes/s
        self.t = t
        self.v = 0.0  # bytes each flow has received since the group formed
        self.rate = 0.0  # per flow
        self.n = 0  # flows
        self.gen = 0
        self.broken = False  # the link stopped being tight: dissolve at the next refresh
        self.classes: dict[_Class, None] = {}
        # (finish tag, seq, message, class)
        self.tags: list[tuple[float, int, Msg, _Class]] = []
        # (the class's own per-flow cap, seq, class, its flow count then): lazy minimum
        self.lims: list[tuple[float, int, _Class, int]] = []


class FlowEngine(EventEngine):
    """Event-driven max-min flow simulation."""

    fidelity = Fidelity.FLOW
    #: components of at least this many classes on one tight link run as a group
    ps_min_classes = 32

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        n_links = len(self.state.link_ids)
        self.cap_b = [c / 8.0 for c in self.state.cap_bps]
        self.sum_b = [0.0] * n_links
        self.tight = [False] * n_links
        self.link_cls: list[dict[_Class, None]] = [{} for _ in range(n_links)]
        self.classes: dict[tuple[int, ...], _Class] = {}
        self.active: dict[_Class, None] = {}
        self.dirty: dict[_Class, None] = {}
        self.rmax = self.config.max_flow_rate_bps / 8.0
        self.n_flows = 0
        self.stalled: list[tuple[Msg, float]] = []
        self.cap_version = 0
        self.groups: dict[int, _Group] = {}  # tight link -> its group
        self.ps_dirty: dict[_Group, None] = {}
        self.counters.update(
            flows=0,
            recomputations=0,
            numpy_solves=0,
            peak_active_flows=0,
            link_loss_draws=0,
            link_losses=0,
        )

    # -- classes --------------------------------------------------------------------------
    def _advance(self, p: _Class, t: float) -> None:
        dt = t - p.t
        if dt > 0.0:
            r = p.rate
            if r:
                p.v += r * dt
                moved = r * p.n * dt
                carried = self.carried
                for link in p.links:
                    carried[link] += moved
            p.t = t

    def _register(self, p: _Class) -> bool:
        """Put an activating class on its links; True when it shares a tight link."""
        cap_b = self.cap_b
        links = p.links
        if p.bver != self.cap_version:
            p.b = min([cap_b[link] for link in links])
            p.bver = self.cap_version
        b = p.b
        sum_b, tight, link_cls = self.sum_b, self.tight, self.link_cls
        coupled = False
        for link in links:
            on = link_cls[link]
            on[p] = None
            s = sum_b[link] = sum_b[link] + b
            if tight[link]:
                coupled = True
            elif s > cap_b[link] * _TIGHT_UP:
                tight[link] = True
                coupled = True
                self.dirty.update(dict.fromkeys(on))
        return coupled

    def _unregister(self, p: _Class) -> None:
        sum_b, tight, link_cls, dirty, cap_b = (
            self.sum_b,
            self.tight,
            self.link_cls,
            self.dirty,
            self.cap_b,
        )
        for link in p.links:
            on = link_cls[link]
            del on[p]
            if on:
                s = sum_b[link] = sum_b[link] - p.b
            else:
                s = sum_b[link] = 0.0
            if tight[link]:
                # the others on a tight link get its share back: recompute them, whether
                # the link stays tight or not
                dirty.update(dict.fromkeys(on))
                if s <= cap_b[link] * (1 + _TIGHT_EPS):
                    tight[link] = False
        self.dirty.pop(p, None)

    def _deactivate(self, p: _Class) -> None:
        self._unregister(p)
        p.rate = 0.0
        p.gen += 1
        p.n = 0
        p.flows = []
        del self.active[p]

    def _add_flow(self, p: _Class, msg: Msg, size: float, t: float) -> None:
        self.seq += 1
        self.n_flows += 1
        g = p.ps
        if g is not None:
            self._gaccount(g, p, t)
            p.n += 1
            self._gjoin(g, p, msg, size)
            return
        if p.n == 0:
            p.v = 0.0
            p.t = t
            self.active[p] = None
            coupled = self._register(p)
            if coupled and self.groups:
                g = self._joinable(p)
                if g is not None:
                    self._gadvance(g, t)
                    p.ps = g
                    p.vacc = g.v
                    p.n = 1
                    g.classes[p] = None
                    self._gjoin(g, p, msg, size)
                    return
            if not coupled:
                # alone on untight links: its own bottleneck share, no solver needed
                rate = p.b if p.b < self.rmax else self.rmax
                p.rate = rate
                p.n = 1
                p.flows = [(size, self.seq, msg)]
                p.gen += 1
                heapq.heappush(self.heap, (t + size / rate, self.seq, COMPLETE, p, p.gen))
                return
            p.rate = 0.0
        else:
            self._advance(p, t)
        heapq.heappush(p.flows, (p.v + size, self.seq, msg))
        p.n += 1
        self.dirty[p] = None

    def _set_rate(self, p: _Class, rate: float, t: float, force: bool) -> None:
        if rate == p.rate and not force:
            return
        self._advance(p, t)
        p.rate = rate
        p.gen += 1
        self.seq += 1
        heapq.heappush(self.heap, (t + (p.flows[0][0] - p.v) / rate, self.seq, COMPLETE, p, p.gen))

    # -- groups (processor sharing on one tight link) ----------------------------------------
    def _joinable(self, p: _Class) -> _Group | None:
        """The group of a just-registered class's only tight link, if it has one."""
        tight = self.tight
        found: _Group | None = None
        for link in p.links:
            if tight[link]:
                g = self.groups.get(link)
                if g is None or found is not None:
                    return None
                found = g
        return found

    @staticmethod
    def _gadvance(g: _Group, t: float) -> None:
        dt = t - g.t
        if dt > 0.0:
            g.v += g.rate * dt
            g.t = t

    def _gaccount(self, g: _Group, p: _Class, t: float) -> None:
        """Bring the group's clock to ``t`` and add class ``p``'s carried bytes."""
        self._gadvance(g, t)
        dv = g.v - p.vacc
        if dv:
            moved = p.n * dv
            carried = self.carried
            for link in p.links:
                carried[link] += moved
            p.vacc = g.v

    def _gjoin(self, g: _Group, p: _Class, msg: Msg, size: float) -> None:
        """A flow of ``p`` (already counted in ``p.n``) enters the group."""
        seq = self.seq
        heapq.heappush(g.tags, (g.v + size, seq, msg, p))
        lim = p.b / p.n
        heapq.heappush(g.lims, (self.rmax if lim > self.rmax else lim, seq, p, p.n))
        g.n += 1
        self.ps_dirty[g] = None

    def _form(self, comp: list[_Class], link: int, rate: float, t: float) -> None:
        """Turn a component held by ``link`` alone (every flow at ``rate``) into a group."""
        g = _Group(link, self.cap_b[link], t)
        g.rate = rate
        rmax = self.rmax
        tags = g.tags
        lims = g.lims
        for q in comp:
            self._advance(q, t)
            v = q.v
            for target, seq, msg in q.flows:
                tags.append((target - v, seq, msg, q))
            q.flows = []
            q.gen += 1
            q.ps = g
            q.vacc = 0.0
            q.rate = rate
            lim = q.b / q.n
            self.seq += 1
            lims.append((rmax if lim > rmax else lim, self.seq, q, q.n))
            g.n += q.n
            g.classes[q] = None
        heapq.heapify(tags)
        heapq.heapify(lims)
        self.groups[link] = g
        self._gschedule(g, t)

    def _gschedule(self, g: _Group, t: float) -> None:
        g.gen += 1
        self.seq += 1
        heapq.heappush(
            self.heap, (t + (g.tags[0][0] - g.v) / g.rate, self.seq, GROUP_COMPLETE, g, g.gen)
        )

    def _dissolve(self, g: _Group, t: float) -> None:
        """Give every class its flows back (remaining bytes kept) and mark it for a solve."""
        self._gadvance(g, t)
        v = g.v
        dirty = self.dirty
        for p in g.classes:
            self._gaccount(g, p, t)
            p.ps = None
            p.v = 0.0
            p.t = t
            p.flows = []
            p.rate = 0.0  # no completion entry: the solve must push one
            dirty[p] = None
        for tag, seq, msg, p in g.tags:
            p.flows.append((tag - v, seq, msg))
        for p in g.classes:
            heapq.heapify(p.flows)
        g.gen += 1
        g.classes = {}
        g.tags = []
        g.lims = []
        del self.groups[g.link]
        self.ps_dirty.pop(g, None)

    def _dissolve_all(self, t: float) -> None:
        for g in list(self.groups.values()):
            self._dissolve(g, t)

    def _gleave(self, g: _Group, p: _Class) -> None:
        """Class ``p`` of the group has no flow left: off its links, as ``_unregister``."""
        sum_b, tight, link_cls, cap_b = self.sum_b, self.tight, self.link_cls, self.cap_b
        del g.classes[p]
        for link in p.links:
            on = link_cls[link]
            del on[p]
            if on:
                s = sum_b[link] = sum_b[link] - p.b
            else:
                s = sum_b[link] = 0.0
            if tight[link]:
                if link != g.link:  # not expected: a group's classes have one tight link
                    self.dirty.update(dict.fromkeys(on))
                    g.broken = True
                if s <= cap_b[link] * (1 + _TIGHT_EPS):
                    tight[link] = False
                    g.broken = True
        p.ps = None
        p.rate = 0.0
        p.gen += 1
        p.n = 0
        p.flows = []
        del self.active[p]
        self.dirty.pop(p, None)

    def _refresh(self, g: _Group, t: float) -> bool:
        """The group's new rate after arrivals or completions; False when it must dissolve."""
        if g.broken or not g.n:
            return False
        rate = g.cap / float(g.n)
        lims = g.lims
        if len(lims) > 4 * len(g.classes) + 64:  # drop the stale entries
            lims[:] = [e for e in lims if e[2].ps is g and e[2].n == e[3]]
            heapq.heapify(lims)
        while True:
            lim, _, q, n = lims[0]
            if q.ps is g and q.n == n:
                break
            heapq.heappop(lims)
        if lim < rate:  # a class's own cap binds: the water-filling decides
            return False
        if len(g.classes) >= self.config.solver_numpy_min_classes:
            self.counters["numpy_solves"] += 1  # the solve this component had
        self._gadvance(g, t)
        g.rate = rate
        self._gschedule(g, t)
        return True

    def _gcomplete(self, g: _Group, t: float) -> None:
        self._gadvance(g, t)
        tags = g.tags
        # flows due within 1 ns are done now, as a class's are
        v = g.v + g.rate * 1e-9 + 1e-6
        pop = heapq.heappop
        while tags and tags[0][0] <= v:
            _, _, msg, p = pop(tags)
            self._gaccount(g, p, t)
            p.n -= 1
            g.n -= 1
            self.n_flows -= 1
            if msg.alive:
                self._leg_done(msg, t + p.delay)
            if p.n == 0:
                self._gleave(g, p)
            else:
                self.seq += 1
                lim = p.b / p.n
                heapq.heappush(g.lims, (self.rmax if lim > self.rmax else lim, self.seq, p, p.n))
        self.ps_dirty[g] = None

    def recompute(self, t: float) -> None:
        """Max-min rates for every component touched since the last recomputation."""
        dirty = self.dirty
        tight, link_cls, rmax = self.tight, self.link_cls, self.rmax
        seen: set[_Class] = set()
        expanded: set[int] = set()  # tight links already walked (keeps the walk linear)
        self.counters["recomputations"] += 1
        if self.ps_dirty:
            for g in list(self.ps_dirty):
                if not self._refresh(g, t):
                    self._dissolve(g, t)
            self.ps_dirty.clear()
        for p in list(dirty):
            if p in seen or p.n == 0:
                continue
            if p.ps is not None:
                self._dissolve(p.ps, t)
            seen.add(p)
            comp = [p]
            coupled = False
            i = 0
            while i < len(comp):
                q = comp[i]
                i += 1
                for link in q.links:
                    if tight[link]:
                        coupled = True
                        if link in expanded:
                            continue
                        expanded.add(link)
                        for r in link_cls[link]:
                            if r not in seen:
                                if r.ps is not None:
                                    self._dissolve(r.ps, t)
                                seen.add(r)
                                comp.append(r)
            if not coupled:
                rate = p.b / p.n
                self._set_rate(p, rmax if rate > rmax else rate, t, True)
                continue
            index: dict[int, int] = {}
            members: list[list[int]] = []
            for q in comp:
                ms = []
                for link in q.links:
                    if tight[link]:
                        j = index.get(link)
                        if j is None:
                            j = index[link] = len(index)
                        ms.append(j)
                members.append(ms)
            caps = [0.0] * len(index)
            for link, j in index.items():
                caps[j] = self.cap_b[link]
            counts = [float(q.n) for q in comp]
            limits = [min(q.b / q.n, rmax) for q in comp]
            if len(comp) >= self.config.solver_numpy_min_classes:
                self.counters["numpy_solves"] += 1
                rates = waterfill_numpy(caps, members, counts, limits)
            else:
                rates = waterfill_python(caps, members, counts, limits)
            if (
                len(index) == 1
                and len(comp) >= self.ps_min_classes
                and caps[0] / math.fsum(counts) <= min(limits)
            ):
                self._form(comp, next(iter(index)), rates[0], t)
                continue
            for q, rate in zip(comp, rates, strict=True):
                self._set_rate(q, rate, t, q in dirty)
        dirty.clear()

    # -- legs -----------------------------------------------------------------------------
    def start_leg(self, msg: Msg, src: str, dst: str, size: float, t: float) -> None:
        path = self.leg_path(msg, src, dst)
        if path is None:
            return
        state = self.state
        if state.dead and state.blackholed(path):
            self.drop(msg, DropReason.LINK_FAILURE)
            return
        if (state.loss or state.latency) and path.links and self._impaired(msg, path.links, size):
            return
        if size <= 0.0 or not path.links:
            self._leg_done(msg, t + path.delay_s)
            return
        p = self.classes.get(path.links)
        if p is None:
            p = self.classes[path.links] = _Class(path.links, path.delay_s)
        self.counters["flows"] += 1
        self._add_flow(p, msg, size, t)

    def _impaired(self, msg: Msg, links: tuple[int, ...], size: float) -> bool:
        """Draw the leg's link loss and added latency when it starts; True when it is lost.

        A leg is lost when one of the segments it would be cut into (``mss_bytes`` of
        payload each, one at least) is lost on one of its links, each link asked once per
        segment from its own stream, as the packet fidelity asks once per packet; its added
        latency is the sum of one draw per link with a latency, added to its arrival.
        """
        loss = self.state.loss
        latency = self.state.latency
        counters = self.counters
        if loss:
            mss = self.config.mss_bytes
            n = 1 if size <= mss else math.ceil(size / mss)
            for link in links:
                process = loss.get(link)
                if process is None:
                    continue
                for _ in range(n):
                    counters["link_loss_draws"] += 1
                    if process.lose():
                        counters["link_losses"] += 1
                        self.drop(msg, DropReason.LINK_LOSS)
                        return True
        if latency:
            extra = 0.0
            for link in links:
                lat = latency.get(link)
                if lat is not None:
                    extra += lat.draw()
            msg.extra = extra
        return False

    def _leg_done(self, msg: Msg, t_arrive: float) -> None:
        if msg.extra:
            t_arrive += msg.extra
            msg.extra = 0.0
        self.seq += 1
        if self.endpoints and self.has_endpoint(msg):
            heapq.heappush(self.heap, (t_arrive, self.seq, HANDOVER, msg, 0))
        elif msg.leg == 0 and not self.one_way[msg.svc]:
            heapq.heappush(
                self.heap, (t_arrive + self.service_time[msg.svc], self.seq, RESPONSE, msg, 0)
            )
        else:
            heapq.heappush(self.heap, (t_arrive, self.seq, DONE, msg, 0))

    # -- bins -----------------------------------------------------------------------------
    def account_until(self, t: float) -> None:
        for p in self.active:
            g = p.ps
            if g is None:
                self._advance(p, t)
            else:
                self._gaccount(g, p, t)

    # -- failures and capacity ------------------------------------------------------------
    def on_change(self, change: Change, t: float) -> tuple[int, int]:
        lost = held = 0
        if change.newly_dead or change.capacity_changed:
            self._dissolve_all(t)
        if change.newly_dead:
            victims: dict[_Class, None] = {}
            for link in sorted(change.newly_dead):
                victims.update(dict.fromkeys(self.link_cls[link]))
            for p in victims:
                self._advance(p, t)
                for target, _, msg in sorted(p.flows):
                    if not msg.alive:
                        continue
                    if self.config.failed_flows == "lose":
                        self.drop(msg, change.reason)
                        lost += 1
                    else:
                        self.stalled.append((msg, max(0.0, target - p.v)))
                        held += 1
                self.n_flows -= p.n
                self._deactivate(p)
        if change.capacity_changed:
            for d in change.capacity_changed:
                self.cap_b[d] = self.state.cap_bps[d] / 8.0
            self.cap_version += 1
            touched: dict[_Class, None] = {}
            for d in change.capacity_changed:
                touched.update(dict.fromkeys(self.link_cls[d]))
            for p in touched:
                self._advance(p, t)
                self._unregister(p)
                self._register(p)
                self.dirty[p] = None
            for d in change.capacity_changed:
                want = self.sum_b[d] > self.cap_b[d] * (1 + _TIGHT_EPS)
                if want != self.tight[d]:
                    self.tight[d] = want
                    self.dirty.update(dict.fromkeys(self.link_cls[d]))
        if self.dirty or self.ps_dirty:
            self.recompute(t)
        return lost, held

    def on_converged(self, t: float) -> tuple[int, int]:
        moved = 0
        stalled, self.stalled = self.stalled, []
        for msg, remaining in stalled:
            if not msg.alive:
                continue
            if msg.leg == 0:
                self.start_leg(msg, msg.caller, msg.host, remaining, t)
            else:
                self.start_leg(msg, msg.host, msg.caller, remaining, t)
            moved += 1
        if self.dirty or self.ps_dirty:
            self.recompute(t)
        return 0, moved

    # -- overload -------------------------------------------------------------------------
    def _abort(self, t: float) -> None:
        self._dissolve_all(t)
        for p in list(self.active):
            for _, _, msg in p.flows:
                self.drop(msg, DropReason.OVERLOAD)
            self._deactivate(p)
        for msg, _ in self.stalled:
            self.drop(msg, DropReason.OVERLOAD)
        self.stalled = []
        for entry in self.heap:
            if entry[2] in (RESPONSE, DONE):
                self.drop(entry[3], DropReason.OVERLOAD)
        self.abort_seam()
        self.heap.clear()
        self.n_flows = 0

    # -- main loop ------------------------------------------------------------------------
    def stop_run(self) -> None:
        t_stop = self.stopped_at_s
        self.close_bins_until(t_stop)
        self.account_until(t_stop)
        self._abort(t_stop)
        if self.cur_bin < self.n_bins:
            self._close_bin(t_stop)

    def on_finish(self) -> None:
        if not self.overloaded:
            self.counters["active_flows_at_end"] = self.n_flows

    def in_transfer(self) -> list[Msg]:
        """Messages in the active classes, held for a reroute, or at their host (heap)."""
        out = [msg for p in self.active for _, _, msg in p.flows]
        out.extend(msg for g in self.groups.values() for _, _, msg, _ in g.tags)
        out.extend(msg for msg, _ in self.stalled)
        out.extend(entry[3] for entry in self.heap if entry[2] in (RESPONSE, DONE))
        return out

    def _process(self, end: float) -> None:
        """Handle every heap entry and timeline step before ``end`` (or an overload stop)."""
        heap = self.heap
        cursor = self.cursor
        pop = heapq.heappop
        streams_push = self.push
        deliver = self.deliver
        limit_flows = self.config.max_active_flows
        counters = self.counters
        offered, bin_offered = self.offered, self.bin_offered
        while True:
            t_tl = cursor.peek()
            limit = t_tl if t_tl < end else end
            while heap and heap[0][0] < limit:
                t, _, kind, obj, gen = pop(heap)
                self.now = t
                if t >= self.next_bin_t:
                    self.close_bins_until(t)
                if kind == COMPLETE:
                    p = obj
                    if gen != p.gen:
                        continue
                    self._advance(p, t)
                    flows = p.flows
                    # flows due within 1 ns are done now: t + dt must move past t in floats
                    v = p.v + p.rate * 1e-9 + 1e-6
                    delay = p.delay
                    while flows and flows[0][0] <= v:
                        msg = pop(flows)[2]
                        p.n -= 1
                        self.n_flows -= 1
                        if msg.alive:
                            self._leg_done(msg, t + delay)
                    if p.n == 0:
                        self._deactivate(p)
                    else:
                        self.dirty[p] = None
                elif kind == GROUP_COMPLETE:
                    if gen == obj.gen:
                        self._gcomplete(obj, t)
                elif kind == ARRIVAL:
                    stream = obj
                    if gen != stream.gen:
                        continue
                    nxt = stream.next_after(t)
                    if nxt is not None:
                        streams_push(nxt, ARRIVAL, stream, gen)
                    svc = stream.index
                    caller = stream.pick_caller()
                    host = self.state.hosts[stream.name]
                    msg = Msg(svc, caller, host, t)
                    offered[svc] += 1  # EventEngine.offer, inlined on the hot path
                    bin_offered[svc][self.cur_bin] += 1
                    self.start_leg(msg, caller, host, self.req_size[svc](), t)
                    nf = self.n_flows
                    if (nf > limit_flows or self.overload_since is not None) and (
                        self.track_overload(t, nf, limit_flows, "active flows", "max_active_flows")
                    ):
                        return
                elif kind == RESPONSE:
                    if obj.alive:
                        obj.leg = 1
                        self.start_leg(obj, obj.host, obj.caller, self.resp_size[obj.svc](), t)
                elif kind == DONE:
                    deliver(obj, t)
                else:
                    self.special(kind, obj, t)
                if (self.dirty or self.ps_dirty) and (not heap or heap[0][0] > t):
                    if self.n_flows > counters["peak_active_flows"]:
                        counters["peak_active_flows"] = self.n_flows
                    self.recompute(t)
            if t_tl >= end:
                return
            if self.dirty or self.ps_dirty:
                self.recompute(self.now)
            self.step_timeline()
