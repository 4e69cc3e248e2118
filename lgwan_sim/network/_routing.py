"""Shortest-path routing by routing metric, with failures and incremental recomputation.

A :class:`Router` keeps one shortest-path tree per destination ("root") that anyone asked a
route to. A failure recomputes only the trees it touches: a link failure only the trees in
which that link is a tree edge, a site failure only the trees in which the site relays
traffic. A restoration recomputes only the trees that the restored element would shorten.
Ties between equal-cost paths are broken by site id, so routes are deterministic.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from lgwan_sim.errors import NoRouteError, UnknownSiteError
from lgwan_sim.network._model import Link
from lgwan_sim.network._topology import Topology

__all__ = ["Route", "Router", "RouterCheckpoint", "RoutingChange"]


@dataclass(frozen=True, slots=True)
class Route:
    """A path from ``sites[0]`` to ``sites[-1]`` and the links between them."""

    sites: tuple[str, ...]
    links: tuple[Link, ...]

    @property
    def hops(self) -> int:
        return len(self.links)

    @property
    def delay_s(self) -> float:
        """One-way propagation delay along the path."""
        return sum(link.delay_s for link in self.links)

    @property
    def bottleneck_bps(self) -> float:
        """The smallest link capacity on the path (``math.inf`` for a zero-hop route)."""
        return min((link.capacity_bps for link in self.links), default=math.inf)

    def directed(self) -> list[tuple[Link, bool]]:
        """Each link with ``True`` when traversed from its ``a`` end to its ``b`` end."""
        return [(link, link.a == self.sites[i]) for i, link in enumerate(self.links)]


@dataclass(frozen=True, slots=True)
class RoutingChange:
    """What a failure or restoration did: the trees it changed and the elements changed.

    ``recomputed_roots`` are the trees recomputed from scratch, ``pruned_roots`` the trees
    from which a cut-off part was only removed. A route cache must drop the routes toward
    every root in ``changed_roots``: a pruned tree has lost routes as surely as a recomputed
    one has changed them.
    """

    recomputed_roots: tuple[str, ...]
    links: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    pruned_roots: tuple[str, ...] = ()

    @property
    def changed_roots(self) -> tuple[str, ...]:
        """Every root whose tree this change touched, in id order."""
        return tuple(sorted({*self.recomputed_roots, *self.pruned_roots}))


@dataclass(frozen=True, slots=True)
class RouterCheckpoint:
    """What :meth:`Router.rollback` goes back to: the down elements and the trees."""

    down_links: frozenset[str]
    down_sites: frozenset[str]
    trees: Mapping[str, _Tree]


class _Tree:
    __slots__ = ("_tree_links", "dist", "pred", "root")

    def __init__(
        self,
        root: str,
        dist: dict[str, float],
        pred: dict[str, tuple[str, Link]],
    ) -> None:
        self.root = root
        self.dist = dist
        self.pred = pred  # node -> (next hop toward root, link to it)
        # worked out when first asked: a tree replaced before the next failure (as an N-1
        # case's are, rolled back) never needs them
        self._tree_links: frozenset[str] | None = None

    @property
    def tree_links(self) -> frozenset[str]:
        """The ids of the links the tree uses."""
        if self._tree_links is None:
            self._tree_links = frozenset(link.id for _, link in self.pred.values())
        return self._tree_links


class Router:
    """Routes over a :class:`Topology` whose links and sites can fail and come back."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self._down_links: set[str] = set()
        self._down_sites: set[str] = set()
        self._trees: dict[str, _Tree] = {}
        # adjacency with routing metrics, in a fixed (sorted) order for determinism
        adj: dict[str, list[tuple[str, Link]]] = {s: [] for s in sorted(topology.sites)}
        for link in topology.links.values():
            adj[link.a].append((link.b, link))
            adj[link.b].append((link.a, link))
        for entries in adj.values():
            entries.sort(key=lambda e: (e[0], e[1].id))
        self._adj = adj
        # the same, each entry with the link's id and metric worked out once (the search
        # reads them for every edge of every tree)
        self._edges = {
            node: [(nbr, link, link.id, link.routing_metric) for nbr, link in entries]
            for node, entries in adj.items()
        }

    # -- state ------------------------------------------------------------------------------
    @property
    def down_links(self) -> frozenset[str]:
        return frozenset(self._down_links)

    @property
    def down_sites(self) -> frozenset[str]:
        return frozenset(self._down_sites)

    def link_is_up(self, link: Link) -> bool:
        return (
            link.id not in self._down_links
            and link.a not in self._down_sites
            and link.b not in self._down_sites
        )

    def site_is_up(self, site_id: str) -> bool:
        return site_id not in self._down_sites

    # -- trees ------------------------------------------------------------------------------
    def _dijkstra(self, root: str) -> _Tree:
        dist: dict[str, float] = {}
        pred: dict[str, tuple[str, Link]] = {}
        if root in self._down_sites:
            return _Tree(root, dist, pred)
        best: dict[str, float] = {root: 0.0}
        heap: list[tuple[float, str]] = [(0.0, root)]
        down_links, down_sites, edges = self._down_links, self._down_sites, self._edges
        pop, push, inf = heapq.heappop, heapq.heappush, math.inf
        while heap:
            d, node = pop(heap)
            if node in dist:
                continue
            dist[node] = d
            for nbr, link, link_id, metric in edges[node]:
                if nbr in dist or nbr in down_sites or (down_links and link_id in down_links):
                    continue
                nd = d + metric
                if nd < best.get(nbr, inf):
                    best[nbr] = nd
                    pred[nbr] = (node, link)
                    push(heap, (nd, nbr))
        return _Tree(root, dist, pred)

    def _tree(self, root: str) -> _Tree:
        tree = self._trees.get(root)
        if tree is None:
            tree = self._trees[root] = self._dijkstra(root)
        return tree

    def warm(self, roots: Iterable[str]) -> None:
        """Compute the trees toward ``roots`` now (e.g. every central site)."""
        for root in roots:
            self.topology.site(root)
            self._tree(root)

    @property
    def roots(self) -> tuple[str, ...]:
        """The destinations whose trees are cached."""
        return tuple(sorted(self._trees))

    def distances_to(self, root: str) -> dict[str, float]:
        """Routing-metric distance from every reachable site to ``root``."""
        self.topology.site(root)
        return dict(self._tree(root).dist)

    def next_hops(self, root: str) -> Mapping[str, tuple[str, Link]]:
        """The tree toward ``root``: every other site that reaches it, with its next hop and
        the link to it (what :meth:`route` walks). Read-only; valid until routing changes."""
        self.topology.site(root)
        return self._tree(root).pred

    # -- queries ----------------------------------------------------------------------------
    def reachable(self, src: str, dst: str) -> bool:
        self.topology.site(src)
        self.topology.site(dst)
        return src in self._tree(dst).dist

    def route(self, src: str, dst: str) -> Route:
        """The current shortest route from ``src`` to ``dst``.

        Raises :class:`UnknownSiteError` for an unknown site and :class:`NoRouteError` when
        the two are disconnected (or either is down).
        """
        for site_id in (src, dst):
            if site_id not in self.topology.sites:
                raise UnknownSiteError(
                    site_id, hint=f"topology {self.topology.name!r}", choices=self.topology.sites
                )
        tree = self._tree(dst)
        if src not in tree.dist:
            raise NoRouteError(src, dst)
        sites = [src]
        links: list[Link] = []
        node = src
        while node != dst:
            node, link = tree.pred[node]
            sites.append(node)
            links.append(link)
        return Route(tuple(sites), tuple(links))

    def unreachable_pairs(
        self, sources: Sequence[str], targets: Sequence[str]
    ) -> list[tuple[str, str]]:
        """Pairs (source, target) with no route, sources and targets in the order given."""
        lost: list[tuple[str, str]] = []
        for target in targets:
            dist = self._tree(target).dist
            lost.extend(
                (source, target) for source in sources if source not in dist and source != target
            )
        return lost

    # -- checkpoints ------------------------------------------------------------------------
    def checkpoint(self) -> RouterCheckpoint:
        """The routing state now, to :meth:`rollback` to after a failure and its restoration.

        A failure replaces the trees it touches (recomputed, or pruned into a new tree) and
        never changes one in place, so the checkpoint keeps the trees themselves, not copies.
        """
        return RouterCheckpoint(
            frozenset(self._down_links), frozenset(self._down_sites), dict(self._trees)
        )

    def rollback(self, checkpoint: RouterCheckpoint) -> tuple[str, ...]:
        """Go back to ``checkpoint``'s state: its down elements and its very trees.

        What restoring the elements failed since would give, without searching again: a
        restoration recomputes every tree the restored element shortens or ties, and the
        search from scratch is deterministic. Trees first built since are forgotten (they
        are built again when asked). Returns the roots whose tree changed, in id order.
        """
        trees = checkpoint.trees
        changed = sorted(
            {r for r, t in self._trees.items() if trees.get(r) is not t}
            | {r for r in trees if r not in self._trees}
        )
        self._down_links = set(checkpoint.down_links)
        self._down_sites = set(checkpoint.down_sites)
        self._trees = dict(trees)
        return tuple(changed)

    # -- failures and restorations ----------------------------------------------------------
    def _recompute(self, roots: Iterable[str]) -> tuple[str, ...]:
        done = tuple(sorted(set(roots)))
        for root in done:
            self._trees[root] = self._dijkstra(root)
        return done

    def fail_links(self, link_ids: Iterable[str]) -> RoutingChange:
        """Take links down; recompute only the trees whose cut-off part could re-attach."""
        ids = []
        for link_id in link_ids:
            link = self.topology.link(link_id)
            if link.id not in self._down_links:
                self._down_links.add(link.id)
                ids.append(link)
        hit: list[str] = []
        pruned: list[str] = []
        for root, tree in self._trees.items():
            if tree.tree_links.isdisjoint(lk.id for lk in ids):
                continue
            cut = [
                n for lk in ids for n in (lk.a, lk.b) if n in tree.pred and tree.pred[n][1] is lk
            ]
            (hit if self._prune(tree, cut) else pruned).append(root)
        return RoutingChange(
            self._recompute(hit),
            links=tuple(lk.id for lk in ids),
            pruned_roots=tuple(sorted(pruned)),
        )

    def _prune(self, tree: _Tree, cut: Sequence[str]) -> bool:
        """Drop the subtrees below ``cut`` from ``tree``; return True if one could re-attach.

        A subtree that has no working link to the rest of the tree is simply unreachable
        now (a municipality behind its failed access line): no recomputation is needed.
        """
        children: dict[str, list[str]] = {}
        for node, (hop, _) in tree.pred.items():
            children.setdefault(hop, []).append(node)
        below: set[str] = set()
        stack = list(cut)
        while stack:
            node = stack.pop()
            if node not in below:
                below.add(node)
                stack.extend(children.get(node, ()))
        for node in below:
            if node in self._down_sites:
                continue
            for nbr, link in self._adj[node]:
                if nbr not in below and nbr in tree.dist and self.link_is_up(link):
                    return True
        # a new tree in its place (the old one is left as it was: a checkpoint may hold it)
        self._trees[tree.root] = _Tree(
            tree.root,
            {node: d for node, d in tree.dist.items() if node not in below},
            {node: p for node, p in tree.pred.items() if node not in below},
        )
        return False

    def restore_links(self, link_ids: Iterable[str]) -> RoutingChange:
        """Bring links back and recompute only the trees they would shorten or tie."""
        restored = []
        for link_id in link_ids:
            link = self.topology.link(link_id)
            if link.id in self._down_links:
                self._down_links.discard(link.id)
                restored.append(link)
        usable = [lk for lk in restored if self.link_is_up(lk)]
        return RoutingChange(
            self._recompute(self._improved_by(usable)), links=tuple(lk.id for lk in restored)
        )

    def fail_sites(self, site_ids: Iterable[str]) -> RoutingChange:
        """Take sites down (with all their links); recompute only the trees that need it."""
        ids = []
        for site_id in site_ids:
            self.topology.site(site_id)
            if site_id not in self._down_sites:
                self._down_sites.add(site_id)
                ids.append(site_id)
        hit: list[str] = []
        pruned: list[str] = []
        for root, tree in self._trees.items():
            if root in ids:
                hit.append(root)
            elif any(s in tree.dist for s in ids):
                cut = [s for s in ids if s in tree.dist]
                (hit if self._prune(tree, cut) else pruned).append(root)
        return RoutingChange(
            self._recompute(hit), sites=tuple(ids), pruned_roots=tuple(sorted(pruned))
        )

    def restore_sites(self, site_ids: Iterable[str]) -> RoutingChange:
        restored = []
        for site_id in site_ids:
            self.topology.site(site_id)
            if site_id in self._down_sites:
                self._down_sites.discard(site_id)
                restored.append(site_id)
        links = [
            link for site_id in restored for _, link in self._adj[site_id] if self.link_is_up(link)
        ]
        hit = set(self._improved_by(links)) | {r for r in restored if r in self._trees}
        return RoutingChange(self._recompute(hit), sites=tuple(restored))

    def fail_campus(self, campus: str) -> RoutingChange:
        """Fail every site on a campus, e.g. ``"east"``: the whole East central site."""
        ids = [s.id for s in self.topology.sites.values() if s.campus == campus]
        if not ids:
            known = sorted({s.campus for s in self.topology.sites.values() if s.campus})
            raise UnknownSiteError(campus, what="campus", hint=f"known: {', '.join(known)}")
        return self.fail_sites(ids)

    def _improved_by(self, links: Sequence[Link]) -> list[str]:
        hit = []
        for root, tree in self._trees.items():
            dist = tree.dist
            for link in links:
                da, db = dist.get(link.a, math.inf), dist.get(link.b, math.inf)
                w = link.routing_metric
                # A tie counts: Dijkstra from scratch might take the restored link (ties go
                # by site id), and a network that is whole again must route as it did.
                if da + w <= db or db + w <= da:
                    hit.append(root)
                    break
        return hit
