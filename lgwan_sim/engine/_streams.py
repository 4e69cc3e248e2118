"""Arrival streams: one per service, the superposition of its callers' requests.

Every caller of a service has the same rate, so the service's requests form one Poisson
process with ``len(callers)`` times the rate, each request from a caller drawn uniformly.
The rate is piecewise constant (the profile changes on the hour and at window edges; the
timeline changes multipliers), and arrivals are drawn exactly by inverting the integrated
rate: an Exp(1) draw is spent across segments until it runs out.
"""

from __future__ import annotations

import math
import random

from lgwan_sim.engine._state import NetState
from lgwan_sim.traffic import ServiceDemand

__all__ = ["ArrivalStream"]


class ArrivalStream:
    """Next-arrival times and callers of one service."""

    __slots__ = (
        "_base",
        "_epoch0",
        "_expo",
        "_n",
        "_picked",
        "_rand",
        "_seg_end",
        "_seg_rate",
        "_trace_i",
        "callers",
        "gen",
        "index",
        "name",
        "service",
        "state",
        "t_end",
    )

    def __init__(
        self,
        service: ServiceDemand,
        index: int,
        state: NetState,
        rng: random.Random,
        t_end: float,
    ) -> None:
        self.service = service
        self.name = service.name
        self.index = index
        self.state = state
        self.callers = service.callers
        self._n = len(service.callers)
        self._rand = rng.random
        self._expo = rng.expovariate
        self._epoch0 = state.demand.start.timestamp()
        self._base = service.mean_rate_per_caller_s * state.demand.multiplier * len(service.callers)
        self.t_end = t_end
        self._seg_end = -math.inf
        self._seg_rate = 0.0
        self._trace_i = 0  # index of the next trace arrival to schedule
        self._picked = 0
        self.gen = 0

    def reset(self) -> None:
        """Forget the cached rate segment (the multiplier changed)."""
        self._seg_end = -math.inf
        self.gen += 1
        if self.service.arrivals == "trace" and self._trace_i > 0:
            self._trace_i -= 1  # the pending arrival is discarded; schedule it again

    def _segment(self, t: float) -> None:
        profile = self.service.profile
        epoch = self._epoch0 + t
        self._seg_rate = (
            self._base * self.state.multiplier(self.name) * profile.factor_at_epoch(epoch)
        )
        end = profile.next_change_epoch(epoch) - self._epoch0
        if end <= t:  # guard against rounding at an hour boundary
            end = t + 1e-6
        self._seg_end = min(end, self.t_end)

    def next_after(self, t: float) -> float | None:
        """The next arrival time after ``t`` (``None`` when there is none before the end)."""
        if self.service.arrivals == "trace":
            trace = self.service.trace_s
            i = self._trace_i
            while i < len(trace) and trace[i] < t:
                i += 1
            if i < len(trace) and trace[i] < self.t_end:
                self._trace_i = i + 1
                return trace[i]
            self._trace_i = i
            return None
        e = self._expo(1.0)
        while True:
            if t >= self._seg_end:
                if t >= self.t_end:
                    return None
                self._segment(t)
            rate = self._seg_rate
            end = self._seg_end
            if rate > 0.0:
                dt = e / rate
                if t + dt < end:
                    return t + dt
                e -= rate * (end - t)
            t = end
            if t >= self.t_end:
                return None

    def first(self) -> float | None:
        """The first arrival (a trace may have one exactly at 0)."""
        return self.next_after(0.0)

    def pick_caller(self) -> str:
        """The caller of the next request (uniform; for a trace, round-robin)."""
        if self.service.arrivals == "trace":
            caller = self.callers[self._picked % self._n]
            self._picked += 1
            return caller
        return self.callers[int(self._rand() * self._n)]
