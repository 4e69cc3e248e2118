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
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lgwan_sim._files import atomic_write
from lgwan_sim.engine import (
    AppliedEvent,
    BinRecord,
    DownElements,
    EngineConfig,
    EventKind,
    Observer,
    RunResult,
    TimelineEvent,
    UtilisationSeries,
    row_blocks,
)
from lgwan_sim.errors import ScenarioError
from lgwan_sim.network import Topology
from lgwan_sim.scenario._model import Scenario
from lgwan_sim.scenario._outages import ServiceOutage, service_outages
from lgwan_sim.scenario._summary import (
    EngineSummary,
    LatencySummary,
    LinkSummary,
    OutageSummary,
    RunSummary,
    ScenarioSummary,
    ServiceSummary,
    Totals,
    UnreachableSummary,
    WorstMoment,
    json_text,
)

__all__ = [
    "ALL_LINKS_FILE",
    "BUSIEST_LINKS",
    "CHANGES_FILE",
    "DropsPerBin",
    "RunTables",
    "fmt",
    "rounded",
    "summarise",
    "worst_moment",
    "write_tables",
]

#: How many directed links the summary, the CSV and the plot follow over time.
BUSIEST_LINKS = 10
#: Every directed link's series, one column each, gzipped (``links.csv``'s layout).
ALL_LINKS_FILE = "links_all.csv.gz"
#: Every link and site that went down or came back, one row each (``events.csv`` abridges
#: a region's sites to a count).
CHANGES_FILE = "changes.csv"
_DIGITS = 6
#: The percentile over a link's bins that ranks it: sustained load, not one spike.
RANK_PERCENTILE = 95


class DropsPerBin(Observer):
    """Collects, as each bin closes, the exchanges each service lost in it, by reason.

    The engine counts drops per bin (expected numbers at the analytic fidelity, whole
    messages at the others) and hands them to its observer; a run's result keeps only the
    totals, so the report's drops over time come from here.
    """

    def __init__(self) -> None:
        self.by_bin: dict[int, dict[str, dict[str, float]]] = {}

    def on_bin(self, record: BinRecord) -> None:
        self.by_bin[record.index] = {
            name: {r: float(n) for r, n in drops.items() if n}
            for name, drops in record.dropped.items()
        }

    def series(
        self, services: Sequence[str], n_bins: int
    ) -> dict[str, dict[str, npt.NDArray[np.float64]]]:
        """``{service: {reason: array[bin]}}`` (reasons with no drop left out)."""
        out: dict[str, dict[str, npt.NDArray[np.float64]]] = {n: {} for n in services}
        for b, per_service in self.by_bin.items():
            if not 0 <= b < n_bins:
                continue
            for name, drops in per_service.items():
                for reason, n in drops.items():
                    row = out.setdefault(name, {}).setdefault(reason, np.zeros(n_bins))
                    row[b] += n
        return {n: dict(sorted(r.items())) for n, r in out.items()}


def rounded(value: float | None) -> float | None:
    """``value`` to six significant digits (``None`` for NaN): stable JSON numbers."""
    if value is None or math.isnan(value):
        return None
    return float(f"{float(value):.{_DIGITS}g}")


