"""The packet fidelity: packets through FIFO output ports with finite byte buffers.

A message leg is cut into packets of at most ``mss_bytes`` of payload plus ``header_bytes``
each, all handed to the first port at once (no congestion control, no retransmission).
Each directed link is an output port: a FIFO transmitter at the link's capacity, a buffer of
``buffer_bytes`` for packets waiting to be sent (tail drop: a packet that does not fit is
dropped, and its message with it, as ``buffer_overflow``), then the link's propagation
delay. A port needs no events of its own: for FIFO, a packet's transmission starts at
``max(arrival, port free)``, so the only event per packet per hop is its arrival at the next
node. The buffer content at an arrival is the bytes whose transmission has not started
(a deque of (start time, bytes) per port, trimmed at each arrival).
A packet on a link when the link fails is lost with its message (``link_failure``).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from typing import Any

from lgwan_sim.engine._event_engine import ARRIVAL, DONE, HOP, RESPONSE, EventEngine, Msg
from lgwan_sim.engine._results import RunResult
from lgwan_sim.engine._state import Change
from lgwan_sim.engine._types import Fidelity

__all__ = ["PacketEngine"]


class _Leg:
    """One leg of a message: its path and how many of its packets are still out."""

    __slots__ = ("links", "msg", "remaining")

    def __init__(self, msg: Msg, links: tuple[int, ...], remaining: int) -> None:
        self.msg = msg
        self.links = links
        self.remaining = remaining


class PacketEngine(EventEngine):
    """Event-driven packet simulation with callback-style ports."""

    fidelity = Fidelity.PACKET

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        n = len(self.state.link_ids)
        self.free_at = [0.0] * n
        self.sec_per_byte = [8.0 / c for c in self.state.cap_bps]
        self.delay = list(self.state.delay_s)
        self.queue: list[deque[tuple[float, float]]] = [deque() for _ in range(n)]
        self.queued_bytes = [0.0] * n
        self.epoch = [0] * n
        self.dead_reason = ["link_failure"] * n
        self.buffer = self.config.buffer_bytes
        self.mss = self.config.mss_bytes
        self.header = self.config.header_bytes
        self.counters.update(packets=0, packet_hops=0, packets_dropped=0)
        self.hops = 0  # packet hops (a plain int on the hot path; copied to counters)
        self.finite_buffer = self.buffer != math.inf

    # -- legs -----------------------------------------------------------------------------
    def start_leg(self, msg: Msg, src: str, dst: str, size: float, t: float) -> None:
        path = self.leg_path(msg, src, dst)
        if path is None:
            return
        if not path.links:
            self._leg_done(msg, t)
            return
        mss = self.mss
        if size <= mss:
            sizes = [size + self.header]
        else:
            full = int(size // mss)
            rest = size - full * mss
            sizes = [mss + self.header] * full
            if rest > 0:
                sizes.append(rest + self.header)
        leg = _Leg(msg, path.links, len(sizes))
        self.counters["packets"] += len(sizes)
        for s in sizes:
            self._hop([leg, 0, s, 0], t)
            if not msg.alive:
                return

    def _leg_done(self, msg: Msg, t: float) -> None:
        if self.endpoints and self.has_endpoint(msg):
            self.hand_over(msg, t)
        elif msg.leg == 0 and not self.one_way[msg.svc]:
            self.push(t + self.service_time[msg.svc], RESPONSE, msg)
        else:
            self.deliver(msg, t)

    def _hop(self, pkt: list[Any], t: float) -> None:
        leg: _Leg = pkt[0]
        msg = leg.msg
        if not msg.alive:
            return
        hop: int = pkt[1]
        links = leg.links
        if hop:
            prev = links[hop - 1]
            if self.epoch[prev] != pkt[3]:
                self.counters["packets_dropped"] += 1
                self.drop(msg, self.dead_reason[prev])
                return
            if hop == len(links):
                leg.remaining -= 1
                if leg.remaining == 0:
                    self._leg_done(msg, t)
                return
        link = links[hop]
        dead = self.state.dead
        if dead and link in dead:
            self.counters["packets_dropped"] += 1
            self.drop(msg, self.dead_reason[link])
            return
        size: float = pkt[2]
        free = self.free_at[link]
        start = free if free > t else t
        if self.finite_buffer:
            q = self.queue[link]
            while q and q[0][0] <= t:
                self.queued_bytes[link] -= q.popleft()[1]
            if start > t:
                if self.queued_bytes[link] + size > self.buffer:
                    self.counters["packets_dropped"] += 1
                    self.drop(msg, "buffer_overflow")
                    return
                q.append((start, size))
                self.queued_bytes[link] += size
        done = start + size * self.sec_per_byte[link]
        self.free_at[link] = done
        self.carried[link] += size
        self.hops += 1
        pkt[1] = hop + 1
        pkt[3] = self.epoch[link]
        self.seq += 1
        heapq.heappush(self.heap, (done + self.delay[link], self.seq, HOP, pkt, 0))

    # -- failures and capacity ------------------------------------------------------------
    def on_change(self, change: Change, t: float) -> tuple[int, int]:
        lost = 0
        if change.newly_dead:
            for link in change.newly_dead:
                self.epoch[link] += 1
                self.dead_reason[link] = change.reason
                self.queue[link].clear()
                self.queued_bytes[link] = 0.0
                self.free_at[link] = t
            for entry in sorted(self.heap):
                if entry[2] == HOP:
                    pkt = entry[3]
                    msg = pkt[0].msg
                    hop = pkt[1]
                    if msg.alive and hop and pkt[0].links[hop - 1] in change.newly_dead:
                        self.drop(msg, change.reason)
                        lost += 1
        for d in change.capacity_changed:
            self.sec_per_byte[d] = 8.0 / self.state.cap_bps[d]
        return lost, 0

    # -- main loop ------------------------------------------------------------------------
    def loop(self, until: float) -> None:
        heap = self.heap
        cursor = self.cursor
        pop = heapq.heappop
        end = until
        hop = self._hop
        limit_q = self.config.max_queued_packets
        while True:
            t_tl = cursor.peek()
            limit = t_tl if t_tl < end else end
            while heap and heap[0][0] < limit:
                t, _, kind, obj, gen = pop(heap)
                self.now = t
                if t >= self.next_bin_t:
                    self.close_bins_until(t)
                if kind == HOP:
                    hop(obj, t)
                elif kind == ARRIVAL:
                    stream = obj
                    if gen != stream.gen:
                        continue
                    nxt = stream.next_after(t)
                    if nxt is not None:
                        self.push(nxt, ARRIVAL, stream, gen)
                    svc = stream.index
                    caller = stream.pick_caller()
                    host = self.state.hosts[stream.name]
                    msg = Msg(svc, caller, host, t)
                    self.offer(svc, t)
                    self.start_leg(msg, caller, host, self.req_size[svc](), t)
                    queued = len(heap)
                    if (queued > limit_q or self.overload_since is not None) and (
                        self.track_overload(
                            t, queued, limit_q, "packets in flight", "max_queued_packets"
                        )
                    ):
                        break
                elif kind == RESPONSE:
                    if obj.alive:
                        obj.leg = 1
                        self.start_leg(obj, obj.host, obj.caller, self.resp_size[obj.svc](), t)
                elif kind == DONE:
                    self.deliver(obj, t)
                else:
                    self.special(kind, obj, t)
            if self.overloaded:
                t_stop = self.stopped_at_s
                self.close_bins_until(t_stop)
                for entry in sorted(heap):
                    if entry[2] == HOP:
                        self.drop(entry[3][0].msg, "overload")
                    elif entry[2] in (RESPONSE, DONE):
                        self.drop(entry[3], "overload")
                self.abort_seam()
                heap.clear()
                if self.cur_bin < self.n_bins:
                    self._close_bin(t_stop)
                return
            if t_tl >= end:
                break
            self.step_timeline()

    def result(self, wall_s: float) -> RunResult:
        self.counters["packet_hops"] = self.hops
        return super().result(wall_s)
