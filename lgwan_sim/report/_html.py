"""One self-contained ``report.html`` per run, from the Jinja2 templates in ``templates/``.

Every number in the report is printed from the same summary dictionary that is written to
``summary.json``, formatted for reading (separators, units, percentages; see
:mod:`lgwan_sim.report._format`), and each cell carries ``data-key`` (its place in the
summary) and ``data-value`` (the value as the CSV files write it), so the report can be
checked against the summary.
"""

from __future__ import annotations

import base64
import csv
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lgwan_sim.report import _format

if TYPE_CHECKING:
    import jinja2

    from lgwan_sim.scenario import RunTables

__all__ = ["REASON_WORDS", "drop_spells", "render_run_html"]

_TEMPLATES = Path(__file__).with_name("templates")

#: A drop reason in a table cell.
REASON_WORDS = {
    "site_down": "site down",
    "no_route": "no route",
    "link_failure": "failed link",
    "buffer_overflow": "buffer full",
    "overload": "overload",
}
#: Why the exchanges of a drop reason were lost, in a sentence.
_REASON_WHY = {
    "site_down": "the caller's or the host's site was down",
    "no_route": "routing had no path left to the host",
    "link_failure": "they were sent into a failed link before routing converged",
    "buffer_overflow": "a packet found a port's buffer full",
    "overload": "demand exceeded the capacity of a link on the way",
}


def _read(name: str) -> str:
    return (_TEMPLATES / name).read_text(encoding="utf-8")


_CSS = _read("report.css")


def _img(path: Path, caption: str) -> str:
    """A PNG inlined as a figure (the sweep report builds its page from these)."""
    import html

    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _raw(value: object) -> str:
    from lgwan_sim.scenario import fmt

    return fmt(value)


_SHOW: dict[str, Callable[[Any], str]] = {
    "count": _format.count,
    "bitrate": _format.bitrate,
    "percent": _format.percent,
    "latency": _format.latency,
    "duration": _format.duration,
    "clock": _format.clock,
    "clock_date": lambda v: _format.clock(v, with_date=True),
}


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["raw"] = _raw
    env.filters["show"] = lambda value, kind: _SHOW[kind](value)
    return env


_CAPTIONS = {
    "link_utilisation.png": "The busiest links (ranked by 95th percentile over the bins), as a "
    "share of capacity; above 100 % (shaded) is offered load the link could not carry.",
    "service_latency.png": "Latency percentiles per service over time.",
    "service_traffic.png": "Exchanges delivered and dropped per service in each time bin.",
    "unreachable.png": "Local bodies unable to reach a service they use, over time.",
    "map_worst_moment.png": "The network at the worst moment: link utilisation (share of "
    "capacity; purple where demand exceeded it), failed elements and the local bodies cut off "
    "(red).",
    "requested_links.png": "The links asked for with --link, each direction, over the run.",
}


def _words(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


_SMALL = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _number_word(n: int) -> str:
    return _SMALL[n] if n < len(_SMALL) else f"{n:,}"


#: Most spells of drops told in words; the rest are summed in one line.
_SPELLS_TOLD = 8


def drop_spells(tables: RunTables) -> list[dict[str, Any]]:
    """The spells of consecutive bins in which exchanges were lost, each told in words.

    Each spell has ``from_s``, ``until_s``, ``dropped`` (summed over services and reasons,
    from the per-bin drops that ``services.csv`` holds), ``by_service`` and ``by_reason``
    (largest first), the events that fell in it and a ``sentence``.
    """
    n_bins = len(tables.times_s)
    total = np.zeros(n_bins)
    for reasons in tables.dropped.values():
        for row in reasons.values():
            total += row
    lost = total > 1e-9
    marks = [m for m in event_marks(tables)]
    spells: list[dict[str, Any]] = []
    b = 0
    while b < n_bins:
        if not lost[b]:
            b += 1
            continue
        first = b
        while b < n_bins and lost[b]:
            b += 1
        from_s = first * tables.bin_s
        until_s = min(b * tables.bin_s, tables.duration_s or b * tables.bin_s)
        by_service: dict[str, float] = {}
        by_reason: dict[str, float] = {}
        for name, reasons in tables.dropped.items():
            for reason, row in reasons.items():
                n = float(row[first:b].sum())
                if n > 0:
                    by_service[name] = by_service.get(name, 0.0) + n
                    by_reason[reason] = by_reason.get(reason, 0.0) + n
        dropped = sum(by_service.values())
        if round(dropped) == 0:
            continue
        events = [m for m in marks if from_s - tables.bin_s <= m[1] < until_s]
        spells.append(
            {
                "from_s": from_s,
                "until_s": until_s,
                "dropped": dropped,
                "by_service": sorted(by_service.items(), key=lambda kv: (-kv[1], kv[0])),
                "by_reason": sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0])),
                "events": events,
            }
        )
    for spell in spells:
        spell["sentence"] = _sentence(tables, spell)
    return spells


