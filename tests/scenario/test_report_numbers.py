"""The report's figures are the summary's and the CSV files' figures, formatted for reading."""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from lgwan_sim.report._format import bitrate, count, duration, latency, parse_number, percent
from lgwan_sim.scenario._results import fmt, rank_links
from tests.scenario.support import SMALL

#: The small study network at the flow fidelity: whole messages, so every count is exact.
SMALL_FLOW = SMALL.replace("fidelity: analytic", "fidelity: flow", 1)


class _Figures(HTMLParser):
    """Every element with a ``data-key``: (key, data-value, text shown), and the story."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[tuple[str, str, str]] = []
        self.story: list[dict[str, str]] = []
        self._open: list[list[str]] = []  # [key, value, text] being read

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "data-key" in a:
            self._open.append([a["data-key"], a.get("data-value", ""), ""])
        if tag == "li" and "data-dropped" in a:
            self.story.append({**a, "text": ""})

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag in ("td", "div", "span", "b"):
            key, value, text = self._open.pop()
            self.figures.append((key, value, text))
        if tag == "li" and self.story:
            self.story[-1]["done"] = "1"

    def handle_data(self, data: str) -> None:
        for entry in self._open:
            entry[2] += data
        if self.story and "done" not in self.story[-1]:
            self.story[-1]["text"] += data


def _lookup(doc: object, dotted: str) -> object:
    """``services.mail-relay.latency_s.p95`` in the summary (service names hold no dots)."""
    for part in dotted.split("."):
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]  # type: ignore[index]
    return doc


@pytest.fixture(scope="module")
def flow_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lgwan_sim.cli import main

    folder = tmp_path_factory.mktemp("flow")
    scenario = folder / "small.yaml"
    scenario.write_text(SMALL_FLOW, encoding="utf-8")
    assert main(["run", str(scenario), "--out", str(folder / "out"), "--quiet"]) == 0
    return folder / "out"


def _page(folder: Path) -> _Figures:
    parser = _Figures()
    parser.feed((folder / "report.html").read_text(encoding="utf-8"))
    return parser


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_figure_shown_is_the_summary_figure(flow_run: Path) -> None:
    summary = _summary(flow_run)
    figures = _page(flow_run).figures
    assert len(figures) > 60
    checked_numbers = 0
    for key, value, text in figures:
        expected = _lookup(summary, key)
        assert value == fmt(expected), key
        if isinstance(expected, bool) or not isinstance(expected, int | float):
            if isinstance(expected, str) and expected[:4].isdigit() and "T" in expected:
                shown = datetime.fromisoformat(expected)
                assert text in (f"{shown:%H:%M}", f"{shown:%Y-%m-%d %H:%M}"), key
            else:
                assert text == str(expected), key
            continue
        read = parse_number(text)
        assert read is not None, (key, text)
        if text.startswith("<"):  # a bound: "<0.01 %"
            assert 0 < float(expected) < read, (key, text)
            continue
        # the page rounds to two or three significant figures, or to whole exchanges
        assert read == pytest.approx(
            float(expected), rel=0.05, abs=0.5 if "%" not in text else 5e-5
        ), (
            key,
            text,
        )
        checked_numbers += 1
    assert checked_numbers > 40


def test_counts_have_separators_and_quantities_units(flow_run: Path) -> None:
    summary = _summary(flow_run)
    shown = {key: text for key, _, text in _page(flow_run).figures}
    assert shown["totals.offered"] == f"{summary['totals']['offered']:,}"
    assert "," in shown["totals.offered"]
    assert shown["busiest_links.0.capacity_bps"] == "100 Mbit/s"
    assert shown["busiest_links.0.p95_utilisation"].endswith(" %")
    assert shown["services.mail-relay.latency_s.p95"].endswith(" ms")
    assert shown["scenario.duration_s"] == "4 h"


def test_drops_over_time_add_up_to_each_services_total(flow_run: Path) -> None:
    summary = _summary(flow_run)
    rows = _rows(flow_run / "services.csv")
    for name, svc in summary["services"].items():
        mine = [r for r in rows if r["service"] == name]
        assert sum(int(r["delivered"]) for r in mine) == svc["delivered"], name
        assert sum(int(r["dropped"]) for r in mine) == svc["dropped_total"], name
    assert summary["totals"]["dropped_total"] > 0


def test_each_spell_told_in_words_is_what_services_csv_holds(flow_run: Path) -> None:
    summary = _summary(flow_run)
    rows = _rows(flow_run / "services.csv")
    story = _page(flow_run).story
    assert story, "the run drops exchanges; the report must say so"
    start = datetime.fromisoformat(summary["scenario"]["start"])
    told = 0
    for spell in story:
        a, b = float(spell["data-from-s"]), float(spell["data-until-s"])
        in_spell = sum(int(r["dropped"]) for r in rows if a <= float(r["t_s"]) < b)
        assert float(spell["data-dropped"]) == in_spell
        text = spell["text"]
        assert text.startswith(f"{in_spell:,} exchanges to "), text
        t0 = start.timestamp() + a
        assert f"between {datetime.fromtimestamp(t0, start.tzinfo):%H:%M}" in text
        told += in_spell
    # every drop of the run is in one spell or another
    assert told == summary["totals"]["dropped_total"]
    # the cable cut at 09:00 is named as what happened then
    assert any("09:00 link down (cable cut)" in s["text"] for s in story)


def test_bottlenecks_are_ranked_by_the_95th_percentile_of_links_all(flow_run: Path) -> None:
    summary = _summary(flow_run)
    with gzip.open(flow_run / "links_all.csv.gz", "rt", encoding="utf-8") as handle:
        table = list(csv.reader(io.StringIO(handle.read())))
    header, body = table[0], table[1:]
    series = {lid: np.array([float(r[k]) for r in body]) for k, lid in enumerate(header) if k >= 2}
    assert len(series) == 2 * summary["scenario"]["links"]
    p95 = []
    for entry in summary["busiest_links"]:
        mine = series[entry["link"]]
        expected = float(np.percentile(mine, 95, method="inverted_cdf"))
        assert entry["p95_utilisation"] == pytest.approx(min(1.0, expected), rel=1e-5)
        assert entry["peak_load"] == pytest.approx(float(mine.max()), rel=1e-5)
        p95.append(expected)
    assert p95 == sorted(p95, reverse=True)
    # links.csv is the same numbers for the links it follows
    for row, full in zip(_rows(flow_run / "links.csv"), body, strict=True):
        for lid, value in row.items():
            if lid not in ("time", "t_s"):
                assert value == full[header.index(lid)]


def test_a_sustained_load_outranks_a_single_spike() -> None:
    spike = np.zeros(100)
    spike[40] = 0.95  # a town's line carrying one transfer
    sustained = np.full(100, 0.3)  # a backbone loaded all day
    order, p95 = rank_links(np.vstack([spike, sustained]), ["a~spike>", "b~steady>"])
    assert order == [1, 0]
    assert p95[1] == pytest.approx(0.3)


#: The study network with its access lines cut to 200 kbit/s: offered load exceeds them.
OVERLOADED = SMALL.replace("name: small", "name: overloaded", 1).replace(
    "capacity_bps: 1.0e+8", "capacity_bps: 2.0e+5"
)


def test_an_overload_is_offered_load_not_utilisation(tmp_path: Path) -> None:
    from lgwan_sim.cli import main

    scenario = tmp_path / "overloaded.yaml"
    scenario.write_text(OVERLOADED, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "--quiet"]) == 0
    summary = _summary(out)
    peak = summary["peak_link"]
    assert peak["peak_load"] > 1.0
    assert peak["overloaded_bins"] > 0
    for entry in summary["busiest_links"]:
        assert entry["peak_utilisation"] <= 1.0
    page = (out / "report.html").read_text(encoding="utf-8")
    shown = {key: text for key, _, text in _page(out).figures}
    assert shown["peak_link.peak_utilisation"] == "100 %"
    assert shown["peak_link.peak_load"] == percent(peak["peak_load"])
    assert "peak offered load: overload" in page
    assert '<span class="flag">overload</span>' in page
    assert summary["totals"]["dropped"]["overload"] > 0


def test_formatters() -> None:
    assert count(6442859) == "6,442,859"
    assert count(12.6) == "13"
    assert bitrate(1e9) == "1 Gbit/s"
    assert bitrate(1.5e8) == "150 Mbit/s"
    assert percent(0.510534) == "51 %"
    assert percent(4.71) == "471 %"
    assert percent(0.0037) == "0.37 %"
    assert latency(0.067) == "67 ms"
    assert duration(720) == "12 min"
    assert duration(150) == "2 min 30 s"
    assert duration(5400) == "1 h 30 min"
    for text, value in (("6,442,859", 6442859), ("51 %", 0.51), ("67 ms", 0.067)):
        assert parse_number(text) == pytest.approx(value)
    assert parse_number("1 h 30 min") == 5400
    assert parse_number("1 Gbit/s") == 1e9
    assert parse_number("—") is None
    assert math.isclose(parse_number("0.37 %") or 0, 0.0037)
