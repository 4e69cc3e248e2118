"""Routing by delay, failures, and recomputing only the affected trees."""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lgwan_sim.errors import NoRouteError, UnknownSiteError
from lgwan_sim.network import Router, SiteKind, Topology, build_national


def _reference_path(topo: Topology, router: Router, src: str, dst: str) -> float:
    """An independent shortest-path length over the links that are still up (networkx)."""
    up = nx.Graph()
    for link in topo.links.values():
        if router.link_is_up(link):
            up.add_edge(link.a, link.b, w=link.routing_metric)
    return float(nx.dijkstra_path_length(up, src, dst, weight="w"))


def test_route_is_a_shortest_path_by_metric(national: Topology) -> None:
    router = Router(national)
    for src, dst in [
        ("mun-01-001", "asp-eltax-west"),
        ("mun-47-010", "dc-hokkaido"),
        ("pref-13", "govnet"),
    ]:
        route = router.route(src, dst)
        assert route.sites[0] == src
        assert route.sites[-1] == dst
        metric = sum(lk.routing_metric for lk in route.links)
        assert metric == pytest.approx(_reference_path(national, router, src, dst))
        # consecutive sites are joined by the listed links
        for (a, b), link in zip(
            zip(route.sites, route.sites[1:], strict=False), route.links, strict=True
        ):
            assert {a, b} == {link.a, link.b}


def test_route_reports_hops_delay_and_bottleneck(national: Topology) -> None:
    route = Router(national).route("mun-13-001", "asp-eltax-east")
    assert route.sites == (
        "mun-13-001",
        "pn-13",
        "central-east",
        "sgw-east",
        "aspseg-east",
        "asp-eltax-east",
    )
    assert route.hops == 5
    assert route.bottleneck_bps == 1e8  # the municipal access line
    assert route.delay_s == pytest.approx(sum(lk.delay_s for lk in route.links))


def test_failing_a_central_site_leaves_everything_else_connected(national: Topology) -> None:
    router = Router(national)
    all_sites = sorted(national.sites)
    router.warm(["central-east", "central-west"])
    change = router.fail_campus("east")
    assert set(change.sites) == {"central-east", "sgw-east", "aspseg-east"}
    alive = [s for s in all_sites if router.site_is_up(s)]
    assert router.unreachable_pairs(alive, ["central-west", "asp-eltax-east", "dc-saga"]) == []
    # and traffic that went East now goes West
    route = router.route("mun-13-001", "asp-eltax-east")
    assert "central-west" in route.sites
    assert "central-east" not in route.sites


def test_failing_a_prefecture_node_cuts_off_exactly_its_prefecture(national: Topology) -> None:
    router = Router(national)
    hubs = ["central-west", "asp-jlis-east", "dc-kyoto"]
    router.warm(hubs)
    router.fail_sites(["pn-03"])
    others = [s for s in sorted(national.sites) if s != "pn-03"]
    lost = {src for src, _ in router.unreachable_pairs(others, hubs)}
    iwate = {
        s.id for s in national.sites_in_prefecture("03") if s.kind is not SiteKind.PREFECTURE_NODE
    }
    assert lost == iwate
    assert len(iwate) == 33 + 1  # 33 municipalities and the prefectural government
    with pytest.raises(NoRouteError, match="no route from 'mun-03-001' to 'dc-kyoto'"):
        router.route("mun-03-001", "dc-kyoto")


def test_backup_lines_keep_a_prefecture_reachable() -> None:
    topo = build_national(backup_lines=True)
    router = Router(topo)
    assert "backup" not in {lk.kind.value for lk in router.route("mun-03-001", "dc-kyoto").links}
    router.fail_sites(["pn-03"])
    route = router.route("mun-03-001", "dc-kyoto")
    assert route.links[0].kind.value == "backup"
    assert route.bottleneck_bps == 1e7


def test_only_affected_trees_are_recomputed(national: Topology) -> None:
    router = Router(national)
    roots = ["central-east", "central-west", "dc-hokkaido", "dc-saga", "asp-eltax-east"]
    router.warm(roots)
    # A municipality's only line is a leaf edge in every tree: losing it cuts the
    # municipality off, and no tree needs recomputing, only pruning.
    change = router.fail_links(["mun-47-001~pn-47"])
    assert change.recomputed_roots == ()
    # ... but every tree lost a route, and a route cache must hear of each of them
    assert change.pruned_roots == tuple(sorted(roots))
    assert change.changed_roots == tuple(sorted(roots))
    assert router.unreachable_pairs(["mun-47-001", "mun-47-002"], roots) == [
        ("mun-47-001", r) for r in roots
    ]
    # Hokkaido's uplink to the West is a tree edge only where Hokkaido reaches the West:
    # toward the West central site and Saga, and from western sites toward dc-hokkaido
    west_uplink = national.link_between("pn-01", "central-west").id
    change = router.fail_links([west_uplink])
    assert change.recomputed_roots == ("central-west", "dc-hokkaido", "dc-saga")
    # restoring recomputes only the trees it shortens, and routes come back exactly
    before = router.route("mun-01-001", "central-west")
    change = router.restore_links([west_uplink])
    after = router.route("mun-01-001", "central-west")
    assert west_uplink in [lk.id for lk in after.links]
    assert west_uplink not in [lk.id for lk in before.links]
    assert change.recomputed_roots == ("central-west", "dc-hokkaido", "dc-saga")
    assert change.changed_roots == change.recomputed_roots


