"""``topology map`` and ``topology failure``: what is framed, what the title and counts say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lgwan_sim.cli import main
from lgwan_sim.network import Topology, load_topology
from lgwan_sim.report import plot_network_map
from lgwan_sim.report._map import has_outlines, map_extent, outline_bounds

needs_outlines = pytest.mark.skipif(not has_outlines(), reason="japanmap is not installed")

STUDY = (
    "name: trio\n"
    "sites: [{id: a, kind: central, lat: 35.68, lon: 139.77},\n"
    "        {id: b, kind: central, lat: 34.69, lon: 135.50},\n"
    "        {id: m, kind: municipality, lat: 39.70, lon: 141.15}]\n"
    "links: [{a: a, b: b, capacity_bps: 1.0e+9}, {a: m, b: a, capacity_bps: 1.0e+8}]\n"
)


def _limits(topology: Topology) -> tuple[tuple[float, float], tuple[float, float]]:
    ax = plot_network_map(topology)
    try:
        return ax.get_xlim(), ax.get_ylim()
    finally:
        import matplotlib.pyplot as plt

        plt.close(ax.figure)


@needs_outlines
def test_the_national_map_frames_all_of_japan(national: Topology) -> None:
    bounds = outline_bounds()
    assert bounds is not None
    (west, east), (south, north) = bounds
    assert east > 145.5  # eastern Hokkaido (Nemuro)
    assert south < 26.5  # Okinawa
    (x0, x1), (y0, y1) = _limits(national)
    assert x0 < west
    assert x1 > east
    assert y0 < south
    assert y1 > north
    for site in national.sites.values():
        assert x0 < site.lon < x1
        assert y0 < site.lat < y1


@needs_outlines
def test_a_national_roster_site_beyond_the_outlines_is_still_framed() -> None:
    # Yonaguni (122.9°E, 24.5°N) is west and south of every outline ring
    (x0, _), (y0, _) = map_extent([(122.93, 24.47), (141.35, 43.06)])
    assert x0 < 122.93
    assert y0 < 24.47


def test_a_study_network_is_framed_tightly_on_its_sites(tmp_path: Path) -> None:
    study = tmp_path / "trio.yaml"
    study.write_text(STUDY, encoding="utf-8")
    (x0, x1), (y0, y1) = _limits(load_topology(study))
    assert (x0, x1) == pytest.approx((134.5, 142.15))
    assert (y0, y1) == pytest.approx((33.69, 40.70))


def test_the_map_title_names_the_failed_elements(tmp_path: Path, capsys) -> None:
    target = tmp_path / "map.svg"
    code = main(
        ["topology", "map", "-o", str(target), "--fail", "pn-03", "--fail", "pn-04~central-east"]
    )
    assert code == 0, capsys.readouterr().err
    svg = target.read_text(encoding="utf-8")
    # matplotlib writes each text drawn as paths with the string as a comment
    assert "<!-- lgwan-national-g3: pn-03, pn-04~central-east failed -->" in svg
    plain = tmp_path / "plain.svg"
    assert main(["topology", "map", "-o", str(plain)]) == 0
    text = plain.read_text(encoding="utf-8")
    assert "<!-- lgwan-national-g3 -->" in text
    assert "failed" not in text.replace("failed site", "")


def test_failure_counts_the_lines_of_a_failed_site_with_plurals(capsys) -> None:
    assert main(["topology", "failure", "pn-03"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    # pn-03's own lines: two uplinks, the prefectural government and 33 municipalities
    assert first == "failed pn-03: 1 site and 36 links down"
    assert main(["topology", "failure", "pn-03", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["down_links"]) == 36
    assert "pn-03~pref-03" in doc["down_links"] or "pref-03~pn-03" in doc["down_links"]


def test_failure_of_one_link_says_one_link(capsys) -> None:
    assert main(["topology", "failure", "pn-04~central-east"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "failed pn-04~central-east: 0 sites and 1 link down"
    assert lines[2].startswith("0 local bodies cut off from at least one hub (0 body-hub pairs)")
