"""A map of Japan with the network on it.

Prefecture outlines come from the ``japanmap`` package's boundary data (Apache-2.0), read
through its ``get_data()``/``pref_points()`` functions, which need neither OpenCV nor the
network. Install it with the ``map`` extra. Without it the map is schematic: sites at their
coordinates, no coastline (never a hand-drawn one).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING

from lgwan_sim.network import LinkKind, SiteKind, Topology

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "has_outlines",
    "map_extent",
    "outline_bounds",
    "plot_network_map",
    "prefecture_outlines",
]

# Drawing order and style per site kind: (z-order, marker, size, colour, label).
_SITE_STYLE: dict[SiteKind, tuple[int, str, float, str, str]] = {
    SiteKind.MUNICIPALITY: (3, "o", 2.5, "#4a6fa5", "municipality"),
    SiteKind.PREFECTURE: (4, "s", 9, "#2b8a3e", "prefectural government"),
    SiteKind.PREFECTURE_NODE: (5, "D", 14, "#e67700", "prefecture node"),
    SiteKind.DATA_CENTRE: (6, "^", 60, "#862e9c", "data centre"),
    SiteKind.ASP: (6, "P", 45, "#c2255c", "LGWAN-ASP"),
    SiteKind.GOV_GATEWAY: (6, "X", 60, "#495057", "gov. network gateway"),
    SiteKind.ASP_SEGMENT: (6, "h", 50, "#c2255c", "ASP segment"),
    SiteKind.SECURITY_GATEWAY: (6, "h", 50, "#495057", "security gateway"),
    SiteKind.CENTRAL: (7, "*", 260, "#d6336c", "central site"),
}


#: Topologies with at most this many sites have their sites named on the map.
_LABEL_AT_MOST = 40


def has_outlines() -> bool:
    """True when prefecture outline data (the ``japanmap`` package) is installed."""
    return importlib.util.find_spec("japanmap") is not None


@lru_cache(maxsize=1)
def prefecture_outlines() -> tuple[tuple[tuple[float, float], ...], ...]:
    """The 47 prefecture boundaries as (lon, lat) rings, in JIS code order; empty if absent."""
    if not has_outlines():
        return ()
    import japanmap

    # get_data() with no arguments keeps Hokkaido and Okinawa in their true positions.
    rings = japanmap.pref_points(japanmap.get_data())  # type: ignore[no-untyped-call]
    return tuple(tuple((float(x), float(y)) for x, y in ring) for ring in rings)


#: Sites spanning at least this share of Japan's outline (east-west or north-south) make a
#: national map, framed on the whole country; smaller networks are framed on their sites.
_NATIONAL_SHARE = 0.5
#: Degrees of margin around what a map frames.
_MARGIN_DEG = 1.0


def outline_bounds() -> tuple[tuple[float, float], tuple[float, float]] | None:
    """``((west, east), (south, north))`` of the prefecture outlines; ``None`` without them."""
    rings = prefecture_outlines()
    if not rings:
        return None
    lons = [x for ring in rings for x, _ in ring]
    lats = [y for ring in rings for _, y in ring]
    return (min(lons), max(lons)), (min(lats), max(lats))


def map_extent(
    positions: Iterable[tuple[float, float]],
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The ``(xlim, ylim)`` a map of sites at ``positions`` (lon, lat) should show.

    A national network (its sites spanning half of Japan or more) is framed on all of
    Japan's outlines together with its sites, so eastern Hokkaido and Okinawa are on the
    map; a small study network is framed tightly on its sites.
    """
    pts = list(positions)
    japan = outline_bounds()
    if not pts:  # nothing to frame: Japan as a whole
        return (123.0, 153.0), (21.0, 45.0)
    west, east = min(x for x, _ in pts), max(x for x, _ in pts)
    south, north = min(y for _, y in pts), max(y for _, y in pts)
    if japan is not None:
        (jw, je), (js, jn) = japan
        national = east - west >= _NATIONAL_SHARE * (
            je - jw
        ) or north - south >= _NATIONAL_SHARE * (jn - js)
        if national:
            west, east = min(west, jw), max(east, je)
            south, north = min(south, js), max(north, jn)
    return (
        (west - _MARGIN_DEG, east + _MARGIN_DEG),
        (south - _MARGIN_DEG, north + _MARGIN_DEG),
    )


