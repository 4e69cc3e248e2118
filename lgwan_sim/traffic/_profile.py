"""Time profiles: how a service's request rate varies by hour, weekday and month."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from lgwan_sim.errors import InputError

__all__ = ["JST", "Profile"]

#: Japan Standard Time. Japan has no daylight saving time, so a fixed offset is exact.
JST = timezone(timedelta(hours=9), "JST")

_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


def _norm(name: str, weights: tuple[float, ...], n: int) -> tuple[float, ...]:
    if len(weights) != n:
        raise InputError(f"{name} needs {n} weights", field=name, value=len(weights))
    if any(not math.isfinite(w) or w < 0 for w in weights):
        raise InputError(f"{name} weights must be finite and >= 0", field=name, value=weights)
    mean = math.fsum(weights) / n
    if mean <= 0:
        raise InputError(f"{name} weights must not all be zero", field=name, value=weights)
    return tuple(w / mean for w in weights)


def _in_window_fraction(hour: int, window: tuple[float, float] | None) -> float:
    """The fraction of clock hour ``hour`` that lies inside ``window``."""
    if window is None:
        return 1.0
    start, end = window
    spans = [(start, end)] if start <= end else [(start, 24.0), (0.0, end)]
    return sum(max(0.0, min(hour + 1.0, b) - max(float(hour), a)) for a, b in spans)


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """A multiplicative time profile in Japan local time (UTC+9).

    The factor at a moment is ``hourly[h] * weekly[weekday] * monthly[month]``, each set of
    weights divided by its own mean, and 0 outside ``window_h`` (``(start_h, end_h)`` in
    fractional local hours, e.g. ``(6.5, 23.0)`` for convenience-store issuance). The hourly
    weights are normalised over the open part of the day, so the mean factor over a typical
    year is 1 (exactly 1 over any whole week when the monthly weights are flat).
    """

    hourly: tuple[float, ...] = (1.0,) * 24
    weekly: tuple[float, ...] = (1.0,) * 7
    monthly: tuple[float, ...] = (1.0,) * 12
    window_h: tuple[float, float] | None = None
    _hour: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _week: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _month: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        window = self.window_h
        if window is not None:
            start, end = window
            if not (0.0 <= start <= 24.0 and 0.0 <= end <= 24.0) or start == end:
                raise InputError(
                    "window_h must be two different hours in [0, 24]",
                    field="window_h",
                    value=window,
                )
        fractions = [_in_window_fraction(h, window) for h in range(24)]
        hourly = tuple(float(w) for w in self.hourly)
        if len(hourly) != 24:
            raise InputError("hourly needs 24 weights", field="hourly", value=len(hourly))
        open_weights = tuple(w * f for w, f in zip(hourly, fractions, strict=True))
        open_mean = math.fsum(open_weights) / 24.0
        if any(not math.isfinite(w) or w < 0 for w in hourly) or open_mean <= 0:
            raise InputError(
                "hourly weights must be >= 0 and not all zero inside the window",
                field="hourly",
                value=self.hourly,
            )
        object.__setattr__(self, "_hour", tuple(w / open_mean for w in hourly))
        object.__setattr__(self, "_week", _norm("weekly", tuple(map(float, self.weekly)), 7))
        object.__setattr__(self, "_month", _norm("monthly", tuple(map(float, self.monthly)), 12))

    @classmethod
    def flat(cls) -> Profile:
        """A constant factor of 1."""
        return cls()

    # -- evaluation -------------------------------------------------------------------------
    def factor(self, at: datetime) -> float:
        """The rate factor at ``at`` (a timezone-aware datetime)."""
        if at.tzinfo is None:
            raise InputError("profile times must be timezone-aware", field="at", value=at)
        return self.factor_at_epoch(at.timestamp())

    def factor_at_epoch(self, epoch_s: float) -> float:
        """The rate factor at a POSIX time in seconds."""
        local_s = epoch_s + 9 * 3600.0
        day = math.floor(local_s / 86400.0)
        hour_of_day = (local_s - day * 86400.0) / 3600.0
        hour = min(23, int(hour_of_day))
        if self.window_h is not None and not self._open(hour_of_day):
            return 0.0
        weekday = (day + _EPOCH_WEEKDAY) % 7
        month = datetime.fromtimestamp(epoch_s, JST).month
        return self._hour[hour] * self._week[weekday] * self._month[month - 1]

    def _open(self, hour_of_day: float) -> bool:
        assert self.window_h is not None
        start, end = self.window_h
        if start <= end:
            return start <= hour_of_day < end
        return hour_of_day >= start or hour_of_day < end

    def next_change_epoch(self, epoch_s: float) -> float:
        """The first POSIX time after ``epoch_s`` at which the factor may change."""
        local_s = epoch_s + 9 * 3600.0
        nxt = (math.floor(local_s / 3600.0) + 1) * 3600.0
        if self.window_h is not None:
            day0 = math.floor(local_s / 86400.0) * 86400.0
            for edge_h in self.window_h:
                for day in (day0, day0 + 86400.0):
                    edge = day + edge_h * 3600.0
                    if local_s < edge < nxt:
                        nxt = edge
        return nxt - 9 * 3600.0

    def integral_epoch(self, t0: float, t1: float) -> float:
        """The integral of the factor over POSIX times ``[t0, t1)``, in seconds."""
        total = 0.0
        t = t0
        while t < t1:
            nxt = min(t1, self.next_change_epoch(t))
            total += self.factor_at_epoch(t) * (nxt - t)
            t = nxt
        return total

    def mean_factor(self, start: datetime, end: datetime) -> float:
        """The mean factor between two timezone-aware datetimes."""
        t0, t1 = start.timestamp(), end.timestamp()
        if t1 <= t0:
            raise InputError("end must be after start", field="end", value=end)
        return self.integral_epoch(t0, t1) / (t1 - t0)
