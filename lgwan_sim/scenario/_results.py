"""From a :class:`~lgwan_sim.engine.RunResult` to the files of a run directory.

``summary.json``, the CSV series and ``events.csv`` depend only on the scenario and the
seed: no wall time, host name or timestamp of the run goes into them (those go to
``run.json``), and every float is written with a fixed number of significant digits, so
the same scenario and seed give byte-identical files.
"""

from __future__ import annotations

import bisect
import csv
import dataclasses
import hashlib
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lgwan_sim.engine import EngineConfig, Outages, RunResult, TimelineEvent
from lgwan_sim.network import Topology
from lgwan_sim.scenario._model import Scenario
from lgwan_sim.scenario._outages import ServiceOutage, service_outages

__all__ = [
    "BUSIEST_LINKS",
    "RunTables",
    "fmt",
    "rounded",
    "summarise",
    "worst_moment",
    "write_tables",
]

#: How many directed links the summary, the CSV and the plot follow over time.
BUSIEST_LINKS = 10
_DIGITS = 6


def rounded(value: float | None) -> float | None:
    """``value`` to six significant digits (``None`` for NaN): stable JSON numbers."""
    if value is None or math.isnan(value):
        return None
    return float(f"{float(value):.{_DIGITS}g}")


def fmt(value: object) -> str:
    """A cell of a CSV or of the report: integers as such, floats to six digits, NaN empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return ""
        if number.is_integer() and abs(number) < 1e15:
            return str(int(number))
        return f"{number:.{_DIGITS}g}"
    return str(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunTables:
    """Everything the files and the report of one run are drawn from."""

    summary: dict[str, Any]
    start: datetime
    bin_s: float
    times_s: npt.NDArray[np.float64]
    busiest: tuple[str, ...]
    busiest_utilisation: npt.NDArray[np.float64]
    link_peaks: tuple[tuple[str, float, float, float, float], ...]
    """Every directed link: (id, capacity_bps, peak, mean, peak time in s)."""
    services: tuple[str, ...]
    offered: Mapping[str, npt.NDArray[np.int64]]
    delivered: Mapping[str, npt.NDArray[np.int64]]
    p50: Mapping[str, npt.NDArray[np.float64]]
    p95: Mapping[str, npt.NDArray[np.float64]]
    p99: Mapping[str, npt.NDArray[np.float64]]
    unreachable: npt.NDArray[np.int64]
    events: tuple[dict[str, str], ...]
    worst_bin: int
    map_values: Mapping[str, float] = field(default_factory=dict)
    failed_links: tuple[str, ...] = ()
    failed_sites: tuple[str, ...] = ()
    outages: tuple[ServiceOutage, ...] = ()
    """Spells of services without a serving host, with the local bodies that lost them."""
    topology: Topology | None = None
    duration_s: float = 0.0

    def time_of(self, t_s: float) -> datetime:
        return self.start + timedelta(seconds=t_s)


def _file_digest(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def failed_at(
    topology: Topology, events: Iterable[TimelineEvent], until_s: float
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Links and sites down just before ``until_s``, replaying the timeline.

    The replay holds elements down exactly as the engine does (an element is down while any
    event holds it down; a region event takes down every site in its prefectures or
    circle); the links of a failed site count as failed too.
    """
    outages = Outages(topology)
    for ev in events:
        if ev.at_s >= until_s:
            break
        outages.apply(ev)
    sites = outages.down_sites
    by_site = {lk.id for s in sites for lk in topology.links_of_site(s)}
    return tuple(sorted(outages.down_links | by_site)), tuple(sorted(sites))


def _failed_by_bin(
    topology: Topology, events: Sequence[TimelineEvent], n_bins: int, bin_s: float
) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """:func:`failed_at` the end of every bin (replayed once per distinct event prefix)."""
    starts = [ev.at_s for ev in events]
    cache: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    out = []
    for b in range(n_bins):
        end = (b + 1) * bin_s
        applied = bisect.bisect_left(starts, end)  # the events before the end of the bin
        if applied not in cache:
            cache[applied] = failed_at(topology, events[:applied], end)
        out.append(cache[applied])
    return out


