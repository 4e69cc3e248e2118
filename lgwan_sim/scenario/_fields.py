"""Typed readers over loaded YAML that name ``file:line``, the field path and the bad value.

Every check in the scenario and catalogue loaders goes through a :class:`Fields` object, so
every error is one :class:`~lgwan_sim.errors.ScenarioError` line of the same shape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from lgwan_sim._yaml import LineDict, LineList, line_of
from lgwan_sim.errors import ScenarioError

__all__ = ["JST", "Fields", "format_duration", "parse_duration_s"]

#: Japan Standard Time (no daylight saving). Times written without an offset are JST.
JST = timezone(timedelta(hours=9), "JST")

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


class Fields:
    """Readers bound to one file. ``path`` arguments are dotted field paths for messages."""

    def __init__(self, file: str | Path) -> None:
        self.file = Path(file)

    # -- errors -------------------------------------------------------------------------
    def error(
        self, message: str, container: object, key: str | int | None, path: str, value: object
    ) -> ScenarioError:
        line = None
        if key is not None:
            line = line_of(container, key)
        if line is None:
            line = getattr(container, "start_line", None) or None
        return ScenarioError(message, file=self.file, line=line, field=path, value=value)

    # -- structure ----------------------------------------------------------------------
    def only(self, mapping: LineDict, allowed: Sequence[str], path: str) -> None:
        """Reject keys outside ``allowed``, listing the allowed keys."""
        for key in mapping:
            if key not in allowed:
                raise self.error(
                    f"unknown key; allowed: {', '.join(allowed)}",
                    mapping,
                    key,
                    f"{path}.{key}" if path else key,
                    key,
                )

    def require(self, mapping: LineDict, key: str, path: str) -> Any:
        if key not in mapping:
            raise self.error("missing required key", mapping, None, _join(path, key), None)
        return mapping[key]

    def mapping(self, parent: Any, key: str | int, path: str) -> LineDict:
        value = parent[key]
        if not isinstance(value, LineDict):
            raise self.error(
                f"must be a mapping, not {_kind(value)}", parent, key, path, _show(value)
            )
        return value

    def seq(self, parent: Any, key: str | int, path: str) -> LineList:
        value = parent[key]
        if not isinstance(value, LineList):
            raise self.error(f"must be a list, not {_kind(value)}", parent, key, path, _show(value))
        return value

    # -- scalars ------------------------------------------------------------------------
    def text(self, parent: Any, key: str | int, path: str) -> str:
        value = parent[key]
        if not isinstance(value, str) or not value.strip():
            raise self.error(
                f"must be a non-empty string, not {_kind(value)}", parent, key, path, _show(value)
            )
        return value

    def integer(self, parent: Any, key: str | int, path: str, *, minimum: int | None = None) -> int:
        value = parent[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(
                f"must be an integer, not {_kind(value)}", parent, key, path, _show(value)
            )
        if minimum is not None and value < minimum:
            raise self.error(f"must be >= {minimum}", parent, key, path, value)
        return value

    def number(
        self,
        parent: Any,
        key: str | int,
        path: str,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        exclusive_minimum: bool = False,
    ) -> float:
        value = parent[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(
                f"must be a number, not {_kind(value)}", parent, key, path, _show(value)
            )
        if math.isnan(value) or math.isinf(value):
            raise self.error("must be a finite number", parent, key, path, value)
        if minimum is not None:
            if exclusive_minimum and not value > minimum:
                raise self.error(f"must be > {minimum:g}", parent, key, path, value)
            if not exclusive_minimum and value < minimum:
                raise self.error(f"must be >= {minimum:g}", parent, key, path, value)
        if maximum is not None and value > maximum:
            raise self.error(f"must be <= {maximum:g}", parent, key, path, value)
        return float(value)

    def boolean(self, parent: Any, key: str | int, path: str) -> bool:
        value = parent[key]
        if not isinstance(value, bool):
            raise self.error(
                f"must be true or false, not {_kind(value)}", parent, key, path, _show(value)
            )
        return value

    def choice(self, parent: Any, key: str | int, path: str, allowed: Sequence[str]) -> str:
        value = self.text(parent, key, path)
        if value not in allowed:
            raise self.error(f"must be one of {', '.join(allowed)}", parent, key, path, value)
        return value

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
        parsed = _to_datetime(value)
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
        moment = _to_datetime(value)
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


def _to_datetime(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=JST)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=JST)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=JST)
        return parsed if parsed.utcoffset() is not None else parsed.astimezone(UTC)
    return None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


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
