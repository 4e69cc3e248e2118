"""The static map (co-located sites, failures on top, cut-off bodies, radius outages, the
colour scale), the event markers of the time plots, and ``run --link``."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from lgwan_sim.engine import EventKind, TimelineEvent
from lgwan_sim.report._map import plot_network_map, spread_co_located, utilisation_scale
from lgwan_sim.report._plots import (
    marked_events,
    new_figure,
    plot_latency_percentiles,
    plot_link_utilisation,
    plot_service_traffic,
    plot_unreachable,
)
from lgwan_sim.scenario import load_scenario, run_scenario
from lgwan_sim.scenario._results import circles_down
from tests.scenario.support import SMALL


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("small") / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return run_scenario(load_scenario(path))


def test_co_located_sites_are_spread_and_the_others_stay() -> None:
    positions = {"a": (139.77, 35.68), "b": (139.77, 35.68), "far": (141.15, 39.70)}
    spread = spread_co_located(positions, 10.0, radius_share=0.03)
    assert spread["far"] == positions["far"]
    (ax, ay), (bx, by) = spread["a"], spread["b"]
    assert math.hypot(ax - bx, ay - by) > 0.3  # the link between them has a length
    # around their common place
    assert (ax + bx) / 2 == pytest.approx(139.77)


def test_the_small_networks_asp_beside_its_central_site_gets_its_own_place(small) -> None:
    topology = small.scenario.topology
    pos = {s.id: (s.lon, s.lat) for s in topology.sites.values()}
    spread = spread_co_located(pos, 8.0, radius_share=0.03)
    (cx, cy), (dx, dy) = spread["core"], spread["dc-a"]
    assert math.hypot(cx - dx, cy - dy) > 0.2
    assert spread["m1"] == pos["m1"]


def test_failed_sites_and_links_are_drawn_above_everything(small) -> None:
    tables = small.tables
    fig = new_figure(9.0, 10.0)
    ax = fig.subplots()
    plot_network_map(
        small.scenario.topology,
        ax,
        link_values=tables.map_values,
        failed_links=["core~dc-a"],
        failed_sites=["dc-a"],
        cut_off=["m1", "m2"],
    )
    by_label = {c.get_label(): c for c in ax.collections}
    failed_site = by_label["failed site (1)"]
    failed_link = by_label["failed link (1)"]
    others = [c for c in ax.collections if c not in (failed_site, failed_link)]
    assert others
    assert failed_site.get_zorder() > max(c.get_zorder() for c in others)
    assert failed_link.get_zorder() > max(c.get_zorder() for c in others)
    ring = by_label["local body cut off (2)"]
    assert len(ring.get_offsets()) == 2


def test_a_radius_outage_is_drawn_as_its_circle(small) -> None:
    events = [
        TimelineEvent(
            at_s=0.0,
            kind=EventKind.REGION_DOWN,
            center_latlon=(38.3, 141.0),
            radius_km=100.0,
            hold="quake",
        ),
        TimelineEvent(
            at_s=3600.0,
            kind=EventKind.REGION_UP,
            center_latlon=(38.3, 141.0),
            radius_km=100.0,
            hold="quake",
        ),
    ]
    assert circles_down(events, 1800.0) == ((38.3, 141.0, 100.0),)
    assert circles_down(events, 7200.0) == ()
    ax = new_figure(9.0, 10.0).subplots()
    plot_network_map(small.scenario.topology, ax, circles=circles_down(events, 1800.0))
    (circle,) = [p for p in ax.patches if "radius outage" in (p.get_label() or "")]
    assert circle.center == pytest.approx((141.0, 38.3))
    # 100 km is about 0.9 degrees of latitude
    assert circle.height == pytest.approx(2 * 100 / 110.57)


def test_the_colour_scale_shows_normal_loads_and_bands_overload() -> None:
    cmap, norm = utilisation_scale()

    def rgb(value: float) -> np.ndarray:
        return np.asarray(cmap(norm(value)))[:3]

    # a link at 2 % is visibly apart from an idle one, and neither is near-black
    assert np.abs(rgb(0.02) - rgb(0.0)).sum() > 0.15
    for value in (0.0, 0.02, 0.1, 0.3, 0.6, 1.0):
        assert rgb(value).mean() > 0.25, value
    # over capacity is one band of its own colour
    assert tuple(rgb(1.5)) == tuple(rgb(4.7))
    assert np.abs(rgb(1.5) - rgb(1.0)).sum() > 0.3


def test_the_worst_moment_rings_the_bodies_that_lost_a_service(small) -> None:
    # The small scenario's worst bin is the loss of dc-a at 10:00: both towns call its
    # mail relay, and it fails over only after detection and switchover.
    assert small.tables.summary.worst_moment.at.endswith("10:00:00+09:00")
    assert small.tables.cut_off == ("m1", "m2")


def _dashed_xs(ax) -> set[float]:
    return {
        round(float(line.get_xdata()[0]), 6)
        for line in ax.get_lines()
        if line.get_linestyle() == "--"
    }


def test_every_time_plot_marks_every_event(small) -> None:
    import matplotlib.dates as mdates

    tables = small.tables
    marks = marked_events(tables)
    assert [kind for _, _, kind, _ in marks][:2] == ["link_down", "link_up"]
    naive = tables.start.replace(tzinfo=None)
    from datetime import timedelta

    wanted = {
        round(float(mdates.date2num(naive + timedelta(seconds=at))), 6) for _, at, _, _ in marks
    }
    axes = [
        plot_link_utilisation(tables, new_figure().subplots()),
        plot_unreachable(tables, new_figure().subplots()),
        *plot_service_traffic(tables, new_figure(10, 6).subplots(2, 1, sharex=True)),
        *plot_latency_percentiles(tables, new_figure(10, 8).subplots(3, 1, sharex=True)),
    ]
    for ax in axes:
        assert _dashed_xs(ax) >= wanted
    # the numbers above the lines are those of the report's event table
    labels = {t.get_text() for t in axes[0].texts}
    assert {"1", "2"} <= labels


def test_run_link_follows_a_link_in_csv_summary_and_report(cli, tmp_path: Path) -> None:
    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL, encoding="utf-8")
    out = tmp_path / "out"
    result = cli("run", scenario, "--out", out, "--link", "core~m1", "--link", "dc-b~core>")
    assert result.code == 0, result.err
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    asked = [e["link"] for e in summary["requested_links"]]
    # core~m1 is the link m1~core, both directions; dc-b~core> is core~dc-b's "<" direction
    assert asked == ["m1~core>", "m1~core<", "core~dc-b<"]
    with (out / "links.csv").open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    assert set(asked) <= set(header)
    assert (out / "requested_links.png").stat().st_size > 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Links asked for" in page
    assert 'data-key="requested_links.2.link" data-value="core~dc-b&lt;"' in page


def test_run_link_with_an_unknown_link_is_refused_and_writes_nothing(cli, tmp_path: Path) -> None:
    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL, encoding="utf-8")
    out = tmp_path / "out"
    result = cli("run", scenario, "--out", out, "--link", "m1~dc-b")
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "--link" in result.err
    assert "m1~dc-b" in result.err
    assert not out.exists()
