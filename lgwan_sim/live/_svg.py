"""The national map as SVG, drawn once on the server.

Prefecture outlines and the placement of sites (co-located ones spread apart) come from the
run report's map (:mod:`lgwan_sim.report._map`), so the live page and the static map show the
same geometry. Every prefecture, link and site is an element with a stable id and a
``data-pref`` / ``data-link`` / ``data-site`` attribute; the page only changes classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from lgwan_sim.network import LinkKind, SiteKind, Topology
from lgwan_sim.report import map_positions, prefecture_outlines

__all__ = ["MapLayout", "layout", "render_svg"]

#: Width of the map in SVG units (the page scales it to its column).
WIDTH = 900.0
#: Latitude is stretched by this factor, as on the report's map (about equal-area in Japan).
ASPECT = 1.25

# radius per site kind, in SVG units
_RADIUS: dict[SiteKind, float] = {
    SiteKind.MUNICIPALITY: 1.4,
    SiteKind.PREFECTURE: 2.2,
    SiteKind.PREFECTURE_NODE: 2.8,
    SiteKind.DATA_CENTRE: 4.0,
    SiteKind.ASP: 3.5,
    SiteKind.GOV_GATEWAY: 4.0,
    SiteKind.ASP_SEGMENT: 3.5,
    SiteKind.SECURITY_GATEWAY: 3.5,
    SiteKind.CENTRAL: 6.0,
}


@dataclass(frozen=True, slots=True)
class MapLayout:
    """Where everything is drawn: SVG coordinates per site, the frame's size."""

    width: float
    height: float
    sites: dict[str, tuple[float, float]]
    link_ids: tuple[str, ...]
    site_ids: tuple[str, ...]
    x0: float
    y1: float
    scale: float

    def project(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self.x0) * self.scale, (self.y1 - lat) * self.scale * ASPECT


def layout(topology: Topology) -> MapLayout:
    """The map's frame and every site's place (co-located sites spread as on the report)."""
    pos, ((x0, x1), (y0, y1)) = map_positions(topology)
    scale = WIDTH / (x1 - x0)
    height = (y1 - y0) * scale * ASPECT
    out = MapLayout(
        width=WIDTH,
        height=round(height, 1),
        sites={},
        link_ids=tuple(sorted(topology.links)),
        site_ids=tuple(sorted(topology.sites)),
        x0=x0,
        y1=y1,
        scale=scale,
    )
    for sid, (lon, lat) in pos.items():
        x, y = out.project(lon, lat)
        out.sites[sid] = (round(x, 2), round(y, 2))
    return out


def _ring_path(lay: MapLayout, ring: tuple[tuple[float, float], ...]) -> str:
    pts = [lay.project(lon, lat) for lon, lat in ring]
    head = f"M{pts[0][0]:.1f},{pts[0][1]:.1f}"
    return head + "".join(f"L{x:.1f},{y:.1f}" for x, y in pts[1:]) + "Z"


def render_svg(topology: Topology, lay: MapLayout | None = None) -> str:
    """The ``<svg>`` element of the map (prefectures, links, sites and the overlay groups).

    Groups, bottom to top: ``#prefs``, ``#links``, ``#sites``, ``#route`` (the chosen
    municipality's path), ``#cut`` (local bodies cut off) and ``#failed`` (failed links and
    sites are moved there by the page, so they are drawn above everything else).
    """
    lay = lay or layout(topology)
    names = {
        s.prefecture: (s.name, s.name_ja)
        for s in topology.sites_of_kind(SiteKind.PREFECTURE)
        if s.prefecture
    }
    parts = [
        f'<svg id="map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {lay.width:.0f} '
        f'{lay.height:.0f}" role="img" aria-label="LGWAN map of Japan / 日本地図">',
        '<g id="prefs">',
    ]
    for i, ring in enumerate(prefecture_outlines()):
        code = f"{i + 1:02d}"
        en, ja = names.get(code, (code, code))
        parts.append(
            f'<path id="p-{code}" data-pref="{code}" class="pref" d="{_ring_path(lay, ring)}">'
            f"<title>{escape(ja)} {escape(en)}</title></path>"
        )
    parts.append('</g><g id="links">')
    for i, link_id in enumerate(lay.link_ids):
        link = topology.links[link_id]
        (xa, ya), (xb, yb) = lay.sites[link.a], lay.sites[link.b]
        kind = {LinkKind.BACKBONE: "bb", LinkKind.ACCESS: "ac", LinkKind.BACKUP: "bu"}[link.kind]
        parts.append(
            f'<line id="l-{i}" data-link="{escape(link_id)}" class="l {kind} u0" '
            f'x1="{xa}" y1="{ya}" x2="{xb}" y2="{yb}"/>'
        )
    parts.append('</g><g id="sites">')
    for i, site_id in enumerate(lay.site_ids):
        site = topology.sites[site_id]
        x, y = lay.sites[site_id]
        parts.append(
            f'<circle id="s-{i}" data-site="{escape(site_id)}" class="s k-{site.kind.value}" '
            f'cx="{x}" cy="{y}" r="{_RADIUS[site.kind]}"/>'
        )
    parts.append('</g><g id="route"></g><g id="cut"></g><g id="failed"></g></svg>')
    return "".join(parts)
