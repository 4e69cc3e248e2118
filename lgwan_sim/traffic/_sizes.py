"""Message-size distributions."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from lgwan_sim.errors import InputError

__all__ = ["SizeDist", "SizeKind"]

_Sampler = Callable[[], float]


class SizeKind(StrEnum):
    """The family of a :class:`SizeDist`."""

    FIXED = "fixed"
    EXPONENTIAL = "exponential"
    LOGNORMAL = "lognormal"
    EMPIRICAL = "empirical"


@dataclass(frozen=True, slots=True, kw_only=True)
class SizeDist:
    """A distribution of message sizes in bytes.

    Build one with :meth:`fixed`, :meth:`exponential`, :meth:`lognormal` or :meth:`empirical`.
    ``mean_bytes`` is the mean for every kind; ``sigma`` is the standard deviation of the
    underlying normal for ``lognormal``; ``values_bytes`` are the equally likely sizes of an
    ``empirical`` distribution (e.g. sizes observed in a trace).
    """

    kind: SizeKind
    mean_bytes: float
    sigma: float = 0.0
    values_bytes: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.kind, SizeKind):
            raise InputError("unknown size distribution", field="kind", value=self.kind)
        if self.kind is SizeKind.EMPIRICAL:
            if not self.values_bytes:
                raise InputError("an empirical size distribution needs values", field="values")
            if any(not math.isfinite(v) or v < 0 for v in self.values_bytes):
                raise InputError(
                    "sizes must be finite and >= 0", field="values", value=self.values_bytes
                )
            mean = math.fsum(self.values_bytes) / len(self.values_bytes)
            if not math.isclose(mean, self.mean_bytes, rel_tol=1e-9, abs_tol=1e-9):
                raise InputError(
                    "mean_bytes must be the mean of values_bytes (use SizeDist.empirical)",
                    field="mean_bytes",
                    value=self.mean_bytes,
                )
        if not math.isfinite(self.mean_bytes) or self.mean_bytes < 0:
            raise InputError(
                "mean_bytes must be finite and >= 0", field="mean_bytes", value=self.mean_bytes
            )
        if self.kind in (SizeKind.EXPONENTIAL, SizeKind.LOGNORMAL) and self.mean_bytes <= 0:
            raise InputError(
                f"a {self.kind} size needs mean_bytes > 0",
                field="mean_bytes",
                value=self.mean_bytes,
            )
        if self.kind is SizeKind.LOGNORMAL and not (math.isfinite(self.sigma) and self.sigma > 0):
            raise InputError("lognormal sigma must be > 0", field="sigma", value=self.sigma)

    # -- constructors -----------------------------------------------------------------------
    @classmethod
    def fixed(cls, size_bytes: float) -> SizeDist:
        """Every message is ``size_bytes`` long."""
        return cls(kind=SizeKind.FIXED, mean_bytes=float(size_bytes))

    @classmethod
    def exponential(cls, mean_bytes: float) -> SizeDist:
        """Exponentially distributed sizes with the given mean."""
        return cls(kind=SizeKind.EXPONENTIAL, mean_bytes=float(mean_bytes))

    @classmethod
    def lognormal(cls, mean_bytes: float, sigma: float) -> SizeDist:
        """Log-normal sizes with the given *mean* (not median) and log-space ``sigma``."""
        return cls(kind=SizeKind.LOGNORMAL, mean_bytes=float(mean_bytes), sigma=float(sigma))

    @classmethod
    def empirical(cls, values_bytes: tuple[float, ...] | list[float]) -> SizeDist:
        """Sizes drawn uniformly from ``values_bytes``."""
        values = tuple(float(v) for v in values_bytes)
        mean = math.fsum(values) / len(values) if values else 0.0
        return cls(kind=SizeKind.EMPIRICAL, mean_bytes=mean, values_bytes=values)

    # -- sampling ---------------------------------------------------------------------------
    @property
    def second_moment_bytes2(self) -> float:
        """E[size**2], used by Pollaczek-Khinchine style delay estimates."""
        m = self.mean_bytes
        if self.kind is SizeKind.FIXED:
            return m * m
        if self.kind is SizeKind.EXPONENTIAL:
            return 2.0 * m * m
        if self.kind is SizeKind.LOGNORMAL:
            return m * m * math.exp(self.sigma * self.sigma)
        return math.fsum(v * v for v in self.values_bytes) / len(self.values_bytes)

    def sampler(self, rng: random.Random) -> _Sampler:
        """A fast zero-argument callable drawing sizes from ``rng``."""
        if self.kind is SizeKind.FIXED:
            value = self.mean_bytes
            return lambda: value
        if self.kind is SizeKind.EXPONENTIAL:
            lam = 1.0 / self.mean_bytes
            expo = rng.expovariate
            return lambda: expo(lam)
        if self.kind is SizeKind.LOGNORMAL:
            sigma = self.sigma
            mu = math.log(self.mean_bytes) - 0.5 * sigma * sigma
            lognorm = rng.lognormvariate
            return lambda: lognorm(mu, sigma)
        values = self.values_bytes
        n = len(values)
        rand = rng.random
        return lambda: values[int(rand() * n)]

    def sample(self, rng: random.Random) -> float:
        """One size in bytes."""
        return self.sampler(rng)()