def plot_network_map(
    topology: Topology,
    ax: Axes | None = None,
    *,
    link_values: Mapping[str, float] | None = None,
    failed_links: Iterable[str] = (),
    failed_sites: Iterable[str] = (),
    title: str | None = None,
    value_label: str = "utilisation",
) -> Axes:
    """Draw ``topology`` over the prefectures of Japan and return the axes.

    ``link_values`` (keyed by link id, e.g. utilisation 0..1) colours the links; failed links
    are drawn dashed red and failed sites as red crosses.
    """
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize

    from lgwan_sim.report._fonts import use_japanese_font

    use_japanese_font()  # site names are often Japanese
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 10), dpi=110)
    ax.set_aspect(1.25)  # roughly equal-area at Japan's latitudes
    for ring in prefecture_outlines():
        xs, ys = zip(*ring, strict=True)
        ax.fill(xs, ys, facecolor="#f1f3f5", edgecolor="#adb5bd", linewidth=0.4, zorder=0)
    failed_l = set(failed_links)
    failed_s = set(failed_sites)
    pos = {s.id: (s.lon, s.lat) for s in topology.sites.values()}

    segments: list[tuple[tuple[float, float], tuple[float, float]]] = []
    colours: list[object] = []
    widths: list[float] = []
    cmap = plt.get_cmap("turbo")
    norm = Normalize(vmin=0.0, vmax=1.0)
    dead: list[tuple[tuple[float, float], tuple[float, float]]] = []
    for link in sorted(topology.links.values(), key=lambda lk: lk.id):
        seg = (pos[link.a], pos[link.b])
        if link.id in failed_l or link.a in failed_s or link.b in failed_s:
            dead.append(seg)
            continue
        segments.append(seg)
        if link_values is not None:
            value = link_values.get(link.id, 0.0)
            r, g, b, _ = cmap(norm(value))
            # Thousands of idle access lines would bury the backbone: fade lines by load.
            alpha = 1.0 if link.kind is LinkKind.BACKBONE else 0.15 + 0.85 * min(1.0, value)
            colours.append((r, g, b, alpha))
        else:
            colours.append("#868e96" if link.kind is LinkKind.BACKBONE else "#ced4da")
        widths.append(
            {LinkKind.BACKBONE: 1.1, LinkKind.ACCESS: 0.35, LinkKind.BACKUP: 0.3}[link.kind]
        )
    ax.add_collection(LineCollection(segments, colors=colours, linewidths=widths, zorder=1))
    if dead:
        ax.add_collection(
            LineCollection(dead, colors="#e03131", linewidths=1.2, linestyles="--", zorder=2)
        )
    # A study network of a few sites gets readable markers and names; the national one keeps
    # small dots, or 1,741 municipalities would cover the map.
    few = len(pos) <= _LABEL_AT_MOST
    for kind, (z, marker, size, colour, label) in _SITE_STYLE.items():
        sites = [s for s in topology.sites_of_kind(kind) if s.id not in failed_s]
        if sites:
            ax.scatter(
                [s.lon for s in sites],
                [s.lat for s in sites],
                s=max(size, 40.0) if few else size,
                marker=marker,
                c=colour,
                label=f"{label} ({len(sites)})",
                zorder=z,
                linewidths=0,
            )
    down = [pos[s] for s in sorted(failed_s) if s in pos]
    if down:
        ax.scatter(
            [p[0] for p in down],
            [p[1] for p in down],
            s=90 if few else 40,
            marker="x",
            c="#e03131",
            linewidths=2.0 if few else 1.5,
            label=f"failed site ({len(down)})",
            zorder=8,
        )
    if few:
        placed: list[tuple[float, float]] = []
        for site in sorted(topology.sites.values(), key=lambda s: s.id):
            # Sites a few km apart (an ASP beside its central site) stack their names.
            near = sum(1 for x, y in placed if abs(x - site.lon) + abs(y - site.lat) < 0.3)
            placed.append((site.lon, site.lat))
            ax.annotate(
                site.name,
                (site.lon, site.lat),
                xytext=(8, 4 - 11 * near),
                textcoords="offset points",
                fontsize=8,
                color="#e03131" if site.id in failed_s else "#212529",
                zorder=9,
            )
    if link_values is not None:
        mappable = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        ax.figure.colorbar(mappable, ax=ax, shrink=0.5, label=value_label)
    (x0, x1), (y0, y1) = map_extent(pos.values())
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("longitude (°E)")
    ax.set_ylabel("latitude (°N)")
    outline_note = "" if prefecture_outlines() else " (schematic: no outline data installed)"
    # The axes' title existed before the font was set up when the caller made the axes.
    ax.set_title((title or topology.name) + outline_note, family=matplotlib.rcParams["font.family"])
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=7, framealpha=0.9)
    return ax
