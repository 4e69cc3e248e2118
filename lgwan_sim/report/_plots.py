"""Plots of one run: pure functions of its tables, drawn on an ``Axes`` given or made.

PNGs are written without the ``Software`` metadata matplotlib adds by default, so the same
run gives byte-identical images (Agg renders deterministically with the same fonts).
"""

from __future__ import annotations

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
    "UTILISATION_LABEL",
    "SeriesStyle",
    "new_figure",
    "plot_latency_percentiles",
    "plot_link_utilisation",
    "plot_unreachable",
    "plot_worst_moment_map",
    "save_png",
    "series_styles",
    "write_run_plots",
]

#: The PNG files of a run, in the order the report shows them.
PLOT_FILES = (
    "link_utilisation.png",
    "service_latency.png",
    "unreachable.png",
    "map_worst_moment.png",
)


def new_figure(width_in: float = 10.0, height_in: float = 4.5) -> Figure:
    """A figure not registered with pyplot (no global state, freed with its last reference).

    Japanese text in it is drawn in IPAex Gothic (see :mod:`lgwan_sim.report._fonts`).
    """
    from matplotlib.figure import Figure

    from lgwan_sim.report._fonts import use_japanese_font

    use_japanese_font()
    return Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")


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


#: Utilisation is a fraction of capacity everywhere: plots, map, report, CSVs, summary.
UTILISATION_LABEL = "utilisation (fraction of capacity, 0–1)"

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


def plot_link_utilisation(tables: RunTables, ax: Axes | None = None) -> Axes:
    """Utilisation over time of the busiest directed links (peak first), as a fraction 0-1."""
    if ax is None:
        ax = new_figure().subplots()
    times = _times(tables)
    for k, (link, style) in enumerate(
        zip(tables.busiest, series_styles(len(tables.busiest)), strict=True)
    ):
        _plot_series(ax, times, tables.busiest_utilisation[k], link, style)
    ax.set_ylabel(UTILISATION_LABEL)
    ax.set_ylim(bottom=0)
    ax.set_title(f"Busiest {len(tables.busiest)} links (each direction separately)")
    if tables.busiest:
        _legend_outside(ax, "link (a~b> runs a to b)")
    _time_axis(ax, tables)
    return ax


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
    axes[0].set_title("Service latency percentiles per bin (empty where nothing was delivered)")
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
    ax.set_title("Local bodies cut off from at least one service they use")
    _time_axis(ax, tables)
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
        title=f"Worst moment: {moment:%Y-%m-%d %H:%M}-{until:%H:%M %Z}",
        value_label=UTILISATION_LABEL,
    )


def write_run_plots(topology: Topology, tables: RunTables, folder: Path) -> list[str]:
    """Draw the four plots of a run into ``folder``; return the file names."""
    figures: list[tuple[str, Figure]] = []
    fig = new_figure()
    plot_link_utilisation(tables, fig.subplots())
    figures.append((PLOT_FILES[0], fig))
    fig = new_figure(10.0, 8.0)
    plot_latency_percentiles(tables, fig.subplots(3, 1, sharex=True))
    figures.append((PLOT_FILES[1], fig))
    fig = new_figure(10.0, 3.5)
    plot_unreachable(tables, fig.subplots())
    figures.append((PLOT_FILES[2], fig))
    fig = new_figure(9.0, 10.0)
    plot_worst_moment_map(topology, tables, fig.subplots())
    figures.append((PLOT_FILES[3], fig))
    for name, figure in figures:
        save_png(figure, folder / name)
    return [name for name, _ in figures]
