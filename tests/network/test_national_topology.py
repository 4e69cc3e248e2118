"""The national LGWAN: counts, connectivity, reachability and the roster."""

from __future__ import annotations

import csv
import math
from collections import Counter

import networkx as nx
import pytest

from lgwan_sim.errors import UnknownSiteError
from lgwan_sim.network import (
    LinkKind,
    Router,
    SiteKind,
    Topology,
    build_national,
    great_circle_km,
    load_prefectures,
    propagation_delay_s,
)


def test_counts_match_the_facts(national: Topology) -> None:
    counts = national.count_by_kind()
    assert counts["prefecture_node"] == 47
    assert counts["prefecture"] == 47
    assert counts["municipality"] == 1741
    assert counts["central"] == 2
    assert counts["data_centre"] == 3
    # every prefecture holds exactly its share of municipalities
    per_pref = Counter(s.prefecture for s in national.sites_of_kind(SiteKind.MUNICIPALITY))
    for pref in load_prefectures():
        assert per_pref[pref.code] == pref.municipalities, pref.name_en


def test_national_topology_is_connected(national: Topology) -> None:
    assert nx.is_connected(national.graph)


def test_every_prefecture_node_is_dual_homed_to_both_central_sites(national: Topology) -> None:
    for node in national.sites_of_kind(SiteKind.PREFECTURE_NODE):
        ends = {lk.other(node.id) for lk in national.links_of_site(node.id)}
        assert {"central-east", "central-west"} <= ends, node.id


def test_every_local_body_reaches_every_asp_and_data_centre(national: Topology) -> None:
    router = Router(national)
    bodies = [s.id for s in national.sites_of_kind(SiteKind.MUNICIPALITY, SiteKind.PREFECTURE)]
    hubs = [s.id for s in national.sites_of_kind(SiteKind.ASP, SiteKind.DATA_CENTRE)]
    assert len(bodies) == 1788
    assert router.unreachable_pairs(bodies, hubs) == []


def test_link_delays_follow_great_circle_distance(national: Topology) -> None:
    link = national.link_between("pn-01", "central-east")
    a, b = national.site("pn-01"), national.site("central-east")
    expected = propagation_delay_s(
        great_circle_km(a.lat, a.lon, b.lat, b.lon), equipment_delay_s=1e-4
    )
    assert link.delay_s == pytest.approx(expected, rel=1e-6)
    # Sapporo to Tokyo is about 830 km: ~6 ms of fibre at 1.5x route factor, plus equipment
    assert 5e-3 < link.delay_s < 7.5e-3


def test_synthetic_positions_are_deterministic_and_near_their_prefecture(
    national: Topology,
) -> None:
    again = build_national()
    assert [(s.id, s.lat, s.lon) for s in again.sites.values()] == [
        (s.id, s.lat, s.lon) for s in national.sites.values()
    ]
    for pref in load_prefectures():
        for site in national.sites_in_prefecture(pref.code):
            assert great_circle_km(site.lat, site.lon, pref.lat, pref.lon) <= 150.0 + 1e-6


def test_backup_lines_are_optional_and_low_capacity(national: Topology) -> None:
    assert national.links_of_kind(LinkKind.BACKUP) == []
    with_backup = build_national(backup_lines=True)
    backups = with_backup.links_of_kind(LinkKind.BACKUP)
    assert len(backups) == 1788
    assert all(lk.capacity_bps == 1e7 for lk in backups)
    assert all(lk.routing_metric > 1.0 for lk in backups)  # avoided while primaries are up


def test_roster_puts_real_municipalities_in_place(roster_path) -> None:
    topo = build_national(roster=roster_path)
    municipalities = topo.sites_of_kind(SiteKind.MUNICIPALITY)
    assert len(municipalities) == 1741
    with roster_path.open(encoding="utf-8") as handle:
        rows = {r["lgcode"]: r for r in csv.DictReader(handle)}
    assert len(rows) == 1741
    for site in municipalities:
        row = rows[site.id.removeprefix("mun-")]
        assert site.name == row["name"]
        assert site.name_ja == row["name"]
        assert site.lat == pytest.approx(float(row["lat"]))
        assert site.lon == pytest.approx(float(row["lon"]))
        assert site.prefecture == row["pref_code"]
    sapporo = topo.site("mun-011002")
    assert sapporo.name == "札幌市"
    assert nx.is_connected(topo.graph)


def test_topology_lookups(national: Topology) -> None:
    assert [s.id for s in national.sites_in_prefecture("47")][:2] == ["mun-47-001", "mun-47-002"]
    assert national.prefecture_node("13").id == "pn-13"
    with pytest.raises(UnknownSiteError, match=r"^unknown prefecture node of '48' "):
        national.prefecture_node("48")
    tohoku = national.sites_in_region("Tohoku")
    assert {s.prefecture for s in tohoku} == {"02", "03", "04", "05", "06", "07"}
    assert national.link("central-west~central-east") == national.link("central-east~central-west")
    assert math.isclose(
        sum(lk.capacity_bps for lk in national.links_of_kind(LinkKind.BACKBONE)),
        sum(lk.capacity_bps for lk in national.links.values() if lk.kind is LinkKind.BACKBONE),
    )


def test_a_malformed_national_spec_names_the_entry(tmp_path) -> None:
    from lgwan_sim._resources import bundled_dir
    from lgwan_sim.errors import TopologyError

    spec = (bundled_dir("topology") / "national.yaml").read_text(encoding="utf-8")
    spec = spec.replace("  - {id: dc-saga,", "  - dc-saga\n  - {id: dc-saga,", 1)
    (tmp_path / "national.yaml").write_text(spec, encoding="utf-8")
    (tmp_path / "prefectures.csv").write_bytes(
        (bundled_dir("topology") / "prefectures.csv").read_bytes()
    )
    with pytest.raises(
        TopologyError,
        match=r"national.yaml: data_centres\[2\]: must be a mapping \(got 'dc-saga'\)",
    ):
        build_national(spec=tmp_path / "national.yaml")


def test_the_graph_built_on_request_holds_every_link_and_only_them(national: Topology) -> None:
    graph = national.graph
    assert graph is national.graph  # built once
    assert sorted(graph.nodes) == sorted(national.sites)
    assert graph.number_of_edges() == len(national.links)
    for link in national.links.values():
        assert graph.edges[link.a, link.b]["link"] is link
        assert graph.edges[link.a, link.b]["metric"] == link.routing_metric
        assert national.has_link_between(link.b, link.a)
        assert national.link_between(link.b, link.a) is link
    for site_id in list(national.sites)[:50]:
        assert national.links_of_site(site_id) == sorted(
            (d["link"] for _, _, d in graph.edges(site_id, data=True)), key=lambda lk: lk.id
        )
    assert not national.has_link_between("pn-13", "mun-47-001")
    assert not national.has_link_between("no-such-site", "pn-13")


def test_building_and_routing_the_national_network_does_not_import_networkx() -> None:
    # networkx is a tenth of a second of a run's start: only .graph and the exports load it
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from lgwan_sim.network import Router, build_national\n"
        "topo = build_national()\n"
        "Router(topo)\n"
        "topo.link_between(*sorted(topo.links.values(), key=lambda lk: lk.id)[0].id.split('~'))\n"
        "print('networkx' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
