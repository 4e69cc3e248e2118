"""The one timeline cursor: scheduled events and pending routing convergences, in order.

Every fidelity pumps its timeline through a :class:`TimelineCursor`. It holds the events
still to come and the routing convergences that earlier failures and restorations started,
ordered by time and, at equal times, by the order in which they were scheduled: the
timeline's own events are all scheduled at the start, so they come before a convergence
that falls on the same instant; an event applied from outside (``Engine.apply``) is
scheduled when it is applied.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass

from lgwan_sim.engine._results import AppliedEvent
from lgwan_sim.engine._state import Change
from lgwan_sim.engine._types import TimelineEvent
from lgwan_sim.errors import InputError

__all__ = [
    "Convergence",
    "TimelineCursor",
    "applied",
    "check_advance",
    "check_not_before",
    "converged",
]


def check_advance(now_s: float, t_s: float) -> None:
    """An engine advances forward only: ``t_s`` must not be before ``now_s``."""
    if not t_s >= now_s:
        raise InputError(
            f"cannot advance to a time before now ({now_s!r}s)", field="t_s", value=t_s
        )


def check_not_before(now_s: float, at_s: object, field: str) -> None:
    """Something scheduled from outside happens now or later, at a finite time."""
    if not (isinstance(at_s, int | float) and math.isfinite(at_s) and at_s >= now_s):
        raise InputError(f"must be finite and not before now ({now_s!r}s)", field=field, value=at_s)


@dataclass(frozen=True, slots=True)
class Convergence:
    """Routing after ``source`` takes effect: ``change.converge()`` is still to be called."""

    source: TimelineEvent
    change: Change

    def run(self) -> int:
        """Update routing now; returns the routing trees recomputed."""
        assert self.change.converge is not None
        return self.change.converge()


def converged(
    at_s: float, item: Convergence, recomputed: int, *, lost: int = 0, rerouted: int = 0
) -> AppliedEvent:
    """The log entry of ``item``'s convergence at ``at_s`` (``recomputed``: from ``run``).

    ``lost``/``rerouted`` are the exchanges that the fidelity's reaction to the new routing
    killed or moved (flow and packet fidelities).
    """
    return AppliedEvent(
        at_s=at_s,
        kind="converged",
        note=f"routing after {item.source.kind} at {item.source.at_s:g}s",
        links=item.change.links,
        sites=item.change.sites,
        routes_recomputed=recomputed,
        messages_lost=lost,
        messages_rerouted=rerouted,
    )


def applied(
    at_s: float, event: TimelineEvent, change: Change, *, lost: int = 0, rerouted: int = 0
) -> AppliedEvent:
    """The log entry of ``event`` applied at ``at_s`` with the effect ``change``."""
    return AppliedEvent(
        at_s=at_s,
        kind=str(event.kind),
        note=event.note,
        links=change.links,
        sites=change.sites,
        service=event.service,
        messages_lost=lost,
        messages_rerouted=rerouted,
    )


class TimelineCursor:
    """Timeline events and convergences due, earliest first (ties: first scheduled first)."""

    __slots__ = ("_heap", "_seq", "end_s")

    def __init__(self, events: Iterable[TimelineEvent], end_s: float) -> None:
        self.end_s = end_s
        self._heap: list[tuple[float, int, TimelineEvent | Convergence]] = []
        self._seq = 0
        for event in events:
            self.schedule(event.at_s, event)

    def schedule(self, at_s: float, item: TimelineEvent | Convergence) -> None:
        """Add ``item`` at ``at_s``.

        A timeline event at or after the end is never applied. A convergence is kept
        whenever it falls: a drained run goes on past the end and routing still converges.
        """
        if at_s < self.end_s or isinstance(item, Convergence):
            heapq.heappush(self._heap, (at_s, self._seq, item))
            self._seq += 1

    def converge_later(
        self, at_s: float, event: TimelineEvent, change: Change, delay_s: float
    ) -> None:
        """Schedule routing's convergence ``delay_s`` after an event that changed it."""
        if change.converge is not None:
            self.schedule(at_s + delay_s, Convergence(event, change))

    def follow(self, change: Change) -> None:
        """Schedule the events ``change`` started; forget the pending ones of its ``cancel``."""
        if change.cancel:
            hold = change.cancel
            self._heap = [
                entry
                for entry in self._heap
                if not (isinstance(entry[2], TimelineEvent) and entry[2].hold == hold)
            ]
            heapq.heapify(self._heap)
        for event in change.schedule:
            self.schedule(event.at_s, event)

    def peek(self) -> float:
        """The time of the next item, ``math.inf`` when none is left."""
        return self._heap[0][0] if self._heap else math.inf

    def pop(self) -> tuple[float, TimelineEvent | Convergence]:
        """Take the next item and its time."""
        at, _, item = heapq.heappop(self._heap)
        return at, item

    def __len__(self) -> int:
        return len(self._heap)
