"""Plots of one run: pure functions of its tables, drawn on an ``Axes`` given or made.

PNGs are written without the ``Software`` metadata matplotlib adds by default, so the same
run gives byte-identical images (Agg renders deterministically with the same fonts).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from lgwan_sim.network import Topology

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from lgwan_sim.scenario import RunTables

__all__ = [
    "PLOT_FILES",
    "REQUESTED_LINKS_PLOT",
    "UTILISATION_LABEL",
    "SeriesStyle",
    "marked_events",
    "new_figure",
    "plot_latency_percentiles",
    "plot_link_utilisation",
    "plot_requested_links",
    "plot_service_traffic",
    "plot_unreachable",
    "plot_worst_moment_map",
    "save_png",
    "series_styles",
    "write_run_plots",
]

#: The PNG files of a run, in the order the report shows them (and, with ``run --link``,
#: ``requested_links.png`` after them).
PLOT_FILES = (
    "link_utilisation.png",
    "service_traffic.png",
    "service_latency.png",
    "unreachable.png",
    "map_worst_moment.png",
)
REQUESTED_LINKS_PLOT = "requested_links.png"


def new_figure(
    width_in: float = 10.0,
    height_in: float = 4.5,
    *,
    constrained: bool = True,
    legend_in: float = 2.1,
) -> Figure:
    """A figure not registered with pyplot (no global state, freed with its last reference).

    Japanese text in it is drawn in IPAex Gothic (see :mod:`lgwan_sim.report._fonts`).
    ``constrained=False`` gives the fixed margins of a run's time plots instead of
    matplotlib's constrained layout, which costs a quarter of their drawing time;
    ``legend_in`` inches are kept on the right for a legend outside the axes.
    """
    from matplotlib.figure import Figure

    from lgwan_sim.report._fonts import use_japanese_font

    use_japanese_font()
    if constrained:
        return Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")
    fig = Figure(figsize=(width_in, height_in), dpi=100)
    # room for the numbered event marks above, the dates below, a legend on the right
    fig.subplots_adjust(
        left=1.0 / width_in,
        right=1 - max(0.3, legend_in) / width_in,
        top=1 - 0.62 / height_in,
        bottom=0.62 / height_in,
        hspace=0.55 / max(1.0, (height_in - 1.3) / 3),
    )
    return fig


def save_png(fig: Figure, path: Path) -> None:
    """Save deterministically: no software/version stamp in the PNG metadata."""
    fig.savefig(path, format="png", metadata={"Software": None})


def _times(tables: RunTables) -> npt.NDArray[np.float64]:
    """Bin starts as matplotlib date numbers, in the scenario's local time (JST)."""
    import matplotlib.dates as mdates

    naive = tables.start.replace(tzinfo=None)
    stamps: list[datetime] = [naive + timedelta(seconds=float(t)) for t in tables.times_s]
    return np.asarray(mdates.date2num(stamps), dtype=np.float64)  # type: ignore[no-untyped-call]


def _time_axis(ax: Axes, tables: RunTables) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    tz = tables.start.tzname() or "local"
    ax.set_xlabel(f"time ({tz})")
    ax.grid(True, alpha=0.3)


#: Utilisation is a fraction of capacity in the CSVs and the summary; the plots and the
#: report show it as a percentage. Above 100 % it is offered load (analytic fidelity).
UTILISATION_LABEL = "utilisation (% of capacity)"
LOAD_LABEL = "load (% of capacity; above 100 %: offered, not carried)"


def marked_events(tables: RunTables) -> list[tuple[int, float, str, str]]:
    """The events the time plots mark: (number in the report's event table, time in s,
    kind, note). Routing convergences, which follow a failure or a restoration by seconds,
    are not marked (nor numbered)."""
    out: list[tuple[int, float, str, str]] = []
    for e in tables.events:
        if e["kind"] == "converged":
            continue
        out.append((len(out) + 1, float(e["at_s"]), e["kind"], e["note"]))
    return out


