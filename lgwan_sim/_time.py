"""The one rule for times that users write: without an offset, a time is Japan Standard Time.

Scenario times (``start``, ``at``, ``until``) and ``pki --at`` are read by
:func:`parse_moment`: an ISO date or date-time; with an offset (``+00:00``, ``Z``,
``+09:00``) it means what it says, without one it is JST (Asia/Tokyo, UTC+9, no daylight
saving: the local time of the network and of its calendars). A bare date is midnight JST.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

__all__ = ["JST", "parse_moment"]

#: Japan Standard Time (no daylight saving). Times written without an offset are JST.
JST = timezone(timedelta(hours=9), "JST")


def parse_moment(value: object) -> datetime | None:
    """An aware ``datetime`` from ISO text, a ``date`` or a ``datetime``; ``None`` if not one.

    YAML hands over dates and date-times already parsed; a naive one is JST like text.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=JST)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=JST)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=JST)
        return parsed if parsed.utcoffset() is not None else parsed.astimezone(UTC)
    return None
