"""The emulator: a ZeroMQ ROUTER in front of the engine, paced by the wall clock.

Real programs connect to one ROUTER socket (CURVE, ZAP, ``ROUTER_MANDATORY``, ZMTP
heartbeats) and speak EMW1. The network between them is the engine behind its seam
(``engine.build``): a real client's request enters with ``inject`` at its site; a request
that reaches a site where a real program serves its service is handed over (the engine's
endpoint) and forwarded to the program; the program's answer enters with ``respond`` and
travels back over the modelled path. Sites and services without a program are simulated by
the engine exactly as in ``lgwan-sim run`` (the endpoints answer ``SIMULATE``), so the
emulator holds no network model of its own.

Simulated local bodies sign the requests they send to real programs with their own LGPKI
keys (the test bed's) and verify the answers end to end; the emulator signs its ERR,
READY and HEARTBEAT answers as ``emulator``. It never verifies a signature on its hot path:
it checks that the header's ``src`` is the identity the CURVE handshake authenticated.

The poll loop is :class:`~lgwan_sim.engine.RealtimeDriver` with the ROUTER's poller as its
``wait``: it blocks on the socket until the next thing the engine has due, handles what
arrives, and advances. With ``speed=math.inf`` (virtual time) the engine runs as fast as it
can; real programs are then refused (ERR 503), because a real program cannot keep pace
with virtual time.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack
import zmq
import zmq.auth.thread

from lgwan_sim.backbone._faults import Fault, parse_fault
from lgwan_sim.backbone._presign import NoncePool
from lgwan_sim.backbone._testbed import EMULATOR, Credentials, Testbed
from lgwan_sim.backbone._trust import EndToEnd
from lgwan_sim.backbone._wire import (
    MAX_DELIVERY_PATH,
    MAX_FRAME_BYTES,
    Command,
    Delivery,
    ErrorCode,
    Message,
    Signer,
    WireError,
    decode,
    decode_header,
    encode_delivery,
    peek_src,
)
from lgwan_sim.backbone._zmqio import NOBLOCK, recv_frames, send_routed
from lgwan_sim.engine import (
    SIMULATE,
    AppliedEvent,
    BinRecord,
    DropReason,
    DropRecord,
    Engine,
    EngineInputs,
    EventKind,
    Lateness,
    Observer,
    Observers,
    RealtimeDriver,
    Reservoir,
    RunResult,
    build,
)
from lgwan_sim.engine import Message as EngineMessage
from lgwan_sim.errors import InputError, LgwanSimError, VerificationError

__all__ = ["Emulator", "EmulatorStats"]

log = logging.getLogger(__name__)

_get = zmq.backend.Socket.get
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)

ZAP_DOMAIN = "lgwan-sim"
DEFAULT_TTL_NS = 30_000_000_000
"""``ttl`` of the requests simulated local bodies send to real programs (30 s), unless the
emulator is given another (``request_ttl_s``)."""
CURVE_FRAME_OVERHEAD = 33
"""What CURVE adds to a frame on the wire (a MESSAGE command: its name, flags, nonce and
MAC), which libzmq counts against ``ZMQ_MAXMSGSIZE``."""

# What a real client is told when the network model loses its request (docs/emulator.md).
# Losses in the network itself (a cut link, a full buffer) stay silent, as on a real WAN.
_ERR_OF_DROP: dict[str, tuple[ErrorCode, str]] = {
    DropReason.SITE_DOWN: (ErrorCode.UNREACHABLE, "a site on the way is down"),
    DropReason.NO_ROUTE: (ErrorCode.UNREACHABLE, "no route to the destination"),
    DropReason.OVERLOAD: (ErrorCode.OVERLOADED, "the network is overloaded"),
    DropReason.NO_SERVICE: (ErrorCode.TIMEOUT, "no program served the address in time"),
    DropReason.BACKLOG: (ErrorCode.OVERLOADED, "the program's backlog is full"),
    DropReason.UNANSWERED: (ErrorCode.TIMEOUT, "the program did not answer within the ttl"),
}

SWITCH_S = 0.0005
"""The interpreter's switch interval while the loop runs in real time (``sys``'s default is
5 ms): how long the control API's thread may wait for the lock the busy loop holds."""

#: A simulated body's request is signed when it leaves the caller and sent with that
#: signature when the model delivers it, unless the seal is older than this (wall seconds:
#: a paused clock, a slow speed), when it is signed again so that its ``ts`` stays fresh.
PRESEAL_MAX_AGE_S = 1.0

NONCE_POOL_SIZE = 512
"""Signing nonces the broker keeps made ahead for its simulated bodies (P-256; 43 to 46 ms of
CPU to fill and 66 KiB held, measured): a burst of this many requests is signed without
waiting for ``k·G``."""

NONCE_MARGIN_S = 0.001
"""Wall seconds a wait keeps free of nonce-making before the next thing due."""

NONCE_SLICE_S = 0.002
"""At most this long making nonces at a time, then the loop reads its sockets again."""

NONCE_IDLE_MIN_S = 0.0002
"""In the driver's last-millisecond spin, a nonce is made only with at least this long left
before the next thing due. One takes about 55 µs back to back here and up to 300 µs cold, so
a step may start a little late; measured, the driver's lateness did not grow, and at 20x to
30x more requests found a nonce ready than with 0.4 ms (``benchmarks/README.md``)."""

TURN_S = 0.005
"""Wall seconds the loop gives the engine at a time when it is behind: between two turns it
answers the control API and reads its socket (``RealtimeDriver``'s ``turn_s``)."""


@dataclass(slots=True)
class _Conn:
    """A connected program: its routing id, authenticated identity and liveness."""

    rid: bytes
    identity: str
    last_seen: float
    hb_s: float = 1.0
    addresses: set[tuple[str, str]] = field(default_factory=set)
    outstanding: int = 0
    """Requests forwarded to it and not yet answered (its backlog)."""
    connected: bool = True
    """False after a send found the peer gone (EHOSTUNREACH): what is for it waits, until it
    reconnects with its routing id or misses three heartbeats."""


@dataclass(slots=True)
class _Injected:
    """A real client's request, from ``inject`` until its answer or its loss."""

    rid: bytes
    request: Message
    frames: list[bytes]
    deadline_ns: int | None


@dataclass(slots=True)
class _AtService:
    """A request forwarded to a real service, awaiting its REP until ``deadline`` (wall
    seconds of ``time.monotonic``; ``math.inf``: no ttl)."""

    message: EngineMessage
    conn: _Conn
    injected: _Injected | None
    deadline: float = math.inf


@dataclass(slots=True)
class EmulatorStats:
    """Every real message the emulator saw or sent, by what became of it."""

    frames_in: int = 0
    malformed: int = 0
    forbidden: int = 0
    no_service: int = 0
    refused_virtual: int = 0
    ready: int = 0
    heartbeats: int = 0
    byes: int = 0
    requests_from_clients: int = 0
    requests_to_services: int = 0
    replies_from_services: int = 0
    replies_to_clients: int = 0
    replies_rejected: int = 0
    replies_unmatched: int = 0
    errors_sent: dict[int, int] = field(default_factory=dict)
    held_expired: int = 0
    backlog_full: int = 0
    unanswered: int = 0
    services_lost: int = 0
    send_failed: int = 0
    presealed: int = 0  # simulated requests sent as signed when they left their caller

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            k: getattr(self, k) for k in self.__dataclass_fields__ if k != "errors_sent"
        }
        out["errors_sent"] = {str(k): v for k, v in sorted(self.errors_sent.items())}
        return out