def _mark_events(ax: Axes, tables: RunTables, *, numbers: bool = True) -> None:
    """A dashed line at each event, numbered as in the report's event table."""
    import matplotlib.dates as mdates

    by_time: dict[float, list[int]] = {}
    for number, at_s, _, _ in marked_events(tables):
        if 0 <= at_s <= tables.duration_s:
            by_time.setdefault(at_s, []).append(number)
    naive = tables.start.replace(tzinfo=None)
    # labels closer than this share of the run stack upwards instead of overprinting
    close = 0.025 * max(tables.duration_s, 1.0)
    last_at, level = -math.inf, 0
    for at_s, nums in sorted(by_time.items()):
        x = float(mdates.date2num(naive + timedelta(seconds=at_s)))  # type: ignore[no-untyped-call]
        ax.axvline(x, color="#868e96", linestyle="--", linewidth=0.8, zorder=0.5)
        if numbers:
            level = level + 1 if at_s - last_at < close else 0
            last_at = at_s
            label = ",".join(str(n) for n in nums[:3]) + ("…" if len(nums) > 3 else "")
            ax.annotate(
                label,
                (x, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(0, 2 + 7 * (level % 3)),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
                color="#495057",
            )


def _percent_axis(ax: Axes) -> None:
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(1.0))


def _overload_band(ax: Axes, top: float) -> None:
    """Shade the region above 100 % of capacity, where load is demand not carried."""
    if top > 1.0:
        ax.axhspan(1.0, top * 1.05, color="#f3d9fa", alpha=0.6, zorder=0, linewidth=0)
        ax.axhline(1.0, color="#862e9c", linewidth=0.8, zorder=0.6)
        ax.annotate(
            "overload: offered over capacity",
            (0.005, 1.0),
            xycoords=("axes fraction", "data"),
            xytext=(0, 2),
            textcoords="offset points",
            fontsize=7,
            color="#862e9c",
        )


_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)  # matplotlib's tab10
_LINESTYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "v", "D", "x", "+", "*", "P")


class SeriesStyle(NamedTuple):
    colour: str
    linestyle: str
    marker: str | None