def fmt(value: object) -> str:
    """A cell of a CSV or of the report: integers as such, floats to six digits, NaN empty."""
    kind = type(value)
    if kind is float or kind is np.float64:  # most cells: the float branch below, first
        number = float(value)  # type: ignore[arg-type]
        if number != number:  # NaN
            return ""
        if number.is_integer() and abs(number) < 1e15:
            return str(int(number))
        return f"{number:.{_DIGITS}g}"
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

    summary: RunSummary
    """The content of ``summary.json``, typed (``summary.to_json()`` is the file's text)."""
    start: datetime
    bin_s: float
    times_s: npt.NDArray[np.float64]
    busiest: tuple[str, ...]
    busiest_utilisation: npt.NDArray[np.float64]
    link_table: tuple[dict[str, Any], ...]
    """Every directed link's figures (as in ``busiest_links`` of the summary), busiest first."""
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
    dropped: Mapping[str, Mapping[str, npt.NDArray[np.float64]]] = field(default_factory=dict)
    """``{service: {reason: array[bin]}}``: the exchanges lost in each bin, by reason."""
    link_ids: tuple[str, ...] = ()
    """Every directed link of the run, in the engine's order (the rows of ``utilisation``)."""
    utilisation: npt.NDArray[np.float64] | UtilisationSeries | None = None
    """Every directed link's series ``[link, bin]``: carried (flow, packet) or offered
    (analytic) bits over capacity, so above 1 only where the analytic demand overloads it
    (a long analytic run in short bins: its factors, read like an array)."""
    requested: tuple[str, ...] = ()
    """Directed links whose day was asked for (``run --link``), in the order asked."""
    cut_off: tuple[str, ...] = ()
    """Local bodies that no serving host of a service they call could be reached from at
    the end of the worst moment's bin (site down, or no path left in the topology)."""
    circles: tuple[tuple[float, float, float], ...] = ()
    """Radius outages in force at the end of the worst moment: (lat, lon, radius_km)."""
    changes: tuple[tuple[int, float, str, str, str, str], ...] = ()
    """Every element's change of state: (row of ``events``, at_s, view, state, element, id);
    see :func:`state_changes`."""

    def time_of(self, t_s: float) -> datetime:
        return self.start + timedelta(seconds=t_s)