def test_a_site_cut_off_prunes_the_trees_and_says_so(national: Topology) -> None:
    router = Router(national)
    router.warm(["dc-kyoto", "asp-jlis-west"])
    # Iwate's prefecture node and its towns: nothing there can re-attach, so the trees are
    # pruned without a recomputation, and the change names them
    iwate = [s.id for s in national.sites_in_prefecture("03")]
    change = router.fail_sites(iwate)
    assert change.recomputed_roots == ()
    assert change.changed_roots == ("asp-jlis-west", "dc-kyoto")


def test_restoring_a_site_restores_its_routes(national: Topology) -> None:
    router = Router(national)
    router.warm(["dc-kyoto"])
    router.fail_sites(["pn-03"])
    assert not router.reachable("mun-03-001", "dc-kyoto")
    router.restore_sites(["pn-03"])
    assert router.reachable("mun-03-001", "dc-kyoto")
    assert router.route("mun-03-001", "dc-kyoto").sites[1] == "pn-03"


def test_unknown_sites_are_named(national: Topology) -> None:
    router = Router(national)
    with pytest.raises(UnknownSiteError, match="unknown site 'mun-99-001'"):
        router.route("mun-99-001", "central-east")
    with pytest.raises(UnknownSiteError, match=r"^unknown campus 'north' \(known: east, west\)$"):
        router.fail_campus("north")


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_incremental_routing_equals_routing_from_scratch(national: Topology, data) -> None:
    """Any sequence of failures and restorations gives the same distances as a fresh router."""
    links = sorted(national.links)
    sites = sorted(
        s.id
        for s in national.sites_of_kind(
            SiteKind.PREFECTURE_NODE, SiteKind.CENTRAL, SiteKind.DATA_CENTRE, SiteKind.MUNICIPALITY
        )
    )
    roots = ["central-east", "central-west", "dc-kyoto", "asp-chukan-west", "mun-13-001"]
    router = Router(national)
    router.warm(roots)
    for _ in range(data.draw(st.integers(1, 8))):
        op = data.draw(st.sampled_from(["fail_link", "restore_link", "fail_site", "restore_site"]))
        if op == "fail_link":
            router.fail_links([data.draw(st.sampled_from(links))])
        elif op == "restore_link" and router.down_links:
            router.restore_links([data.draw(st.sampled_from(sorted(router.down_links)))])
        elif op == "fail_site":
            router.fail_sites([data.draw(st.sampled_from(sites))])
        elif op == "restore_site" and router.down_sites:
            router.restore_sites([data.draw(st.sampled_from(sorted(router.down_sites)))])
    fresh = Router(national)
    fresh.fail_links(router.down_links)
    fresh.fail_sites(router.down_sites)
    for root in roots:
        assert router.distances_to(root) == pytest.approx(fresh.distances_to(root)), root
        # and the same paths, ties included, for every site that still reaches the root
        for src in fresh.distances_to(root):
            assert router.route(src, root).sites == fresh.route(src, root).sites, (src, root)


def test_restoring_an_equal_cost_link_routes_as_a_fresh_router_would() -> None:
    """A restored link that only ties the current cost still wins the tie a fresh router
    would give it, so a network that is whole again routes exactly as it did before."""
    from lgwan_sim.network import Link, LinkKind, Site

    sites = [Site(id=i, kind=SiteKind.CENTRAL, name=i, lat=35.0, lon=135.0) for i in "abcd"]
    links = [
        Link(a=a, b=b, kind=LinkKind.BACKBONE, capacity_bps=1e9, delay_s=0.001)
        for a, b in [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]
    ]
    square = Topology.build("square", sites, links)  # a reaches d through b or c, equal cost
    router = Router(square)
    before = router.route("a", "d").sites
    assert before == ("a", "b", "d")  # a fresh router breaks the tie by site id
    router.fail_links(["a~b"])
    assert router.route("a", "d").sites == ("a", "c", "d")
    router.restore_links(["a~b"])
    assert router.route("a", "d").sites == before


def test_a_rollback_gives_the_trees_a_restoration_recomputes_and_keeps_its_own(
    national: Topology,
) -> None:
    # Each backbone link and one prefecture node failed in turn: rolling back to the
    # checkpoint gives the trees that restoring the element and recomputing gives, and a
    # failure never changes a tree the checkpoint holds (it builds a new one in its place).
    roots = ["asp-jlis-east", "asp-eltax-west", "mun-13-001"]
    rolled, restored = Router(national), Router(national)
    rolled.warm(roots)
    restored.warm(roots)

    def trees(router: Router) -> dict[str, tuple[dict, dict]]:
        return {r: (dict(router._trees[r].dist), dict(router._trees[r].pred)) for r in roots}

    held = trees(rolled)
    backbone = sorted(lk.id for lk in national.links.values() if lk.kind.value == "backbone")
    for element in [*backbone[:12], "pn-13"]:
        checkpoint = rolled.checkpoint()
        if element in national.sites:
            changed = rolled.fail_sites([element]).changed_roots
            restored.fail_sites([element])
            restored.restore_sites([element])
        else:
            changed = rolled.fail_links([element]).changed_roots
            restored.fail_links([element])
            restored.restore_links([element])
        assert rolled.rollback(checkpoint) == changed
        assert trees(rolled) == trees(restored) == held
        assert rolled.down_links == rolled.down_sites == frozenset()
