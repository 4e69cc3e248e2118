"""The ``Topology``: sites and links, validated once at construction.

Its links are kept by site pair in plain dictionaries; the networkx graph of the same
network (:attr:`Topology.graph`) is built the first time it is asked for, so a run that
never asks does not import networkx (a tenth of a second of a national run's start).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from lgwan_sim.errors import TopologyError, UnknownSiteError
from lgwan_sim.network._model import Link, LinkKind, Site, SiteKind

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["Topology"]


@dataclass(frozen=True, slots=True, eq=False)
class Topology:
    """An immutable network: sites keyed by id and links between them.

    Construction validates the whole network: unique site ids, links that name existing
    sites, at most one link per pair of sites. Up/down state is not part of a topology;
    it lives in :class:`~lgwan_sim.network.Router` and in the engine.
    """

    name: str
    sites: Mapping[str, Site]
    links: Mapping[str, Link]
    adjacency: Mapping[str, Mapping[str, Link]] = field(repr=False)
    """Each site's links by the site at their other end (both ways), in the order added."""
    source: str = ""
    equipment_delay_s: float = 0.0
    """The equipment delay the builder added to each line's propagation delay (the national
    spec's ``links.equipment_delay_s``; 0 for a topology file, whose delays are as written).
    A line added later (a backup line of a scenario edit) gets the same."""
    _graph: Any = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        name: str,
        sites: Iterable[Site],
        links: Iterable[Link],
        *,
        source: str = "",
        equipment_delay_s: float = 0.0,
    ) -> Topology:
        """Validate and assemble a topology. ``source`` (a file name) is used in errors."""
        site_map: dict[str, Site] = {}
        for site in sites:
            if site.id in site_map:
                raise TopologyError(
                    "duplicate site id", file=source or None, field="id", value=site.id
                )
            site_map[site.id] = site
        link_map: dict[str, Link] = {}
        adjacency: dict[str, dict[str, Link]] = {site_id: {} for site_id in site_map}
        for link in links:
            for end in (link.a, link.b):
                if end not in site_map:
                    raise TopologyError(
                        f"link {link.id} names a site that does not exist",
                        file=source or None,
                        field="link end",
                        value=end,
                    )
            if link.b in adjacency[link.a]:
                raise TopologyError(
                    "duplicate link between the same two sites",
                    file=source or None,
                    field="link",
                    value=link.id,
                )
            adjacency[link.a][link.b] = link
            adjacency[link.b][link.a] = link
            link_map[link.id] = link
        return cls(
            name=name,
            sites=MappingProxyType(site_map),
            links=MappingProxyType(link_map),
            adjacency=MappingProxyType(
                {site_id: MappingProxyType(ends) for site_id, ends in adjacency.items()}
            ),
            source=source,
            equipment_delay_s=equipment_delay_s,
        )

    @property
    def graph(self) -> nx.Graph:
        """The network as a frozen networkx graph: a node per site, an edge per link with
        its ``link`` and routing ``metric``. Built on first use."""
        if self._graph is None:
            import networkx as nx

            graph = nx.Graph(name=self.name)
            graph.add_nodes_from(self.sites)
            for link in self.links.values():
                graph.add_edge(link.a, link.b, link=link, metric=link.routing_metric)
            nx.freeze(graph)
            object.__setattr__(self, "_graph", graph)
        return self._graph

    def has_link_between(self, a: str, b: str) -> bool:
        """True when a link joins sites ``a`` and ``b`` (either way round)."""
        ends = self.adjacency.get(a)
        return ends is not None and b in ends

    # -- look-ups -------------------------------------------------------------------------
    def site(self, site_id: str) -> Site:
        try:
            return self.sites[site_id]
        except KeyError:
            raise UnknownSiteError(
                site_id, hint=f"topology {self.name!r}", choices=self.sites
            ) from None

    def link_between(self, a: str, b: str) -> Link:
        link = self.adjacency.get(a, {}).get(b)
        if link is None:
            raise TopologyError("no link between these sites", field="link", value=f"{a}~{b}")
        return link

    def link(self, link_id: str) -> Link:
        try:
            return self.links[link_id]
        except KeyError:
            a, sep, b = link_id.partition("~")
            if sep and self.has_link_between(a, b):
                return self.link_between(a, b)
            raise TopologyError(
                _unknown_link(link_id, self.links), field="link", value=link_id
            ) from None

    def sites_of_kind(self, *kinds: SiteKind) -> list[Site]:
        """Sites of the given kinds, in id order."""
        return sorted((s for s in self.sites.values() if s.kind in kinds), key=lambda s: s.id)

    def sites_in_prefecture(self, code: str) -> list[Site]:
        return sorted((s for s in self.sites.values() if s.prefecture == code), key=lambda s: s.id)

    def sites_in_region(self, region: str) -> list[Site]:
        return sorted((s for s in self.sites.values() if s.region == region), key=lambda s: s.id)

    def links_of_kind(self, *kinds: LinkKind) -> list[Link]:
        return sorted((lk for lk in self.links.values() if lk.kind in kinds), key=lambda lk: lk.id)

    def links_of_site(self, site_id: str) -> list[Link]:
        self.site(site_id)
        return sorted(self.adjacency[site_id].values(), key=lambda lk: lk.id)

    def prefecture_node(self, code: str) -> Site:
        """The prefecture node (都道府県ノード) of prefecture ``code``."""
        for site in self.sites_in_prefecture(code):
            if site.kind is SiteKind.PREFECTURE_NODE:
                return site
        raise UnknownSiteError(code, what="prefecture node of", hint=f"topology {self.name!r}")

    def count_by_kind(self) -> dict[str, int]:
        counts = Counter(s.kind.value for s in self.sites.values())
        return {k.value: counts.get(k.value, 0) for k in SiteKind}

    def __len__(self) -> int:
        return len(self.sites)

    def __contains__(self, site_id: object) -> bool:
        return site_id in self.sites


def _unknown_link(link_id: str, links: Iterable[str]) -> str:
    """``unknown link`` with the close link ids (``b~a`` is found as ``a~b``)."""
    from lgwan_sim._suggest import did_you_mean

    a, sep, b = link_id.partition("~")
    near = did_you_mean(link_id, links) or (did_you_mean(f"{b}~{a}", links) if sep else "")
    return f"unknown link ({near})" if near else "unknown link"
