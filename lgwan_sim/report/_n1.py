"""Plots and a one-page report of an N-1 study: which single failure hurts, and how."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import TYPE_CHECKING

from lgwan_sim.report._plots import new_figure, save_png

if TYPE_CHECKING:
    from lgwan_sim.engine import N1Impact
    from lgwan_sim.scenario import N1Result

__all__ = ["write_n1_report"]

#: How many cases the plots and the report's first table show.
SHOWN = 25

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #212529; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
th, td { border: 1px solid #dee2e6; padding: 0.25em 0.5em; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.bad td { background: #fff3f3; }
figure { margin: 1em 0; } img { max-width: 100%; }
figcaption, footer { color: #6c757d; font-size: 0.9em; }
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _pct(x: float) -> str:
    return f"{x * 100:,.0f} %"


def _count(x: float) -> str:
    return f"{x:,.0f}"


def _img(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _breaches(impact: N1Impact) -> str:
    """The services in breach grouped by why: ``cut off: eltax, konbini; latency: ...``."""
    by: dict[str, list[str]] = {}
    for name, why in sorted(impact.breaches.items()):
        by.setdefault(why, []).append(name)
    return "; ".join(f"{why}: {', '.join(names)}" for why, names in sorted(by.items()))


def _ranked(result: N1Result) -> list[N1Impact]:
    from lgwan_sim.scenario import severity

    return sorted((i for i in result.impacts if i.kind != "none"), key=severity)


def _plot_peaks(result: N1Result, path: Path) -> None:
    raised = sorted(
        (i for i in result.impacts if i.most_raised is not None),
        key=lambda i: (-(i.most_raised or ("", 0.0, 0.0))[1], i.case),
    )[:SHOWN]
    fig = new_figure(10.0, 0.28 * max(len(raised), 4) + 1.2)
    ax = fig.subplots()
    rows = [(i.case, *(i.most_raised or ("", 0.0, 0.0))) for i in raised][::-1]
    labels = [f"{case}: {link}" for case, link, _, _ in rows]
    values = [peak * 100 for _, _, peak, _ in rows]
    ax.barh(labels, values, color=["#c0392b" if v > 100 else "#2c7fb8" for v in values])
    ax.scatter([before * 100 for *_, before in rows], labels, color="#222", marker="|", s=120,
               label="the same link, intact network", zorder=3)  # fmt: skip
    ax.axvline(100, color="#c0392b", linewidth=1)
    ax.set_xlabel("peak utilisation (% of capacity) of the link each failure loads most")
    ax.tick_params(axis="y", labelsize=7)
    if rows:
        ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"{result.name}: the {len(rows)} failures that load a link most", fontsize=9)
    ax.grid(True, axis="x", alpha=0.3)
    save_png(fig, path)


def _plot_impact(result: N1Result, path: Path) -> None:
    cases = [i for i in _ranked(result) if i.unreachable or i.lost_total > 0][:SHOWN]
    fig = new_figure(10.0, 0.28 * max(len(cases), 4) + 1.2)
    ax = fig.subplots()
    if cases:
        labels = [i.case for i in cases][::-1]
        ax.barh(labels, [len(i.unreachable) for i in cases][::-1], color="#e67e22")
        ax.tick_params(axis="y", labelsize=7)
    else:
        ax.text(0.5, 0.5, "no single failure cuts off a local body", ha="center",
                transform=ax.transAxes)  # fmt: skip
        ax.set_yticks([])
    ax.set_xlabel("local bodies unable to reach a service they use")
    ax.set_title(f"{result.name}: failures that cut off local bodies", fontsize=9)
    ax.grid(True, axis="x", alpha=0.3)
    save_png(fig, path)


def write_n1_report(result: N1Result, folder: Path) -> list[str]:
    """Write ``n1_peaks.png``, ``n1_impact.png`` and ``report.html`` into ``folder``."""
    _plot_peaks(result, folder / "n1_peaks.png")
    _plot_impact(result, folder / "n1_impact.png")
    ranked = _ranked(result)
    base = next((i for i in result.impacts if i.kind == "none"), None)
    harmful = [i for i in ranked if i.unreachable or i.lost_total > 0 or i.breaches]
    if base is not None:
        harmful = [i for i in harmful if i.unreachable or i.breaches != base.breaches]
    rows = []
    for i in ranked[:SHOWN]:
        worst = i.worst_links[0] if i.worst_links else ("", 0.0, 0.0)
        bad = i.unreachable or i.lost_total > 0 or i.peak_utilisation > 1
        rows.append(
            f'<tr class="{"bad" if bad else ""}"><td>{_e(i.case)}</td>'
            f'<td class="n">{len(i.unreachable):,}</td>'
            f'<td class="n">{_count(i.lost_total)}</td>'
            f'<td class="n">{_pct(i.peak_utilisation)}'
            f"{' (overload)' if i.peak_utilisation > 1 else ''}</td>"
            f"<td>{_e(worst[0])}</td>"
            f"<td>{_e(_breaches(i)) or '-'}</td></tr>"
        )
    n_cases = len(result.impacts) - (1 if base is not None else 0)
    kinds = "links" + (", prefecture nodes and central sites" if result.sites else "")
    lead = (
        f"{n_cases:,} single failures ({kinds}), each held all day on the network of "
        f"<b>{_e(result.name)}</b> with routing converged and services on their standby "
        f"where their host is down. {len(harmful):,} of them cut off local bodies or put "
        "a service in breach."
    )
    if base is not None:
        lead += (
            f" Intact network: busiest link at {_pct(base.peak_utilisation)} "
            f"({_e(base.worst_links[0][0]) if base.worst_links else '-'})."
        )
    page = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>lgwan-sim N-1: {_e(result.name)}</title>",
            f"<style>{_STYLE}</style></head><body>",
            f"<h1>N-1 study of {_e(result.name)}</h1>",
            f"<p>{lead}</p>",
            f"<h2>The {min(SHOWN, len(ranked))} worst failures</h2>",
            "<p>Worst first: local bodies cut off, then exchanges lost over the day, then "
            "services in breach, then the busiest link.</p>",
            "<table><thead><tr><th>failed</th><th>local bodies cut off</th>"
            "<th>exchanges lost (day)</th><th>busiest link: peak</th><th>busiest link</th>"
            "<th>services in breach</th></tr></thead><tbody>",
            *rows,
            "</tbody></table>",
            "<h2>Plots</h2>",
            _img(folder / "n1_impact.png", "Local bodies cut off, per failure (worst first)."),
            _img(
                folder / "n1_peaks.png",
                "The link each failure loads most: its peak with the failure (bar; red: "
                "above capacity, offered load the link cannot carry) and without (tick).",
            ),
            "<footer>Every case: n1_cases.csv; its five busiest links: n1_worst_links.csv; "
            "the local bodies each cuts off: n1_unreachable.csv; all of it: n1.json.</footer>",
            "</body></html>",
        ]
    )
    (folder / "report.html").write_text(page + "\n", encoding="utf-8")
    return ["n1_peaks.png", "n1_impact.png", "report.html"]