def _sentence(tables: RunTables, spell: Mapping[str, Any]) -> str:
    services = [name for name, _ in spell["by_service"]]
    others = len(services) - 1
    who = services[0] + (
        f" and {_number_word(others)} other service{'s' if others > 1 else ''}" if others else ""
    )
    start = tables.time_of(spell["from_s"])
    end = tables.time_of(spell["until_s"])
    span = f"between {start:%H:%M} and {end:%H:%M}"
    if start.date() != end.date():
        span = f"between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M}"
    why = [f"{_format.count(n)} because {_REASON_WHY.get(r, r)}" for r, n in spell["by_reason"]]
    text = (
        f"{_format.count(spell['dropped'])} exchanges to {who} were lost {span}"
        + (f": {why[0].split(' because ', 1)[1]}" if len(why) == 1 else f" ({'; '.join(why)})")
        + "."
    )
    events = spell["events"]
    if events:
        told = [
            f"#{number} {tables.time_of(at):%H:%M} {kind.replace('_', ' ')}"
            + (f" ({note})" if note else "")
            for number, at, kind, note in events
        ]
        text += f" Events then: {_words(told)}."
    elif tables.summary.engine.overloaded or "overload" in dict(spell["by_reason"]):
        text += " No event caused it: the traffic itself was more than the network carries."
    return text


def event_marks(tables: RunTables) -> list[tuple[int, float, str, str]]:
    """The events the plots mark: (number in the event table, time in s, kind, note).

    Routing convergences follow their failures a few seconds later and are not marked.
    """
    from lgwan_sim.report._plots import marked_events

    return marked_events(tables)


def _story(tables: RunTables) -> list[dict[str, Any]]:
    """The spells of drops told in words (the largest few, in time order, and the rest in
    one line); each with its window and count for the page's data attributes."""
    spells = drop_spells(tables)
    told = spells
    if len(spells) > _SPELLS_TOLD:
        biggest = sorted(spells, key=lambda s: -s["dropped"])[:_SPELLS_TOLD]
        told = sorted(biggest, key=lambda s: s["from_s"])
    lines = [
        {
            "sentence": s["sentence"],
            "dropped": s["dropped"],
            "from_s": s["from_s"],
            "until_s": s["until_s"],
        }
        for s in told
    ]
    rest = [s for s in spells if s not in told]
    if rest:
        lines.append(
            {
                "sentence": f"{_format.count(sum(s['dropped'] for s in rest))} more exchanges "
                f"were lost in {len(rest):,} shorter spells (every bin's drops per service are "
                "in services.csv).",
                "dropped": sum(s["dropped"] for s in rest),
                "from_s": None,
                "until_s": None,
            }
        )
    return lines


#: Most local bodies named in one row of the outage table (all of them are in outages.csv).
_NAMED_BODIES = 60


def _outages(summary: Mapping[str, Any], folder: Path) -> list[dict[str, Any]]:
    """The spells in which services had no serving host, naming the local bodies cut off."""
    spells = summary.get("service_outages") or []
    names: dict[tuple[str, str], list[str]] = {}
    path = folder / "outages.csv"
    if spells and path.exists():
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                key = (row["service"], row["from"])
                names.setdefault(key, []).append(row["name"] or row["local_body"])
    rows = []
    for o in spells:
        who = names.get((o["service"], o["from"]), [])
        shown = ", ".join(who[:_NAMED_BODIES])
        if len(who) > _NAMED_BODIES:
            shown += f" and {len(who) - _NAMED_BODIES:,} more"
        rows.append({**o, "who": shown})
    return rows


