"""Typed readers over loaded YAML that name ``file:line``, the field path and the bad value.

Every check in the scenario and catalogue loaders goes through a :class:`Fields` object (the
shared :class:`~lgwan_sim._yaml.Reader` in the scenario dialect), so every error is one
:class:`~lgwan_sim.errors.ScenarioError` line of the same shape.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from lgwan_sim._time import JST, parse_moment
from lgwan_sim._yaml import LineDict, LineList, Reader
from lgwan_sim.errors import InputError, ScenarioError

__all__ = ["JST", "Fields", "format_duration", "parse_duration_s"]


# The ranges of the numbers in scenario and service files (docs/scenarios.md lists them).
#: Requests per calling site on an average day, also after every multiplier and growth.
MAX_REQUESTS_PER_DAY = 1.0e9
#: A multiplier of volume (a service's, ``demand.multiplier``, a demand surge's) or a scale
#: of capacity.
MAX_MULTIPLIER = 1000.0
#: Compound growth per year (10: elevenfold a year).
MAX_GROWTH_PER_YEAR = 10.0
#: The largest message (10 GB).
MAX_MESSAGE_BYTES = 1.0e10
#: A service's time per request, and its latency objective (one day).
MAX_SERVICE_S = 86400.0

_DURATION = re.compile(
    r"^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$"
)


def parse_duration_s(text: str) -> float | None:
    """``"1d2h30m"`` -> seconds; ``None`` when ``text`` is not a duration."""
    text = text.strip()
    match = _DURATION.match(text)
    if not text or match is None or not any(match.groups()):
        return None
    d, h, m, s = (float(g) if g else 0.0 for g in match.groups())
    return d * 86400.0 + h * 3600.0 + m * 60.0 + s


def format_duration(seconds: float) -> str:
    """Seconds -> ``"1d2h30m"`` (the inverse of :func:`parse_duration_s` for whole seconds)."""
    rest = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts) or "0s"


class Fields(Reader):
    """Readers bound to one scenario or service file; failures are :class:`ScenarioError`.

    On top of the shared :class:`~lgwan_sim._yaml.Reader`: type mistakes say what was
    found (``must be a list, not a string``), containers must come straight from YAML, and
    lists, durations and times have readers of their own.
    """

    mapping_type = LineDict
    list_type = LineList
    strip_text = True

    def __init__(self, file: str | Path) -> None:
        super().__init__(file, error=ScenarioError)

    def wrong_type(
        self, what: str, container: object, key: str | int | None, field: str, value: object
    ) -> InputError:
        return self.error(
            f"must be {what}, not {_kind(value)}", container, key, field, _show(value)
        )

    def text_list(
        self, parent: Any, key: str | int, path: str, *, nonempty: bool = True
    ) -> tuple[str, ...]:
        items = self.seq(parent, key, path)
        if nonempty and not items:
            raise self.error("must not be empty", parent, key, path, [])
        out: list[str] = []
        for i in range(len(items)):
            item = items[i]
            if isinstance(item, int) and not isinstance(item, bool):
                # prefecture codes written without quotes: 3 -> "03"
                item = f"{item:02d}"
                items[i] = item
            out.append(self.text(items, i, f"{path}[{i}]"))
        return tuple(out)

    def duration_s(self, parent: Any, key: str | int, path: str) -> float:
        """A duration written ``"24h"``, ``"90m"``, ``"1d12h"`` or ``"45s"``; > 0."""
        value = parent[key]
        seconds = parse_duration_s(value) if isinstance(value, str) else None
        if seconds is None:
            raise self.error(
                'must be a duration such as "24h", "90m", "1d6h" or "30s"',
                parent,
                key,
                path,
                _show(value),
            )
        if seconds <= 0:
            raise self.error("must be longer than 0s", parent, key, path, value)
        return seconds

    def moment(self, parent: Any, key: str | int, path: str) -> datetime:
        """A date or date-time; without an offset it is Japan Standard Time (JST)."""
        value = parent[key]
        parsed = parse_moment(value)
        if parsed is None:
            raise self.error(
                'must be a date-time such as "2026-02-16T09:00" (JST unless an offset is given)',
                parent,
                key,
                path,
                _show(value),
            )
        return parsed

    def offset_s(self, parent: Any, key: str | int, path: str, *, start: datetime) -> float:
        """A point in the run: ``"+2h30m"`` after the start, or an absolute date-time."""
        value = parent[key]
        if isinstance(value, str) and value.strip().startswith("+"):
            seconds = parse_duration_s(value.strip()[1:])
            if seconds is None:
                raise self.error(
                    'must be "+<duration>" such as "+14h46m", or a date-time',
                    parent,
                    key,
                    path,
                    value,
                )
            return seconds
        moment = parse_moment(value)
        if moment is None:
            raise self.error(
                'must be "+<duration>" after the start (e.g. "+14h46m") or a date-time '
                '(e.g. "2011-03-11T14:46", JST)',
                parent,
                key,
                path,
                _show(value),
            )
        return (moment - start).total_seconds()


def _kind(value: object) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _show(value: object) -> object:
    """A short form of a bad value for the message (mappings and lists are summarised)."""
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(str(k) for k in list(value)[:4])
            + ("..." if len(value) > 4 else "")
            + "}"
        )
    if isinstance(value, list):
        return f"[{len(value)} items]"
    return value
