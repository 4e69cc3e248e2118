"""One self-contained ``report.html`` per run: tables from ``summary.json``, PNGs inlined.

Every number in the report is printed from the same summary dictionary that is written to
``summary.json`` (with the same formatting as the CSV files), and each cell carries a
``data-key`` naming its place in the summary, so the report can be checked against it.
"""

from __future__ import annotations

import base64
import csv
import html
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["render_run_html"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans JP", sans-serif;
       margin: 2em auto; max-width: 1100px; color: #212529; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; font-size: 1.25em;
     border-bottom: 1px solid #dee2e6; padding-bottom: 0.2em; }
p.lead { color: #495057; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.86em; margin: 0.6em 0; }
th, td { border: 1px solid #dee2e6; padding: 0.25em 0.55em; text-align: right; }
th { background: #f1f3f5; } td.l, th.l { text-align: left; }
tr.bad td { background: #fff5f5; }
.cards { display: flex; flex-wrap: wrap; gap: 0.8em; }
.card { border: 1px solid #dee2e6; border-radius: 6px; padding: 0.6em 0.9em; min-width: 10em; }
.card .v { font-size: 1.5em; font-weight: 600; } .card .k { color: #868e96; font-size: 0.8em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #e9ecef; }
figcaption { color: #495057; font-size: 0.85em; }
footer { margin-top: 3em; color: #868e96; font-size: 0.8em; }
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _cell(value: object, key: str | None = None, *, left: bool = False) -> str:
    from lgwan_sim.scenario import fmt

    attrs = ' class="l"' if left else ""
    if key is not None:
        attrs += f' data-key="{_e(key)}"'
    return f"<td{attrs}>{_e(fmt(value))}</td>"


def _table(header: Sequence[str], rows: Iterable[str], *, left_cols: int = 1) -> str:
    head = "".join(
        f'<th class="l">{_e(h)}</th>' if i < left_cols else f"<th>{_e(h)}</th>"
        for i, h in enumerate(header)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _card(label: str, value: object, key: str) -> str:
    from lgwan_sim.scenario import fmt

    return (
        f'<div class="card"><div class="v" data-key="{_e(key)}">{_e(fmt(value))}</div>'
        f'<div class="k">{_e(label)}</div></div>'
    )


def _img(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


_CAPTIONS = {
    "link_utilisation.png": "Utilisation of the busiest links over time, as a fraction of "
    "capacity (0–1).",
    "service_latency.png": "Latency percentiles per service over time.",
    "unreachable.png": "Local bodies unable to reach a service they use, over time.",
    "map_worst_moment.png": "The network at the worst moment: link utilisation (fraction of "
    "capacity, 0–1) and failed elements (red).",
}


def render_run_html(
    summary: Mapping[str, Any],
    events: Sequence[Mapping[str, str]],
    folder: Path,
    plots: Sequence[str],
    files: Sequence[str],
) -> str:
    """The report of one run as a self-contained HTML page (PNGs from ``folder`` inlined)."""
    sc = summary["scenario"]
    totals = summary["totals"]
    unreach = summary["unreachable_local_bodies"]
    worst = summary["worst_moment"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>lgwan-sim: {_e(sc['name'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_e(sc['name'])}</h1>",
        f'<p class="lead">{_e(sc["description"])}</p>',
        _table(
            ["start", "duration (s)", "fidelity", "seed", "topology", "sites", "links", "bin (s)"],
            [
                "<tr>"
                + _cell(sc["start"], "scenario.start", left=True)
                + _cell(sc["duration_s"], "scenario.duration_s")
                + _cell(sc["fidelity"], "scenario.fidelity")
                + _cell(sc["seed"], "scenario.seed")
                + _cell(sc["topology"], "scenario.topology")
                + _cell(sc["sites"], "scenario.sites")
                + _cell(sc["links"], "scenario.links")
                + _cell(sc["bin_s"], "scenario.bin_s")
                + "</tr>"
            ],
        ),
        "<h2>At a glance</h2>",
        '<div class="cards">',
        _card("exchanges offered", totals["offered"], "totals.offered"),
        _card("delivered", totals["delivered"], "totals.delivered"),
        _card("dropped", totals["dropped_total"], "totals.dropped_total"),
        _card("latency objective breaches", totals["slo_breaches"], "totals.slo_breaches"),
        _card("peak unreachable local bodies", unreach["peak"], "unreachable_local_bodies.peak"),
        _card(
            "peak link utilisation (0–1)",
            summary["busiest_links"][0]["peak_utilisation"] if summary["busiest_links"] else 0,
            "busiest_links.0.peak_utilisation",
        ),
        "</div>",
        f'<p>Worst moment: <b data-key="worst_moment.at">{_e(worst["at"])}</b> '
        f"({_e(worst['unreachable_local_bodies'])} local bodies unreachable, "
        f"{_e(worst['failed_sites'])} sites and {_e(worst['failed_links'])} links down). "
        f"Dropped by reason: "
        + (
            ", ".join(
                f'{_e(r)} <span data-key="totals.dropped.{_e(r)}">{_e(n)}</span>'
                for r, n in totals["dropped"].items()
            )
            or "none"
        )
        + ".</p>",
    ]
    if summary["engine"]["overloaded"]:
        parts.append(
            f"<p><b>The run stopped early on sustained overload</b> at "
            f"{_e(summary['engine']['stopped_at_s'])} s: "
            f"{_e(summary['engine']['overload_reason'])}</p>"
        )
    rows = []
    for name, s in summary["services"].items():
        k = f"services.{name}"
        lat = s["latency_s"]
        dropped = ", ".join(f"{r} {n}" for r, n in s["dropped"].items()) or "0"
        bad = ' class="bad"' if s["dropped_total"] or s["slo_breaches"] else ""
        rows.append(
            f"<tr{bad}>"
            + _cell(name, None, left=True)
            + _cell(f"{s['primary']} / {s['secondary'] or '-'}", None, left=True)
            + _cell(s["callers"], f"{k}.callers")
            + _cell(s["offered"], f"{k}.offered")
            + _cell(s["delivered"], f"{k}.delivered")
            + _cell(s["dropped_total"], f"{k}.dropped_total")
            + _cell(dropped, None, left=True)
            + _cell(lat["p50"], f"{k}.latency_s.p50")
            + _cell(lat["p95"], f"{k}.latency_s.p95")
            + _cell(lat["p99"], f"{k}.latency_s.p99")
            + _cell(s["slo_latency_s"], f"{k}.slo_latency_s")
            + _cell(s["slo_breaches"], f"{k}.slo_breaches")
            + "</tr>"
        )
    parts += [
        "<h2>Services</h2>",
        _table(
            [
                "service",
                "host (primary / secondary)",
                "callers",
                "offered",
                "delivered",
                "dropped",
                "dropped by reason",
                "p50 (s)",
                "p95 (s)",
                "p99 (s)",
                "objective (s)",
                "breaches",
            ],
            rows,
            left_cols=2,
        ),
    ]
    parts += _outages(summary, folder)
    parts.append("<h2>Plots</h2>")
    for name in plots:
        parts.append(_img(folder / name, _CAPTIONS.get(name, name)))
    link_rows = [
        "<tr>"
        + _cell(link["link"], f"busiest_links.{i}.link", left=True)
        + _cell(link["capacity_bps"], f"busiest_links.{i}.capacity_bps")
        + _cell(link["peak_utilisation"], f"busiest_links.{i}.peak_utilisation")
        + _cell(link["mean_utilisation"], f"busiest_links.{i}.mean_utilisation")
        + _cell(link["peak_at"], f"busiest_links.{i}.peak_at", left=True)
        + "</tr>"
        for i, link in enumerate(summary["busiest_links"])
    ]
    parts += [
        "<h2>Busiest links</h2>",
        "<p>Each direction of a link separately: <code>a~b&gt;</code> runs from a to b.</p>",
        _table(
            [
                "link",
                "capacity (bit/s)",
                "peak utilisation (0–1)",
                "mean utilisation (0–1)",
                "peak at",
            ],
            link_rows,
        ),
        "<h2>Events applied</h2>",
    ]
    event_rows = [
        "<tr>"
        + "".join(
            _cell(e[c], None, left=c in ("time", "kind", "note", "links", "sites", "service"))
            for c in ("time", "kind", "note", "links", "sites", "service", "messages_lost")
        )
        + "</tr>"
        for e in events
    ]
    parts.append(
        _table(
            ["time", "kind", "note", "links", "sites", "service", "messages lost"],
            event_rows,
            left_cols=6,
        )
        if event_rows
        else "<p>No events.</p>"
    )
    parts += [
        "<h2>Files</h2>",
        "<ul>" + "".join(f"<li><code>{_e(f)}</code></li>" for f in files) + "</ul>",
        "<footer>Written by lgwan-sim from summary.json; the time and resources of the run "
        "itself are in run.json. Traffic volumes are planning assumptions unless the service "
        "catalogue cites a source.</footer>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


#: Most local bodies named in one row of the outage table (all of them are in outages.csv).
_NAMED_BODIES = 60


def _outages(summary: Mapping[str, Any], folder: Path) -> list[str]:
    """The spells in which services had no serving host, naming the local bodies cut off."""
    spells = summary.get("service_outages") or []
    if not spells:
        return []
    names: dict[tuple[str, str], list[str]] = {}
    path = folder / "outages.csv"
    if path.exists():
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                key = (row["service"], row["from"])
                names.setdefault(key, []).append(row["name"] or row["local_body"])
    rows = []
    for i, o in enumerate(spells):
        k = f"service_outages.{i}"
        who = names.get((o["service"], o["from"]), [])
        shown = ", ".join(who[:_NAMED_BODIES])
        if len(who) > _NAMED_BODIES:
            shown += f" and {len(who) - _NAMED_BODIES} more"
        rows.append(
            '<tr class="bad">'
            + _cell(o["service"], f"{k}.service", left=True)
            + _cell(o["host"], f"{k}.host", left=True)
            + _cell(o["from"], f"{k}.from", left=True)
            + _cell(o["until"] or "still out at the end", None, left=True)
            + _cell(o["duration_s"], f"{k}.duration_s")
            + _cell(o["local_bodies"], f"{k}.local_bodies")
            + _cell(shown, None, left=True)
            + "</tr>"
        )
    return [
        "<h2>Services lost to a down host</h2>",
        "<p>Each spell in which a service had no host serving it (its primary down before "
        "failover, or without a standby); every local body calling it lost it for the "
        "spell. One row per local body in <code>outages.csv</code>.</p>",
        _table(
            ["service", "host", "from", "until", "duration (s)", "local bodies", "who"],
            rows,
            left_cols=4,
        ),
    ]
