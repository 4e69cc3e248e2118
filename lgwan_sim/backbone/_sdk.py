"""The Python SDK: a real LGWAN-ASP service (:class:`Service`) or local body (:class:`Client`).

Both read the emulator's ``endpoints.json``, connect one DEALER socket with the CURVE keys
the key registry binds to their identity, sign everything they send with their LGPKI
message-signing key and verify everything they receive end to end (the registry's
certificate, its LGPKI path, the signature, the replay window). See ``docs/emulator.md``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq

from lgwan_sim.backbone._testbed import EMULATOR, Credentials, Testbed
from lgwan_sim.backbone._trust import EndToEnd
from lgwan_sim.backbone._wire import Command, Header, Message, WireError, decode
from lgwan_sim.backbone._zmqio import recv_frames, send_frames
from lgwan_sim.errors import InputError, LgwanSimError, VerificationError

__all__ = ["Client", "EmulatorError", "Endpoints", "Reply", "Request", "Service"]

log = logging.getLogger(__name__)


class EmulatorError(LgwanSimError):
    """An ERR answer: ``code`` (400, 403, 404, 502, 503, 504) and the emulator's reason."""

    def __init__(self, code: int, reason: str, address: str | None = None) -> None:
        super().__init__(f"ERR {code}: {reason}" + (f" ({address})" if address else ""))
        self.code = code
        self.reason = reason
        self.address = address


@dataclass(frozen=True, slots=True)
class Endpoints:
    """What ``endpoints.json`` says: where the broker listens and where the keys are."""

    broker: str
    curve_server_key: bytes
    testbed: Path

    @classmethod
    def load(cls, path: str | Path) -> Endpoints:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                broker=str(data["broker"]),
                curve_server_key=str(data["broker_curve_key"]).encode("ascii"),
                testbed=Path(data["registry"]).parent,
            )
        except FileNotFoundError:
            raise InputError(f"{path}: no such file", field="endpoints", value=str(path)) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f"{path}: not an emulator's endpoints.json ({exc})",
                field="endpoints",
                value=str(path),
            ) from None


@dataclass(frozen=True, slots=True)
class Request:
    """A verified request: who sent it (``src``), to which service, and its body."""

    src: str
    address: str
    service: str
    body: bytes
    header: Header
    message: Message


@dataclass(frozen=True, slots=True)
class Reply:
    """A verified answer, with the round trip the caller saw (wall seconds)."""

    src: str
    body: bytes
    header: Header
    rtt_s: float
    attempts: int


class _Peer:
    """One identity's socket, keys and end-to-end checks."""

    def __init__(self, endpoints: str | Path | Endpoints, identity: str) -> None:
        self.endpoints = (
            endpoints if isinstance(endpoints, Endpoints) else Endpoints.load(endpoints)
        )
        testbed = Testbed.open(self.endpoints.testbed, sites=[identity])
        self.credentials: Credentials = testbed.credentials[identity]
        self.identity = identity
        self.signer = self.credentials.signer()
        self.e2e = EndToEnd(testbed.registry, testbed.message_verifier())
        self.ctx: zmq.Context[Any] = zmq.Context()
        # one routing id for the life of this program: after a reconnection (the emulator's
        # transport went away and came back) the broker hands the id over to the new
        # connection, so its registrations and the answers on their way still find it
        self.routing_id = b"E" + os.urandom(15)
        self.sock: zmq.Socket[Any] = self._socket()
        self.rejected: dict[str, int] = self.e2e.rejected

    def _socket(self) -> zmq.Socket[Any]:
        s: zmq.Socket[Any] = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.ROUTING_ID, self.routing_id)
        s.setsockopt(zmq.CURVE_SERVERKEY, self.endpoints.curve_server_key)
        s.setsockopt(zmq.CURVE_PUBLICKEY, self.credentials.identity.curve_public)
        s.setsockopt(zmq.CURVE_SECRETKEY, self.credentials.curve_secret)
        s.setsockopt(zmq.HEARTBEAT_IVL, 1000)
        s.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3000)
        s.setsockopt(zmq.SNDHWM, 100_000)
        s.setsockopt(zmq.RCVHWM, 100_000)
        s.connect(self.endpoints.broker)
        return s

    def reconnect(self) -> None:
        self.sock.close(linger=0)
        self.sock = self._socket()

    def seal(self, command: Command, address: str, body: bytes = b"", **fields: Any) -> Message:
        return self.signer.seal(
            command, address, body, id=os.urandom(16), ts_ns=time.time_ns(), **fields
        )

    def send(self, message: Message) -> None:
        send_frames(self.sock, message.frames())

    def receive(self, timeout_s: float) -> Message | None:
        """The next well-formed message within ``timeout_s``; malformed ones are dropped."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left < 0 or not self.sock.poll(int(left * 1000) + 1):
                return None
            frames = recv_frames(self.sock)
            try:
                return decode(frames)
            except WireError as exc:
                self.rejected["malformed"] = self.rejected.get("malformed", 0) + 1
                log.warning("dropped a malformed message: %s", exc.reason)

    def check_error(self, message: Message) -> EmulatorError:
        """An ERR, checked: it must be the emulator's, signed by its key."""
        self.e2e.check(message, lambda address: address == self.identity)
        if message.header.src != EMULATOR:
            raise VerificationError("an ERR not from the emulator", reason="impersonation")
        h = message.header
        return EmulatorError(int(h.code or 0), h.reason or "", h.addr)

    def close(self) -> None:
        self.sock.close(linger=0)
        self.ctx.term()


