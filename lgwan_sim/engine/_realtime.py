"""Pace a steppable engine to the wall clock: real time changes only the pacing.

The shape is simpy's ``RealtimeEnvironment.step``: look at the time of the next thing that
will happen, wait until the wall clock reaches it, then advance exactly as simulated time
does. Anything with ``peek()`` and ``advance_to(t_s)`` can be driven, so the same engine runs
as fast as the CPU allows (planning) or at ``speed`` simulated seconds per wall second
(emulation, a trainer's drill).

Waiting blocks for whole milliseconds and spins the last one, because a blocking wait
(``time.sleep``, ``zmq.Poller.poll``) wakes up to a millisecond late on Linux, while a spin
is exact but burns a core. The spin yields the interpreter lock at every turn, so that a
thread beside the loop (a control API, a service in the same process) is not starved.
``wait`` is the blocking part: the emulator passes its poll loop there, so a message that
arrives while the driver waits is handled at once and the driver looks at ``peek()``
again. ``idle(remaining_s)``, when given, is offered each turn of the spin instead of the
yield: it may do a short piece of work that the caller would otherwise do later on its
critical path (the emulator makes signing nonces there) and returns whether it did.

A driver that has fallen behind the wall clock catches up in *turns*: with ``turn_s`` set,
one step advances at most as much simulated time as the last steps showed to take about
``turn_s`` of wall time, so the caller gets control back every few milliseconds (to answer
a control request, to read its sockets) however far behind it is. Cutting an advance in
two changes nothing simulated: ``advance_to(a)`` then ``advance_to(b)`` is ``advance_to(b)``.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from lgwan_sim.errors import InputError

__all__ = ["Lateness", "RealtimeDriver", "Reservoir", "Steppable"]


class Reservoir:
    """At most ``size`` samples of a stream, chosen uniformly (Vitter's algorithm R).

    Every sample is kept until ``size`` have come; after that each new one replaces a kept
    one with probability ``size / seen``, so memory stays bounded on a run of any length
    while the kept samples remain a uniform sample of all (percentiles from them are
    estimates once ``seen`` exceeds ``size``). The choice is seeded: one stream of values
    gives one set of samples.
    """

    def __init__(self, size: int = 100_000, *, seed: int = 0) -> None:
        self.size = size
        self.seen = 0
        self.samples: list[float] = []
        self._rng = random.Random(seed)
        self._max = -math.inf

    @property
    def max(self) -> float:
        """The largest value seen (kept or not)."""
        return self._max

    def add(self, value: float) -> None:
        self.seen += 1
        if value > self._max:
            self._max = value
        if len(self.samples) < self.size:
            self.samples.append(value)
            return
        j = self._rng.randrange(self.seen)
        if j < self.size:
            self.samples[j] = value


class Steppable(Protocol):
    """What the driver steps: an engine, or anything with the same two methods."""

    def peek(self) -> float:
        """Simulated time of the next thing that will happen (``math.inf`` when nothing will)."""
        ...

    def advance_to(self, t_s: float) -> None:
        """Process everything due before ``t_s``; simulated time is then ``t_s``."""
        ...


@dataclass(frozen=True, slots=True)
class Lateness:
    """How late, in wall seconds, the driver started the steps it made.

    A step is late by the wall time between the moment its first event was due and the
    moment ``advance_to`` was called for it. Percentiles are nearest rank over every step.
    """

    steps: int
    p50_s: float
    p99_s: float
    max_s: float

    @classmethod
    def of(
        cls, samples_s: list[float], *, steps: int | None = None, max_s: float | None = None
    ) -> Lateness:
        """Nearest-rank percentiles of ``samples_s``; ``steps`` and ``max_s`` are those of
        every step made when the samples are a reservoir of them."""
        if not samples_s:
            return cls(steps=steps or 0, p50_s=0.0, p99_s=0.0, max_s=0.0)
        ordered = sorted(samples_s)
        n = len(ordered)

        def rank(p: float) -> float:
            return ordered[max(1, math.ceil(p / 100.0 * n - 1e-9)) - 1]

        return cls(
            steps=n if steps is None else steps,
            p50_s=rank(50.0),
            p99_s=rank(99.0),
            max_s=ordered[-1] if max_s is None else max_s,
        )


class RealtimeDriver:
    """Advance ``engine`` so that simulated time keeps pace with the wall clock.

    ``speed`` is simulated seconds per wall second (1 is real time, 60 a minute a second);
    ``math.inf`` advances without waiting. The simulated time ``start_s`` (the engine's
    current time) is pinned to the wall clock when the driver is made or :meth:`sync` is
    called. ``clock`` returns wall seconds and ``wait(seconds)`` blocks for at most that
    long (it may return early, for example when a socket has input); both are injected so
    that the pacing logic can be tested without the wall clock. ``idle(remaining_s)`` is
    offered each turn of the spin (see the module's description).
    """

    def __init__(
        self,
        engine: Steppable,
        *,
        speed: float = 1.0,
        start_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], object] = time.sleep,
        spin_s: float = 0.001,
        turn_s: float | None = None,
        idle: Callable[[float], bool] | None = None,
    ) -> None:
        if not (isinstance(speed, int | float) and speed > 0) or math.isnan(speed):
            raise InputError(
                "speed must be > 0 (math.inf for as fast as possible)", field="speed", value=speed
            )
        if not (math.isfinite(spin_s) and spin_s >= 0):
            raise InputError("spin_s must be finite and >= 0", field="spin_s", value=spin_s)
        if turn_s is not None and not (math.isfinite(turn_s) and turn_s > 0):
            raise InputError("turn_s must be finite and > 0", field="turn_s", value=turn_s)
        self.engine = engine
        self.speed = float(speed)
        self.spin_s = spin_s
        self._clock = clock
        self._wait = wait
        self._idle = idle
        self._samples = Reservoir()
        self.turn_s = turn_s
        # simulated seconds one step may cover (with turn_s): one turn's worth at first,
        # then whatever the last step showed to take about turn_s of wall time
        self._slice = math.inf if turn_s is None else turn_s * self.speed
        self.turns_cut = 0
        """Steps whose advance was cut short to keep to ``turn_s``."""
        self.now_s = start_s
        self.sync()

    def sync(self) -> None:
        """Pin the current simulated time to the wall clock now (after a pause, say)."""
        self._wall0 = self._clock()
        self._sim0 = self.now_s

    def wall_of(self, t_s: float) -> float:
        """The wall-clock reading at which simulated time ``t_s`` is due."""
        return self._wall0 + (t_s - self._sim0) / self.speed

    def sim_now(self) -> float:
        """The simulated time that the wall clock stands at now (never before ``now_s``)."""
        if self.speed == math.inf:
            return self.now_s
        return max(self.now_s, self._sim0 + (self._clock() - self._wall0) * self.speed)

    def _wait_until(self, wall: float) -> float:
        """Block for whole milliseconds, spin the last one; returns the clock reading."""
        clock = self._clock
        now = clock()
        while wall - now > self.spin_s:
            self._wait(wall - now - self.spin_s)
            now = clock()
        idle = self._idle
        while now < wall:
            if idle is None or not idle(wall - now):
                time.sleep(0)  # let other threads (a control API, a service) take the GIL
            now = clock()
        return now

    def step(self, until_s: float = math.inf) -> bool:
        """Wait for the next thing due (or ``until_s``), then advance to the wall clock.

        Returns False once simulated time has reached ``until_s``. A ``wait`` that returns
        early makes one pass without advancing past the wall clock, so the caller can hand
        the engine what arrived (``inject``, ``respond``) and step again.
        """
        if self.now_s >= until_s:
            return False
        due = min(self.engine.peek(), until_s)
        if self.speed == math.inf:
            target = min(until_s, math.nextafter(due, math.inf))
            self.engine.advance_to(target)
            self.now_s = target
            return target < until_s
        if due == math.inf:
            raise InputError(
                "nothing is scheduled and no end was given: the driver would wait forever",
                field="until_s",
                value=until_s,
            )
        wall_due = self.wall_of(due)
        now = self._clock()
        if now < wall_due:
            # wait in one blocking call; come back early when the caller's wait returns early
            if wall_due - now > self.spin_s:
                self._wait(wall_due - now - self.spin_s)
                now = self._clock()
                if now < wall_due - self.spin_s:
                    return True
            now = self._wait_until(wall_due)
        late = now - wall_due
        target = self._sim0 + (now - self._wall0) * self.speed
        target = min(until_s, max(target, math.nextafter(due, math.inf)))
        if due < until_s:
            self._samples.add(late)
        if self.turn_s is None:
            self.engine.advance_to(target)
        else:
            target = self._advance_in_turn(due, target)
        self.now_s = target
        return target < until_s

    def _advance_in_turn(self, due: float, target: float) -> float:
        """Advance towards ``target`` by at most one turn's slice; returns where it stopped."""
        turn = self.turn_s
        assert turn is not None
        cut = max(math.nextafter(due, math.inf), due + self._slice)
        if cut < target:
            target = cut
            self.turns_cut += 1
        began = self._clock()
        self.engine.advance_to(target)
        took = self._clock() - began
        covered = target - due
        if took > turn:
            # too long: next time cover what would have taken one turn at this pace
            self._slice = max(covered * turn / took, 1e-9)
        elif took < turn / 2 and self._slice < 1e12:
            self._slice *= 2.0
        return target

    def run(self, until_s: float) -> Lateness:
        """Step until simulated time ``until_s``; returns the lateness of the steps."""
        while self.step(until_s):
            pass
        return self.lateness()

    def lateness(self) -> Lateness:
        """The lateness of every step made so far."""
        r = self._samples
        return Lateness.of(r.samples, steps=r.seen, max_s=r.max if r.seen else None)
