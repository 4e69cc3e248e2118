"""The engine's seam: endpoints that stand in for a site's program, and observers.

An :class:`Endpoint` is a real program at a site (an engineer's LGWAN-ASP service, or a
client acting as a municipality) or a test's stand-in for one. When a message's leg reaches
a site that has an endpoint, the engine hands the message over instead of simulating the
service there; the endpoint answers through ``Engine.respond`` whenever it likes, or at
once by returning a :class:`Reply` (which is what :class:`FakeEndpoint` does, the way
httpx's ``MockTransport`` wraps a handler).

An :class:`Observer` sees the run as it happens: every applied event, every closed time
bin and every dropped message with its reason. The methods of the base class do nothing,
so an observer overrides only what it needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from lgwan_sim.engine._results import AppliedEvent
from lgwan_sim.engine._types import DropReason

__all__ = [
    "SIMULATE",
    "BinRecord",
    "DropRecord",
    "Endpoint",
    "FakeEndpoint",
    "Message",
    "Observer",
    "Observers",
    "ProgressObserver",
    "Reply",
]

Leg = Literal["request", "response"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """A message handed to an endpoint: one leg of one exchange.

    ``id`` names the exchange for ``Engine.respond`` (the request and its response share
    it). ``sent_at_s`` is when the exchange entered the network at ``caller``; ``size_bytes``
    the size of this leg, where the engine knows it (``None`` for a simulated request
    whose size only the fidelity sampled).
    """

    id: int
    service: str
    caller: str
    host: str
    leg: Leg
    sent_at_s: float
    size_bytes: float | None = None

    @property
    def site(self) -> str:
        """The site this leg arrived at: the host for a request, the caller for a response."""
        return self.host if self.leg == "request" else self.caller


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer given at once: ``size_bytes`` leave the host ``after_s`` seconds later."""

    size_bytes: float
    after_s: float = 0.0


class _Simulate:
    """The type of :data:`SIMULATE`."""

    _instance: _Simulate | None = None

    def __new__(cls) -> _Simulate:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "SIMULATE"


SIMULATE = _Simulate()
"""What an endpoint returns for a message it does not take: the engine then simulates the
site as it would without an endpoint (the service answers after its service time, a
response is delivered). The emulator's endpoints return it for the services that no real
program serves at their site."""


class Endpoint(Protocol):
    """A program at a site. ``receive`` is called at the simulated time the leg arrives.

    An endpoint may also have ``departing(message, at_s)``: the engine then calls it when a
    leg toward the site leaves (``at_s``, the simulated time), with the ``id`` that
    ``receive`` will carry, so that the program can prepare it (the emulator signs a
    simulated body's request then). The leg may still be lost on its way.
    """

    def receive(self, message: Message, at_s: float) -> Reply | _Simulate | None:
        """Take a message; return a :class:`Reply` to answer now, ``None`` to answer later
        (``Engine.respond``), or :data:`SIMULATE` to leave it to the engine."""
        ...


class FakeEndpoint:
    """An endpoint made of a handler, for tests and for simulated programs.

    ``handler(message, at_s)`` returns a :class:`Reply` (or ``None`` to stay silent); every
    message received is kept in ``received`` with its arrival time.
    """

    def __init__(self, handler: Callable[[Message, float], Reply | _Simulate | None]) -> None:
        self.handler = handler
        self.received: list[tuple[Message, float]] = []

    def receive(self, message: Message, at_s: float) -> Reply | _Simulate | None:
        self.received.append((message, at_s))
        return self.handler(message, at_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class BinRecord:
    """One closed time bin: ``[start_s, end_s)``.

    ``utilisation[i]`` is the mean utilisation of directed link ``link_ids[i]`` of the run
    in the bin; ``unreachable`` the largest number of local bodies cut off from a service
    during it; ``offered``, ``delivered`` and ``dropped`` count exchanges per service (the
    event fidelities count whole messages; the analytic one gives expected numbers).
    """

    index: int
    start_s: float
    end_s: float
    utilisation: npt.NDArray[np.float64]
    unreachable: int
    offered: Mapping[str, float]
    delivered: Mapping[str, float]
    dropped: Mapping[str, Mapping[str, float]]


@dataclass(frozen=True, slots=True, kw_only=True)
class DropRecord:
    """A message lost at ``at_s`` for ``reason`` (a drop reason of ``docs/engine.md``).

    ``message_id`` is the exchange's id when the seam gave it one (it was injected, handed
    to an endpoint or announced to one by ``departing``), so that the program behind it can
    be told; ``None`` otherwise.
    """

    at_s: float
    service: str
    caller: str
    host: str
    reason: DropReason
    message_id: int | None = None


class Observer:
    """Sees a run as it happens; every method does nothing unless overridden."""

    def on_event(self, event: AppliedEvent) -> None:
        """An event was applied (a failure, a restoration, a convergence, a demand change)."""

    def on_bin(self, record: BinRecord) -> None:
        """A time bin closed."""

    def on_drop(self, record: DropRecord) -> None:
        """A message was dropped (flow and packet; the analytic fidelity counts drops per bin)."""


class Observers(Observer):
    """Several observers as one, called in the order given."""

    def __init__(self, *observers: Observer) -> None:
        self.observers = observers

    def on_event(self, event: AppliedEvent) -> None:
        for o in self.observers:
            o.on_event(event)

    def on_bin(self, record: BinRecord) -> None:
        for o in self.observers:
            o.on_bin(record)

    def on_drop(self, record: DropRecord) -> None:
        for o in self.observers:
            o.on_drop(record)


class ProgressObserver(Observer):
    """Calls ``progress(sim_now_s)`` as each bin closes."""

    def __init__(self, progress: Callable[[float], None]) -> None:
        self.progress = progress

    def on_bin(self, record: BinRecord) -> None:
        self.progress(record.end_s)
