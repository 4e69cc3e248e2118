"""The packet fidelity: packets through FIFO output ports with finite byte buffers.

A message leg is cut into segments of at most ``mss_bytes`` of payload plus ``header_bytes``
each. A sender paces them as a transport does: at most ``cwnd`` segments unacknowledged,
``cwnd`` starting at ``initial_window_segments`` and growing by one per acknowledgement (slow
start) up to ``window_bytes`` (no loss recovery: a lost segment loses its message). The
receiver acknowledges every segment while the sender still has some to send; an
acknowledgement is a ``header_bytes`` packet back along the reverse path that waits behind
the data queued at each port and takes its transmission time there, but does not occupy the
port (see ``docs/engine.md``).
Each directed link is an output port: a FIFO transmitter at the link's capacity, a buffer of
``buffer_bytes`` for packets waiting to be sent (tail drop: a packet that does not fit is
dropped, and its message with it, as ``buffer_overflow``), then the link's propagation
delay. A port needs no events of its own: for FIFO, a packet's transmission starts at
``max(arrival, port free)``, so the only event per packet per hop is its arrival at the next
node. The buffer content at an arrival is the bytes whose transmission has not started
(a deque of (start time, bytes) per port, trimmed at each arrival).
A port counts in ``carried`` the bytes it transmits in each bin: a packet's transmission
``[start, done)`` is kept in a deque of the port until it is over, a bin's close counts the
part of it sent before the bin's end (bytes in proportion to time), a failure the part sent
before the failure.
A packet or acknowledgement on a link when the link fails is lost with its message
(``link_failure``, or ``site_down`` for a site event).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from typing import Any

from lgwan_sim.engine._event_engine import ACK, ARRIVAL, DONE, HOP, RESPONSE, EventEngine, Msg
from lgwan_sim.engine._results import RunResult
from lgwan_sim.engine._state import Change
from lgwan_sim.engine._types import DropReason, Fidelity

__all__ = ["PacketEngine"]


class _Leg:
    """One leg of a message: its path, its sender's window and its segments' progress.

    ``sent`` segments have left the sender, ``acked`` acknowledgements have come back and
    ``arrived`` segments have reached the receiver; the sender may have ``cwnd`` segments
    unacknowledged. ``back`` is the reverse path the acknowledgements take.
    """

    __slots__ = ("acked", "arrived", "back", "cwnd", "last", "links", "msg", "n", "sent")

    def __init__(self, msg: Msg, links: tuple[int, ...], n: int, last: float, cwnd: float) -> None:
        self.msg = msg
        self.links = links
        self.back: tuple[int, ...] = ()
        self.n = n
        self.last = last  # bytes of the last segment (header included)
        self.sent = 0
        self.acked = 0
        self.arrived = 0
        self.cwnd = cwnd


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
        # per port, the transmissions not yet counted in ``carried``: (start, done, bytes),
        # in order; ``sending`` holds the ports whose deque is not empty
        self.tx: list[deque[tuple[float, float, float]]] = [deque() for _ in range(n)]
        self.sending: dict[int, None] = {}
        self.epoch = [0] * n
        self.dead_reason = [DropReason.LINK_FAILURE] * n
        self.buffer = self.config.buffer_bytes
        self.mss = self.config.mss_bytes
        self.header = self.config.header_bytes
        self.full = self.mss + self.header
        window = self.config.window_bytes
        self.w_max = (
            math.inf
            if window == math.inf
            else (1 if self.mss == math.inf else max(1, math.floor(window / self.mss)))
        )
        self.w_init = min(self.config.initial_window_segments, self.w_max)
        self.counters.update(
            packets=0, packet_hops=0, packets_dropped=0, acks=0, link_loss_draws=0, link_losses=0
        )
        self.loss_on = self.state.loss  # the state's own dicts: impairments change in place
        self.latency_on = self.state.latency
        self.last_arrival = [0.0] * n  # per port, for FIFO under jitter
        self.hops = 0  # packet hops (a plain int on the hot path; copied to counters)
        self.acks = 0
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
            n, last = 1, size + self.header
        else:
            n = int(size // mss)
            rest = size - n * mss
            if rest > 0:
                n += 1
                last = rest + self.header
            else:
                last = self.full
        self.counters["packets"] += n
        self._send(_Leg(msg, path.links, n, last, self.w_init), t)

    def _send(self, leg: _Leg, t: float) -> None:
        """Send every segment the window allows now."""
        n = leg.n
        limit = leg.acked + leg.cwnd
        if limit > n:
            limit = n
        msg = leg.msg
        hop = self._hop
        while leg.sent < limit:
            i = leg.sent
            leg.sent = i + 1
            hop([leg, 0, leg.last if i == n - 1 else self.full, 0], t)
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
                leg.arrived += 1
                if leg.arrived == leg.n:
                    self._leg_done(msg, t)
                elif leg.sent < leg.n:
                    # the sender still has segments: this acknowledgement releases some
                    if not leg.back:
                        leg.back = tuple(link ^ 1 for link in reversed(links))
                    self._ack_hop([leg, 0, self.header, 0], t)
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
                    self.drop(msg, DropReason.BUFFER_OVERFLOW)
                    return
                q.append((start, size))
                self.queued_bytes[link] += size
        done = start + size * self.sec_per_byte[link]
        self.free_at[link] = done
        tx = self.tx[link]
        while tx and tx[0][1] <= t:
            self.carried[link] += tx.popleft()[2]
        if not tx:
            self.sending[link] = None
        tx.append((start, done, size))
        self.hops += 1
        arrive = done + self.delay[link]
        if self.loss_on or self.latency_on:
            arrive = self._impair(link, arrive, msg)
            if arrive < 0.0:
                self.counters["packets_dropped"] += 1
                return
        pkt[1] = hop + 1
        pkt[3] = self.epoch[link]
        self.seq += 1
        heapq.heappush(self.heap, (arrive, self.seq, HOP, pkt, 0))

    def _impair(self, link: int, arrive: float, msg: Msg) -> float:
        """A packet sent on ``link``: lost (``-1``, its message dropped as ``link_loss``) or
        its arrival with the link's added latency, never before the port's previous packet
        (a link stays FIFO under jitter)."""
        process = self.loss_on.get(link)
        if process is not None:
            self.counters["link_loss_draws"] += 1
            if process.lose():
                self.counters["link_losses"] += 1
                self.drop(msg, DropReason.LINK_LOSS)
                return -1.0
        lat = self.latency_on.get(link)
        if lat is not None:
            arrive += lat.draw()
            last = self.last_arrival[link]
            if arrive < last:
                arrive = last
            self.last_arrival[link] = arrive
        return arrive

    def _ack_hop(self, pkt: list[Any], t: float) -> None:
        """Move an acknowledgement one hop back toward the sender, or hand it over.

        An acknowledgement waits behind the data queued at each port of the reverse path
        and takes its own transmission time there, but occupies neither the port nor its
        buffer, and is never dropped for space; a failed link loses it with its message.
        """
        leg: _Leg = pkt[0]
        msg = leg.msg
        if not msg.alive:
            return
        hop: int = pkt[1]
        back = leg.back
        if hop:
            prev = back[hop - 1]
            if self.epoch[prev] != pkt[3]:
                self.drop(msg, self.dead_reason[prev])
                return
            if hop == len(back):
                leg.acked += 1
                if leg.cwnd < self.w_max:
                    leg.cwnd += 1
                self._send(leg, t)
                return
        link = back[hop]
        dead = self.state.dead
        if dead and link in dead:
            self.drop(msg, self.dead_reason[link])
            return
        free = self.free_at[link]
        start = free if free > t else t
        if hop == 0:
            self.acks += 1
        done = start + pkt[2] * self.sec_per_byte[link] + self.delay[link]
        if self.loss_on or self.latency_on:
            done = self._impair(link, done, msg)
            if done < 0.0:
                return
        pkt[1] = hop + 1
        pkt[3] = self.epoch[link]
        self.seq += 1
        heapq.heappush(self.heap, (done, self.seq, ACK, pkt, 0))

    # -- bins -----------------------------------------------------------------------------
    def _count_sent(self, link: int, t: float) -> None:
        """Count in ``carried`` what the port of ``link`` has transmitted up to ``t``.

        A transmission under way at ``t`` counts the part sent by then (bytes in proportion
        to time); the rest stays in the deque as a transmission from ``t``.
        """
        tx = self.tx[link]
        carried = self.carried
        while tx and tx[0][1] <= t:
            carried[link] += tx.popleft()[2]
        if tx and tx[0][0] < t:
            start, done, size = tx[0]
            part = size * (t - start) / (done - start)
            carried[link] += part
            tx[0] = (t, done, size - part)
        if not tx:
            self.sending.pop(link, None)

    def account_until(self, t: float) -> None:
        for link in list(self.sending):
            self._count_sent(link, t)

    # -- failures and capacity ------------------------------------------------------------
    def on_change(self, change: Change, t: float) -> tuple[int, int]:
        lost = 0
        if change.newly_dead:
            for link in change.newly_dead:
                self.epoch[link] += 1
                self.dead_reason[link] = change.reason
                # the port stops: what it had not sent yet is never sent
                self._count_sent(link, t)
                self.tx[link].clear()
                self.sending.pop(link, None)
                self.queue[link].clear()
                self.queued_bytes[link] = 0.0
                self.free_at[link] = t
            for entry in sorted(self.heap):
                kind = entry[2]
                if kind in (HOP, ACK):
                    pkt = entry[3]
                    leg = pkt[0]
                    on = (leg.links if kind == HOP else leg.back)[pkt[1] - 1]
                    if leg.msg.alive and on in change.newly_dead:
                        self.drop(leg.msg, change.reason)
                        lost += 1
        for d in change.capacity_changed:
            self.sec_per_byte[d] = 8.0 / self.state.cap_bps[d]
        return lost, 0

    # -- main loop ------------------------------------------------------------------------
    def stop_run(self) -> None:
        heap = self.heap
        t_stop = self.stopped_at_s
        self.close_bins_until(t_stop)
        self.account_until(t_stop)
        for entry in sorted(heap):
            if entry[2] in (HOP, ACK):
                self.drop(entry[3][0].msg, DropReason.OVERLOAD)
            elif entry[2] in (RESPONSE, DONE):
                self.drop(entry[3], DropReason.OVERLOAD)
        self.abort_seam()
        heap.clear()
        if self.cur_bin < self.n_bins:
            self._close_bin(t_stop)

    def _process(self, end: float) -> None:
        """Handle every heap entry and timeline step before ``end`` (or an overload stop)."""
        heap = self.heap
        cursor = self.cursor
        pop = heapq.heappop
        hop = self._hop
        ack_hop = self._ack_hop
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
                elif kind == ACK:
                    ack_hop(obj, t)
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
                        return
                elif kind == RESPONSE:
                    if obj.alive:
                        obj.leg = 1
                        self.start_leg(obj, obj.host, obj.caller, self.resp_size[obj.svc](), t)
                elif kind == DONE:
                    self.deliver(obj, t)
                else:
                    self.special(kind, obj, t)
            if t_tl >= end:
                return
            self.step_timeline()

    # -- accounting -----------------------------------------------------------------------
    def in_transfer(self) -> list[Msg]:
        """Messages held by the heap: packets and acks on links, exchanges at their host."""
        out: list[Msg] = []
        for entry in self.heap:
            kind = entry[2]
            if kind in (HOP, ACK):
                out.append(entry[3][0].msg)
            elif kind in (RESPONSE, DONE):
                out.append(entry[3])
        return out

    def result(self, wall_s: float) -> RunResult:
        self.counters["packet_hops"] = self.hops
        self.counters["acks"] = self.acks
        return super().result(wall_s)
