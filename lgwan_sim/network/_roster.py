"""Municipality rosters: a CSV of real local governments that replaces the synthetic ones.

A UTF-8 CSV with a header. The columns read are :data:`ROSTER_COLUMNS`
(``lgcode,pref_code,name,lat,lon``); any others, such as the ``pref`` and ``name_kana`` of
the usual ``lgcode,pref_code,pref,name,name_kana,lat,lon`` shape, are ignored. Positions
are the municipal offices.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lgwan_sim.errors import LgwanSimWarning, TopologyError

if TYPE_CHECKING:
    from lgwan_sim.network._national import Prefecture

__all__ = ["ROSTER_COLUMNS", "RosterEntry", "RosterWarning", "load_roster", "roster_gaps"]

#: The columns a roster must have (in any order); other columns are ignored.
ROSTER_COLUMNS = ("lgcode", "pref_code", "name", "lat", "lon")


class RosterWarning(LgwanSimWarning):
    """A roster that loads but does not cover the country (missing prefectures or rows)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RosterEntry:
    lgcode: str
    pref_code: str
    name: str
    name_ja: str
    lat: float
    lon: float


def _is_ascii(text: str) -> bool:
    return all(ord(ch) < 128 for ch in text)


def load_roster(path: str | Path, *, prefectures: Mapping[str, Prefecture]) -> list[RosterEntry]:
    """Read and validate a roster; every error names the file, line, column and value."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise TopologyError(f"cannot read roster: {exc.strerror}", file=path) from None
    entries: list[RosterEntry] = []
    seen: dict[str, int] = {}
    with handle:
        reader = csv.DictReader(handle)
        try:  # the decoder reads ahead: even the header can hit a non-UTF-8 byte
            header = reader.fieldnames or []
            for column in ROSTER_COLUMNS:
                if column not in header:
                    raise TopologyError(
                        f"missing column (the roster needs {', '.join(ROSTER_COLUMNS)})",
                        file=path,
                        line=1,
                        field=column,
                    )
            for row in reader:
                line = reader.line_num
                entries.append(_entry(row, path, line, prefectures, seen))
        except UnicodeDecodeError:
            raise TopologyError(
                "roster is not UTF-8 text (convert it, e.g. from Shift_JIS)", file=path
            ) from None
        except csv.Error as exc:
            raise TopologyError(f"malformed CSV: {exc}", file=path, line=reader.line_num) from None
    if not entries:
        raise TopologyError("roster has no rows", file=path, line=1)
    return entries


def _entry(
    row: dict[str, str | None],
    path: Path,
    line: int,
    prefectures: Mapping[str, Prefecture],
    seen: dict[str, int],
) -> RosterEntry:
    def cell(name: str) -> str:
        value = row.get(name)
        if value is None:
            raise TopologyError("row has too few cells", file=path, line=line, field=name)
        return value.strip()

    code = cell("lgcode")
    if not code or not code.isalnum():
        raise TopologyError(
            "lgcode must be a non-empty code", file=path, line=line, field="lgcode", value=code
        )
    if code in seen:
        raise TopologyError(
            f"duplicate lgcode (first on line {seen[code]})",
            file=path,
            line=line,
            field="lgcode",
            value=code,
        )
    seen[code] = line
    pref = cell("pref_code").zfill(2)
    if pref not in prefectures:
        raise TopologyError(
            "unknown prefecture code (01..47)",
            file=path,
            line=line,
            field="pref_code",
            value=cell("pref_code"),
        )
    name = cell("name")
    if not name:
        raise TopologyError("name is empty", file=path, line=line, field="name", value=name)
    coords: list[float] = []
    for column, low, high in (("lat", 20.0, 46.0), ("lon", 122.0, 154.0)):
        text = cell(column)
        try:
            value = float(text)
        except ValueError:
            raise TopologyError(
                "not a number", file=path, line=line, field=column, value=text
            ) from None
        if not math.isfinite(value) or not low <= value <= high:
            raise TopologyError(
                f"outside Japan ({low:g}..{high:g})", file=path, line=line, field=column, value=text
            )
        coords.append(value)
    return RosterEntry(
        lgcode=code,
        pref_code=pref,
        name=name,
        name_ja="" if _is_ascii(name) else name,
        lat=coords[0],
        lon=coords[1],
    )


#: How many missing prefectures a warning names before it says "and N more".
_NAMED_AT_MOST = 5


def roster_gaps(
    entries: Sequence[RosterEntry], prefectures: Mapping[str, Prefecture], *, source: str
) -> str | None:
    """One line saying how a roster falls short of the country, or ``None`` if it does not.

    A roster falls short when its row count differs from the prefecture table's total of
    municipalities (1,741) or when a prefecture has no municipality in it: that
    prefecture's node then serves only its prefectural government.
    """
    expected = sum(p.municipalities for p in prefectures.values())
    present = {e.pref_code for e in entries}
    missing = [p for code, p in sorted(prefectures.items()) if code not in present]
    if len(entries) == expected and not missing:
        return None
    noun = "municipality" if len(entries) == 1 else "municipalities"
    text = f"roster {source} has {len(entries):,} {noun}, not {expected:,}"
    if missing:
        named = ", ".join(f"{p.code} {p.name_en}" for p in missing[:_NAMED_AT_MOST])
        more = len(missing) - _NAMED_AT_MOST
        if more > 0:
            named += f" and {more} more"
        verb = "has" if len(missing) == 1 else "have"
        text += (
            f"; {len(missing)} of {len(prefectures)} prefectures {verb} none ({named}), "
            "so the network has no municipalities there"
        )
    return text
