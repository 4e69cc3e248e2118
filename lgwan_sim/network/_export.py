"""Export a topology as GraphML, GeoJSON or the project's own JSON topology format.

The JSON format is the same as a topology file (``name``, ``sites``, ``links``), so an
export loads back with :func:`~lgwan_sim.network.load_topology`.
"""

from __future__ import annotations

import io
import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lgwan_sim._files import atomic_write
from lgwan_sim.network._model import Link, Site
from lgwan_sim.network._topology import Topology

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "ExportFormat",
    "export_topology",
    "to_geojson",
    "to_graphml_graph",
    "to_mapping",
]


class ExportFormat(StrEnum):
    GRAPHML = "graphml"
    GEOJSON = "geojson"
    JSON = "json"


def _site_fields(site: Site) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": site.id,
        "kind": site.kind.value,
        "name": site.name,
        "lat": site.lat,
        "lon": site.lon,
    }
    for key in ("name_ja", "prefecture", "region", "campus"):
        value = getattr(site, key)
        if value:
            out[key] = value
    return out


def _link_fields(link: Link) -> dict[str, Any]:
    out: dict[str, Any] = {
        "a": link.a,
        "b": link.b,
        "kind": link.kind.value,
        "capacity_bps": link.capacity_bps,
        "delay_s": link.delay_s,
    }
    if link.metric is not None:
        out["metric"] = link.metric
    if link.basis:
        out["basis"] = link.basis
    return out


def to_mapping(topology: Topology) -> dict[str, Any]:
    """The topology as a plain mapping in the topology-file format."""
    return {
        "name": topology.name,
        "sites": [_site_fields(s) for s in sorted(topology.sites.values(), key=lambda s: s.id)],
        "links": [_link_fields(lk) for lk in sorted(topology.links.values(), key=lambda lk: lk.id)],
    }


def to_graphml_graph(topology: Topology) -> nx.Graph:
    """A networkx graph with flat, GraphML-typed attributes (strings and floats only)."""
    import networkx as nx

    graph = nx.Graph(name=topology.name)
    for site in sorted(topology.sites.values(), key=lambda s: s.id):
        fields = _site_fields(site)
        fields.pop("id")
        graph.add_node(site.id, **fields)
    for link in sorted(topology.links.values(), key=lambda lk: lk.id):
        fields = _link_fields(link)
        a, b = fields.pop("a"), fields.pop("b")
        fields["id"] = link.id
        graph.add_edge(a, b, **fields)
    return graph


def to_geojson(topology: Topology) -> dict[str, Any]:
    """A GeoJSON FeatureCollection: a Point per site and a LineString per link (lon, lat)."""
    features: list[dict[str, Any]] = []
    for site in sorted(topology.sites.values(), key=lambda s: s.id):
        features.append(
            {
                "type": "Feature",
                "id": site.id,
                "geometry": {"type": "Point", "coordinates": [site.lon, site.lat]},
                "properties": _site_fields(site),
            }
        )
    for link in sorted(topology.links.values(), key=lambda lk: lk.id):
        a, b = topology.sites[link.a], topology.sites[link.b]
        features.append(
            {
                "type": "Feature",
                "id": link.id,
                "geometry": {"type": "LineString", "coordinates": [[a.lon, a.lat], [b.lon, b.lat]]},
                "properties": {"id": link.id, **_link_fields(link)},
            }
        )
    return {"type": "FeatureCollection", "name": topology.name, "features": features}


def _render(topology: Topology, fmt: ExportFormat) -> bytes:
    if fmt is ExportFormat.GRAPHML:
        import networkx as nx

        buf = io.BytesIO()
        nx.write_graphml(to_graphml_graph(topology), buf, encoding="utf-8")
        return buf.getvalue()
    doc = to_geojson(topology) if fmt is ExportFormat.GEOJSON else to_mapping(topology)
    return (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def export_topology(topology: Topology, path: str | Path, fmt: ExportFormat | str) -> Path:
    """Write ``topology`` to ``path`` atomically (a temporary file renamed into place)."""
    fmt = ExportFormat(fmt)
    path = Path(path)
    atomic_write(path, _render(topology, fmt), mode=0o666)
    return path
