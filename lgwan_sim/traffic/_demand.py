"""Demand: which sites call which services, how often, with what sizes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np
import numpy.typing as npt

from lgwan_sim.errors import InputError
from lgwan_sim.traffic._profile import Profile
from lgwan_sim.traffic._sizes import SizeDist

__all__ = ["Demand", "ServiceDemand", "TrafficMatrix", "traffic_matrix"]

Arrivals = Literal["poisson", "trace"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceDemand:
    """One service: its host, its callers and the exchanges they make.

    Every caller sends ``requests_per_day`` requests on an average day (the profile shapes
    them over the day, week and year). A request of ``request_size`` bytes goes from the
    caller to the host; after ``service_time_s`` at the host a response of ``response_size``
    bytes comes back, unless ``one_way`` (then the exchange ends when the request arrives).
    ``arrivals="trace"`` replays ``trace_s`` instead: the service's requests at those times
    (seconds after the start), the i-th from ``callers[i % len(callers)]``; profile and
    multipliers do not apply to a trace.
    """

    name: str
    primary: str
    callers: tuple[str, ...]
    requests_per_day: float
    request_size: SizeDist
    response_size: SizeDist
    secondary: str | None = None
    service_time_s: float = 0.0
    profile: Profile = field(default_factory=Profile.flat)
    slo_latency_s: float | None = None
    multiplier: float = 1.0
    arrivals: Arrivals = "poisson"
    trace_s: tuple[float, ...] = ()
    one_way: bool = False

    def __post_init__(self) -> None:
        where = f"service {self.name!r}"
        if not self.name:
            raise InputError("a service needs a name", field="name", value=self.name)
        if not self.callers:
            raise InputError("a service needs at least one caller", field=f"{where}.callers")
        if len(set(self.callers)) != len(self.callers):
            raise InputError("callers must be distinct", field=f"{where}.callers")
        for name, value in (
            ("requests_per_day", self.requests_per_day),
            ("service_time_s", self.service_time_s),
            ("multiplier", self.multiplier),
        ):
            if not math.isfinite(value) or value < 0:
                raise InputError(
                    f"{name} must be finite and >= 0", field=f"{where}.{name}", value=value
                )
        if self.slo_latency_s is not None and not self.slo_latency_s > 0:
            raise InputError(
                "slo_latency_s must be > 0",
                field=f"{where}.slo_latency_s",
                value=self.slo_latency_s,
            )
        if self.arrivals not in ("poisson", "trace"):
            raise InputError(
                "arrivals must be 'poisson' or 'trace'",
                field=f"{where}.arrivals",
                value=self.arrivals,
            )
        if self.arrivals == "trace":
            if any(not math.isfinite(t) or t < 0 for t in self.trace_s):
                raise InputError("trace times must be >= 0", field=f"{where}.trace_s")
            if list(self.trace_s) != sorted(self.trace_s):
                raise InputError("trace times must be sorted", field=f"{where}.trace_s")
        if self.secondary is not None and self.secondary == self.primary:
            raise InputError(
                "secondary must differ from primary",
                field=f"{where}.secondary",
                value=self.secondary,
            )

    @property
    def mean_rate_per_caller_s(self) -> float:
        """Requests per second per caller on an average day (factor 1, multiplier included)."""
        return self.requests_per_day / 86400.0 * self.multiplier


@dataclass(frozen=True, slots=True, kw_only=True)
class Demand:
    """All services of a run. ``start`` (timezone-aware) is simulated time 0."""

    services: tuple[ServiceDemand, ...]
    start: datetime
    multiplier: float = 1.0

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise InputError("demand start must be timezone-aware", field="start", value=self.start)
        names = [s.name for s in self.services]
        if len(set(names)) != len(names):
            raise InputError("service names must be unique", field="services", value=names)
        if not math.isfinite(self.multiplier) or self.multiplier < 0:
            raise InputError(
                "multiplier must be finite and >= 0", field="multiplier", value=self.multiplier
            )

    def service(self, name: str) -> ServiceDemand:
        for s in self.services:
            if s.name == name:
                return s
        from lgwan_sim._suggest import did_you_mean

        near = did_you_mean(name, [s.name for s in self.services])
        raise InputError(
            f"unknown service ({near})" if near else "unknown service", field="service", value=name
        )

    def requests_per_caller(self, service: ServiceDemand, t0_s: float, t1_s: float) -> float:
        """Expected requests of one caller of ``service`` in simulated ``[t0_s, t1_s)``."""
        if service.arrivals == "trace":
            n = sum(1 for t in service.trace_s if t0_s <= t < t1_s)
            return n / len(service.callers)
        epoch0 = self.start.timestamp()
        integral = service.profile.integral_epoch(epoch0 + t0_s, epoch0 + t1_s)
        return service.mean_rate_per_caller_s * self.multiplier * integral


@dataclass(frozen=True, slots=True, kw_only=True)
class TrafficMatrix:
    """Per-bin offered traffic: ``requests[b, s]`` per caller of service ``s`` in bin ``b``.

    Every caller of a service has the same rate, so a bin's origin-destination matrix is
    ``requests[b, s]`` for each (caller, host) pair of service ``s``, plus the responses.
    """

    services: tuple[str, ...]
    bin_s: float
    requests: npt.NDArray[np.float64]

    def bytes_per_s(self, demand: Demand) -> npt.NDArray[np.float64]:
        """Mean request+response bytes per second per caller, ``[bin, service]``."""
        sizes = np.array(
            [
                s.request_size.mean_bytes + (0.0 if s.one_way else s.response_size.mean_bytes)
                for s in demand.services
            ]
        )
        out: npt.NDArray[np.float64] = self.requests * sizes / self.bin_s
        return out

    def od_pairs(self, demand: Demand, bin_index: int) -> dict[tuple[str, str], float]:
        """Request+response bytes per second between site pairs in one bin (no failover)."""
        out: dict[tuple[str, str], float] = {}
        for k, svc in enumerate(demand.services):
            req = self.requests[bin_index, k] / self.bin_s
            for caller in svc.callers:
                fwd = (caller, svc.primary)
                out[fwd] = out.get(fwd, 0.0) + req * svc.request_size.mean_bytes
                if not svc.one_way:
                    back = (svc.primary, caller)
                    out[back] = out.get(back, 0.0) + req * svc.response_size.mean_bytes
        return out


def traffic_matrix(demand: Demand, *, bin_s: float, n_bins: int) -> TrafficMatrix:
    """Expected requests per caller for every service and every bin of ``bin_s`` seconds."""
    if not bin_s > 0 or n_bins < 1:
        raise InputError("need bin_s > 0 and n_bins >= 1", field="bin_s", value=(bin_s, n_bins))
    req = np.zeros((n_bins, len(demand.services)))
    for k, svc in enumerate(demand.services):
        for b in range(n_bins):
            req[b, k] = demand.requests_per_caller(svc, b * bin_s, (b + 1) * bin_s)
    return TrafficMatrix(services=tuple(s.name for s in demand.services), bin_s=bin_s, requests=req)
