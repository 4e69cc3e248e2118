"""Plots and a one-page report of a parameter sweep: means with 95 % intervals."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lgwan_sim.report._html import _CSS, _img
from lgwan_sim.report._plots import new_figure, save_png

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from lgwan_sim.scenario import SweepResult

__all__ = ["plot_sweep_metric", "write_sweep_report"]

_KEY_METRICS = (
    ("delivered_ratio", "delivered / offered"),
    ("slo_breaches", "latency objective breaches"),
    ("unreachable_peak", "peak unreachable local bodies"),
    ("peak_link_utilisation", "peak link utilisation"),
)


def _label(value: object) -> str:
    return str(value)


def plot_sweep_metric(
    table: Sequence[dict[str, Any]], grid_paths: Sequence[str], metric: str, ax: Axes, title: str
) -> Axes:
    """Mean of ``metric`` against the first swept parameter, one line per value of the second.

    Error bars are the 95 % confidence intervals across replications.
    """
    first = grid_paths[0] if grid_paths else None
    second = grid_paths[1] if len(grid_paths) > 1 else None
    groups: dict[object, list[dict[str, Any]]] = {}
    for row in table:
        groups.setdefault(row.get(second) if second is not None else None, []).append(row)
    xs_all = [row.get(first) for row in table] if first is not None else [0]
    numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x in xs_all)
    categories = list(dict.fromkeys(_label(x) for x in xs_all))
    for key, rows in groups.items():
        xs = [
            float(r[first])
            if numeric and first is not None
            else categories.index(_label(r.get(first) if first is not None else 0))
            for r in rows
        ]
        ys = [r.get(f"{metric}.mean", math.nan) for r in rows]
        errs = [r.get(f"{metric}.ci95", math.nan) for r in rows]
        errs = [0.0 if e is None or math.isnan(e) else e for e in errs]
        label = f"{second} = {key}" if second else None
        ax.errorbar(xs, ys, yerr=errs, marker="o", capsize=3, linewidth=1.0, label=label)
    if not numeric:
        ax.set_xticks(range(len(categories)), categories)
    ax.set_xlabel(first or "")
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    if second:
        ax.legend(fontsize=7)
    return ax


def write_sweep_report(result: SweepResult, table: list[dict[str, Any]], folder: Path) -> list[str]:
    """Write ``sweep_metrics.png``, ``sweep_latency.png`` and ``report.html`` into ``folder``."""
    from lgwan_sim.scenario import fmt, show_params

    paths = [p for p, _ in result.grid]
    fig = new_figure(11.0, 7.0)
    axes = fig.subplots(2, 2)
    for ax, (metric, title) in zip(axes.flat, _KEY_METRICS, strict=True):
        plot_sweep_metric(table, paths, metric, ax, title)
    save_png(fig, folder / "sweep_metrics.png")
    services = sorted(
        {
            k.split(".", 1)[1].removesuffix(".mean")
            for row in table
            for k in row
            if k.startswith("p95_s.") and k.endswith(".mean")
        }
    )
    fig = new_figure(11.0, 2.6 * math.ceil(max(1, len(services)) / 3))
    lat_axes = fig.subplots(math.ceil(max(1, len(services)) / 3), 3, squeeze=False)
    for ax, name in zip(lat_axes.flat, services, strict=False):
        plot_sweep_metric(table, paths, f"p95_s.{name}", ax, f"p95 latency (s): {name}")
    for ax in list(lat_axes.flat)[len(services) :]:
        ax.set_visible(False)
    save_png(fig, folder / "sweep_latency.png")
    plots = ["sweep_metrics.png", "sweep_latency.png"]

    columns = [
        c for c in dict.fromkeys(c for row in table for c in row) if not c.startswith("p95_s.")
    ]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(fmt(row.get(c)))}</td>" for c in columns) + "</tr>"
        for row in table
    )
    failures = "".join(
        f"<li>run {r.point.index} ({html.escape(show_params(r.point.params))}, "
        f"seed {r.point.seed}): "
        f"{html.escape(r.error or '')}</li>"
        for r in result.failed
    )
    page = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>lgwan-sim sweep: {html.escape(Path(result.scenario).name)}</title>",
            f"<style>{_CSS}</style></head><body>",
            f"<h1>Sweep of {html.escape(Path(result.scenario).name)}</h1>",
            f'<p class="lead">{len(result.runs)} runs: '
            + ", ".join(f"{html.escape(p)} in {html.escape(str(list(v)))}" for p, v in result.grid)
            + f"; {result.replications} replication{'' if result.replications == 1 else 's'} "
            "each. Means with 95 % confidence intervals (Student t) across replications.</p>",
            "<h2>Results</h2>",
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>",
            "<h2>Failed runs</h2>",
            f"<ul>{failures}</ul>" if failures else "<p>None.</p>",
            "<h2>Plots</h2>",
            _img(folder / plots[0], "Key metrics against the swept parameter."),
            _img(folder / plots[1], "p95 latency per service against the swept parameter."),
            "<footer>Per-run values: sweep_runs.csv; aggregates: sweep_table.csv; wall times: "
            "sweep_timing.json.</footer>",
            "</body></html>",
        ]
    )
    (folder / "report.html").write_text(page + "\n", encoding="utf-8")
    return [*plots, "report.html"]