def _file_digest(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def failed_at(
    topology: Topology, events: Iterable[AppliedEvent], until_s: float
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Links and sites down just before ``until_s``, from the run's applied-event log.

    The log says what each outage event took down or brought back (an element is down while
    any event holds it down; a region event takes down every site in its prefectures or
    circle), so this is the engine's own view; the links of a failed site count as failed.
    """
    down = DownElements()
    for ev in events:
        if ev.at_s >= until_s:
            break
        down.apply(ev)
    by_site = {lk.id for s in down.sites for lk in topology.links_of_site(s)}
    return tuple(sorted(down.links | by_site)), tuple(sorted(down.sites))


def _failed_by_bin(
    topology: Topology, events: Sequence[AppliedEvent], n_bins: int, bin_s: float
) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """:func:`failed_at` the end of every bin (once per distinct prefix of the log)."""
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


def cut_off_local_bodies(
    scenario: Scenario,
    events: Sequence[AppliedEvent],
    until_s: float,
    failed_links: Iterable[str],
    failed_sites: Iterable[str],
) -> tuple[str, ...]:
    """Local bodies that cannot reach the serving host of a service they call just before
    ``until_s``: their own site or the host is down, or no path is left in the topology
    without the failed links and sites (the hosts serving after the failovers and failbacks
    applied by then)."""
    topology = scenario.topology
    host = {c.name: c.primary for c in scenario.services}
    for ev in events:
        if ev.at_s >= until_s:
            break
        if ev.service in host:
            choice = next(c for c in scenario.services if c.name == ev.service)
            if ev.kind == EventKind.FAILOVER and choice.secondary:
                host[choice.name] = choice.secondary
            elif ev.kind == EventKind.FAILBACK:
                host[choice.name] = choice.primary
    down_sites = set(failed_sites)
    down_links = set(failed_links)
    if not down_sites and not down_links:
        return ()
    neighbours: dict[str, list[str]] = {}
    for link in topology.links.values():
        if link.id in down_links or link.a in down_sites or link.b in down_sites:
            continue
        neighbours.setdefault(link.a, []).append(link.b)
        neighbours.setdefault(link.b, []).append(link.a)
    reached: dict[str, set[str]] = {}
    cut: set[str] = set()
    for choice in scenario.services:
        start = host[choice.name]
        if start not in reached:
            seen = {start} if start not in down_sites else set()
            frontier = list(seen)
            while frontier:
                site = frontier.pop()
                for other in neighbours.get(site, ()):
                    if other not in seen:
                        seen.add(other)
                        frontier.append(other)
            reached[start] = seen
        for caller in choice.callers:
            if (
                caller in topology
                and topology.site(caller).kind.is_local_body
                and caller not in reached[start]
            ):
                cut.add(caller)
    return tuple(sorted(cut))


def _cut_off_in_bin(
    scenario: Scenario, events: Sequence[AppliedEvent], b: int, bin_s: float
) -> tuple[str, ...]:
    """The most local bodies cut off at any one time in bin ``b`` (the engine counts the
    largest number during a bin): the state after each event in it, and at its start."""
    start, end = b * bin_s, (b + 1) * bin_s
    cuts = sorted({start, *(ev.at_s for ev in events if start <= ev.at_s < end)})
    best: tuple[str, ...] = ()
    for until in [*cuts[1:], end]:
        links, sites = failed_at(scenario.topology, events, until)
        bodies = cut_off_local_bodies(scenario, events, until, links, sites)
        if len(bodies) > len(best):
            best = bodies
    return best


def circles_down(
    events: Sequence[TimelineEvent], until_s: float
) -> tuple[tuple[float, float, float], ...]:
    """The circles of radius outages (``region_down`` with a centre) in force just before
    ``until_s``: (lat, lon, radius_km), each once."""
    held: dict[str, list[tuple[float, float, float]]] = {}
    for ev in events:
        if ev.at_s >= until_s:
            break
        if ev.kind is EventKind.REGION_DOWN and ev.center_latlon and ev.radius_km:
            lat, lon = ev.center_latlon
            held.setdefault(ev.hold, []).append((lat, lon, ev.radius_km))
        elif ev.kind is EventKind.REGION_UP and held.get(ev.hold):
            held[ev.hold].pop()
    out: list[tuple[float, float, float]] = []
    for circles in held.values():
        out += [c for c in circles if c not in out]
    return tuple(out)


_DOWN_KINDS = frozenset({"link_down", "site_down", "region_down"})
_UP_KINDS = frozenset({"link_up", "site_up", "region_up"})


def state_changes(
    events: Sequence[AppliedEvent],
) -> tuple[tuple[int, float, str, str, str, str], ...]:
    """Each link and site whose state an applied event changed, one entry per element.

    ``(event, at_s, view, state, element, id)``: ``event`` is the entry's index in the
    applied-event log (the row of ``events.csv``), ``view`` is ``physical`` (down or up
    from that moment: a down or up event) or ``routing`` (routing has converged on it: a
    ``converged`` entry), ``state`` is ``down`` or ``up``, ``element`` is ``link`` or
    ``site``. The log names only the elements whose state changed (not those another hold
    already kept down), so each entry of a view flips its elements and a converged entry
    flips the routing view of the elements its failure or restoration changed.
    """
    out: list[tuple[int, float, str, str, str, str]] = []
    routing_down: set[tuple[str, str]] = set()
    for i, ev in enumerate(events):
        named = [("link", x) for x in ev.links] + [("site", x) for x in ev.sites]
        if ev.kind in _DOWN_KINDS or ev.kind in _UP_KINDS:
            state = "down" if ev.kind in _DOWN_KINDS else "up"
            out += [(i, ev.at_s, "physical", state, el, x) for el, x in named]
        elif ev.kind == "converged":
            for el, x in named:
                key = (el, x)
                if key in routing_down:
                    routing_down.discard(key)
                    out.append((i, ev.at_s, "routing", "up", el, x))
                else:
                    routing_down.add(key)
                    out.append((i, ev.at_s, "routing", "down", el, x))
    return tuple(out)


def _settings(config: EngineConfig | None) -> dict[str, Any]:
    """Every engine setting of the run, JSON-safe (an unlimited value is ``null``)."""
    if config is None:
        return {}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        out[f.name] = None if isinstance(value, float) and math.isinf(value) else value
    return out


def resolve_links(topology: Topology, asked: Sequence[str]) -> tuple[str, ...]:
    """The directed link ids ``asked`` names: ``a~b`` is both directions, ``a~b>`` one.

    ``b~a`` is accepted for ``a~b``. An id the topology lacks is a :class:`ScenarioError`
    on ``links``.
    """
    out: list[str] = []
    for text in asked:
        raw = text.strip()
        direction = raw[-1] if raw.endswith((">", "<")) else ""
        base = raw.rstrip("<>")
        a, sep, b = base.partition("~")
        link = None
        if sep and a in topology and b in topology:
            try:
                link = topology.link_between(a, b)
            except (KeyError, ValueError, LookupError):
                link = None
        if link is None:
            raise ScenarioError(
                "no such link in the topology (a link is a~b, a direction a~b> or a~b<)",
                field="links",
                value=text,
            )
        flipped = link.a != a
        if direction:
            if flipped:
                direction = "<" if direction == ">" else ">"
            wanted = [f"{link.id}{direction}"]
        else:
            wanted = [f"{link.id}>", f"{link.id}<"]
        out += [w for w in wanted if w not in out]
    return tuple(out)


def rank_links(
    util: npt.NDArray[np.float64] | UtilisationSeries, link_ids: Sequence[str]
) -> tuple[list[int], npt.NDArray[np.float64]]:
    """Link indices busiest first, and each link's 95th percentile over the bins.

    Ranked by sustained load, the 95th percentile over the bins (a town's access line that
    spikes in one bin on a single transfer does not outrank a backbone loaded all day),
    then by the peak, then by id.
    """
    stats = link_stats(util, len(link_ids))
    return _rank(stats, link_ids), stats.p95


def _rank(stats: LinkStats, link_ids: Sequence[str]) -> list[int]:
    n, p95, peaks = len(link_ids), stats.p95, stats.peak
    if stats.empty:
        return sorted(range(n), key=lambda i: link_ids[i])
    return sorted(range(n), key=lambda i: (-p95[i], -peaks[i], link_ids[i]))


@dataclass(frozen=True, slots=True)
class LinkStats:
    """Per directed link over the bins, and per bin over the links, of a links x bins series."""

    empty: bool
    p95: npt.NDArray[np.float64]  # the ranking percentile of each link
    peak: npt.NDArray[np.float64]
    mean_carried: npt.NDArray[np.float64]  # the mean of min(utilisation, 1)
    over: npt.NDArray[np.int64]  # bins above capacity
    peak_bin: npt.NDArray[np.int64]  # the first bin at the peak
    bin_max: npt.NDArray[np.float64]  # per bin, the busiest link's utilisation


def link_stats(
    util: npt.NDArray[np.float64] | UtilisationSeries, n_links: int, n_bins: int = 0
) -> LinkStats:
    """The figures the summary reads off every link's series, a block of whole rows at a
    time: each row is reduced on its own, so its figures are those of the whole array, and
    a long series in short bins is never held whole."""
    if util.size == 0:
        zeros = np.zeros(n_links)
        ints = np.zeros(n_links, dtype=np.int64)
        return LinkStats(True, zeros, zeros, zeros, ints, ints, np.zeros(n_bins))
    parts: list[tuple[npt.NDArray[Any], ...]] = []
    bin_max = np.full(int(util.shape[1]), -np.inf)
    for block in row_blocks(util):
        parts.append(
            (
                np.percentile(block, RANK_PERCENTILE, axis=1, method="inverted_cdf"),
                block.max(axis=1),
                np.minimum(block, 1.0).mean(axis=1),
                (block > 1.0).sum(axis=1),
                block.argmax(axis=1),
            )
        )
        np.maximum(bin_max, block.max(axis=0), out=bin_max)
    p95, peak, mean_carried, over, peak_bin = (np.concatenate(c) for c in zip(*parts, strict=True))
    return LinkStats(False, p95, peak, mean_carried, over, peak_bin, bin_max)


def _link_table(
    link_ids: Sequence[str],
    caps: Sequence[float],
    stats: LinkStats,
    order: Sequence[int],
    bin_s: float,
    when: Any,
) -> tuple[dict[str, Any], ...]:
    """Every link's figures for the summary, in ``order``: load is the engine's series
    (offered at the analytic fidelity), utilisation the share of capacity carried, at
    most 1. Worked out for all links at once (the national network has 3,822)."""
    p95, peak, mean_carried = stats.p95, stats.peak, stats.mean_carried
    over, peak_bin = stats.over, stats.peak_bin
    stamps: dict[int, str] = {}
    out = []
    for i in order:
        b = int(peak_bin[i])
        if b not in stamps:
            stamps[b] = when(b * bin_s)
        out.append(
            {
                "link": link_ids[i],
                "capacity_bps": caps[i],
                "p95_utilisation": rounded(min(float(p95[i]), 1.0)),
                "peak_utilisation": rounded(min(float(peak[i]), 1.0)),
                "mean_utilisation": rounded(float(mean_carried[i])),
                "peak_load": rounded(float(peak[i])),
                "overloaded_bins": int(over[i]),
                "peak_at": stamps[b],
            }
        )
    return tuple(out)


def summarise(
    scenario: Scenario,
    result: RunResult,
    config: EngineConfig | None = None,
    *,
    drops: DropsPerBin | None = None,
    links: Sequence[str] = (),
    timeline: Sequence[TimelineEvent] = (),
) -> RunTables:
    """Condense a run into the summary and the series the files and plots show.

    What was down when comes from the run's applied-event log (``result.events``), not from
    the timeline. ``config`` is the engine's settings, recorded in ``summary.json`` so that
    two runs' settings can be told apart from their results. ``drops`` is the observer that
    saw the run's bins (for the drops over time); ``links`` the links whose day was asked for;
    ``timeline`` the scheduled events, read only for the circles of radius outages the map
    draws (the log names the sites a circle took down, not the circle).
    """
    n_bins = result.n_bins
    bin_s = result.bin_s
    times = np.arange(n_bins, dtype=float) * bin_s
    # the report ranks and tabulates every link over every bin, read a block of rows at a
    # time (a long analytic run in short bins keeps its series as factors, never whole)
    util = result.link_utilisation
    caps = result.link_capacity_bps
    requested = resolve_links(scenario.topology, links)
    per_link = link_stats(util, len(result.link_ids), n_bins)
    peaks = per_link.peak
    order = _rank(per_link, result.link_ids)
    busiest_idx = [i for i in order[:BUSIEST_LINKS] if peaks[i] > 0]
    busiest = tuple(result.link_ids[i] for i in busiest_idx)

    def cap_of(i: int) -> float:
        return float(caps[i]) if caps.ndim == 1 else float(caps[i].max())

    def when(t_s: float) -> str:
        return (scenario.start + timedelta(seconds=t_s)).isoformat()

    link_table = _link_table(
        result.link_ids,
        [cap_of(i) for i in range(len(result.link_ids))],
        per_link,
        order,
        bin_s,
        when,
    )
    by_id = {e["link"]: e for e in link_table}
    peak_i = (
        min(range(len(order)), key=lambda i: (-peaks[i], result.link_ids[i])) if order else None
    )
    unreachable = np.asarray(result.unreachable_local_bodies, dtype=np.int64)
    max_util = per_link.bin_max
    failed_by_bin = _failed_by_bin(scenario.topology, result.events, n_bins, bin_s)
    worst_bin = worst_moment(unreachable, max_util, [len(lk) + len(s) for lk, s in failed_by_bin])
    failed_links, failed_sites = failed_by_bin[worst_bin]
    map_values: dict[str, float] = {}
    at_worst = np.asarray(util[:, worst_bin]) if util.size else np.zeros(len(result.link_ids))
    for i, directed in enumerate(result.link_ids):
        undirected = directed.rstrip("<>")
        value = float(at_worst[i])
        map_values[undirected] = max(map_values.get(undirected, 0.0), value)

    services: dict[str, ServiceSummary] = {}
    for choice in scenario.services:
        stats = result.services[choice.name]
        hist = stats.latency
        services[choice.name] = ServiceSummary(
            title=choice.spec.title,
            primary=choice.primary,
            secondary=choice.secondary,
            callers=len(choice.callers),
            offered=stats.offered,
            delivered=stats.delivered,
            dropped=dict(sorted(stats.dropped.items())),
            dropped_total=stats.dropped_total,
            in_flight=stats.in_flight,
            delivered_ratio=rounded(stats.delivered / stats.offered) if stats.offered else None,
            latency_s=LatencySummary(
                mean=rounded(hist.mean),
                p50=rounded(hist.percentile(50)),
                p95=rounded(hist.percentile(95)),
                p99=rounded(hist.percentile(99)),
            ),
            slo_latency_s=choice.spec.slo_latency_s.value,
            slo_breaches=stats.slo_breaches,
            slo_breach_ratio=rounded(stats.slo_breaches / stats.delivered)
            if stats.delivered
            else None,
        )
    dropped_total: dict[str, int] = {}
    for entry in services.values():
        for reason, n in entry.dropped.items():
            dropped_total[reason] = dropped_total.get(reason, 0) + n
    outages = tuple(service_outages(scenario, result.events))
    peak_unreachable = int(unreachable.max(initial=0))
    peak_unreachable_bin = int(unreachable.argmax()) if unreachable.size else 0
    summary = RunSummary(
        scenario=ScenarioSummary(
            name=scenario.name,
            description=scenario.description,
            file=Path(scenario.file).name,
            file_sha256=_file_digest(scenario.file),
            topology=scenario.topology_ref,
            sites=len(scenario.topology.sites),
            links=len(scenario.topology.links),
            start=scenario.start.isoformat(),
            duration_s=scenario.duration_s,
            fidelity=scenario.fidelity.value,
            seed=scenario.seed,
            bin_s=bin_s,
            events=len(scenario.events),
        ),
        totals=Totals(
            offered=sum(s.offered for s in services.values()),
            delivered=sum(s.delivered for s in services.values()),
            dropped=dict(sorted(dropped_total.items())),
            dropped_total=sum(dropped_total.values()),
            in_flight=sum(s.in_flight for s in services.values()),
            slo_breaches=sum(s.slo_breaches for s in services.values()),
        ),
        services=services,
        unreachable_local_bodies=UnreachableSummary(
            peak=peak_unreachable,
            peak_at=when(peak_unreachable_bin * bin_s),
            bins_with_any=int((unreachable > 0).sum()),
        ),
        service_outages=tuple(
            OutageSummary(
                service=o.service,
                host=o.host,
                from_=when(o.from_s),
                until=when(o.until_s) if math.isfinite(o.until_s) else None,
                duration_s=min(o.until_s, scenario.duration_s) - o.from_s,
                local_bodies=len(o.local_bodies),
            )
            for o in outages
        ),
        busiest_links=tuple(LinkSummary(**by_id[lid]) for lid in busiest),
        peak_link=None if peak_i is None else LinkSummary(**by_id[result.link_ids[peak_i]]),
        requested_links=tuple(LinkSummary(**by_id[lid]) for lid in requested),
        worst_moment=WorstMoment(
            bin=worst_bin,
            at=when(worst_bin * bin_s),
            unreachable_local_bodies=int(unreachable[worst_bin]),
            max_link_utilisation=rounded(float(max_util[worst_bin])),
            failed_links=len(failed_links),
            failed_sites=len(failed_sites),
        ),
        engine=EngineSummary(
            overloaded=result.overloaded,
            overload_reason=result.overload_reason,
            stopped_at_s=result.stopped_at_s,
            series_sha256=result.digest(),
            settings=_settings(config),
            counters=dict(sorted(result.counters.items())),
        ),
    )
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
        busiest_utilisation=np.asarray(util[busiest_idx]) if busiest_idx else np.zeros((0, n_bins)),
        link_table=link_table,
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
        dropped=(drops or DropsPerBin()).series(names, n_bins),
        link_ids=tuple(result.link_ids),
        utilisation=util,
        requested=requested,
        cut_off=_cut_off_in_bin(scenario, result.events, worst_bin, bin_s),
        circles=circles_down(timeline, (worst_bin + 1) * bin_s),
        changes=state_changes(result.events),
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

#: The columns of ``changes.csv`` (see :func:`state_changes`).
CHANGE_COLUMNS = ("event", "at_s", "view", "state", "element", "id")

#: The columns of ``links_peak.csv``: every directed link, busiest (p95) first.
LINK_COLUMNS = (
    "link",
    "capacity_bps",
    "p95_utilisation",
    "peak_utilisation",
    "mean_utilisation",
    "peak_load",
    "overloaded_bins",
    "peak_at",
)


#: ``links_all.csv.gz`` is formatted and compressed this many cells at a time.
ALL_LINKS_BLOCK_CELLS = 2**20


def _write_all_links(
    path: Path,
    stamps: Sequence[str],
    times_s: npt.NDArray[np.float64],
    link_ids: Sequence[str],
    util: npt.NDArray[np.float64] | UtilisationSeries,
) -> None:
    """Every directed link's series in the layout of ``links.csv``, gzipped.

    Numbers are written as :func:`fmt` writes them (``%.6g`` gives the same text for a
    utilisation, a float below a million), and the gzip header carries no name or time,
    so the file is byte-identical from run to run. The rows (bins) are formatted and
    compressed a block at a time, so a day in 1-second bins is never held as text; the
    compressed stream does not depend on how its input is cut.
    """
    import gzip

    n_links = len(link_ids)
    step = max(1, ALL_LINKS_BLOCK_CELLS // max(1, n_links))
    with (
        path.open("wb") as raw,
        # level 1: a quarter of the time of level 6 for a file about 15 % larger
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="", compresslevel=1) as gz,
    ):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(["time", "t_s", *link_ids])
        gz.write(buffer.getvalue().encode("utf-8"))
        for b0 in range(0, len(stamps), step):
            b1 = min(len(stamps), b0 + step)
            block = np.asarray(util[:, b0:b1]).T if n_links else np.zeros((b1 - b0, 0))
            # A day's series take few distinct values (the national analytic day: 3,534 of
            # 1.1 million), so each distinct value is formatted once.
            values, inverse = np.unique(block, return_inverse=True)
            texts = np.array([f"{v:.6g}" for v in values.tolist()], dtype=object)
            cells = texts[inverse.reshape(block.shape)] if block.size else block
            lines = [
                ",".join([stamps[b], fmt(float(times_s[b])), *cells[b - b0].tolist()]) + "\n"
                for b in range(b0, b1)
            ]
            gz.write("".join(lines).encode("utf-8"))


def _csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([fmt(v) for v in row])
    path.write_text(buffer.getvalue(), encoding="utf-8")


def write_json(path: Path, doc: object) -> None:
    """Write ``doc`` as the run's files write JSON, atomically: a program that waits for the
    file to appear (the emulator's ``endpoints.json``) reads it whole or not at all."""
    atomic_write(path, json_text(doc).encode("utf-8"))


def write_tables(tables: RunTables, folder: Path) -> list[str]:
    """Write ``summary.json`` and the CSV files into ``folder``; return the file names."""
    t = tables
    (folder / "summary.json").write_text(t.summary.to_json(), encoding="utf-8")
    stamps = [t.time_of(float(s)).isoformat() for s in t.times_s]
    followed = [*t.busiest, *(lid for lid in t.requested if lid not in t.busiest)]
    index = {lid: i for i, lid in enumerate(t.link_ids)}
    util = t.utilisation if t.utilisation is not None else np.zeros((0, len(stamps)))
    rows = (
        np.asarray(util[[index[lid] for lid in followed]])
        if followed
        else np.zeros((0, len(stamps)))
    )
    _csv(
        folder / "links.csv",
        ["time", "t_s", *followed],
        ([stamps[b], t.times_s[b], *rows[:, b].tolist()] for b in range(len(stamps))),
    )
    _csv(
        folder / "links_peak.csv",
        LINK_COLUMNS,
        ([e[c] for c in LINK_COLUMNS] for e in t.link_table),
    )
    _write_all_links(folder / ALL_LINKS_FILE, stamps, t.times_s, t.link_ids, util)
    dropped = {
        name: sum(t.dropped.get(name, {}).values(), np.zeros(len(stamps))) for name in t.services
    }
    _csv(
        folder / "services.csv",
        ["time", "t_s", "service", "offered", "delivered", "dropped", "p50_s", "p95_s", "p99_s"],
        (
            [
                stamps[b],
                t.times_s[b],
                name,
                int(t.offered[name][b]),
                int(t.delivered[name][b]),
                float(dropped[name][b]),
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
    _csv(folder / CHANGES_FILE, CHANGE_COLUMNS, t.changes)

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
        ALL_LINKS_FILE,
        "services.csv",
        "unreachable.csv",
        "events.csv",
        CHANGES_FILE,
        "outages.csv",
    ]
