"""Compare two run directories side by side, from their ``summary.json`` and ``links_peak.csv``."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lgwan_sim.errors import InputError

__all__ = ["CompareRow", "compare_notes", "compare_runs", "fidelity_warning", "load_run"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CompareRow:
    """One line of a comparison. ``diff``/``change`` are ``None`` for text or missing values."""

    section: str
    item: str
    a: object
    b: object
    diff: float | None
    change: float | None
    """Relative change (b - a) / |a|; ``None`` when ``a`` is 0 or missing."""

    @property
    def differs(self) -> bool:
        return self.a != self.b

    def to_dict(self) -> dict[str, object]:
        return {
            "section": self.section,
            "item": self.item,
            "a": self.a,
            "b": self.b,
            "diff": self.diff,
            "change": self.change,
        }


@dataclass(frozen=True, slots=True)
class _Run:
    folder: Path
    summary: Mapping[str, Any]
    link_peaks: Mapping[str, float]


def load_run(folder: str | Path) -> _Run:
    """Read a run directory written by ``lgwan-sim run``."""
    folder = Path(folder)
    path = folder / "summary.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            "not a run directory (no summary.json)", file=folder, field="RUN", value=str(folder)
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read summary.json: {exc}", file=path) from None
    peaks: dict[str, float] = {}
    peaks_path = folder / "links_peak.csv"
    if peaks_path.is_file():
        with peaks_path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                peaks[row["link"]] = float(row["peak_utilisation"] or "nan")
    return _Run(folder, summary, peaks)


def _num(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


#: Scenario facts that are numbers but labels, not quantities: no difference is shown.
_LABELS = frozenset({"seed"})


def _row(section: str, item: str, a: object, b: object, *, quantity: bool = True) -> CompareRow:
    x, y = (_num(a), _num(b)) if quantity else (None, None)
    diff = None if x is None or y is None else y - x
    change = None if diff is None or x is None or x == 0 else diff / abs(x)
    return CompareRow(section=section, item=item, a=a, b=b, diff=diff, change=change)


def compare_runs(folder_a: str | Path, folder_b: str | Path) -> list[CompareRow]:
    """Everything the two summaries report, side by side, with numeric differences."""
    a, b = load_run(folder_a), load_run(folder_b)
    sa, sb = a.summary, b.summary
    rows: list[CompareRow] = []
    for key in ("name", "fidelity", "seed", "start", "duration_s", "bin_s", "topology", "links"):
        rows.append(
            _row(
                "scenario",
                key,
                sa["scenario"].get(key),
                sb["scenario"].get(key),
                quantity=key not in _LABELS,
            )
        )
    ta, tb = sa["totals"], sb["totals"]
    for key in ("offered", "delivered", "dropped_total", "in_flight", "slo_breaches"):
        rows.append(_row("totals", key, ta[key], tb[key]))
    for reason in sorted(set(ta["dropped"]) | set(tb["dropped"])):
        rows.append(
            _row(
                "totals",
                f"dropped: {reason}",
                ta["dropped"].get(reason, 0),
                tb["dropped"].get(reason, 0),
            )
        )
    ua, ub = sa["unreachable_local_bodies"], sb["unreachable_local_bodies"]
    rows.append(_row("unreachable local bodies", "peak", ua["peak"], ub["peak"]))
    rows.append(
        _row("unreachable local bodies", "bins with any", ua["bins_with_any"], ub["bins_with_any"])
    )
    for name in sorted(set(sa["services"]) | set(sb["services"])):
        va, vb = sa["services"].get(name, {}), sb["services"].get(name, {})
        for key in ("offered", "delivered", "dropped_total", "slo_breaches"):
            rows.append(_row(f"service {name}", key, va.get(key), vb.get(key)))
        for p in ("p50", "p95", "p99"):
            rows.append(
                _row(
                    f"service {name}",
                    f"latency {p} (s)",
                    va.get("latency_s", {}).get(p),
                    vb.get("latency_s", {}).get(p),
                )
            )
    links = [x["link"] for x in sa["busiest_links"]]
    links += [x["link"] for x in sb["busiest_links"] if x["link"] not in links]
    for link in links:
        rows.append(
            _row(
                "peak link utilisation",
                link,
                _peak(a, link),
                _peak(b, link),
            )
        )
    return rows


def _peak(run: _Run, link: str) -> float | None:
    for entry in run.summary["busiest_links"]:
        if entry["link"] == link:
            return float(entry["peak_utilisation"])
    value = run.link_peaks.get(link)
    return None if value is None or math.isnan(value) else value


def compare_notes(rows: list[CompareRow]) -> list[str]:
    """One line when the runs' durations or time bins differ, so the figures are not like
    for like (totals of a one-day run against a four-day run, peaks over different bins)."""
    from lgwan_sim._fields import format_duration

    facts = {r.item: r for r in rows if r.section == "scenario"}
    parts = []
    for key, what, affects in (
        ("duration_s", "durations", "totals and counts cover different lengths of time"),
        ("bin_s", "time bins", "peaks, percentiles and bin counts are per different bins"),
    ):
        row = facts.get(key)
        if row is None or not row.differs:
            continue
        x, y = _num(row.a), _num(row.b)
        a = "?" if x is None else format_duration(x)
        b = "?" if y is None else format_duration(y)
        parts.append(f"different {what} (A {a}, B {b}): {affects}")
    if not parts:
        return []
    return ["note: the runs are not like for like: " + "; ".join(parts) + "."]


def fidelity_warning(rows: list[CompareRow]) -> str | None:
    """A warning when the runs were made at different fidelities: their latencies and
    losses come from different models, so a difference may be the model's, not the
    network's."""
    row = next((r for r in rows if r.section == "scenario" and r.item == "fidelity"), None)
    if row is None or not row.differs:
        return None
    return (
        f"the runs are at different fidelities (A {row.a}, B {row.b}): latency, loss and "
        "peaks come from different models, so part of any difference is the model's"
    )
