"""A finished run read back from its folder: what a replay or an animation shows.

``lgwan-sim run -o DIR`` writes every directed link's utilisation per bin
(``links_all.csv.gz``), each service's exchanges per bin (``services.csv``), the local
bodies cut off per bin (``unreachable.csv``), the applied-event log (``events.csv``) and
every link and site that went down or came back (``changes.csv``).
:meth:`Recording.load` reads them into arrays and answers what was down at any moment.

A missing or malformed file is an :class:`~lgwan_sim.errors.InputError` naming the file,
its line and the field (one line and exit 2 on the command line).
"""

from __future__ import annotations

import bisect
import csv
import gzip
import io
import json
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from lgwan_sim.errors import InputError

if TYPE_CHECKING:
    from lgwan_sim.network import Topology

__all__ = ["RecordedEvent", "Recording", "Spell"]

SUMMARY = "summary.json"
ALL_LINKS = "links_all.csv.gz"
SERVICES = "services.csv"
UNREACHABLE = "unreachable.csv"
EVENTS = "events.csv"
CHANGES = "changes.csv"
RUN = "run.json"

_DOWN = frozenset({"link_down", "site_down", "region_down"})
_UP = frozenset({"link_up", "site_up", "region_up"})

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedEvent:
    """One row of ``events.csv``: an event the engine applied, or a routing convergence.

    ``links`` and ``sites`` are every element whose state the entry changed (in full, from
    ``changes.csv``, where ``events.csv`` abridges a region to a count of sites); for a
    ``capacity`` entry, the links whose capacity it set. ``service`` names the service of a
    ``failover``, ``failback`` or ``demand`` entry.
    """

    index: int
    at_s: float
    time: str
    kind: str
    note: str
    links: tuple[str, ...]
    sites: tuple[str, ...]
    service: str
    routes_recomputed: int
    messages_lost: int
    messages_rerouted: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Spell:
    """An element down from ``from_s`` until ``until_s`` (``math.inf``: still down at the end)."""

    element: str
    """``"link"`` or ``"site"``."""
    id: str
    from_s: float
    until_s: float


@dataclass(frozen=True, slots=True)
class _Change:
    event: int
    at_s: float
    view: str
    state: str
    element: str
    id: str


