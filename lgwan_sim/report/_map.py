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
    import numpy as np
    import numpy.typing as npt
    from matplotlib.axes import Axes
    from matplotlib.colors import Colormap, Normalize

__all__ = [
    "has_outlines",
    "link_style",
    "link_widths",
    "map_extent",
    "map_positions",
    "outline_bounds",
    "plot_network_map",
    "prefecture_outlines",
    "spread_co_located",
    "utilisation_scale",
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


#: Sites closer than this share of the map's span are drawn apart, on a small circle of
#: this radius (as a share of the span) around their common place, so the links between
#: them (an ASP beside its central site, a prefecture's node beside its government) show.
_CO_LOCATED_SHARE = 0.004
_SPREAD_SHARE = 0.012
_SPREAD_SHARE_FEW = 0.03


def spread_co_located(
    positions: Mapping[str, tuple[float, float]], span: float, *, radius_share: float
) -> dict[str, tuple[float, float]]:
    """Positions with each group of co-located sites spread on a circle around its centre.

    Sites are grouped when chained within ``_CO_LOCATED_SHARE * span`` of one another;
    a group's sites go round a circle of ``radius_share * span`` in id order, the first
    at twelve o'clock. Every other site keeps its place. Deterministic.
    """
    import math

    near = _CO_LOCATED_SHARE * span
    if near <= 0 or len(positions) < 2:
        return dict(positions)
    cells: dict[tuple[int, int], list[str]] = {}
    for sid, (x, y) in positions.items():
        cells.setdefault((math.floor(x / near), math.floor(y / near)), []).append(sid)
    parent = {sid: sid for sid in positions}

    def root(sid: str) -> str:
        while parent[sid] != sid:
            parent[sid] = parent[parent[sid]]
            sid = parent[sid]
        return sid

    for (cx, cy), members in cells.items():
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for other in cells.get((cx + dx, cy + dy), ()):
                    ox, oy = positions[other]
                    for sid in members:
                        if sid < other:
                            x, y = positions[sid]
                            if abs(x - ox) <= near and abs(y - oy) <= near:
                                ra, rb = root(sid), root(other)
                                if ra != rb:
                                    parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for sid in positions:
        groups.setdefault(root(sid), []).append(sid)
    out = dict(positions)
    radius = radius_share * span
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort()
        mx = sum(positions[m][0] for m in members) / len(members)
        my = sum(positions[m][1] for m in members) / len(members)
        for k, sid in enumerate(members):
            angle = math.pi / 2 - 2 * math.pi * k / len(members)
            # the map's aspect is 1.25 (latitude stretched), so the circle reads round
            out[sid] = (mx + radius * math.cos(angle), my + radius * math.sin(angle) / 1.25)
    return out


def utilisation_scale() -> tuple[Colormap, Normalize]:
    """The map's colours for utilisation: ``(cmap, norm)``.

    A square-root scale from 0 to 100 % (a link at 1 % sits a tenth of the way up, so
    ordinary loads are visible), blue through green and yellow to red, and one purple band
    above 100 % for demand beyond capacity (overload, analytic fidelity).
    """
    from matplotlib.colors import LinearSegmentedColormap, PowerNorm

    cmap = LinearSegmentedColormap.from_list(
        "lgwan_load", ["#74c0fc", "#1c7ed6", "#12b886", "#fab005", "#f76707", "#e03131"]
    ).with_extremes(over="#862e9c")
    return cmap, PowerNorm(gamma=0.5, vmin=0.0, vmax=1.0)


def map_positions(
    topology: Topology,
) -> tuple[dict[str, tuple[float, float]], tuple[tuple[float, float], tuple[float, float]]]:
    """Where the map draws each site (lon, lat; co-located sites spread apart) and its
    ``(xlim, ylim)``."""
    true_pos = {s.id: (s.lon, s.lat) for s in topology.sites.values()}
    (x0, x1), (y0, y1) = map_extent(true_pos.values())
    few = len(true_pos) <= _LABEL_AT_MOST
    pos = spread_co_located(
        true_pos,
        max(x1 - x0, y1 - y0),
        radius_share=_SPREAD_SHARE_FEW if few else _SPREAD_SHARE,
    )
    return pos, ((x0, x1), (y0, y1))


def link_widths(kinds: Iterable[LinkKind]) -> npt.NDArray[np.float64]:
    """The line width of each link kind on the map: backbones thickest."""
    import numpy as np

    width = {LinkKind.BACKBONE: 1.1, LinkKind.ACCESS: 0.35, LinkKind.BACKUP: 0.3}
    return np.array([width[k] for k in kinds], dtype=float)


def link_style(
    values: npt.NDArray[np.float64],
    backbone: npt.NDArray[np.bool_],
    widths: npt.NDArray[np.float64],
    *,
    scale: tuple[Colormap, Normalize] | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """RGBA colours and widths of links with utilisation ``values`` on ``scale`` (the map's,
    :func:`utilisation_scale`, by default).

    Thousands of idle access lines would bury the backbone: the others fade by load, but
    never below a level where a normal load still shows; an overloaded link is drawn wider.
    """
    import numpy as np

    cmap, norm = scale or utilisation_scale()
    scaled = np.ma.filled(np.ma.asarray(norm(values), dtype=np.float64), 0.0)
    colours = np.asarray(cmap(scaled), dtype=np.float64)
    colours[:, 3] = np.where(backbone, 1.0, 0.25 + 0.75 * np.clip(scaled, 0.0, 1.0))
    return colours, np.where(values > 1.0, np.maximum(widths, 1.8), widths)


def plot_network_map(
    topology: Topology,
    ax: Axes | None = None,
    *,
    link_values: Mapping[str, float] | None = None,
    failed_links: Iterable[str] = (),
    failed_sites: Iterable[str] = (),
    cut_off: Iterable[str] = (),
    circles: Iterable[tuple[float, float, float]] = (),
    title: str | None = None,
    value_label: str = "utilisation",
) -> Axes:
    """Draw ``topology`` over the prefectures of Japan and return the axes.

    ``link_values`` (keyed by link id, utilisation as a fraction, above 1 for overload)
    colours the links on :func:`utilisation_scale`. Failed links are drawn dashed red and
    failed sites as red crosses, both above everything else; the local bodies in
    ``cut_off`` are ringed in red; each ``(lat, lon, radius_km)`` of ``circles`` (a radius
    outage) is drawn as its circle. Co-located sites are spread apart so their links show.
    """
    import math

    import matplotlib
    import numpy as np
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Ellipse, Polygon

    from lgwan_sim.report._fonts import use_japanese_font

    use_japanese_font()  # site names are often Japanese
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(9, 10), dpi=110)
    ax.set_aspect(1.25)  # roughly equal-area at Japan's latitudes
    # The outlines are added as artists, not through ``ax.fill``: the limits are set below,
    # and ``fill`` works out the data limits again for each of the 47 (a tenth of the map's
    # drawing time). Drawn the same, pixel for pixel.
    for ring in prefecture_outlines():
        ax.add_artist(
            Polygon(
                np.array(ring, dtype=float),
                closed=True,
                facecolor="#f1f3f5",
                edgecolor="#adb5bd",
                linewidth=0.4,
                zorder=0,
            )
        )
    failed_l = set(failed_links)
    failed_s = set(failed_sites)
    pos, ((x0, x1), (y0, y1)) = map_positions(topology)
    few = len(pos) <= _LABEL_AT_MOST

    for lat, lon, km in circles:
        # degrees of latitude are ~111 km; of longitude 111 km * cos(latitude)
        ax.add_patch(
            Ellipse(
                (lon, lat),
                width=2 * km / (111.32 * math.cos(math.radians(lat))),
                height=2 * km / 110.57,
                facecolor="#ffc9c9",
                edgecolor="#e03131",
                linestyle="--",
                linewidth=1.2,
                alpha=0.45,
                zorder=0.5,
                label=f"radius outage ({km:g} km)",
            )
        )

    links = sorted(topology.links.values(), key=lambda lk: lk.id)
    is_dead = [lk.id in failed_l or lk.a in failed_s or lk.b in failed_s for lk in links]
    alive = [lk for lk, gone in zip(links, is_dead, strict=True) if not gone]
    dead = [(pos[lk.a], pos[lk.b]) for lk, gone in zip(links, is_dead, strict=True) if gone]
    segments = [(pos[lk.a], pos[lk.b]) for lk in alive]
    backbone = np.array([lk.kind is LinkKind.BACKBONE for lk in alive], dtype=bool)
    widths = link_widths([lk.kind for lk in alive])
    cmap, norm = utilisation_scale()
    over = False
    if link_values is not None:
        values = np.array([link_values.get(lk.id, 0.0) for lk in alive], dtype=float)
        colours, widths = link_style(values, backbone, widths)
        overloaded = values > 1.0
        over = bool(overloaded.any())
        # loaded links above idle ones, overloaded on top of all
        order = np.lexsort((values, overloaded))
        segments = [segments[i] for i in order]
        colours, widths = colours[order], widths[order]
        ax.add_collection(LineCollection(segments, colors=colours, linewidths=widths, zorder=1))
    else:
        plain = ["#868e96" if b else "#ced4da" for b in backbone]
        ax.add_collection(LineCollection(segments, colors=plain, linewidths=widths, zorder=1))
    # A study network of a few sites gets readable markers and names; the national one keeps
    # small dots, or 1,741 municipalities would cover the map.
    for kind, (z, marker, size, colour, label) in _SITE_STYLE.items():
        sites = [s for s in topology.sites_of_kind(kind) if s.id not in failed_s]
        if sites:
            ax.scatter(
                [pos[s.id][0] for s in sites],
                [pos[s.id][1] for s in sites],
                s=max(size, 40.0) if few else size,
                marker=marker,
                c=colour,
                label=f"{label} ({len(sites)})",
                zorder=z,
                linewidths=0,
            )
    cut = [pos[s] for s in sorted(set(cut_off)) if s in pos and s not in failed_s]
    if cut:
        ax.scatter(
            [p[0] for p in cut],
            [p[1] for p in cut],
            s=110 if few else 22,
            marker="o",
            facecolors="none",
            edgecolors="#e03131",
            linewidths=1.6 if few else 0.9,
            label=f"local body cut off ({len(cut)})",
            zorder=8.5,
        )
    # Failures above everything, so a failed site is never hidden under its neighbours.
    if dead:
        ax.add_collection(
            LineCollection(
                dead,
                colors="#e03131",
                linewidths=1.6,
                linestyles="--",
                zorder=9,
                label=f"failed link ({len(dead)})",
            )
        )
    down = [pos[s] for s in sorted(failed_s) if s in pos]
    if down:
        ax.scatter(
            [p[0] for p in down],
            [p[1] for p in down],
            s=110 if few else 70,
            marker="X",
            c="#e03131",
            edgecolors="white",
            linewidths=0.8,
            label=f"failed site ({len(down)})",
            zorder=10,
        )
    if few:
        for site in sorted(topology.sites.values(), key=lambda s: s.id):
            x, y = pos[site.id]
            ax.annotate(
                site.name,
                (x, y),
                xytext=(8, 4),
                textcoords="offset points",
                fontsize=8,
                color="#e03131" if site.id in failed_s else "#212529",
                zorder=11,
            )
    if link_values is not None:
        from matplotlib.cm import ScalarMappable
        from matplotlib.ticker import FixedLocator, PercentFormatter

        mappable = ScalarMappable(norm=norm, cmap=cmap)
        bar = ax.figure.colorbar(
            mappable,
            ax=ax,
            shrink=0.5,
            label=value_label + (" (purple: over capacity)" if over else ""),
            extend="max" if over else "neither",
        )
        bar.ax.yaxis.set_major_locator(FixedLocator([0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0]))
        bar.ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
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