def series_styles(count: int) -> list[SeriesStyle]:
    """A distinct (colour, line style, marker) for each of ``count`` series.

    Ten colours first with solid lines, then the same colours dashed, dotted and dash-dotted,
    then all of those again with a marker each: no two of the first 400 series look alike.
    """
    styles: list[SeriesStyle] = []
    per_marker = len(_COLOURS) * len(_LINESTYLES)
    for i in range(count):
        block = i // per_marker
        styles.append(
            SeriesStyle(
                _COLOURS[i % len(_COLOURS)],
                _LINESTYLES[(i // len(_COLOURS)) % len(_LINESTYLES)],
                None if block == 0 else _MARKERS[(block - 1) % len(_MARKERS)],
            )
        )
    return styles


def _plot_series(
    ax: Axes, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], label: str, style: SeriesStyle
) -> None:
    ax.plot(
        x,
        y,
        linewidth=1.0,
        color=style.colour,
        linestyle=style.linestyle,
        marker=style.marker,
        markersize=3,
        label=label,
    )


def _legend_outside(
    ax: Axes, title: str, handles: Sequence[Artist] | None = None, labels: Sequence[str] = ()
) -> None:
    """The legend to the right of the axes, where it hides no line."""
    kwargs: dict[str, Any] = {
        "loc": "upper left",
        "bbox_to_anchor": (1.01, 1.0),
        "borderaxespad": 0.0,
        "fontsize": 7,
        "title": title,
        "title_fontsize": 7,
        "frameon": False,
    }
    if handles is None:
        ax.legend(**kwargs)
    else:
        ax.legend(handles, labels, **kwargs)


# The time plots' titles sit 24 points above the axes (room for the event numbers) at a
# fixed height (``y=1.0`` given): left to place them itself, matplotlib would work out the
# boxes of every axes' tick labels at each draw only to find that nothing is in the way.


def plot_link_utilisation(tables: RunTables, ax: Axes | None = None) -> Axes:
    """Load over time of the busiest directed links (by 95th percentile over the bins).

    The values are the fractions ``links.csv`` holds, shown as percentages; above 100 %
    (shaded) they are offered load the link could not carry.
    """
    if ax is None:
        ax = new_figure().subplots()
    times = _times(tables)
    for k, (link, style) in enumerate(
        zip(tables.busiest, series_styles(len(tables.busiest)), strict=True)
    ):
        _plot_series(ax, times, tables.busiest_utilisation[k], link, style)
    top = float(np.max(tables.busiest_utilisation, initial=0.0))
    _overload_band(ax, top)
    ax.set_ylabel(LOAD_LABEL if top > 1.0 else UTILISATION_LABEL)
    ax.set_ylim(bottom=0)
    _percent_axis(ax)
    ax.set_title(
        f"Busiest {len(tables.busiest)} links by sustained load (each direction separately)",
        pad=24,
        y=1.0,
    )
    if tables.busiest:
        _legend_outside(ax, "link (a~b> runs a to b)")
    _time_axis(ax, tables)
    _mark_events(ax, tables)
    return ax


def plot_requested_links(tables: RunTables, axes: Sequence[Axes] | None = None) -> Sequence[Axes]:
    """The day of each link asked for (``run --link``): one panel per link, both directions
    asked for in it."""
    groups: dict[str, list[str]] = {}
    for lid in tables.requested:
        groups.setdefault(lid.rstrip("<>"), []).append(lid)
    if axes is None:
        axes = list(
            new_figure(10.0, 2.6 * max(1, len(groups)) + 0.6).subplots(
                max(1, len(groups)), 1, sharex=True, squeeze=False
            )[:, 0]
        )
    times = _times(tables)
    index = {lid: i for i, lid in enumerate(tables.link_ids)}
    util = tables.utilisation if tables.utilisation is not None else np.zeros((0, len(times)))
    caps = {e["link"]: e["capacity_bps"] for e in tables.link_table}
    from lgwan_sim.report._format import bitrate

    for ax, (base, lids) in zip(axes, groups.items(), strict=False):
        top = 0.0
        for lid, style in zip(lids, series_styles(len(lids)), strict=True):
            row = util[index[lid]]
            top = max(top, float(row.max(initial=0.0)))
            _plot_series(ax, times, row, lid, style)
        _overload_band(ax, top)
        ax.set_ylim(bottom=0)
        _percent_axis(ax)
        ax.set_ylabel("load (% of capacity)")
        ax.set_title(
            f"{base}: {bitrate(caps.get(lids[0]))} each direction", pad=24, y=1.0, fontsize=9
        )
        ax.legend(fontsize=7, loc="upper right", frameon=False)
        _time_axis(ax, tables)
        _mark_events(ax, tables)
    return axes


def plot_service_traffic(tables: RunTables, axes: Sequence[Axes] | None = None) -> Sequence[Axes]:
    """Exchanges delivered (top) and dropped (bottom) per service in each bin."""
    if axes is None:
        axes = new_figure(10.0, 6.0).subplots(2, 1, sharex=True)
    times = _times(tables)
    styles = dict(zip(tables.services, series_styles(len(tables.services)), strict=True))
    any_drop = False
    for name in tables.services:
        _plot_series(
            axes[0], times, np.asarray(tables.delivered[name], dtype=float), name, styles[name]
        )
        reasons = tables.dropped.get(name, {})
        if reasons:
            lost = np.sum(list(reasons.values()), axis=0)
            if lost.any():
                any_drop = True
                _plot_series(axes[1], times, lost, name, styles[name])
    axes[0].set_ylabel(f"delivered per {tables.bin_s:g} s bin")
    axes[1].set_ylabel(f"dropped per {tables.bin_s:g} s bin")
    for ax in axes:
        ax.set_ylim(bottom=0)
        _time_axis(ax, tables)
    _mark_events(axes[0], tables)
    _mark_events(axes[1], tables, numbers=False)
    if not any_drop:
        axes[1].text(
            0.5, 0.5, "nothing was dropped", transform=axes[1].transAxes, ha="center", va="center"
        )
        axes[1].set_ylim(0, 1)
    axes[0].set_title("Exchanges delivered and dropped per service", pad=24, y=1.0)
    _legend_outside(axes[0], "service")
    return axes


def plot_latency_percentiles(
    tables: RunTables, axes: Sequence[Axes] | None = None
) -> Sequence[Axes]:
    """Per-service latency p50, p95 and p99 over time (one panel per percentile, log scale)."""
    if axes is None:
        axes = new_figure(10.0, 8.0).subplots(3, 1, sharex=True)
    series = (("p50", tables.p50), ("p95", tables.p95), ("p99", tables.p99))
    times = _times(tables)
    styles = dict(zip(tables.services, series_styles(len(tables.services)), strict=True))
    for ax, (label, by_service) in zip(axes, series, strict=True):
        positive = False
        for name in tables.services:
            values = np.asarray(by_service[name], dtype=float)
            finite = np.isfinite(values)
            if finite.any():
                _plot_series(ax, times, values, name, styles[name])
                positive = positive or bool((values[finite] > 0).any())
        # A log axis needs a positive value to frame; a panel with none (nothing delivered,
        # or latencies of zero) stays linear instead of warning on stderr.
        if positive:
            ax.set_yscale("log")
        ax.set_ylabel(f"{label} latency (s)")
        _time_axis(ax, tables)
        _mark_events(ax, tables, numbers=ax is axes[0])
    axes[0].set_title(
        "Service latency percentiles per bin (empty where nothing was delivered)", pad=24, y=1.0
    )
    # One legend for the three panels, beside the top one: every service that was drawn in
    # any panel, in the catalogue order.
    handles: dict[str, Artist] = {}
    for ax in axes:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(name, handle)
    if handles:
        names = [n for n in tables.services if n in handles]
        _legend_outside(axes[0], "service", [handles[n] for n in names], names)
    return axes


def plot_unreachable(tables: RunTables, ax: Axes | None = None) -> Axes:
    """Local bodies that cannot reach the host of a service they call, over time."""
    if ax is None:
        ax = new_figure(10.0, 3.5).subplots()
    times = _times(tables)
    ax.step(times, tables.unreachable, where="post", color="#c92a2a", linewidth=1.2)
    ax.fill_between(times, tables.unreachable, step="post", color="#ffc9c9", alpha=0.6)
    ax.set_ylabel("unreachable local bodies")
    ax.set_ylim(bottom=0, top=max(1.0, float(np.max(tables.unreachable, initial=0)) * 1.1))
    ax.set_title("Local bodies cut off from at least one service they use", pad=24, y=1.0)
    _time_axis(ax, tables)
    _mark_events(ax, tables)
    return ax


def plot_worst_moment_map(topology: Topology, tables: RunTables, ax: Axes | None = None) -> Axes:
    """The network at the worst moment: links coloured by utilisation, failures in red."""
    from lgwan_sim.report._map import plot_network_map

    if ax is None:
        ax = new_figure(9.0, 10.0).subplots()
    moment = tables.time_of(tables.worst_bin * tables.bin_s)
    until = tables.time_of((tables.worst_bin + 1) * tables.bin_s)
    return plot_network_map(
        topology,
        ax,
        link_values=tables.map_values,
        failed_links=tables.failed_links,
        failed_sites=tables.failed_sites,
        cut_off=tables.cut_off,
        circles=tables.circles,
        title=f"Worst moment: {moment:%Y-%m-%d %H:%M}-{until:%H:%M %Z}",
        value_label=UTILISATION_LABEL,
    )


def write_run_plots(topology: Topology, tables: RunTables, folder: Path) -> list[str]:
    """Draw the plots of a run into ``folder``; return the file names."""
    figures: list[tuple[str, Figure]] = []
    fig = new_figure(constrained=False)
    plot_link_utilisation(tables, fig.subplots())
    figures.append((PLOT_FILES[0], fig))
    fig = new_figure(10.0, 6.0, constrained=False)
    plot_service_traffic(tables, fig.subplots(2, 1, sharex=True))
    figures.append((PLOT_FILES[1], fig))
    fig = new_figure(10.0, 8.0, constrained=False)
    plot_latency_percentiles(tables, fig.subplots(3, 1, sharex=True))
    figures.append((PLOT_FILES[2], fig))
    fig = new_figure(10.0, 3.5, constrained=False, legend_in=0.3)
    plot_unreachable(tables, fig.subplots())
    figures.append((PLOT_FILES[3], fig))
    fig = new_figure(9.0, 10.0)
    plot_worst_moment_map(topology, tables, fig.subplots())
    figures.append((PLOT_FILES[4], fig))
    if tables.requested:
        panels = len({lid.rstrip("<>") for lid in tables.requested})
        fig = new_figure(10.0, 2.6 * panels + 0.6)
        plot_requested_links(
            tables, list(fig.subplots(panels, 1, sharex=True, squeeze=False)[:, 0])
        )
        figures.append((REQUESTED_LINKS_PLOT, fig))
    for name, figure in figures:
        save_png(figure, folder / name)
    return [name for name, _ in figures]