def worst_moment(
    unreachable: Sequence[int] | npt.NDArray[np.int64],
    max_utilisation: Sequence[float] | npt.NDArray[np.float64],
    failed_elements: Sequence[int],
) -> int:
    """The bin of the worst moment of a run.

    The most local bodies unreachable; on a tie, the most failed elements (links and sites
    down at the end of the bin), so the moment shown is during an outage rather than the
    bin it ended in; then the busiest link (compared to the six digits the summary shows,
    so rounding noise does not decide); then the earliest bin.
    """
    n_bins = len(unreachable)
    if n_bins == 0:
        return 0
    return max(
        range(n_bins),
        key=lambda b: (
            int(unreachable[b]),
            failed_elements[b],
            rounded(float(max_utilisation[b])) or 0.0,
            -b,
        ),
    )


def _settings(config: EngineConfig | None) -> dict[str, Any]:
    """Every engine setting of the run, JSON-safe (an unlimited value is ``null``)."""
    if config is None:
        return {}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        out[f.name] = None if isinstance(value, float) and math.isinf(value) else value
    return out


def summarise(
    scenario: Scenario,
    result: RunResult,
    timeline: Sequence[TimelineEvent],
    config: EngineConfig | None = None,
) -> RunTables:
    """Condense a run into the summary and the series the files and plots show.

    ``config`` is the engine's settings, recorded in ``summary.json`` so that two runs'
    settings can be told apart from their results.
    """
    n_bins = result.n_bins
    bin_s = result.bin_s
    times = np.arange(n_bins, dtype=float) * bin_s
    util = result.link_utilisation
    caps = result.link_capacity_bps
    peaks = util.max(axis=1) if util.size else np.zeros(len(result.link_ids))
    means = util.mean(axis=1) if util.size else np.zeros(len(result.link_ids))
    peak_bins = util.argmax(axis=1) if util.size else np.zeros(len(result.link_ids), dtype=int)
    order = sorted(range(len(result.link_ids)), key=lambda i: (-peaks[i], result.link_ids[i]))
    busiest_idx = [i for i in order[:BUSIEST_LINKS] if peaks[i] > 0]
    busiest = tuple(result.link_ids[i] for i in busiest_idx)
    link_peaks = tuple(
        (
            result.link_ids[i],
            float(caps[i]) if caps.ndim == 1 else float(caps[i].max()),
            float(peaks[i]),
            float(means[i]),
            float(peak_bins[i] * bin_s),
        )
        for i in order
    )

    unreachable = np.asarray(result.unreachable_local_bodies, dtype=np.int64)
    max_util = util.max(axis=0) if util.size else np.zeros(n_bins)
    failed_by_bin = _failed_by_bin(scenario.topology, timeline, n_bins, bin_s)
    worst_bin = worst_moment(unreachable, max_util, [len(lk) + len(s) for lk, s in failed_by_bin])
    failed_links, failed_sites = failed_by_bin[worst_bin]
    map_values: dict[str, float] = {}
    at_worst = util[:, worst_bin] if util.size else np.zeros(len(result.link_ids))
    for i, directed in enumerate(result.link_ids):
        undirected = directed.rstrip("<>")
        value = float(at_worst[i])
        map_values[undirected] = max(map_values.get(undirected, 0.0), value)

    def when(t_s: float) -> str:
        return (scenario.start + timedelta(seconds=t_s)).isoformat()

    services: dict[str, Any] = {}
    for choice in scenario.services:
        stats = result.services[choice.name]
        hist = stats.latency
        services[choice.name] = {
            "title": choice.spec.title,
            "primary": choice.primary,
            "secondary": choice.secondary,
            "callers": len(choice.callers),
            "offered": stats.offered,
            "delivered": stats.delivered,
            "dropped": dict(sorted(stats.dropped.items())),
            "dropped_total": stats.dropped_total,
            "in_flight": stats.in_flight,
            "delivered_ratio": rounded(stats.delivered / stats.offered) if stats.offered else None,
            "latency_s": {
                "mean": rounded(hist.mean),
                "p50": rounded(hist.percentile(50)),
                "p95": rounded(hist.percentile(95)),
                "p99": rounded(hist.percentile(99)),
            },
            "slo_latency_s": choice.spec.slo_latency_s.value,
            "slo_breaches": stats.slo_breaches,
            "slo_breach_ratio": rounded(stats.slo_breaches / stats.delivered)
            if stats.delivered
            else None,
        }
    dropped_total: dict[str, int] = {}
    for entry in services.values():
        for reason, n in entry["dropped"].items():
            dropped_total[reason] = dropped_total.get(reason, 0) + n
    outages = tuple(service_outages(scenario, timeline))
    peak_unreachable = int(unreachable.max(initial=0))
    peak_unreachable_bin = int(unreachable.argmax()) if unreachable.size else 0
    summary: dict[str, Any] = {
        "scenario": {
            "name": scenario.name,
            "description": scenario.description,
            "file": Path(scenario.file).name,
            "file_sha256": _file_digest(scenario.file),
            "topology": scenario.topology_ref,
            "sites": len(scenario.topology.sites),
            "links": len(scenario.topology.links),
            "start": scenario.start.isoformat(),
            "duration_s": scenario.duration_s,
            "fidelity": scenario.fidelity.value,
            "seed": scenario.seed,
            "bin_s": bin_s,
            "events": len(scenario.events),
        },
        "totals": {
            "offered": sum(s["offered"] for s in services.values()),
            "delivered": sum(s["delivered"] for s in services.values()),
            "dropped": dict(sorted(dropped_total.items())),
            "dropped_total": sum(dropped_total.values()),
            "in_flight": sum(s["in_flight"] for s in services.values()),
            "slo_breaches": sum(s["slo_breaches"] for s in services.values()),
        },
        "services": services,
        "unreachable_local_bodies": {
            "peak": peak_unreachable,
            "peak_at": when(peak_unreachable_bin * bin_s),
            "bins_with_any": int((unreachable > 0).sum()),
        },
        "service_outages": [
            {
                "service": o.service,
                "host": o.host,
                "from": when(o.from_s),
                "until": when(o.until_s) if math.isfinite(o.until_s) else None,
                "duration_s": min(o.until_s, scenario.duration_s) - o.from_s,
                "local_bodies": len(o.local_bodies),
            }
            for o in outages
        ],
        "busiest_links": [
            {
                "link": lid,
                "capacity_bps": cap,
                "peak_utilisation": rounded(peak),
                "mean_utilisation": rounded(mean),
                "peak_at": when(at),
            }
            for lid, cap, peak, mean, at in link_peaks[:BUSIEST_LINKS]
        ],
        "worst_moment": {
            "bin": worst_bin,
            "at": when(worst_bin * bin_s),
            "unreachable_local_bodies": int(unreachable[worst_bin]),
            "max_link_utilisation": rounded(float(max_util[worst_bin])),
            "failed_links": len(failed_links),
            "failed_sites": len(failed_sites),
        },
        "engine": {
            "overloaded": result.overloaded,
            "overload_reason": result.overload_reason,
            "stopped_at_s": result.stopped_at_s,
            "series_sha256": result.digest(),
            "settings": _settings(config),
            "counters": dict(sorted(result.counters.items())),
        },
    }
    events = tuple(
        {
            "at_s": fmt(e.at_s),
            "time": when(e.at_s),
            "kind": e.kind,
            "note": e.note,
            "links": " ".join(e.links),
            "sites": " ".join(e.sites) if len(e.sites) <= 20 else f"{len(e.sites)} sites",
            "service": e.service or "",
            "routes_recomputed": fmt(e.routes_recomputed),
            "messages_lost": fmt(e.messages_lost),
            "messages_rerouted": fmt(e.messages_rerouted),
        }
        for e in result.events
    )
    names = tuple(s.name for s in scenario.services)
    return RunTables(
        summary=summary,
        start=scenario.start,
        bin_s=bin_s,
        times_s=times,
        busiest=busiest,
        busiest_utilisation=util[busiest_idx] if busiest_idx else np.zeros((0, n_bins)),
        link_peaks=link_peaks,
        services=names,
        offered={n: result.offered_per_bin[n] for n in names},
        delivered={n: result.delivered_per_bin[n] for n in names},
        p50={n: result.latency_p50_s[n] for n in names},
        p95={n: result.latency_p95_s[n] for n in names},
        p99={n: result.latency_p99_s[n] for n in names},
        unreachable=unreachable,
        events=events,
        worst_bin=worst_bin,
        map_values=map_values,
        failed_links=failed_links,
        failed_sites=failed_sites,
        outages=outages,
        topology=scenario.topology,
        duration_s=scenario.duration_s,
    )