Handler = Callable[[Request], bytes | tuple[bytes, int]]
"""A service's handler: the reply body, or ``(body, size)`` when the modelled size of the
answer is not the body's length."""


class Service:
    """A real LGWAN-ASP service: one handler per service name, at one site.

    ``handlers`` maps service names to handlers. :meth:`serve` registers them (READY),
    answers each verified request with a signed REP, sends heartbeats, and returns when
    :meth:`stop` is called (from another thread or a signal handler). Requests that fail
    the end-to-end check are not answered; :attr:`rejected` counts them by reason.
    """

    def __init__(
        self,
        endpoints: str | Path | Endpoints,
        site: str,
        handlers: Mapping[str, Handler],
        *,
        heartbeat_s: float = 1.0,
    ) -> None:
        if not handlers:
            raise InputError("a service needs at least one handler", field="handlers", value={})
        self.peer = _Peer(endpoints, site)
        self.site = site
        self.handlers = dict(handlers)
        self.heartbeat_s = heartbeat_s
        self.served = 0
        self.rejected = self.peer.rejected
        self._stop = threading.Event()
        self.ready = threading.Event()

    def register(self, timeout_s: float = 10.0) -> None:
        """Send READY for every service and wait for the emulator to acknowledge each."""
        peer = self.peer
        for name in self.handlers:
            ready = peer.seal(
                Command.READY, f"{self.site}/{name}", hb_ns=int(self.heartbeat_s * 1e9)
            )
            peer.send(ready)
            while True:
                answer = peer.receive(timeout_s)
                if answer is None:
                    raise TimeoutError(f"the emulator did not acknowledge READY for {name}")
                if answer.header.corr != ready.header.id:
                    continue
                if answer.command is Command.ERR:
                    raise peer.check_error(answer)
                if answer.command is Command.READY:
                    break
        self.ready.set()

    def _accepts(self, address: str) -> bool:
        site, _, name = address.partition("/")
        return name in self.handlers and bool(site)

    def serve(self) -> None:
        """Register, then answer requests until :meth:`stop`."""
        self.register()
        peer = self.peer
        last_sent = time.monotonic()
        while not self._stop.is_set():
            message = peer.receive(min(self.heartbeat_s, 0.2))
            now = time.monotonic()
            if now - last_sent >= self.heartbeat_s:
                peer.send(peer.seal(Command.HEARTBEAT, ""))
                last_sent = now
            if message is None or message.command is not Command.REQ:
                continue  # heartbeat answers, READY acknowledgements, BYE
            try:
                peer.e2e.check(message, self._accepts)
            except VerificationError as exc:
                log.info("refused a request from %r: %s", message.header.src, exc.reason)
                continue
            name = message.address.partition("/")[2]
            h = message.header
            request = Request(
                src=h.src,
                address=message.address,
                service=name,
                body=message.body,
                header=h,
                message=message,
            )
            out = self.handlers[name](request)
            body, size = out if isinstance(out, tuple) else (out, None)
            peer.send(peer.seal(Command.REP, h.src, body, corr=h.id, size_bytes=size))
            last_sent = time.monotonic()
            self.served += 1

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        with contextlib.suppress(zmq.ZMQError):
            self.peer.send(self.peer.seal(Command.BYE, ""))
        self.peer.close()


class Client:
    """A real program acting as a local body (``identity``, a site id of the topology).

    :meth:`request` is the lazy pirate: send, wait ``timeout_s``, and after a timeout
    reconnect and send again with a new id, ``retries`` times in all; an ERR raises
    :class:`EmulatorError`; a reply that fails the end-to-end check is dropped (it counts
    in :attr:`rejected`) and the wait goes on.
    """

    def __init__(
        self,
        endpoints: str | Path | Endpoints,
        identity: str,
        *,
        timeout_s: float = 2.5,
        retries: int = 3,
    ) -> None:
        self.peer = _Peer(endpoints, identity)
        self.identity = identity
        self.timeout_s = timeout_s
        self.retries = retries
        self.rejected = self.peer.rejected

    def request(
        self,
        address: str,
        body: bytes = b"",
        *,
        size: int | None = None,
        ttl_s: float = 30.0,
        timeout_s: float | None = None,
    ) -> Reply:
        """Send a signed REQ to ``address`` (``site/service``) and return its verified REP."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        peer = self.peer
        for attempt in range(1, self.retries + 1):
            req = peer.seal(
                Command.REQ,
                address,
                body,
                ttl_ns=int(ttl_s * 1e9),
                size_bytes=size,
                ct="application/octet-stream",
            )
            began = time.monotonic()
            peer.send(req)
            deadline = began + timeout
            while True:
                answer = peer.receive(max(0.0, deadline - time.monotonic()))
                if answer is None:
                    break
                if answer.header.corr != req.header.id:
                    continue  # a late answer to an earlier attempt
                if answer.command is Command.ERR:
                    raise peer.check_error(answer)
                if answer.command is not Command.REP:
                    continue
                try:
                    peer.e2e.check(answer, lambda a: a == self.identity)
                except VerificationError as exc:
                    log.info("refused a reply from %r: %s", answer.header.src, exc.reason)
                    continue
                return Reply(
                    src=answer.header.src,
                    body=answer.body,
                    header=answer.header,
                    rtt_s=time.monotonic() - began,
                    attempts=attempt,
                )
            log.info("no reply from %s in %.3f s (attempt %d)", address, timeout, attempt)
            peer.reconnect()
        raise TimeoutError(f"no reply from {address} after {self.retries} attempts")

    def close(self) -> None:
        self.peer.close()
