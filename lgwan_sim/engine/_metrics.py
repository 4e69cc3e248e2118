"""Streaming statistics: log-bucketed latency histograms and per-service counters."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["LatencyHistogram", "ServiceStats"]

#: Bucket ratio. A value is reported as the geometric middle of its bucket, so a percentile
#: is within sqrt(1.019) - 1 = 0.94 % of the exact sample percentile (nearest rank).
BUCKET_RATIO = 1.019
_LOG_R = math.log(BUCKET_RATIO)
LOG_BUCKET_RATIO = _LOG_R
_INV_LOG_R = 1.0 / _LOG_R
#: Values below this (100 ns) fall in a "zero" bucket and are reported as 0.
MIN_VALUE_S = 1e-7
_LOG_MIN = math.log(MIN_VALUE_S)
_ZERO = -1


def bucket_of(value_s: float) -> int:
    """The bucket index of a latency (``-1`` for values below ``MIN_VALUE_S``)."""
    if value_s < MIN_VALUE_S:
        return _ZERO
    return int((math.log(value_s) - _LOG_MIN) * _INV_LOG_R)


def bucket_indices(values_s: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Vectorised :func:`bucket_of`."""
    pos = values_s >= MIN_VALUE_S
    if pos.all():
        # every value above the zero bucket (a run's latencies, as a rule): the same
        # operations on the same values in the same order as below, without the gather and
        # the scatter through the mask
        flat = np.ascontiguousarray(values_s, dtype=np.float64).reshape(-1)
        whole = ((np.log(flat) - _LOG_MIN) * _INV_LOG_R).astype(np.int64)
        return whole.reshape(values_s.shape)
    idx = np.full(values_s.shape, _ZERO, dtype=np.int64)
    idx[pos] = ((np.log(values_s[pos]) - _LOG_MIN) * _INV_LOG_R).astype(np.int64)
    return idx


def bucket_value(index: int) -> float:
    """The representative value (geometric middle) of a bucket."""
    if index == _ZERO:
        return 0.0
    return MIN_VALUE_S * math.exp((index + 0.5) * _LOG_R)


class LatencyHistogram:
    """A streaming latency histogram with logarithmic buckets (no per-message storage).

    ``percentile(p)`` is within 1 % relative error of the exact nearest-rank percentile of
    the values added; ``mean`` is exact (a running sum). Counts may be fractional when the
    analytic fidelity adds expected numbers of messages.
    """

    __slots__ = ("buckets", "count", "total_s")

    def __init__(self) -> None:
        self.buckets: dict[int, float] = {}
        self.count: float = 0
        self.total_s = 0.0

    def add(self, value_s: float, weight: float = 1) -> None:
        """Record one latency (or ``weight`` messages with that latency)."""
        b = _ZERO if value_s < MIN_VALUE_S else int((math.log(value_s) - _LOG_MIN) * _INV_LOG_R)
        buckets = self.buckets
        buckets[b] = buckets.get(b, 0) + weight
        self.count += weight
        self.total_s += value_s * weight

    def add_many(self, values_s: npt.NDArray[np.float64], weights: npt.NDArray[np.float64]) -> None:
        """Record many latencies at once, each with its weight (vectorised)."""
        values_s, weights = np.broadcast_arrays(
            np.asarray(values_s, dtype=float), np.asarray(weights, dtype=float)
        )
        values_s, weights = values_s.ravel(), weights.ravel()
        keep = weights > 0
        values_s, weights = values_s[keep], weights[keep]
        if values_s.size == 0:
            return
        idx = bucket_indices(values_s)
        lo = int(idx.min())
        sums = np.bincount(idx - lo, weights=weights)
        buckets = self.buckets
        for off in np.flatnonzero(sums).tolist():
            b = off + lo
            buckets[b] = buckets.get(b, 0) + float(sums[off])
        self.count += float(weights.sum())
        # np.sum, not np.dot: BLAS may round differently by thread count
        self.total_s += float((values_s * weights).sum())

    def merge(self, other: LatencyHistogram) -> None:
        for b, w in other.buckets.items():
            self.buckets[b] = self.buckets.get(b, 0) + w
        self.count += other.count
        self.total_s += other.total_s

    @property
    def mean(self) -> float:
        """Mean latency in seconds (``nan`` when empty)."""
        return self.total_s / self.count if self.count else math.nan

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile (0 < p <= 100) in seconds, ``nan`` when empty."""
        if not 0 < p <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {p!r}")
        if not self.count:
            return math.nan
        if isinstance(self.count, int):
            rank: float = max(1, math.ceil(p / 100.0 * self.count - 1e-9))
        else:
            rank = p / 100.0 * self.count * (1 - 1e-12)
        cum: float = 0
        keys = sorted(self.buckets)
        for b in keys:
            cum += self.buckets[b]
            if cum >= rank:
                return bucket_value(b)
        return bucket_value(keys[-1])

    def to_dict(self) -> dict[str, float]:
        if not self.count:
            return {"count": 0}
        return {
            "count": self.count,
            "mean_s": self.mean,
            "p50_s": self.percentile(50),
            "p95_s": self.percentile(95),
            "p99_s": self.percentile(99),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceStats:
    """What happened to one service's exchanges (a request and, unless one-way, its response).

    ``offered == delivered + sum(dropped.values()) + in_flight`` holds exactly.
    """

    name: str
    offered: int
    delivered: int
    dropped: Mapping[str, int]
    in_flight: int
    latency: LatencyHistogram = field(compare=False)
    slo_breaches: int

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    @property
    def balanced(self) -> bool:
        """True when every offered exchange is accounted for."""
        return self.offered == self.delivered + self.dropped_total + self.in_flight

    def to_dict(self) -> dict[str, object]:
        return {
            "offered": self.offered,
            "delivered": self.delivered,
            "dropped": dict(sorted(self.dropped.items())),
            "in_flight": self.in_flight,
            "slo_breaches": self.slo_breaches,
            "latency": self.latency.to_dict(),
        }
