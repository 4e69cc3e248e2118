"""Whole-network measures, checked against networkx on small random networks."""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lgwan_sim.network import Link, LinkKind, Site, SiteKind, Topology, diameter


def _topology(edges: list[tuple[int, int, float]]) -> Topology:
    ids = sorted({f"s{n:02d}" for a, b, _ in edges for n in (a, b)})
    sites = [Site(id=i, kind=SiteKind.CENTRAL, name=i, lat=35.0, lon=135.0) for i in ids]
    links = [
        Link(a=f"s{a:02d}", b=f"s{b:02d}", kind=LinkKind.BACKBONE, capacity_bps=1e9, delay_s=w)
        for a, b, w in edges
    ]
    return Topology.build("random", sites, links)


@st.composite
def _trees_plus_edges(draw: st.DrawFn) -> list[tuple[int, int, float]]:
    """A connected network: a random tree on 2..12 sites plus a few extra links."""
    n = draw(st.integers(2, 12))
    weight = st.floats(0.001, 1.0)
    edges = {(draw(st.integers(0, k - 1)), k): draw(weight) for k in range(1, n)}
    for _ in range(draw(st.integers(0, 4))):
        a, b = sorted(draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True)))
        edges.setdefault((a, b), draw(weight))
    return [(a, b, w) for (a, b), w in edges.items()]


@settings(max_examples=200, deadline=None)
@given(edges=_trees_plus_edges())
def test_diameter_equals_the_longest_shortest_path(edges) -> None:
    topo = _topology(edges)
    for weight in (lambda _lk: 1.0, lambda lk: lk.delay_s):
        graph = nx.Graph()
        for link in topo.links.values():
            graph.add_edge(link.a, link.b, w=weight(link))
        lengths = dict(nx.all_pairs_dijkstra_path_length(graph, weight="w"))
        expected = max(d for row in lengths.values() for d in row.values())
        found = diameter(topo, weight)
        assert found.value == pytest.approx(expected)
        assert lengths[found.a][found.b] == pytest.approx(expected)  # the pair attains it