class _Authenticator(zmq.auth.thread.ThreadAuthenticator):
    """ZAP: a CURVE key the registry knows is let in, and its identity is the User-Id."""

    def __init__(self, context: zmq.Context[Any], by_curve: Mapping[bytes, str]) -> None:
        super().__init__(context, log=logging.getLogger(f"{__name__}.zap"))
        self.by_curve = by_curve
        self.refused = 0

    def callback(self, domain: str, key: bytes) -> bool:
        """``key`` is the Z85 text of the client's CURVE public key."""
        ok = key in self.by_curve
        if not ok:
            self.refused += 1
            log.info("refused an unknown CURVE key %s", key.decode("ascii", "replace"))
        return ok

    def curve_user_id(self, client_public_key: bytes) -> str:
        from zmq.utils import z85

        return self.by_curve[z85.encode(client_public_key)]


class _SiteEndpoint:
    """The engine's endpoint at a site where a program is (or was) connected."""

    __slots__ = ("emulator", "site")

    def __init__(self, emulator: Emulator, site: str) -> None:
        self.emulator = emulator
        self.site = site

    def receive(self, message: EngineMessage, at_s: float) -> Any:
        return self.emulator._arrived(self.site, message, at_s)

    def departing(self, message: EngineMessage, at_s: float) -> None:
        self.emulator._departing(self.site, message)


class _DropWatch(Observer):
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def on_drop(self, record: DropRecord) -> None:
        if record.message_id is not None:
            self.emulator._dropped(record)

    def on_event(self, event: AppliedEvent) -> None:
        self.emulator.publish("applied", **_applied(event))

    def on_bin(self, record: BinRecord) -> None:
        dropped: dict[str, int] = {}
        for by_reason in record.dropped.values():
            for reason, n in by_reason.items():
                dropped[reason] = dropped.get(reason, 0) + int(n)
        # every directed link's utilisation in the run's link order (``a~b>`` then ``a~b<``,
        # links in id order), rounded, and each service's offered, delivered and dropped
        services = {
            name: [
                int(record.offered.get(name, 0)),
                int(record.delivered.get(name, 0)),
                int(sum(record.dropped.get(name, {}).values())),
            ]
            for name in sorted({*record.offered, *record.delivered, *record.dropped})
        }
        self.emulator.publish(
            "bin",
            index=record.index,
            end_s=record.end_s,
            offered=int(sum(record.offered.values())),
            delivered=int(sum(record.delivered.values())),
            dropped=dropped,
            unreachable=record.unreachable,
            utilisation=[round(float(u), 5) for u in record.utilisation],
            services=services,
        )


def _applied(event: AppliedEvent) -> dict[str, Any]:
    out = dict(event.to_dict())
    out["event_kind"] = out.pop("kind")
    return out