EVENT_COLUMNS = (
    "at_s",
    "time",
    "kind",
    "note",
    "links",
    "sites",
    "service",
    "routes_recomputed",
    "messages_lost",
    "messages_rerouted",
)


def _csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([fmt(v) for v in row])
    path.write_text(buffer.getvalue(), encoding="utf-8")


def write_json(path: Path, doc: object) -> None:
    path.write_text(
        json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True, allow_nan=False) + "\n",
        encoding="utf-8",
    )


def write_tables(tables: RunTables, folder: Path) -> list[str]:
    """Write ``summary.json`` and the CSV files into ``folder``; return the file names."""
    t = tables
    write_json(folder / "summary.json", t.summary)
    stamps = [t.time_of(float(s)).isoformat() for s in t.times_s]
    _csv(
        folder / "links.csv",
        ["time", "t_s", *t.busiest],
        (
            [
                stamps[b],
                t.times_s[b],
                *(float(t.busiest_utilisation[k, b]) for k in range(len(t.busiest))),
            ]
            for b in range(len(stamps))
        ),
    )
    _csv(
        folder / "links_peak.csv",
        ["link", "capacity_bps", "peak_utilisation", "mean_utilisation", "peak_at"],
        (
            [lid, cap, peak, mean, t.time_of(at).isoformat()]
            for lid, cap, peak, mean, at in t.link_peaks
        ),
    )
    _csv(
        folder / "services.csv",
        ["time", "t_s", "service", "offered", "delivered", "p50_s", "p95_s", "p99_s"],
        (
            [
                stamps[b],
                t.times_s[b],
                name,
                int(t.offered[name][b]),
                int(t.delivered[name][b]),
                float(t.p50[name][b]),
                float(t.p95[name][b]),
                float(t.p99[name][b]),
            ]
            for b in range(len(stamps))
            for name in t.services
        ),
    )
    _csv(
        folder / "unreachable.csv",
        ["time", "t_s", "unreachable_local_bodies"],
        ([stamps[b], t.times_s[b], int(t.unreachable[b])] for b in range(len(stamps))),
    )
    _csv(folder / "events.csv", EVENT_COLUMNS, ([e[c] for c in EVENT_COLUMNS] for e in t.events))

    def name(site_id: str) -> str:
        site = t.topology.site(site_id) if t.topology and site_id in t.topology else None
        return (site.name_ja or site.name) if site else ""

    _csv(
        folder / "outages.csv",
        ["service", "host", "local_body", "name", "from", "until", "duration_s"],
        (
            [
                o.service,
                o.host,
                body,
                name(body),
                t.time_of(o.from_s).isoformat(),
                t.time_of(o.until_s).isoformat() if math.isfinite(o.until_s) else "",
                min(o.until_s, t.duration_s) - o.from_s,
            ]
            for o in t.outages
            for body in o.local_bodies
        ),
    )
    return [
        "summary.json",
        "links.csv",
        "links_peak.csv",
        "services.csv",
        "unreachable.csv",
        "events.csv",
        "outages.csv",
    ]
