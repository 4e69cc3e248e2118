"""What the live page shows, held on the server and sent as numbered frames.

A frame is a JSON object with a sequence number ``seq`` and only the fields that changed:
``sim_s`` and ``clock`` (the simulated time), ``util`` (every link's utilisation in units
of 0.001 %, :data:`UNITS` to 100 %, in link id order, the larger of its two directions), ``failed_links`` and
``failed_sites`` (link and site indices; a failed site's lines count as failed),
``cut_off`` (site indices of the local bodies that cannot reach the host of a service they
call), ``path`` (the chosen municipality's route to the chosen service), ``bin`` (one
closed bin's offered, delivered and dropped per service), ``events`` (new lines for the
timeline) and ``control`` (paused, speed, end). A page that connects gets a ``snapshot``:
every field at once, with the history of the plots and of the timeline.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lgwan_sim.errors import LgwanSimError
from lgwan_sim.network import Router, Topology

__all__ = ["UNITS", "LiveState", "ServiceInfo", "fold_directed"]

#: ``util`` values are utilisation times this (0.001 % steps).
UNITS = 100_000

#: How many bins of history each service's plot keeps.
HISTORY = 288
#: Timeline lines kept for a page that connects late.
TIMELINE = 500


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """A service as the map needs it: where it is hosted and who calls it."""

    name: str
    title: str
    primary: str
    secondary: str | None
    callers: tuple[str, ...]


def fold_directed(values: Sequence[float]) -> list[int]:
    """Directed utilisations (``a~b>`` then ``a~b<`` per link, links in id order) to one
    value per link, the larger direction, in :data:`UNITS`."""
    return [round(max(values[i], values[i + 1]) * UNITS) for i in range(0, len(values) - 1, 2)]


class LiveState:
    """The state of the map and the pages that follow it.

    ``start`` is the wall-clock date of simulated time 0 (the scenario's start), so the
    clock reads as a date in Japan Standard Time.
    """

    def __init__(
        self,
        topology: Topology,
        services: Sequence[ServiceInfo],
        *,
        mode: str,
        title: str,
        start: datetime | None,
        end_s: float,
        bin_s: float,
    ) -> None:
        self.topology = topology
        self.services = list(services)
        self.mode = mode
        self.title = title
        self.start = start
        self.end_s = end_s
        self.bin_s = bin_s
        self.link_ids = tuple(sorted(topology.links))
        self.site_ids = tuple(sorted(topology.sites))
        self.link_index = {x: i for i, x in enumerate(self.link_ids)}
        self.site_index = {x: i for i, x in enumerate(self.site_ids)}
        self.local_bodies = frozenset(s.id for s in topology.sites.values() if s.kind.is_local_body)
        self.router = Router(topology)
        self.seq = 0
        self.sim_s = 0.0
        self.util: list[int] = [0] * len(self.link_ids)
        self.down_links: frozenset[str] = frozenset()
        self.down_sites: frozenset[str] = frozenset()
        self.hosts = {s.name: s.primary for s in self.services}
        self.failed_links: list[int] = []
        self.failed_sites: list[int] = []
        self.cut_off: list[int] = []
        self.choice: tuple[str, str] | None = None
        self.path: dict[str, Any] | None = None
        #: The paths routing uses now, ``(src, dst) -> sites`` (``None``: no path), when they
        #: come from the engine (a dashboard asks the emulator). Without them (``None``) the
        #: path is this state's own shortest path around what is down (a replay).
        self.routes: dict[tuple[str, str], tuple[str, ...] | None] | None = None
        self.history: dict[str, list[list[float]]] = {s.name: [] for s in self.services}
        self.timeline: list[dict[str, Any]] = []
        self.control: dict[str, Any] = {"paused": False, "speed": 1.0, "end_s": end_s}
        self.faults: list[str] = []
        self._queues: set[asyncio.Queue[str]] = set()

    # -- the clock ----------------------------------------------------------------------------
    def clock_text(self, sim_s: float) -> str:
        if self.start is None:
            return f"{sim_s:.0f} s"
        at = self.start + timedelta(seconds=sim_s)
        return at.strftime("%Y-%m-%d %H:%M:%S") + " JST"

    # -- changes ------------------------------------------------------------------------------
    def update(
        self,
        *,
        sim_s: float | None = None,
        util: Sequence[int] | None = None,
        down: tuple[Iterable[str], Iterable[str]] | None = None,
        hosts: Mapping[str, str] | None = None,
        bin_counts: tuple[float, Mapping[str, Sequence[float]]] | None = None,
        events: Sequence[tuple[float, str]] = (),
        control: Mapping[str, Any] | None = None,
        faults: Sequence[str] | None = None,
        routes: Mapping[tuple[str, str], Sequence[str] | None] | None = None,
    ) -> dict[str, Any] | None:
        """Apply what changed and send one frame to every page (``None``: nothing changed)."""
        frame: dict[str, Any] = {}
        if sim_s is not None and sim_s != self.sim_s:
            self.sim_s = sim_s
            frame["sim_s"] = round(sim_s, 3)
            frame["clock"] = self.clock_text(sim_s)
        if util is not None and list(util) != self.util:
            self.util = list(util)
            frame["util"] = self.util
        routing = False
        if down is not None:
            links, sites = frozenset(down[0]), frozenset(down[1])
            if links != self.down_links or sites != self.down_sites:
                self._route_down(links, sites)
                routing = True
        if hosts is not None and dict(hosts) != self.hosts:
            self.hosts = {**self.hosts, **hosts}
            routing = True
        if routes is not None:
            given = {k: None if v is None else tuple(v) for k, v in routes.items()}
            if given != self.routes:
                self.routes = given
                routing = True
        if routing:
            failed = set(self.down_links)
            for site in self.down_sites:
                failed.update(lk.id for lk in self.topology.links_of_site(site))
            fl = sorted(self.link_index[x] for x in failed)
            fs = sorted(self.site_index[x] for x in self.down_sites)
            cut = sorted(self.site_index[x] for x in self._cut_off())
            frame["failed_links"], frame["failed_sites"] = fl, fs
            frame["cut_off"] = cut
            self.failed_links, self.failed_sites, self.cut_off = fl, fs, cut
            path = self._path()
            if path != self.path:
                self.path = frame["path"] = path
        if bin_counts is not None:
            end_s, counts = bin_counts
            frame["bin"] = {"end_s": end_s, "services": {k: list(v) for k, v in counts.items()}}
            for name, row in counts.items():
                hist = self.history.setdefault(name, [])
                hist.append([end_s, *row])
                del hist[:-HISTORY]
        if events:
            lines = [
                {"sim_s": round(t, 3), "clock": self.clock_text(t), "text": text}
                for t, text in events
            ]
            self.timeline.extend(lines)
            del self.timeline[:-TIMELINE]
            frame["events"] = lines
        if control is not None:
            merged = {**self.control, **control}
            if merged != self.control:
                self.control = frame["control"] = merged
        if faults is not None and list(faults) != self.faults:
            self.faults = frame["faults"] = list(faults)
        if not frame:
            return None
        return self._send(frame)

    def rewind(self) -> None:
        """Forget the plots' history and the timeline (a replay starting over, a new drill)."""
        for hist in self.history.values():
            hist.clear()
        self.timeline.clear()
        self._send({"reset": True, **self.snapshot_fields()})

    def choose(self, site: str | None, service: str | None) -> dict[str, Any] | None:
        """Follow ``site``'s path to ``service`` (``None``: follow nothing)."""
        if site is None or service is None:
            self.choice = None
        else:
            if site not in self.topology.sites:
                raise LgwanSimError(f"unknown site {site!r}")
            if service not in self.hosts:
                raise LgwanSimError(f"unknown service {service!r}")
            self.choice = (site, service)
        self.path = self._path()
        return self._send({"path": self.path})

    # -- derived views ------------------------------------------------------------------------
    def _route_down(self, links: frozenset[str], sites: frozenset[str]) -> None:
        r = self.router
        gone_sites, back_sites = sites - self.down_sites, self.down_sites - sites
        gone_links, back_links = links - self.down_links, self.down_links - links
        if back_sites:
            r.restore_sites(sorted(back_sites))
        if back_links:
            r.restore_links(sorted(back_links))
        if gone_links:
            r.fail_links(sorted(gone_links))
        if gone_sites:
            r.fail_sites(sorted(gone_sites))
        self.down_links, self.down_sites = links, sites

    def _cut_off(self) -> set[str]:
        """Local bodies that cannot reach the current host of a service they call."""
        lost: set[str] = set()
        if not self.down_links and not self.down_sites:
            return lost
        by_host: dict[str, dict[str, float]] = {}
        for svc in self.services:
            host = self.hosts.get(svc.name, svc.primary)
            if host not in by_host:
                by_host[host] = {} if host in self.down_sites else self.router.distances_to(host)
            dist = by_host[host]
            for caller in svc.callers:
                if (
                    caller in self.local_bodies
                    and caller != host
                    and (caller not in dist or caller in self.down_sites)
                ):
                    lost.add(caller)
        return lost

    def _path(self) -> dict[str, Any] | None:
        """The chosen site's path to its service's host, as the page draws it.

        Beside an emulator the path is the engine's routing (``routes``, polled: ``None`` in
        ``reachable`` until the first answer); in a replay, this map's own shortest path.
        """
        if self.choice is None:
            return None
        site, service = self.choice
        host = self.hosts[service]
        out: dict[str, Any] = {"site": site, "service": service, "host": host}
        sites: Sequence[str] | None
        if self.routes is not None:
            if (site, host) not in self.routes:  # asked for, not answered yet
                out.update(links=[], sites=[], reachable=None)
                return out
            sites = self.routes[(site, host)]
            links = (
                []
                if sites is None
                else [self.topology.link_between(a, b) for a, b in itertools.pairwise(sites)]
            )
        else:
            try:
                route = self.router.route(site, host)
            except LgwanSimError:
                route = None
            sites, links = (None, []) if route is None else (route.sites, list(route.links))
        if sites is None:
            out.update(links=[], sites=[], reachable=False)
            return out
        out.update(
            links=[self.link_index[lk.id] for lk in links],
            sites=[self.site_index[x] for x in sites],
            reachable=True,
            delay_ms=round(sum(lk.delay_s for lk in links) * 1e3, 2),
        )
        return out

    def want_routes(self) -> list[tuple[str, str]]:
        """The ``(src, dst)`` pairs whose routing path the page shows."""
        if self.choice is None:
            return []
        site, service = self.choice
        return [(site, self.hosts[service])]

    # -- frames -------------------------------------------------------------------------------
    def snapshot_fields(self) -> dict[str, Any]:
        return {
            "sim_s": round(self.sim_s, 3),
            "clock": self.clock_text(self.sim_s),
            "util": self.util,
            "failed_links": self.failed_links,
            "failed_sites": self.failed_sites,
            "cut_off": self.cut_off,
            "path": self.path,
            "history": self.history,
            "timeline": self.timeline,
            "control": self.control,
            "faults": self.faults,
        }

    def snapshot(self) -> str:
        return self._encode({"snapshot": True, **self.snapshot_fields()}, self.seq)

    def _encode(self, frame: dict[str, Any], seq: int) -> str:
        frame["seq"] = seq
        frame["t_ms"] = round(time.time() * 1e3, 3)  # when the server sent it
        return json.dumps(frame, ensure_ascii=False, allow_nan=False, separators=(",", ":"))

    def _send(self, frame: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        text = self._encode(frame, self.seq)
        for queue in self._queues:
            queue.put_nowait(text)
        return frame

    def subscribe(self) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        self._queues.discard(queue)

    def meta(self) -> dict[str, Any]:
        """What the page needs once: names, kinds, services, the run's frame."""
        topo = self.topology
        sites = []
        for sid in self.site_ids:
            s = topo.sites[sid]
            sites.append([sid, s.name, s.name_ja, s.kind.value, s.prefecture or "", s.campus or ""])
        return {
            "mode": self.mode,
            "title": self.title,
            "links": list(self.link_ids),
            "sites": sites,
            "services": [
                {"name": s.name, "title": s.title, "primary": s.primary, "secondary": s.secondary}
                for s in self.services
            ],
            "bin_s": self.bin_s,
            "end_s": self.end_s if math.isfinite(self.end_s) else None,
        }
