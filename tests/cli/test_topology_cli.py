"""The topology commands end to end, in process, on real files."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import networkx as nx
import pytest

from lgwan_sim.network import load_topology


def test_summary_json(cli) -> None:
    code, out, err = cli("topology", "summary", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["sites_by_kind"]["municipality"] == 1741
    assert doc["sites_by_kind"]["prefecture_node"] == 47
    assert doc["sites_by_kind"]["central"] == 2
    assert doc["connected"] is True
    # mun -> pn -> central -> sgw -> aspseg -> asp is the longest chain of hops
    assert doc["diameter_hops"] == 5
    # Hokkaido to Okinawa through a central site: tens of ms at most
    assert 5.0 < doc["diameter_ms"] < 40.0
    assert set(doc["sites_by_region"]) >= {"Hokkaido", "Kyushu-Okinawa"}


def test_summary_of_a_two_site_topology(tmp_path: Path, cli) -> None:
    pair = tmp_path / "pair.yaml"
    pair.write_text(
        "name: pair\n"
        "sites: [{id: a, kind: central}, {id: b, kind: central, lat: 34.0}]\n"
        "links: [{a: a, b: b, capacity_bps: 1000000, delay_s: 0.002}]\n",
        encoding="utf-8",
    )
    code, out, err = cli("topology", "summary", "--topology", str(pair), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["diameter_hops"], sorted(doc["diameter_hops_between"])) == (1, ["a", "b"])
    assert doc["diameter_ms"] == 2.0


def test_a_key_may_override_one_merged_from_an_anchor(tmp_path: Path, cli) -> None:
    topo = tmp_path / "merge.yaml"
    topo.write_text(
        "name: merge\n"
        "sites: [{id: a, kind: central}, {id: b, kind: central}, {id: c, kind: central}]\n"
        "links:\n"
        "  - &line {a: a, b: b, kind: access, capacity_bps: 1.0e+9}\n"
        "  - {<<: *line, b: c, capacity_bps: 1.0e+8}\n",
        encoding="utf-8",
    )
    code, out, err = cli("topology", "route", "a", "c", "--topology", str(topo), "--json")
    assert code == 0, err
    assert json.loads(out)["links"] == ["a~c"]
    assert json.loads(out)["bottleneck_bps"] == 1e8


def test_summary_of_a_disconnected_topology_is_strict_json(tmp_path: Path, cli) -> None:
    sites = "sites: [{id: a, kind: central}, {id: b, kind: central}, {id: c, kind: central}]\n"
    apart = tmp_path / "apart.yaml"
    apart.write_text(
        f"name: apart\n{sites}links: [{{a: a, b: b, capacity_bps: 1000000}}]\n", encoding="utf-8"
    )
    code, out, err = cli("topology", "summary", "--topology", str(apart), "--json")
    assert code == 0, err
    doc = json.loads(out, parse_constant=lambda name: pytest.fail(f"not JSON: {name}"))
    assert doc["connected"] is False
    assert doc["diameter_hops"] is None
    # a zero-hop route has no bottleneck
    code, out, err = cli("topology", "route", "a", "a", "--topology", str(apart), "--json")
    assert code == 0, err
    doc = json.loads(out, parse_constant=lambda name: pytest.fail(f"not JSON: {name}"))
    assert (doc["hops"], doc["bottleneck_bps"]) == (0, None)


def test_summary_tables(cli) -> None:
    code, out, _ = cli("topology", "summary")
    assert code == 0
    assert "municipality" in out
    assert "diameter: 5 hops" in out


def test_route_with_and_without_failure(cli) -> None:
    code, out, _ = cli("topology", "route", "mun-03-005", "asp-eltax-east", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["path"][:3] == ["mun-03-005", "pn-03", "central-east"]
    assert doc["hops"] == 5
    assert doc["bottleneck_bps"] == 1e8
    code, out, _ = cli(
        "topology",
        "route",
        "mun-03-005",
        "asp-eltax-east",
        "--fail",
        "campus:east",
        "--json",
    )
    rerouted = json.loads(out)
    assert "central-west" in rerouted["path"]
    assert rerouted["delay_ms"] > doc["delay_ms"]


def test_failure_reports_cut_off_local_bodies(cli) -> None:
    code, out, _ = cli("topology", "failure", "pn-03", "--json")
    assert code == 0
    doc = json.loads(out)
    assert len(doc["local_bodies_cut_off"]) == 34
    assert all(b.startswith(("mun-03-", "pref-03")) for b in doc["local_bodies_cut_off"])
    code, out, _ = cli("topology", "failure", "pn-03", "--backup-lines", "--json")
    assert json.loads(out)["local_bodies_cut_off"] == []


def test_graphml_export_reloads_with_the_same_graph(tmp_path: Path, cli, national) -> None:
    target = tmp_path / "national.graphml"
    code, _, err = cli("topology", "export", "--format", "graphml", "-o", str(target))
    assert code == 0, err
    graph = nx.read_graphml(target)
    assert set(graph.nodes) == set(national.sites)
    assert {frozenset(e) for e in graph.edges} == {
        frozenset((lk.a, lk.b)) for lk in national.links.values()
    }
    node = graph.nodes["pn-01"]
    site = national.site("pn-01")
    assert (node["kind"], node["lat"], node["lon"], node["prefecture"]) == (
        "prefecture_node",
        site.lat,
        site.lon,
        "01",
    )
    for a, b, data in graph.edges(data=True):
        link = national.link_between(a, b)
        assert data["capacity_bps"] == link.capacity_bps
        assert data["delay_s"] == pytest.approx(link.delay_s)
        assert data["kind"] == link.kind.value
        assert data["id"] == link.id


def test_geojson_export_is_a_valid_feature_collection(tmp_path: Path, cli, national) -> None:
    target = tmp_path / "national.geojson"
    assert cli("topology", "export", "--format", "geojson", "-o", str(target))[0] == 0
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection"
    kinds = {"Point": 0, "LineString": 0}
    for feature in doc["features"]:
        assert feature["type"] == "Feature"
        geom = feature["geometry"]
        kinds[geom["type"]] += 1
        coords = [geom["coordinates"]] if geom["type"] == "Point" else geom["coordinates"]
        if geom["type"] == "LineString":
            assert len(coords) == 2
        for lon, lat in coords:  # RFC 7946: longitude first, WGS 84
            assert 122 <= lon <= 154
            assert 20 <= lat <= 46
        assert isinstance(feature["properties"], dict)
    assert kinds == {"Point": len(national.sites), "LineString": len(national.links)}


def test_json_export_is_a_topology_file(tmp_path: Path, cli, national) -> None:
    target = tmp_path / "national.json"
    assert cli("topology", "export", "--format", "json", "-o", str(target))[0] == 0
    again = load_topology(target)
    assert dict(again.sites) == dict(national.sites)
    assert {lk.id: lk for lk in again.links.values()} == {
        lk.id: lk for lk in national.links.values()
    }


def test_map_png(tmp_path: Path, cli) -> None:
    target = tmp_path / "map.png"
    code, _, err = cli("topology", "map", "-o", str(target), "--fail", "pn-04")
    assert code == 0, err
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 800
    assert height > 800
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind


def test_roster_option_names_real_municipalities(cli, roster_path) -> None:
    code, out, err = cli(
        "topology",
        "route",
        "mun-011002",
        "dc-hokkaido",
        "--roster",
        str(roster_path),
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["path"] == ["mun-011002", "pn-01", "dc-hokkaido"]


def test_map_of_an_empty_topology_is_just_japan(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    from lgwan_sim.network import Topology
    from lgwan_sim.report import plot_network_map

    ax = plot_network_map(Topology.build("empty", [], []))
    assert ax.get_xlim()[0] < 125 < 150 < ax.get_xlim()[1]
    assert ax.get_legend() is None
    plt.close(ax.figure)