def _cards(tables: RunTables) -> list[dict[str, Any]]:
    s = tables.summary.to_dict()
    totals = s["totals"]
    offered = totals["offered"]

    def share(n: float) -> str:
        return f"{_format.percent(n / offered)} of offered" if offered else ""

    unreach = s["unreachable_local_bodies"]
    cards: list[dict[str, Any]] = [
        {
            "key": "totals.offered",
            "value": offered,
            "f": "count",
            "label": "exchanges offered",
            "qualifier": f"by {len(s['services'])} services over "
            f"{_format.duration(s['scenario']['duration_s'])}",
        },
        {
            "key": "totals.delivered",
            "value": totals["delivered"],
            "f": "count",
            "label": "delivered",
            "qualifier": share(totals["delivered"]),
        },
        {
            "key": "totals.dropped_total",
            "value": totals["dropped_total"],
            "f": "count",
            "label": "dropped",
            "qualifier": "lost for any reason" + (f", {share(totals['dropped_total'])}"),
            "bad": totals["dropped_total"] > 0,
        },
        {
            "key": "totals.in_flight",
            "value": totals["in_flight"],
            "f": "count",
            "label": "in flight at the end",
            "qualifier": "still under way when the run ended",
        },
        {
            "key": "totals.slo_breaches",
            "value": totals["slo_breaches"],
            "f": "count",
            "label": "late exchanges",
            "qualifier": "delivered slower than their service's latency objective",
            "bad": totals["slo_breaches"] > 0,
        },
        {
            "key": "unreachable_local_bodies.peak",
            "value": unreach["peak"],
            "f": "count",
            "label": "local bodies cut off at the peak",
            "qualifier": (
                "unreachable from at least one service they use, at "
                + _format.clock(unreach["peak_at"])
            )
            if unreach["peak"]
            else "every local body reached every service it uses, all run",
            "bad": unreach["peak"] > 0,
        },
    ]
    busiest = s["busiest_links"]
    if busiest:
        top = busiest[0]
        cards.append(
            {
                "key": "busiest_links.0.p95_utilisation",
                "value": top["p95_utilisation"],
                "f": "percent",
                "label": "busiest link, sustained",
                "qualifier": f"95th percentile over the bins, {top['link']}",
            }
        )
    peak = s["peak_link"]
    if peak:
        cards.append(
            {
                "key": "peak_link.peak_utilisation",
                "value": peak["peak_utilisation"],
                "f": "percent",
                "label": "peak link utilisation",
                "qualifier": f"carried, of capacity: {peak['link']} at "
                + _format.clock(peak["peak_at"]),
            }
        )
        if peak["overloaded_bins"]:
            cards.append(
                {
                    "key": "peak_link.peak_load",
                    "value": peak["peak_load"],
                    "f": "percent",
                    "label": "peak offered load: overload",
                    "qualifier": "demand sent to that link over its capacity; the excess "
                    "was dropped",
                    "bad": True,
                }
            )
    return cards


def render_run_html(
    tables: RunTables, folder: Path, plots: Sequence[str], files: Sequence[str]
) -> str:
    """The report of one run as a self-contained HTML page (PNGs from ``folder`` inlined)."""
    from lgwan_sim.scenario import ALL_LINKS_FILE

    summary = tables.summary.to_dict()
    numbers = iter(number for number, _, _, _ in event_marks(tables))
    events = [
        {**e, "number": None if e["kind"] == "converged" else next(numbers)} for e in tables.events
    ]
    busiest = summary["busiest_links"]
    return (
        _environment()
        .get_template("run_report.html.j2")
        .render(
            css=_CSS,
            sc=summary["scenario"],
            totals=summary["totals"],
            services=summary["services"],
            worst=summary["worst_moment"],
            engine=summary["engine"],
            peak_link=summary["peak_link"],
            busiest=busiest,
            requested=summary["requested_links"],
            overloaded_links=sum(1 for e in tables.link_table if e["overloaded_bins"]),
            cards=_cards(tables),
            story=_story(tables),
            reason_words=REASON_WORDS,
            outages=_outages(summary, folder),
            plots=[
                {
                    "caption": _CAPTIONS.get(name, name),
                    "data": base64.b64encode((folder / name).read_bytes()).decode("ascii"),
                }
                for name in plots
            ],
            events=events,
            n_bins=len(tables.times_s),
            all_links_file=ALL_LINKS_FILE,
            files=files,
        )
    )
