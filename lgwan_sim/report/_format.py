"""Numbers as a planner reads them: separators, units, percentages, durations.

Each formatter turns one raw value (as ``summary.json`` holds it) into text; ``None`` and
NaN become an em dash. :func:`parse_number` reads the text back to a number, so a test can
check every figure of the report against the summary it came from.
"""

from __future__ import annotations

import math
import re
from datetime import datetime

__all__ = [
    "bitrate",
    "clock",
    "count",
    "duration",
    "latency",
    "parse_number",
    "percent",
]

_NONE = "—"


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def count(value: float | int | None) -> str:
    """``6442859`` as ``6,442,859``; expected (fractional) counts rounded to whole ones."""
    if _missing(value):
        return _NONE
    assert value is not None
    return f"{round(float(value)):,}"


def bitrate(bps: float | None) -> str:
    """``1e9`` as ``1 Gbit/s``, ``1.5e8`` as ``150 Mbit/s``."""
    if _missing(bps):
        return _NONE
    assert bps is not None
    for unit, scale in (("Tbit/s", 1e12), ("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if abs(bps) >= scale:
            return f"{bps / scale:.3g} {unit}"
    return f"{bps:.3g} bit/s"


def percent(fraction: float | None) -> str:
    """A fraction as a percentage: ``0.51`` as ``51 %``, ``4.71`` as ``471 %``.

    Two significant figures below 10 %, so a lightly loaded link does not read 0 %; a
    value above zero but under 0.01 % reads ``<0.01 %``.
    """
    if _missing(fraction):
        return _NONE
    assert fraction is not None
    pct = float(fraction) * 100.0
    if pct == 0:
        return "0 %"
    if abs(pct) < 0.01:
        return "<0.01 %"
    if abs(pct) < 10:
        return f"{pct:.2g} %"
    return f"{pct:,.0f} %"


def latency(seconds: float | None) -> str:
    """``0.067`` as ``67 ms``, ``2.5`` as ``2.5 s``, ``4e-4`` as ``0.4 ms``."""
    if _missing(seconds):
        return _NONE
    assert seconds is not None
    s = float(seconds)
    if s == 0:
        return "0 ms"
    if abs(s) < 1:
        return f"{s * 1000:.3g} ms"
    if abs(s) < 120:
        return f"{s:.3g} s"
    return duration(s)


def duration(seconds: float | None) -> str:
    """``720`` as ``12 min``, ``150`` as ``2 min 30 s``, ``5400`` as ``1 h 30 min``."""
    if _missing(seconds):
        return _NONE
    assert seconds is not None
    s = float(seconds)
    if abs(s) < 60:
        return f"{s:.3g} s"
    if abs(s) < 3600:  # whole seconds: a switchover of 150 s is not "2 min"
        mins, secs = divmod(round(s), 60)
        return f"{mins} min {secs} s" if secs else f"{mins} min"
    minutes = round(s / 60.0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} d")
    if hours:
        parts.append(f"{hours} h")
    if mins or not parts:
        parts.append(f"{mins} min")
    return " ".join(parts)


def clock(iso: str | None, *, with_date: bool = False) -> str:
    """An ISO time of the run as ``10:05`` (``2026-06-10 10:05`` with the date)."""
    if not iso:
        return _NONE
    t = datetime.fromisoformat(iso)
    return t.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


_UNITS = {
    "%": 0.01,
    "ms": 1e-3,
    "s": 1.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "bit/s": 1.0,
    "kbit/s": 1e3,
    "Mbit/s": 1e6,
    "Gbit/s": 1e9,
    "Tbit/s": 1e12,
}
_TERM = re.compile(r"(-?[\d,]*\.?\d+(?:e[+-]?\d+)?)\s*([a-zA-Z%/]+)?")


def parse_number(text: str) -> float | None:
    """The number a formatted cell shows, in the summary's units (fractions, seconds,
    bit/s); ``None`` for an em dash. ``1 h 30 min`` reads as 5400."""
    text = text.strip().replace("<", "")
    if text in ("", _NONE):
        return None
    total = 0.0
    found = False
    for number, unit in _TERM.findall(text):
        total += float(number.replace(",", "")) * _UNITS.get(unit or "", 1.0)
        found = True
    return total if found else None