def _error(
    path: Path,
    message: str,
    *,
    line: int | None = None,
    field: str | None = None,
    value: object = None,
) -> InputError:
    return InputError(message, file=path, line=line, field=field, value=value)


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise _error(path, "missing from the run folder (written by lgwan-sim run -o DIR)")
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as handle:
                return handle.read().decode("utf-8")
        return path.read_text(encoding="utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise _error(path, f"cannot be read ({exc})") from None


def _rows(path: Path, columns: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """``(line, row)`` of a CSV file whose header has at least ``columns``."""
    reader = csv.DictReader(io.StringIO(_read_text(path)))
    header = reader.fieldnames or []
    for name in columns:
        if name not in header:
            raise _error(path, "missing column", line=1, field=name)
    out: list[tuple[int, dict[str, str]]] = []
    for row in reader:
        line = reader.line_num
        if None in row or any(row.get(c) is None for c in columns):
            raise _error(path, "wrong number of cells", line=line, value=len(header))
        out.append((line, row))
    return out


def _number(path: Path, line: int, name: str, text: str, *, integer: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _error(path, "not a number", line=line, field=name, value=text) from None
    if not math.isfinite(value) or (integer and not value.is_integer()):
        raise _error(
            path,
            "not a whole number" if integer else "not a finite number",
            line=line,
            field=name,
            value=text,
        )
    return value


@dataclass(frozen=True, kw_only=True, eq=False)
class Recording:
    """A finished run's series and state changes, read from its folder by :meth:`load`.

    Series are indexed ``[..., bin]``; bin ``b`` covers ``[b * bin_s, (b + 1) * bin_s)``
    seconds of simulated time after ``start``. ``link_ids`` are directed (``"a~b>"`` from
    ``a`` to ``b``, ``"a~b<"`` back), in the run's order, the rows of ``utilisation``.
    """

    folder: Path
    summary: Mapping[str, Any]
    start: datetime
    bin_s: float
    duration_s: float
    times_s: FloatArray
    """The start of every bin, seconds after ``start``."""
    link_ids: tuple[str, ...]
    utilisation: FloatArray
    """``[link, bin]``: carried (offered at the analytic fidelity) bits over capacity."""
    services: tuple[str, ...]
    offered: Mapping[str, FloatArray]
    delivered: Mapping[str, FloatArray]
    dropped: Mapping[str, FloatArray]
    """Exchanges lost in each bin, all reasons (expected numbers at the analytic fidelity)."""
    latency_p50_s: Mapping[str, FloatArray]
    latency_p95_s: Mapping[str, FloatArray]
    latency_p99_s: Mapping[str, FloatArray]
    unreachable: IntArray
    """Per bin: the most local bodies at once that could not reach a service they call."""
    events: tuple[RecordedEvent, ...]
    _changes: tuple[_Change, ...] = field(repr=False)

    # -- reading --------------------------------------------------------------------------
    @classmethod
    def load(cls, run_dir: str | Path) -> Recording:
        """Read the run folder ``run_dir``; an :class:`InputError` names a bad file."""
        folder = Path(run_dir)
        if not folder.is_dir():
            raise InputError("not a run folder (lgwan-sim run -o DIR writes one)", file=folder)
        summary_path = folder / SUMMARY
        try:
            summary = json.loads(_read_text(summary_path))
            scenario = summary["scenario"]
            start = datetime.fromisoformat(scenario["start"])
            bin_s = float(scenario["bin_s"])
            duration_s = float(scenario["duration_s"])
        except json.JSONDecodeError as exc:
            raise _error(summary_path, f"not JSON ({exc.msg})", line=exc.lineno) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise _error(
                summary_path,
                "no scenario start, bin_s and duration_s",
                field="scenario",
                value=str(exc),
            ) from None
        if not (bin_s > 0 and math.isfinite(bin_s)):
            raise _error(summary_path, "must be > 0", field="scenario.bin_s", value=bin_s)

        times, link_ids, util = _read_links(folder / ALL_LINKS)
        n_bins = len(times)
        services, series = _read_services(folder / SERVICES, times)
        unreachable = _read_unreachable(folder / UNREACHABLE, times)
        events, abridged = _read_events(folder / EVENTS)
        if (folder / CHANGES).exists():
            changes = _read_changes(folder / CHANGES, events)
        else:
            changes = _changes_from_events(folder / CHANGES, events, abridged)
        by_event: dict[int, tuple[list[str], list[str]]] = {}
        for ch in changes:
            links, sites = by_event.setdefault(ch.event, ([], []))
            (links if ch.element == "link" else sites).append(ch.id)
        full = tuple(
            _with_elements(ev, *by_event[ev.index]) if ev.index in by_event else ev for ev in events
        )
        if n_bins and not math.isclose(float(times[-1]), (n_bins - 1) * bin_s):
            raise _error(
                folder / ALL_LINKS,
                f"the bins are not {bin_s:g} s apart",
                field="t_s",
                value=float(times[-1]),
            )
        return cls(
            folder=folder,
            summary=summary,
            start=start,
            bin_s=bin_s,
            duration_s=duration_s,
            times_s=times,
            link_ids=link_ids,
            utilisation=util,
            services=services,
            offered=series["offered"],
            delivered=series["delivered"],
            dropped=series["dropped"],
            latency_p50_s=series["p50_s"],
            latency_p95_s=series["p95_s"],
            latency_p99_s=series["p99_s"],
            unreachable=unreachable,
            events=full,
            _changes=changes,
        )

    # -- time -----------------------------------------------------------------------------
    @property
    def n_bins(self) -> int:
        return len(self.times_s)

    def time_of(self, t_s: float) -> datetime:
        """The moment ``t_s`` seconds into the run (in the scenario's offset, JST)."""
        return self.start + timedelta(seconds=t_s)

    def bin_at(self, t_s: float) -> int:
        """The bin holding ``t_s`` (the first or last bin outside the run)."""
        if self.n_bins == 0:
            return 0
        return min(max(int(t_s // self.bin_s), 0), self.n_bins - 1)

    # -- links ----------------------------------------------------------------------------
    @cached_property
    def undirected_ids(self) -> tuple[str, ...]:
        """Every link ``a~b`` once, in the run's order."""
        return tuple(dict.fromkeys(lid.rstrip("<>") for lid in self.link_ids))

    @cached_property
    def undirected_utilisation(self) -> FloatArray:
        """``[link, bin]`` over :attr:`undirected_ids`: the busier direction of each link."""
        index = {lid: i for i, lid in enumerate(self.undirected_ids)}
        rows = np.array([index[lid.rstrip("<>")] for lid in self.link_ids], dtype=np.intp)
        out = np.zeros((len(self.undirected_ids), self.n_bins))
        np.maximum.at(out, rows, self.utilisation)
        return out

    # -- state ----------------------------------------------------------------------------
    @cached_property
    def _states(
        self,
    ) -> dict[str, tuple[list[float], list[tuple[frozenset[str], frozenset[str]]]]]:
        out: dict[str, tuple[list[float], list[tuple[frozenset[str], frozenset[str]]]]] = {}
        for view in ("physical", "routing"):
            links: set[str] = set()
            sites: set[str] = set()
            times: list[float] = []
            states: list[tuple[frozenset[str], frozenset[str]]] = []
            for ch in self._changes:
                if ch.view != view:
                    continue
                held = links if ch.element == "link" else sites
                (held.add if ch.state == "down" else held.discard)(ch.id)
                snapshot = (frozenset(links), frozenset(sites))
                if times and times[-1] == ch.at_s:
                    states[-1] = snapshot
                else:
                    times.append(ch.at_s)
                    states.append(snapshot)
            out[view] = (times, states)
        return out

    def _state_at(self, view: str, t_s: float) -> tuple[frozenset[str], frozenset[str]]:
        times, states = self._states[view]
        i = bisect.bisect_right(times, t_s)
        return states[i - 1] if i else (frozenset(), frozenset())

    def down_at(self, t_s: float) -> tuple[frozenset[str], frozenset[str]]:
        """``(links, sites)`` down at ``t_s``, every change at or before ``t_s`` applied.

        ``links`` are those held down by a link event, as the engine keeps them (a down
        site's lines are not listed: :meth:`failed_links_at` adds them).
        """
        return self._state_at("physical", t_s)

    def routing_down_at(self, t_s: float) -> tuple[frozenset[str], frozenset[str]]:
        """``(links, sites)`` that routing treats as down at ``t_s`` (after convergence)."""
        return self._state_at("routing", t_s)

    def failed_links_at(self, t_s: float) -> frozenset[str]:
        """Links (``a~b``) that carry nothing at ``t_s``: down, or at a down site."""
        links, sites = self.down_at(t_s)
        if not sites:
            return links
        at_site = {lid for lid in self.undirected_ids if not sites.isdisjoint(lid.split("~", 1))}
        return links | frozenset(at_site)

    @cached_property
    def spells(self) -> tuple[Spell, ...]:
        """Every spell in which a link or site was down, in the order they began."""
        open_: dict[tuple[str, str], float] = {}
        out: list[tuple[float, int, Spell]] = []
        order = 0
        for ch in self._changes:
            if ch.view != "physical":
                continue
            key = (ch.element, ch.id)
            if ch.state == "down":
                open_.setdefault(key, ch.at_s)
            elif key in open_:
                began = open_.pop(key)
                out.append(
                    (began, order, Spell(element=key[0], id=key[1], from_s=began, until_s=ch.at_s))
                )
                order += 1
        for key, began in open_.items():
            out.append(
                (began, order, Spell(element=key[0], id=key[1], from_s=began, until_s=math.inf))
            )
            order += 1
        return tuple(s for _, _, s in sorted(out, key=lambda x: (x[0], x[2].element, x[2].id)))

    def down_during(self, t0_s: float, t1_s: float) -> tuple[frozenset[str], frozenset[str]]:
        """``(links, sites)`` down at any moment of ``[t0_s, t1_s)`` (as :meth:`down_at`)."""
        links, sites = self.down_at(t0_s)
        times, states = self._states["physical"]
        first = bisect.bisect_right(times, t0_s)
        last = bisect.bisect_left(times, t1_s)
        for held_links, held_sites in states[first:last]:
            links |= held_links
            sites |= held_sites
        return links, sites

    def failed_links(self, links: frozenset[str], sites: frozenset[str]) -> frozenset[str]:
        """``links`` with every link (``a~b``) at one of ``sites``: the links that carry
        nothing when these are down."""
        if not sites:
            return links
        at_site = {lid for lid in self.undirected_ids if not sites.isdisjoint(lid.split("~", 1))}
        return links | frozenset(at_site)

    def topology(self) -> Topology:
        """The run's network, from the scenario file that ``run.json`` names.

        Without that file (moved, or an older run folder), the national network when the run
        was on it. Refused unless the network has exactly the run's links.
        """
        from lgwan_sim.network import build_national
        from lgwan_sim.scenario import load_scenario

        run_path = self.folder / RUN
        scenario_file: str | None = None
        if run_path.is_file():
            try:
                scenario_file = json.loads(_read_text(run_path)).get("scenario_file")
            except (json.JSONDecodeError, AttributeError):
                raise _error(run_path, "not a JSON object", field="scenario_file") from None
        ref = str(self.summary.get("scenario", {}).get("topology", ""))
        if scenario_file and Path(scenario_file).is_file():
            topology = load_scenario(scenario_file).topology
            source: Path = run_path
            what = f"the scenario file {scenario_file}"
        elif ref == "national":
            topology = build_national()
            source, what = self.folder / SUMMARY, "the national network"
        else:
            raise _error(
                run_path,
                "the run's scenario file is gone, and its network is not the national one",
                field="scenario_file",
                value=scenario_file,
            )
        if set(topology.links) != set(self.undirected_ids):
            raise _error(
                source,
                f"{what} no longer has the run's links",
                field="scenario_file" if source == run_path else "scenario.topology",
                value=len(topology.links),
            )
        return topology

    def failed_over_at(self, t_s: float) -> frozenset[str]:
        """Services on their secondary host at ``t_s`` (failed over, not yet back)."""
        on: set[str] = set()
        for ev in self.events:
            if ev.at_s > t_s:
                break
            if ev.kind == "failover":
                on.add(ev.service)
            elif ev.kind == "failback":
                on.discard(ev.service)
        return frozenset(on)


def _with_elements(ev: RecordedEvent, links: list[str], sites: list[str]) -> RecordedEvent:
    return RecordedEvent(
        index=ev.index,
        at_s=ev.at_s,
        time=ev.time,
        kind=ev.kind,
        note=ev.note,
        links=tuple(links) or ev.links,
        sites=tuple(sites),
        service=ev.service,
        routes_recomputed=ev.routes_recomputed,
        messages_lost=ev.messages_lost,
        messages_rerouted=ev.messages_rerouted,
    )


def _read_links(path: Path) -> tuple[FloatArray, tuple[str, ...], FloatArray]:
    text = _read_text(path)
    first, _, body = text.partition("\n")
    header = next(csv.reader([first])) if first else []
    if header[:2] != ["time", "t_s"]:
        raise _error(
            path,
            "the header must begin time,t_s",
            line=1,
            field="header",
            value=",".join(header[:2]),
        )
    link_ids = tuple(header[2:])
    for lid in link_ids:
        if not lid.endswith((">", "<")) or "~" not in lid:
            raise _error(
                path, "not a directed link id (a~b> or a~b<)", line=1, field="header", value=lid
            )
    n = len(link_ids)
    if not body.strip():
        return np.zeros(0), link_ids, np.zeros((n, 0))
    try:
        values = np.loadtxt(
            io.StringIO(body), delimiter=",", usecols=range(1, n + 2), ndmin=2, dtype=float
        )
        if (
            values.shape[1] != n + 1
            or body.count("\n") != values.shape[0]
            or (body.splitlines()[0].count(",") != n + 1)
        ):
            raise ValueError("shape")
    except ValueError:
        _locate_bad_cell(path, body, header)
        raise _error(path, "malformed series") from None
    if not np.isfinite(values).all():
        _locate_bad_cell(path, body, header)
    return values[:, 0].copy(), link_ids, np.ascontiguousarray(values[:, 1:].T)


def _locate_bad_cell(path: Path, body: str, header: Sequence[str]) -> None:
    """Raise the error of the first cell that is not a finite number, or of a short row."""
    for k, cells in enumerate(csv.reader(io.StringIO(body))):
        line = k + 2
        if len(cells) != len(header):
            raise _error(path, f"{len(cells)} cells, the header has {len(header)}", line=line)
        for name, cell in zip(header[1:], cells[1:], strict=True):
            _number(path, line, name, cell)


def _read_services(
    path: Path, times: FloatArray
) -> tuple[tuple[str, ...], dict[str, dict[str, FloatArray]]]:
    columns = ("t_s", "service", "offered", "delivered", "dropped", "p50_s", "p95_s", "p99_s")
    rows = _rows(path, columns)
    names = tuple(dict.fromkeys(row["service"] for _, row in rows))
    n_bins = len(times)
    index = {float(t): b for b, t in enumerate(times.tolist())}
    series = {c: {n: np.full(n_bins, math.nan) for n in names} for c in columns[2:]}
    seen: set[tuple[str, int]] = set()
    for line, row in rows:
        t = _number(path, line, "t_s", row["t_s"])
        b = index.get(t)
        if b is None:
            raise _error(
                path, f"not a bin of {ALL_LINKS}", line=line, field="t_s", value=row["t_s"]
            )
        if (row["service"], b) in seen:
            raise _error(
                path,
                "a second row for this service and bin",
                line=line,
                field="service",
                value=row["service"],
            )
        seen.add((row["service"], b))
        for c in columns[2:]:
            cell = row[c]
            if c.endswith("_s") and cell == "":  # no delivery in the bin
                continue
            series[c][row["service"]][b] = _number(path, line, c, cell)
    if len(seen) != len(names) * n_bins:
        raise _error(
            path,
            f"a row per service and bin of {ALL_LINKS} is missing",
            field="t_s",
            value=len(seen),
        )
    return names, series


def _read_unreachable(path: Path, times: FloatArray) -> IntArray:
    rows = _rows(path, ("t_s", "unreachable_local_bodies"))
    if len(rows) != len(times):
        raise _error(path, f"{len(rows)} bins, {ALL_LINKS} has {len(times)}", field="t_s")
    out = np.zeros(len(rows), dtype=np.int64)
    for b, (line, row) in enumerate(rows):
        if _number(path, line, "t_s", row["t_s"]) != float(times[b]):
            raise _error(
                path, f"not bin {b} of {ALL_LINKS}", line=line, field="t_s", value=row["t_s"]
            )
        out[b] = int(
            _number(
                path,
                line,
                "unreachable_local_bodies",
                row["unreachable_local_bodies"],
                integer=True,
            )
        )
    return out


_EVENT_COLUMNS = (
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


def _read_events(path: Path) -> tuple[tuple[RecordedEvent, ...], frozenset[int]]:
    """The rows of ``events.csv``, and the rows whose sites it abridges to a count."""
    out: list[RecordedEvent] = []
    abridged: set[int] = set()
    for k, (line, row) in enumerate(_rows(path, _EVENT_COLUMNS)):
        at_s = _number(path, line, "at_s", row["at_s"])
        if out and at_s < out[-1].at_s:
            raise _error(
                path, "events out of time order", line=line, field="at_s", value=row["at_s"]
            )
        sites = row["sites"].split()
        if _abridged(row["sites"]):
            abridged.add(k)
            sites = []
        out.append(
            RecordedEvent(
                index=k,
                at_s=at_s,
                time=row["time"],
                kind=row["kind"],
                note=row["note"],
                links=tuple(row["links"].split()),
                sites=tuple(sites),
                service=row["service"],
                routes_recomputed=int(_count(path, line, "routes_recomputed", row)),
                messages_lost=int(_count(path, line, "messages_lost", row)),
                messages_rerouted=int(_count(path, line, "messages_rerouted", row)),
            )
        )
    return tuple(out), frozenset(abridged)


def _count(path: Path, line: int, name: str, row: Mapping[str, str]) -> float:
    return _number(path, line, name, row[name] or "0", integer=True)


def _abridged(cell: str) -> bool:
    """``events.csv`` writes more than twenty sites as ``"N sites"``."""
    parts = cell.split()
    return len(parts) == 2 and parts[0].isdigit() and parts[1] == "sites"


def _read_changes(path: Path, events: Sequence[RecordedEvent]) -> tuple[_Change, ...]:
    out: list[_Change] = []
    for line, row in _rows(path, ("event", "at_s", "view", "state", "element", "id")):
        k = int(_number(path, line, "event", row["event"], integer=True))
        if not 0 <= k < len(events):
            raise _error(
                path, f"no such row of {EVENTS}", line=line, field="event", value=row["event"]
            )
        at_s = _number(path, line, "at_s", row["at_s"])
        if at_s != events[k].at_s:
            raise _error(
                path,
                f"not the time of row {k} of {EVENTS}",
                line=line,
                field="at_s",
                value=row["at_s"],
            )
        for name, allowed in (
            ("view", ("physical", "routing")),
            ("state", ("down", "up")),
            ("element", ("link", "site")),
        ):
            if row[name] not in allowed:
                raise _error(
                    path, f"must be {' or '.join(allowed)}", line=line, field=name, value=row[name]
                )
        if not row["id"]:
            raise _error(path, "empty", line=line, field="id")
        out.append(_Change(k, at_s, row["view"], row["state"], row["element"], row["id"]))
    return tuple(out)


def _changes_from_events(
    path: Path, events: Sequence[RecordedEvent], abridged: frozenset[int]
) -> tuple[_Change, ...]:
    """The changes of a run folder without ``changes.csv`` (``path``), when ``events.csv``
    lists them in full: each entry flips the state of its elements in its view."""
    out: list[_Change] = []
    routing: set[tuple[str, str]] = set()
    for ev in events:
        if ev.kind not in _DOWN and ev.kind not in _UP and ev.kind != "converged":
            continue
        if ev.index in abridged:
            raise _error(
                path, f"missing, and {EVENTS} gives only a count of the sites of row {ev.index}"
            )
        named = [("link", x) for x in ev.links] + [("site", x) for x in ev.sites]
        for el, x in named:
            if ev.kind == "converged":
                state = "up" if (el, x) in routing else "down"
                (routing.discard if state == "up" else routing.add)((el, x))
                out.append(_Change(ev.index, ev.at_s, "routing", state, el, x))
            else:
                state = "down" if ev.kind in _DOWN else "up"
                out.append(_Change(ev.index, ev.at_s, "physical", state, el, x))
    return tuple(out)
