"""Whole-network measures: diameter in hops and in delay, summaries for reports."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lgwan_sim.network._model import Link, LinkKind
from lgwan_sim.network._topology import Topology

__all__ = ["Diameter", "diameter", "summary"]


@dataclass(frozen=True, slots=True)
class Diameter:
    """The longest shortest path, and one pair of sites that attains it."""

    value: float
    a: str
    b: str


def _sssp(adj: dict[str, list[tuple[str, float]]], root: str) -> dict[str, float]:
    dist: dict[str, float] = {}
    heap = [(0.0, root)]
    while heap:
        d, node = heapq.heappop(heap)
        if node in dist:
            continue
        dist[node] = d
        for nbr, w in adj[node]:
            if nbr not in dist:
                heapq.heappush(heap, (d + w, nbr))
    return dist


def diameter(topology: Topology, weight: Callable[[Link], float]) -> Diameter:
    """Exact diameter of a connected topology under ``weight`` (e.g. hops or ``delay_s``).

    Leaves (sites with one link, such as most municipalities) are folded into the site they
    hang from: the distance from a leaf to anything else is its line plus its parent's
    distance. Only the remaining core (about a hundred sites nationally) needs all-pairs
    shortest paths, which makes the national diameter cheap and exact.
    """
    adj: dict[str, list[tuple[str, float]]] = {s: [] for s in topology.sites}
    for link in topology.links.values():
        w = weight(link)
        adj[link.a].append((link.b, w))
        adj[link.b].append((link.a, w))
    # top two leaves per core site: (weight, leaf id)
    hanging: dict[str, list[tuple[float, str]]] = {}
    core = {s for s, nbrs in adj.items() if len(nbrs) != 1}
    if not core:  # a single link: both ends are leaves
        core = set(sorted(adj)[:1])
    for s, nbrs in adj.items():
        if s not in core:
            parent, w = nbrs[0]
            if parent not in core:  # two leaves joined only to each other
                core.add(s)
                continue
            hanging.setdefault(parent, []).append((w, s))
    for lst in hanging.values():
        lst.sort(key=lambda e: (-e[0], e[1]))
    core_adj = {s: [(n, w) for n, w in adj[s] if n in core] for s in sorted(core)}

    def ext(s: str) -> tuple[float, str]:
        leaves = hanging.get(s)
        return leaves[0] if leaves else (0.0, s)

    best = Diameter(0.0, sorted(adj)[0], sorted(adj)[0])
    for u in sorted(core):
        wu, eu = ext(u)
        leaves = hanging.get(u, [])
        if len(leaves) >= 2 and leaves[0][0] + leaves[1][0] > best.value:
            best = Diameter(leaves[0][0] + leaves[1][0], leaves[0][1], leaves[1][1])
        for v, d in _sssp(core_adj, u).items():
            if v <= u:
                continue
            wv, ev = ext(v)
            total = d + wu + wv
            if total > best.value:
                best = Diameter(total, eu, ev)
    for u in sorted(hanging):  # a leaf and its own site: the longest pair of a two-site network
        wu, eu = ext(u)
        if wu > best.value:
            best = Diameter(wu, u, eu)
    return best


def summary(topology: Topology) -> dict[str, Any]:
    """Counts by site kind and region, links and capacity by kind, and the diameters."""
    import networkx as nx

    by_region: Counter[str] = Counter(s.region or "national" for s in topology.sites.values())
    links: dict[str, dict[str, float]] = {}
    for kind in LinkKind:
        of_kind = topology.links_of_kind(kind)
        links[kind.value] = {
            "count": len(of_kind),
            "capacity_bps_total": float(sum(lk.capacity_bps for lk in of_kind)),
        }
    connected = nx.is_connected(topology.graph) if len(topology) else False
    result: dict[str, Any] = {
        "name": topology.name,
        "sites": len(topology.sites),
        "sites_by_kind": topology.count_by_kind(),
        "sites_by_region": dict(sorted(by_region.items())),
        "links": len(topology.links),
        "links_by_kind": links,
        "capacity_bps_total": float(sum(lk.capacity_bps for lk in topology.links.values())),
        "connected": connected,
    }
    if connected:
        hops = diameter(topology, lambda _lk: 1.0)
        delay = diameter(topology, lambda lk: lk.delay_s)
        result["diameter_hops"] = int(hops.value)
        result["diameter_hops_between"] = [hops.a, hops.b]
        result["diameter_ms"] = round(delay.value * 1e3, 3)
        result["diameter_ms_between"] = [delay.a, delay.b]
    else:  # no diameter; None rather than inf, which JSON cannot carry
        result["diameter_hops"] = None
    return result