class _Pace:
    """What the driver steps: the engine, with the emulator's own timers in between."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.engine = emulator.engine

    def peek(self) -> float:
        t = self.engine.peek()
        timers = self.emulator.timers
        return timers[0][0] if timers and timers[0][0] < t else t

    def advance_to(self, t_s: float) -> None:
        self.emulator._run_timers(t_s)
        self.engine.advance_to(t_s)


class Emulator:
    """Real programs and the engine's simulated network, one ROUTER between them.

    ``inputs`` is the run (flow or packet fidelity); ``testbed`` the keys of its
    identities; ``hosts`` maps each service to the sites that may host it (primary and
    failover), where a program may offer it. ``speed`` is simulated seconds per wall second
    (``math.inf``: virtual time). ``hold_s`` is how long (simulated) a request for an
    address whose program went away waits for a restarted one. ``delivery_info`` adds
    frame 7 (modelled delay and path) to what real programs receive. ``trace`` keeps a row
    per message that crossed a real program. A client (a program that serves no address)
    is forgotten after ``client_idle_s`` wall seconds without a message, or at once when a
    send finds it gone; its next message makes it known again. A program has at most
    ``max_outstanding`` requests forwarded to it and not answered: a request beyond that is
    dropped as ``backlog`` (a real client is told ERR 503), so a program that falls behind
    costs the broker bounded memory; one not answered within its ``ttl`` (wall time) is
    dropped as ``unanswered`` (ERR 504 to a real client), and a late answer is unmatched.
    ``request_ttl_s`` is the ``ttl`` of the requests simulated local bodies send.
    """

    def __init__(
        self,
        inputs: EngineInputs,
        testbed: Testbed,
        *,
        hosts: Mapping[str, Iterable[str]],
        speed: float = 1.0,
        bind: str = "tcp://127.0.0.1:0",
        hold_s: float = 5.0,
        heartbeat_s: float = 1.0,
        delivery_info: bool = False,
        trace: bool = False,
        observer: Observer | None = None,
        curve: bool = True,
        client_idle_s: float = 60.0,
        max_outstanding: int = 10_000,
        request_ttl_s: float = DEFAULT_TTL_NS / 1e9,
    ) -> None:
        if not (speed > 0):
            raise InputError("speed must be > 0 (or max)", field="speed", value=speed)
        if not (client_idle_s > 0):
            raise InputError(
                "client_idle_s must be > 0", field="client_idle_s", value=client_idle_s
            )
        if isinstance(max_outstanding, bool) or not (
            isinstance(max_outstanding, int) and max_outstanding >= 1
        ):
            raise InputError(
                "max_outstanding must be a whole number >= 1",
                field="max_outstanding",
                value=max_outstanding,
            )
        if not (math.isfinite(request_ttl_s) and request_ttl_s > 0):
            raise InputError(
                "request_ttl_s must be finite and > 0", field="request_ttl_s", value=request_ttl_s
            )
        self.max_outstanding = max_outstanding
        self.request_ttl_ns = round(request_ttl_s * 1e9)
        self.inputs = inputs
        self.testbed = testbed
        self.hosts = {svc: frozenset(sites) for svc, sites in hosts.items()}
        self.speed = float(speed)
        self.hold_s = hold_s
        self.heartbeat_s = heartbeat_s
        self.client_idle_s = client_idle_s
        self.delivery_info = delivery_info
        self.tracing = trace
        self.trace: list[dict[str, Any]] = []
        self._traced: set[int] = set()  # exchanges with a row, whose drop gets one too
        self.delivery_late = Reservoir()
        self.callers_served: set[str] = set()  # sites whose requests reached a real program
        self.stats = EmulatorStats()
        watch = _DropWatch(self)
        self.engine: Engine = build(
            inputs, observer=Observers(watch, observer) if observer is not None else watch
        )
        me = testbed.credentials.get(EMULATOR)
        if me is None:
            raise InputError(
                "the test bed has no keys for the emulator", field="site", value=EMULATOR
            )
        self.me: Credentials = me
        self.signer = me.signer()
        # simulated bodies sign with nonces made while the loop waits (see _presign)
        self.nonces = NoncePool(NONCE_POOL_SIZE)
        self.sim_signers = {site: c.signer(self.nonces) for site, c in testbed.credentials.items()}
        self.e2e = EndToEnd(testbed.registry, testbed.message_verifier())
        self.conns: dict[bytes, _Conn] = {}
        self.routes: dict[tuple[str, str], _Conn] = {}
        self.real: set[tuple[str, str]] = set()  # addresses a program has served
        self.held: dict[tuple[str, str], deque[tuple[EngineMessage, float]]] = {}
        self.injected: dict[int, _Injected] = {}
        self.at_service: dict[bytes, _AtService] = {}
        # (deadline, wid) of what is at a service, earliest first; stale entries (answered
        # since) are skipped when they come up
        self.deadlines: list[tuple[float, bytes]] = []
        self.replies: dict[int, list[bytes]] = {}
        # simulated bodies' requests to a program, signed when they left the caller:
        # exchange id -> (wire id, frames, wall time of the seal)
        self.presealed: dict[int, tuple[bytes, list[bytes], float]] = {}
        self.attached: set[str] = set()
        self.driver: RealtimeDriver | None = None
        self.seq = 0
        self._curve = curve
        self._bind = bind
        self.ctx: zmq.Context[Any] | None = None
        self.router: zmq.Socket[Any] | None = None
        self.auth: _Authenticator | None = None
        self.address = ""
        self._last_housekeeping = 0.0
        self._stop = threading.Event()
        self.faults: dict[str, Fault] = {}
        self.fault_log: list[dict[str, Any]] = []
        self.timers: list[tuple[float, int, Any]] = []
        self._timer_seq = 0
        self.held_by_fault: dict[str, list[Any]] = {}
        self.duplicates: set[int] = set()
        self.events: deque[dict[str, Any]] = deque(maxlen=100_000)
        self.event_seq = 0
        self.pub: zmq.Socket[Any] | None = None
        self.events_address = ""
        self.control: zmq.Socket[Any] | None = None
        self.control_address = ""
        self.paused = False  # the clock (POST /clock): held, or stepping to ``step_to``
        self.step_to: float | None = None
        self.campuses: dict[str, tuple[str, ...]] = {}
        for site in inputs.topology.sites.values():
            if site.campus:
                self.campuses[site.campus] = (*self.campuses.get(site.campus, ()), site.id)

    # -- sockets ---------------------------------------------------------------------------
    def start(self) -> str:
        """Bind the ROUTER; returns its address (``tcp://127.0.0.1:PORT``)."""
        ctx = self.ctx = zmq.Context()
        if self._curve:
            self.auth = _Authenticator(ctx, self.testbed.registry.by_curve)
            self.auth.start()
            self.auth.configure_curve_callback(domain=ZAP_DOMAIN, credentials_provider=self.auth)
        r = self.router = ctx.socket(zmq.ROUTER)
        r.setsockopt(zmq.LINGER, 0)
        r.setsockopt(zmq.ROUTER_MANDATORY, 1)
        r.setsockopt(zmq.ROUTER_HANDOVER, 1)
        r.setsockopt(zmq.SNDHWM, 100_000)
        r.setsockopt(zmq.RCVHWM, 100_000)
        # a frame longer than EMW1 allows is refused before libzmq allocates it: the
        # connection is closed (the sender's socket connects again) and nothing is answered;
        # taking such frames in left the process megabytes larger (the allocator keeps them)
        overhead = CURVE_FRAME_OVERHEAD if self._curve else 0
        r.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES + overhead)
        ivl = max(1, int(self.heartbeat_s * 1000))
        r.setsockopt(zmq.HEARTBEAT_IVL, ivl)
        r.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3 * ivl)
        r.setsockopt(zmq.HEARTBEAT_TTL, 3 * ivl)
        if self._curve:
            r.setsockopt(zmq.CURVE_SERVER, 1)
            r.setsockopt(zmq.CURVE_SECRETKEY, self.me.curve_secret)
            r.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN.encode())
        try:
            r.bind(self._bind)
        except zmq.ZMQError as exc:
            self.close()
            raise InputError(
                f"cannot listen there: {exc}", field="bind", value=self._bind
            ) from None
        self.address = r.getsockopt_string(zmq.LAST_ENDPOINT)
        host = self.address.rsplit(":", 1)[0]
        pub = self.pub = ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.LINGER, 0)
        pub.setsockopt(zmq.SNDHWM, 0)  # before bind: a burst must not be dropped
        pub.bind(f"{host}:0")
        self.events_address = pub.getsockopt_string(zmq.LAST_ENDPOINT)
        control = self.control = ctx.socket(zmq.ROUTER)
        control.setsockopt(zmq.LINGER, 0)
        self.control_address = f"inproc://lgwan-sim-control-{id(self)}"
        control.bind(self.control_address)
        self.poller = zmq.Poller()
        self.poller.register(r, zmq.POLLIN)
        self.poller.register(control, zmq.POLLIN)
        self.nonces.fill()  # a full pool before the first request (about 45 ms)
        return self.address

    @property
    def curve_public(self) -> str:
        return self.me.identity.curve_public.decode("ascii")

    def close(self) -> None:
        """Say BYE to every program, then close the sockets."""
        if self.router is not None:
            for conn in list(self.conns.values()):
                self._send(conn.rid, self._sealed(Command.BYE, conn.identity).frames())
            self.router.close(linger=0)
            self.router = None
        for sock in (self.pub, self.control):
            if sock is not None:
                sock.close(linger=0)
        self.pub = self.control = None
        if self.auth is not None:
            self.auth.stop()
            self.auth = None
        if self.ctx is not None:
            self.ctx.term()
            self.ctx = None

    def stop(self) -> None:
        """Ask :meth:`run` to return (thread- and signal-safe)."""
        self._stop.set()

    # -- the loop --------------------------------------------------------------------------
    def sim_now(self) -> float:
        d = self.driver
        if d is None:
            return self.engine.now_s
        return d.now_s if self.paused and self.step_to is None else d.sim_now()

    def run(self, until_s: float | None = None) -> Lateness:
        """Serve until simulated time ``until_s`` (the run's end) or :meth:`stop`."""
        if self.router is None:
            self.start()
        end = self.inputs.duration_s if until_s is None else min(until_s, self.inputs.duration_s)
        if self.speed == math.inf:
            return self._run_virtual(end)
        # the control API's thread waits for the interpreter lock each time it wakes; with
        # the default 5 ms switch interval a busy loop keeps it several times that long
        switch = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_S)
        try:
            return self._run_real(end)
        finally:
            sys.setswitchinterval(switch)

    def _run_real(self, end: float) -> Lateness:
        driver = self.driver = RealtimeDriver(
            _Pace(self), speed=self.speed, wait=self._wait, turn_s=TURN_S, idle=self._idle
        )
        stop = self._stop
        while not stop.is_set():
            if self.paused and self.step_to is None:  # paused: answer, but do not advance
                self._wait(0.1)
                self._housekeeping()
                continue
            target = end if self.step_to is None else min(end, self.step_to)
            more = driver.step(target)
            self._drain()
            self._housekeeping()
            if not more:
                if target >= end:
                    break
                self.step_to = None  # the step is done: paused again
        return driver.lateness()

    def _run_virtual(self, end: float) -> Lateness:
        chunk = max(self.inputs.config.bin_s, 1.0)
        t = self.engine.now_s
        while t < end and not self._stop.is_set():
            if self.paused and self.step_to is None:
                self._wait(0.1)
                continue
            t = min(end, t + chunk, math.inf if self.step_to is None else self.step_to)
            if self.step_to is not None and t >= self.step_to:
                self.step_to = None
            self._run_timers(t)
            self.engine.advance_to(t)
            self._drain()
        return Lateness.of([])

    def finish(self) -> RunResult:
        """End the run now (if it was stopped early), count what is under way, close."""
        if self.engine.now_s < self.inputs.duration_s:
            self.engine.end_now()
        # requests still held for a program are waiting at its site: in flight, like those a
        # program received and has not answered
        result = self.engine.finish()
        self.close()
        return result

    def _wait(self, seconds: float) -> None:
        if seconds > 2 * NONCE_MARGIN_S and len(self.nonces) < self.nonces.size:
            # time to spare: make signing nonces for a slice of it, then come back (the
            # driver returns early, the loop reads its sockets and waits again)
            budget = min(seconds - NONCE_MARGIN_S, NONCE_SLICE_S)
            if self.nonces.fill(budget, until=self._has_input):
                return
        # whole ms (the driver spins the rest), and at most 100 ms, so that a stop (SIGINT,
        # SIGTERM) and the housekeeping are seen while nothing is due
        timeout = min(int(seconds * 1000.0), 100)
        if self.poller.poll(timeout):
            self._drain()

    def _idle(self, remaining_s: float) -> bool:
        # the driver's spin before the next thing due: one nonce when there is room for it
        if remaining_s > NONCE_IDLE_MIN_S and len(self.nonces) < self.nonces.size:
            return self.nonces.fill(1e-9) > 0
        return False

    def _has_input(self) -> bool:
        r, control = self.router, self.control
        return bool(
            (r is not None and int(_get(r, _EVENTS)) & _POLLIN)
            or (control is not None and int(_get(control, _EVENTS)) & _POLLIN)
        )

    def _drain(self) -> None:
        r = self.router
        if r is None:
            return
        control = self.control
        while True:
            if control is not None:
                self._drain_control(control)
            try:
                parts = recv_frames(r, NOBLOCK)
            except zmq.Again:
                return
            self._on_parts(parts)

    def _drain_control(self, control: zmq.Socket[Any]) -> None:
        # asked before every message the ROUTER delivers: an empty socket is told by its
        # events, not by raising and catching zmq.Again (an exception built each time)
        if not int(_get(control, _EVENTS)) & _POLLIN:
            return
        while True:
            try:
                rid, empty, body = control.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                request = json.loads(body)
                answer = self.handle_control(request.get("op", ""), request.get("args", {}))
            except InputError as exc:
                answer = {"status": 400, "error": str(exc)}
            except Exception as exc:  # the loop must outlive a bad request
                log.exception("control request failed")
                answer = {"status": 500, "error": f"{type(exc).__name__}: {exc}"}
            control.send_multipart([rid, empty, json.dumps(answer, default=str).encode()])

    def _housekeeping(self) -> None:
        wall = time.monotonic()
        if wall - self._last_housekeeping < 0.05:
            return
        self._last_housekeeping = wall
        for conn in list(self.conns.values()):
            silent_s = wall - conn.last_seen
            if conn.addresses and silent_s > 3 * conn.hb_s:
                log.info("%s missed 3 heartbeats: taken off the registry", conn.identity)
                self.stats.services_lost += 1
                self._forget(conn)
            elif not conn.addresses and (not conn.connected or silent_s > self.client_idle_s):
                # A client serves nothing and nothing waits on its entry (answers go by
                # routing id): forget it, or every reconnect with a new id leaves one behind.
                del self.conns[conn.rid]
        self._expire(wall)
        now = self.sim_now()
        for key, queue in list(self.held.items()):
            while queue and queue[0][1] <= now:
                message, _ = queue.popleft()
                self.stats.held_expired += 1
                self._give_up(message)
            if not queue:
                del self.held[key]

    # -- sending ---------------------------------------------------------------------------
    def _send(self, rid: bytes, frames: list[bytes]) -> bool:
        r = self.router
        if r is None:
            return False
        try:
            send_routed(r, rid, frames, NOBLOCK)
        except zmq.ZMQError as exc:
            self.stats.send_failed += 1
            if exc.errno == zmq.EHOSTUNREACH:
                conn = self.conns.get(rid)
                if conn is not None:
                    conn.connected = False
            return False
        return True

    def _sealed(self, command: Command, address: str, body: bytes = b"", **fields: Any) -> Message:
        return self.signer.seal(
            command, address, body, id=os.urandom(16), ts_ns=time.time_ns(), **fields
        )

    def _error(
        self,
        rid: bytes,
        to: str,
        corr: bytes | None,
        code: ErrorCode,
        reason: str,
        addr: str | None = None,
    ) -> None:
        self.stats.errors_sent[int(code)] = self.stats.errors_sent.get(int(code), 0) + 1
        err = self._sealed(Command.ERR, to, corr=corr, code=code, reason=reason, addr=addr)
        self._send(rid, err.frames())

    # -- what programs send ----------------------------------------------------------------
    def _on_parts(self, parts: list[zmq.Frame]) -> None:
        self.stats.frames_in += 1
        rid = parts[0].bytes
        frames = [p.bytes for p in parts[1:]]
        user = parts[1].get("User-Id") if len(parts) > 1 and self._curve else None
        try:
            message = decode(frames)
        except WireError as exc:
            self.stats.malformed += 1
            self._malformed(rid, frames, exc)
            return
        h = message.header
        identity = user if user is not None else h.src
        if h.src != identity:
            self.stats.forbidden += 1
            self._error(
                rid,
                h.src,
                h.id,
                ErrorCode.FORBIDDEN,
                f"src is not the authenticated identity {identity!r}",
            )
            return
        conn = self.conns.get(rid)
        if conn is None:
            conn = self.conns[rid] = _Conn(rid=rid, identity=identity, last_seen=time.monotonic())
        else:
            conn.last_seen = time.monotonic()
            if not conn.connected:  # back, with its routing id: release what waited for it
                conn.connected = True
                for key in list(conn.addresses):
                    queue = self.held.pop(key, None)
                    while queue:
                        held, _ = queue.popleft()
                        self._forward(conn, key[0], held)
        cmd = message.command
        if cmd is Command.REQ or cmd is Command.EVT:
            self._request(conn, message, frames)
        elif cmd is Command.REP:
            self._reply(conn, message, frames)
        elif cmd is Command.HEARTBEAT:
            self.stats.heartbeats += 1
            self._send(rid, self._sealed(Command.HEARTBEAT, identity, corr=h.id).frames())
        elif cmd is Command.READY:
            self._ready(conn, message)
        elif cmd is Command.BYE:
            self.stats.byes += 1
            if message.address:
                gone = _split(message.address)
                if gone is not None and gone in conn.addresses:
                    self._unroute(conn, gone)
            else:
                self._forget(conn)
        else:  # ERR: only the emulator sends it
            self.stats.malformed += 1
            self._error(rid, h.src, h.id, ErrorCode.MALFORMED, "only the emulator sends ERR")

    def _malformed(self, rid: bytes, frames: list[bytes], exc: WireError) -> None:
        """Answer ERR 400 when the sender and the message id can be read; else drop."""
        if len(frames) < 5:
            return
        try:
            src = peek_src(frames[4])
            corr = decode_header(frames[4]).id
        except WireError:
            try:
                src = peek_src(frames[4])
            except WireError:
                return
            corr = None
        except Exception:  # malformed input must never stop the broker
            return
        self._error(rid, src, corr, ErrorCode.MALFORMED, exc.reason[:1000])

    def _ready(self, conn: _Conn, message: Message) -> None:
        h = message.header
        key = _split(message.address)
        if key is None:
            self._error(conn.rid, h.src, h.id, ErrorCode.MALFORMED, "READY names site/service")
            return
        site, service = key
        if site != conn.identity:
            self.stats.forbidden += 1
            self._error(
                conn.rid,
                h.src,
                h.id,
                ErrorCode.FORBIDDEN,
                "a program offers services at its own site only",
                message.address,
            )
            return
        if site not in self.hosts.get(service, ()):
            self.stats.no_service += 1
            self._error(
                conn.rid,
                h.src,
                h.id,
                ErrorCode.NO_SERVICE,
                "the scenario does not host this service at this site",
                message.address,
            )
            return
        if self._refused_in_virtual_time(conn, message):
            return
        old = self.routes.get(key)
        if old is not None and old is not conn:
            old.addresses.discard(key)  # handed over to the new connection
        self.routes[key] = conn
        self.real.add(key)
        conn.addresses.add(key)
        if h.hb_ns:
            conn.hb_s = h.hb_ns / 1e9
        self.stats.ready += 1
        self._attach(site)
        self._send(conn.rid, self._sealed(Command.READY, message.address, corr=h.id).frames())
        log.info("%s serves %s", conn.identity, message.address)
        queue = self.held.pop(key, None)
        while queue:
            held, _ = queue.popleft()
            self._forward(conn, site, held)

    def _refused_in_virtual_time(self, conn: _Conn, message: Message) -> bool:
        """In virtual time no real program can keep pace: ERR 503 to any that tries."""
        if self.speed != math.inf:
            return False
        self.stats.refused_virtual += 1
        h = message.header
        self._error(
            conn.rid,
            h.src,
            h.id,
            ErrorCode.OVERLOADED,
            "the emulator runs in virtual time: no real programs",
            message.address,
        )
        return True

    def _attach(self, site: str) -> None:
        if site not in self.attached:
            self.attached.add(site)
            self.engine.attach(site, _SiteEndpoint(self, site))

    def _unroute(self, conn: _Conn, key: tuple[str, str]) -> None:
        conn.addresses.discard(key)
        if self.routes.get(key) is conn:
            del self.routes[key]

    def _forget(self, conn: _Conn) -> None:
        for key in list(conn.addresses):
            self._unroute(conn, key)
        self.conns.pop(conn.rid, None)
        for wid, pending in list(self.at_service.items()):  # its requests will get no answer
            if pending.conn is conn:
                self._unpend(wid)
                self._hold(pending.message)

    def _request(self, conn: _Conn, message: Message, frames: list[bytes]) -> None:
        h = message.header
        key = _split(message.address)
        if key is None or key[1] not in self.hosts:
            self.stats.no_service += 1
            self._error(
                conn.rid, h.src, h.id, ErrorCode.NO_SERVICE, "no such service", message.address
            )
            return
        if self._refused_in_virtual_time(conn, message):
            return
        self.stats.requests_from_clients += 1
        self._attach(conn.identity)
        size = h.size_bytes if h.size_bytes is not None else len(message.body)
        sent = self.engine.inject(key[1], conn.identity, float(size), self.sim_now())
        deadline = h.ts_ns + h.ttl_ns if h.ttl_ns is not None else None
        self.injected[sent.id] = _Injected(
            rid=conn.rid, request=message, frames=frames, deadline_ns=deadline
        )
        if self.tracing:
            self._trace(sent, "injected", h.id)

    def _reply(
        self, conn: _Conn, message: Message, frames: list[bytes], *, faulted: bool = False
    ) -> None:
        h = message.header
        pending = self._unpend(h.corr) if h.corr is not None else None
        if pending is None:
            self.stats.replies_unmatched += 1
            return
        if faulted:  # released by a delay or hold fault: it was counted when it came
            self._accept_reply(pending, message, frames)
            return
        self.stats.replies_from_services += 1
        engine_message = pending.message
        fault = self._message_fault("reply", engine_message, h.src, engine_message.caller)
        if fault is not None:
            kind = fault.kind
            if kind in ("drop", "error"):
                self._fault_loses(fault, engine_message)
                return
            if kind in ("delay", "hold"):
                pending_again = pending

                def later(at: float = 0.0) -> None:
                    self._pend(h.corr or b"", pending_again)
                    self._reply(conn, message, frames, faulted=True)

                if kind == "delay":
                    self._after(self.sim_now() + float(fault.spec["delay_s"]), later)
                else:
                    self.held_by_fault.setdefault(fault.name, []).append(later)
                return
            if kind == "corrupt":
                frames = _corrupted(frames)
                message = decode(frames)
            elif kind == "duplicate":
                self.duplicates.add(engine_message.id)
        self._accept_reply(pending, message, frames)

    def _accept_reply(self, pending: _AtService, message: Message, frames: list[bytes]) -> None:
        h = message.header
        engine_message = pending.message
        if pending.injected is not None:
            self.replies[engine_message.id] = frames
        else:  # a simulated local body receives it: it verifies end to end
            caller = engine_message.caller
            try:
                self.e2e.check(message, lambda address: address == caller)
            except VerificationError as exc:
                self.stats.replies_rejected += 1
                log.info("a reply to %s was refused: %s", caller, exc.reason)
                self.engine.discard(engine_message, DropReason.REJECTED)
                return
        size = h.size_bytes if h.size_bytes is not None else len(message.body)
        self.engine.respond(engine_message, float(size), self.sim_now())

    # -- what the engine hands over --------------------------------------------------------
    def _departing(self, site: str, message: EngineMessage) -> None:
        """A simulated body's request for a program at ``site`` left the caller: sign it
        now, as the body does when it sends, so that the signature is not on the path from
        the engine's handover to the program (the request's ``ts`` is when it was sent)."""
        if message.leg != "request" or message.id in self.presealed:
            return
        if message.id in self.injected:  # a real client's request: its own frames go on
            return
        conn = self.routes.get((site, message.service))
        if conn is None or not conn.connected:
            return
        signer = self.sim_signers.get(message.caller)
        if signer is None:
            return
        wid, frames = self._seal_request(signer, site, message)
        self.presealed[message.id] = (wid, frames, time.monotonic())

    def _seal_request(
        self, signer: Signer, site: str, message: EngineMessage
    ) -> tuple[bytes, list[bytes]]:
        """A simulated body's signed REQ for ``message``: its wire id and frames."""
        self.seq += 1
        body = msgpack.packb({"service": message.service, "caller": message.caller, "n": self.seq})
        wid = os.urandom(16)
        req = signer.seal(
            Command.REQ,
            f"{site}/{message.service}",
            body,
            id=wid,
            ts_ns=time.time_ns(),
            ttl_ns=self.request_ttl_ns,
            seq=self.seq,
            ct="application/msgpack",
        )
        return wid, req.frames()

    def _arrived(self, site: str, message: EngineMessage, at_s: float) -> Any:
        if message.leg == "request":
            key = (site, message.service)
            conn = self.routes.get(key)
            pre = self.presealed.pop(message.id, None)
            if conn is not None and conn.connected:
                self._forward(conn, site, message, due_s=at_s, presealed=pre)
                return None
            if key in self.real:
                self._hold(message)
                return None
            return SIMULATE
        injected = self.injected.pop(message.id, None)
        if injected is None:
            return SIMULATE
        frames = self.replies.pop(message.id, None)
        if frames is None:  # a simulated service answered: its host signs the REP
            host = self.sim_signers[message.host]
            rep = host.seal(
                Command.REP,
                injected.request.header.src,
                b"",
                id=os.urandom(16),
                ts_ns=time.time_ns(),
                corr=injected.request.header.id,
                size_bytes=int(message.size_bytes) if message.size_bytes is not None else None,
            )
            frames = rep.frames()
        self.stats.replies_to_clients += 1
        self._send(injected.rid, frames)
        if message.id in self.duplicates:
            self.duplicates.discard(message.id)
            self._send(injected.rid, frames)
        if self.tracing:
            self._trace(
                message, "answered", injected.request.header.id, modelled_s=at_s - message.sent_at_s
            )
        return None

    def _forward(
        self,
        conn: _Conn,
        site: str,
        message: EngineMessage,
        *,
        due_s: float | None = None,
        faulted: bool = False,
        presealed: tuple[bytes, list[bytes], float] | None = None,
    ) -> None:
        fault = None if faulted else self._message_fault("request", message, message.caller, site)
        if fault is not None:
            kind = fault.kind
            if kind in ("drop", "error"):
                self._fault_loses(fault, message)
                return
            if kind in ("delay", "hold"):

                def later(at: float = 0.0) -> None:
                    now_conn = self.routes.get((site, message.service))
                    if now_conn is None:
                        self._hold(message)
                    else:
                        self._forward(now_conn, site, message, faulted=True)

                if kind == "delay":
                    self._after(self.sim_now() + float(fault.spec["delay_s"]), later)
                else:
                    self.held_by_fault.setdefault(fault.name, []).append(later)
                return
        if conn.outstanding >= self.max_outstanding:
            # before it is signed (unless it was as it left its caller)
            self.stats.backlog_full += 1
            self.engine.discard(message, DropReason.BACKLOG)
            return
        injected = self.injected.get(message.id)
        if injected is not None:
            frames = injected.frames  # as the client sent them (never changed in place)
            wid = injected.request.header.id
        elif presealed is not None and time.monotonic() - presealed[2] <= PRESEAL_MAX_AGE_S:
            wid, frames, _ = presealed
            self.stats.presealed += 1
        else:
            signer = self.sim_signers.get(message.caller)
            if signer is None:
                self.engine.discard(message, DropReason.REJECTED)
                return
            wid, frames = self._seal_request(signer, site, message)
        # the model's delay to the service: when the engine delivered the leg (the wall
        # clock may be a little later), or now for a request released from a hold
        delay = (due_s if due_s is not None else self.sim_now()) - message.sent_at_s
        if self.delivery_info:
            path = self.engine.path(message.caller, message.host) or ()
            info = Delivery(delay_ns=max(0, int(delay * 1e9)), path=path[:MAX_DELIVERY_PATH])
            frames = [*frames[:7], encode_delivery(info)]
        if fault is not None and fault.kind == "corrupt":
            frames = _corrupted(frames)
        if not self._send(conn.rid, frames):
            self._hold(message)
            return
        if fault is not None and fault.kind == "duplicate":
            self._send(conn.rid, frames)
        self.stats.requests_to_services += 1
        self.callers_served.add(message.caller)
        driver = self.driver
        wall = time.monotonic()
        if due_s is not None and driver is not None:
            # how much later than the model said the request left for the program (wall s)
            self.delivery_late.add(wall - driver.wall_of(due_s))
        if injected is not None:  # the client's own deadline: its ts plus its ttl
            d_ns = injected.deadline_ns
            deadline = math.inf if d_ns is None else wall + (d_ns - time.time_ns()) / 1e9
        else:
            deadline = wall + self.request_ttl_ns / 1e9
        self._pend(wid, _AtService(message, conn, injected, deadline))
        if deadline != math.inf:
            heapq.heappush(self.deadlines, (deadline, wid))
        if self.tracing:
            self._trace(message, "at_service", wid, modelled_s=delay)

    def _pend(self, wid: bytes, pending: _AtService) -> None:
        """Put a request on what waits at a service; its program's backlog counts it."""
        self.at_service[wid] = pending
        pending.conn.outstanding += 1

    def _unpend(self, wid: bytes) -> _AtService | None:
        """Take a request off what waits at a service (answered, expired or given up)."""
        pending = self.at_service.pop(wid, None)
        if pending is not None:
            pending.conn.outstanding -= 1
        return pending

    def _expire(self, wall: float) -> None:
        """Drop what a program did not answer within its ttl as ``unanswered``."""
        deadlines = self.deadlines
        at_service = self.at_service
        while deadlines and deadlines[0][0] <= wall:
            deadline, wid = heapq.heappop(deadlines)
            pending = at_service.get(wid)
            if pending is None or pending.deadline != deadline:
                continue  # answered (or forwarded again) since
            self._unpend(wid)
            self.stats.unanswered += 1
            self.engine.discard(pending.message, DropReason.UNANSWERED)

    def _hold(self, message: EngineMessage) -> None:
        key = (message.host, message.service)
        conn = self.routes.get(key)
        if conn is not None and conn.connected:
            self._forward(conn, message.host, message)
            return
        self.held.setdefault(key, deque()).append((message, self.sim_now() + self.hold_s))
        if self.tracing:
            self._trace(message, "held", None, modelled_s=self.sim_now() - message.sent_at_s)

    def _give_up(self, message: EngineMessage) -> None:
        self.engine.discard(message, DropReason.NO_SERVICE)

    def _dropped(self, record: DropRecord) -> None:
        mid = record.message_id
        assert mid is not None
        self.presealed.pop(mid, None)
        injected = self.injected.pop(mid, None)
        self.replies.pop(mid, None)
        if self.tracing and mid in self._traced:
            self._traced.discard(mid)
            self.trace.append(
                {
                    "sim_s": round(self.sim_now(), 6),
                    "exchange": mid,
                    "id": injected.request.header.id.hex() if injected is not None else "",
                    "service": record.service,
                    "caller": record.caller,
                    "host": record.host,
                    "leg": "",
                    "sent_at_s": "",
                    "modelled_s": "",
                    "path": "",
                    "what": "dropped",
                    "reason": str(record.reason),
                }
            )
        if injected is None:
            return
        self.publish(
            "drop",
            reason=str(record.reason),
            service=record.service,
            caller=record.caller,
            host=record.host,
            exchange=mid,
        )
        err = _ERR_OF_DROP.get(record.reason)
        if err is not None:
            code, reason = err
            h = injected.request.header
            self._error(injected.rid, h.src, h.id, code, reason, injected.request.address)

    # -- the event stream ------------------------------------------------------------------
    def publish(self, kind: str, **fields: Any) -> None:
        """Record an event with the next sequence number and publish it on the PUB socket."""
        self.event_seq += 1
        record = {"seq": self.event_seq, "kind": kind, "sim_s": round(self.sim_now(), 6), **fields}
        self.events.append(record)
        pub = self.pub
        if pub is not None:
            pub.send_multipart([kind.encode(), json.dumps(record, default=str).encode()])

    # -- timers ------------------------------------------------------------------------------
    def _after(self, at_s: float, callback: Any) -> None:
        self._timer_seq += 1
        heapq.heappush(self.timers, (at_s, self._timer_seq, callback))

    def _run_timers(self, t_s: float) -> None:
        timers = self.timers
        while timers and timers[0][0] < t_s:
            at, _, callback = heapq.heappop(timers)
            if at > self.engine.now_s:
                self.engine.advance_to(at)
            callback(at)

    # -- faults ------------------------------------------------------------------------------
    def handle_control(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """One control request, in the loop's thread (the REST API's door)."""
        now = max(self.sim_now(), self.engine.now_s)
        if op == "put_fault":
            name = str(args.get("name", ""))
            spec = args.get("spec")
            old = self.faults.get(name)
            if old is not None and old.spec == spec:
                return {"status": 200, "fault": old.to_json()}  # idempotent
            fault = parse_fault(
                name, spec, now_s=now, campuses=self.campuses, seed=self.inputs.seed
            )
            if old is not None:
                self._remove_fault(old, now)
            self._add_fault(fault, now)
            return {"status": 201 if old is None else 200, "fault": fault.to_json()}
        if op == "delete_fault":
            gone = self.faults.get(str(args.get("name", "")))
            if gone is None:
                return {"status": 404, "error": "no such fault"}
            self._remove_fault(gone, now)
            return {"status": 204}
        if op == "faults":
            return {"status": 200, "faults": [f.to_json() for f in self.faults.values()]}
        if op == "fault":
            one = self.faults.get(str(args.get("name", "")))
            if one is None:
                return {"status": 404, "error": "no such fault"}
            return {"status": 200, "fault": one.to_json()}
        if op == "reset":
            for fault in list(self.faults.values()):
                self._remove_fault(fault, now)
            return {"status": 204}
        if op == "state":
            pairs = [tuple(str(x) for x in pair) for pair in args.get("routes") or ()]
            try:
                return {"status": 200, "state": self.state(routes=pairs)}
            except LgwanSimError as exc:
                return {"status": 400, "error": str(exc)}
        if op == "events":
            since = int(args.get("since", 0))
            return {
                "status": 200,
                "seq": self.event_seq,
                "events": [e for e in self.events if e["seq"] > since],
            }
        if op == "metrics":
            return {"status": 200, "text": self.metrics()}
        if op == "clock":
            return self._clock(args, now)
        return {"status": 404, "error": f"unknown control operation {op!r}"}

    def _clock(self, args: dict[str, Any], now: float) -> dict[str, Any]:
        """Pause, resume, step (``step_s`` simulated seconds, then paused) or change speed."""
        changes = {k: args[k] for k in ("paused", "step_s", "speed") if k in args}
        for key, value in changes.items():
            if key == "paused" and not isinstance(value, bool):
                return {"status": 400, "error": f"paused is true or false (got {value!r})"}
            if key != "paused" and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value <= 0
            ):
                return {"status": 400, "error": f"{key} must be a number > 0 (got {value!r})"}
        if "speed" in changes and self.speed == math.inf:
            return {"status": 409, "error": "a run in virtual time has no speed to change"}
        d = self.driver
        if "speed" in changes:
            self.speed = float(changes["speed"])
            if d is not None:
                d.speed = self.speed
                d.sync()
        if "paused" in changes:
            resumed = self.paused and not changes["paused"]
            self.paused = bool(changes["paused"])
            self.step_to = None
            if resumed and d is not None:
                d.sync()
        if "step_s" in changes:
            if d is not None and self.paused:
                d.sync()
            self.paused = True
            self.step_to = now + float(changes["step_s"])
        clock = {
            "paused": self.paused,
            "speed": "max" if self.speed == math.inf else self.speed,
            "step_to": self.step_to,
            "sim_s": round(self.sim_now(), 6),
        }
        if changes:
            self.publish("clock", **{k: v for k, v in clock.items() if k != "sim_s"})
        return {"status": 200, "clock": clock}

    def _check_fault(self, fault: Fault) -> None:
        """Refuse a fault naming what the run does not have, before anything is applied."""
        topo = self.inputs.topology
        services = {s.name for s in self.inputs.demand.services}
        prefectures = {s.prefecture for s in topo.sites.values() if s.prefecture}
        where = f"faults.{fault.name}"
        for e in fault.events:
            for link in e.links:
                if link not in topo.links:
                    raise InputError("unknown link", field=f"{where}.links", value=link)
            for site in e.sites:
                if site not in topo.sites:
                    raise InputError("unknown site", field=f"{where}.sites", value=site)
            for code in e.prefectures:
                if code not in prefectures:
                    raise InputError(
                        "no site of the run is in this prefecture",
                        field=f"{where}.prefectures",
                        value=code,
                    )
            if e.service is not None and e.service not in services:
                raise InputError("unknown service", field=f"{where}.service", value=e.service)
            if e.service is not None and e.kind is EventKind.FAILOVER:
                svc = next(s for s in self.inputs.demand.services if s.name == e.service)
                if svc.secondary is None:
                    raise InputError(
                        "this service has no secondary to fail over to",
                        field=f"{where}.service",
                        value=e.service,
                    )

    def _add_fault(self, fault: Fault, now: float) -> None:
        self._check_fault(fault)
        self.faults[fault.name] = fault
        for event in fault.events:
            self.engine.apply(event)
        if fault.kind == "disconnect":
            self._disconnect()
        if fault.expires_s is not None:
            expires = fault.expires_s

            def expire(at: float, fault: Fault = fault) -> None:
                if self.faults.get(fault.name) is fault:
                    self._remove_fault(fault, at)

            self._after(expires, expire)
        self.fault_log.append(
            {"at_s": round(now, 6), "fault": fault.name, "what": "added", **fault.spec}
        )
        self.publish("fault", name=fault.name, what="added", spec=fault.spec)

    def _remove_fault(self, fault: Fault, now: float) -> None:
        self.faults.pop(fault.name, None)
        for event in fault.restore(max(now, self.engine.now_s)):
            self.engine.apply(event)
        if fault.kind == "disconnect":
            self._reconnect()
        for release in self.held_by_fault.pop(fault.name, []):
            release()
        self.fault_log.append(
            {"at_s": round(now, 6), "fault": fault.name, "what": "removed", "hits": fault.hits}
        )
        self.publish("fault", name=fault.name, what="removed", hits=fault.hits)

    def _message_fault(
        self, command: str, message: EngineMessage, src: str, dst: str
    ) -> Fault | None:
        if not self.faults:
            return None
        site = self.inputs.topology.sites.get(message.caller)
        prefecture = site.prefecture if site is not None else None
        now = self.sim_now()
        for fault in self.faults.values():
            m = fault.match
            if m is not None and m.takes(
                service=message.service,
                command=command,
                src=src,
                dst=dst,
                prefecture=prefecture,
                now_s=now,
            ):
                fault.hits += 1
                self.publish(
                    "fault_hit",
                    name=fault.name,
                    action=fault.kind,
                    command=command,
                    service=message.service,
                    caller=message.caller,
                    host=message.host,
                )
                return fault
        return None

    def _fault_loses(self, fault: Fault, message: EngineMessage) -> None:
        """``drop`` or ``error``: the exchange is lost; a real client may be told."""
        injected = self.injected.pop(message.id, None) if fault.kind == "error" else None
        self.engine.discard(message, DropReason.FAULT)
        if injected is None:
            return
        self.replies.pop(message.id, None)
        code = ErrorCode(int(fault.spec.get("code", 503)))
        after = float(fault.spec.get("after_s") or 0.0)

        def tell(at: float, injected: _Injected = injected) -> None:
            h = injected.request.header
            self._error(
                injected.rid, h.src, h.id, code, f"fault {fault.name}", injected.request.address
            )

        if after > 0:
            self._after(self.sim_now() + after, tell)
        else:
            tell(self.sim_now())

    def _disconnect(self) -> None:
        r = self.router
        if r is not None and self.address:
            r.unbind(self.address)
            self.publish("transport", what="unbound", address=self.address)

    def _reconnect(self) -> None:
        r = self.router
        if r is not None and self.address:
            r.bind(self.address)
            self.publish("transport", what="bound", address=self.address)

    def state(self, routes: Sequence[tuple[str, ...]] = ()) -> dict[str, Any]:
        """Links and sites down, where each service is hosted, what programs are connected.

        ``routes`` (``(src, dst)`` pairs) adds each pair's path as the engine's routing
        sends traffic now (``Engine.path``; ``None``: no path), under ``routes``.
        """
        st = getattr(self.engine, "state", None)
        paths = []
        for pair in routes:
            if len(pair) != 2:
                raise InputError("a route is SRC,DST", field="route", value=",".join(pair))
            path = self.engine.path(pair[0], pair[1])
            paths.append(
                {"src": pair[0], "dst": pair[1], "sites": None if path is None else list(path)}
            )
        return {
            "routes": paths,
            "sim_s": round(self.sim_now(), 6),
            "links_down": sorted(getattr(st, "down_links", ())),
            "sites_down": sorted(getattr(st, "down_sites", ())),
            "hosts": dict(sorted(getattr(st, "hosts", {}).items())),
            "programs": sorted(f"{site}/{svc}" for site, svc in self.routes),
            "connections": len(self.conns),
            "outstanding": {
                f"{site}/{svc}": conn.outstanding
                for (site, svc), conn in sorted(self.routes.items())
            },
            "faults": sorted(self.faults),
            "paused": self.paused,
            "speed": "max" if self.speed == math.inf else self.speed,
            "seq": self.event_seq,
        }

    def metrics(self) -> str:
        """The emulator's counters in the Prometheus text format."""
        lines = ["# TYPE lgwan_emulator_messages_total counter"]
        for key, value in self.stats.to_json().items():
            if isinstance(value, int):
                lines.append(f'lgwan_emulator_messages_total{{kind="{key}"}} {value}')
        for code, n in sorted(self.stats.errors_sent.items()):
            lines.append(f'lgwan_emulator_errors_sent_total{{code="{code}"}} {n}')
        lines.append("# TYPE lgwan_emulator_sim_seconds gauge")
        lines.append(f"lgwan_emulator_sim_seconds {self.sim_now():.6f}")
        lines.append("# TYPE lgwan_emulator_connections gauge")
        lines.append(f"lgwan_emulator_connections {len(self.conns)}")
        lines.append("# TYPE lgwan_emulator_outstanding gauge")
        lines.append(f"lgwan_emulator_outstanding {len(self.at_service)}")
        if self.driver is not None:
            lines.append("# TYPE lgwan_emulator_turns_cut_total counter")
            lines.append(f"lgwan_emulator_turns_cut_total {self.driver.turns_cut}")
        lines.append("# TYPE lgwan_emulator_faults gauge")
        lines.append(f"lgwan_emulator_faults {len(self.faults)}")
        for fault in self.faults.values():
            lines.append(f'lgwan_emulator_fault_hits_total{{fault="{fault.name}"}} {fault.hits}')
        return "\n".join(lines) + "\n"

    def _trace(
        self, message: EngineMessage, what: str, wid: bytes | None, *, modelled_s: float = 0.0
    ) -> None:
        now = self.sim_now()
        self._traced.add(message.id)
        if message.leg == "request":
            path = self.engine.path(message.caller, message.host)
        else:
            path = self.engine.path(message.host, message.caller)
        self.trace.append(
            {
                "sim_s": round(now, 6),
                "exchange": message.id,
                "id": wid.hex() if wid else "",
                "service": message.service,
                "caller": message.caller,
                "host": message.host,
                "leg": message.leg,
                "sent_at_s": round(message.sent_at_s, 6),
                # the model's time from the exchange entering the network to this step
                "modelled_s": round(modelled_s, 9),
                "path": " ".join(path or ()),
                "what": what,
                "reason": "",
            }
        )


def _corrupted(frames: list[bytes]) -> list[bytes]:
    """The frames with one byte of the signature flipped: no receiver will accept them."""
    sig = bytearray(frames[6])
    if sig:
        sig[len(sig) // 2] ^= 0x01
    return [*frames[:6], bytes(sig), *frames[7:]]


def _split(address: str) -> tuple[str, str] | None:
    site, sep, service = address.partition("/")
    if not sep or not site or not service or "/" in service:
        return None
    return site, service


def service_hosts(inputs: EngineInputs) -> dict[str, set[str]]:
    """Where each service of ``inputs`` may be hosted: its primary and its secondary."""
    out: dict[str, set[str]] = {}
    for s in inputs.demand.services:
        sites = out.setdefault(s.name, set())
        sites.add(s.primary)
        if s.secondary is not None:
            sites.add(s.secondary)
    return out
