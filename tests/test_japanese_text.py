"""Japanese names are drawn with real glyphs, and a run with them says nothing on stderr."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from lgwan_sim.network import load_topology

#: A study network whose every site has a Japanese name (the map labels small networks).
JAPANESE_SITES = """\
    sites:
      - {id: core, kind: central, lat: 35.68, lon: 139.77, campus: east, name: 東日本センター}
      - {id: dc-a, kind: asp, lat: 35.69, lon: 139.74, name: "LGWAN-ASP 東京"}
      - {id: dc-b, kind: asp, lat: 34.69, lon: 135.50, name: "LGWAN-ASP 大阪"}
      - {id: m1, kind: municipality, prefecture: "03", lat: 39.70, lon: 141.15, name: 盛岡市}
      - {id: m2, kind: municipality, prefecture: "04", lat: 38.27, lon: 140.87, name: 仙台市}
    links:
      - {a: core, b: dc-a, capacity_bps: 1.0e+9}
      - {a: core, b: dc-b, capacity_bps: 1.0e+9}
      - {a: m1, b: core, capacity_bps: 1.0e+8, kind: access}
      - {a: m2, b: core, capacity_bps: 1.0e+8, kind: access}
"""

SCENARIO = (
    "name: 東北の朝\ntopology:\n  inline:\n"
    + JAPANESE_SITES
    + """\
only_services: [mail-relay, directory]
services:
  mail-relay: {primary: dc-a, secondary: dc-b, requests_per_day: 20000}
  directory: {primary: dc-b, secondary: dc-a, requests_per_day: 20000}
start: "2026-02-16T08:00"
duration: 1h
seed: 7
engine: {bin_s: 300}
events:
  - {at: "+10m", kind: link_down, links: [m1~core], until: "+20m", note: 盛岡の回線断}
"""
)


def _run_strict(*argv: str) -> subprocess.CompletedProcess[str]:
    """The command in a fresh interpreter with every warning an error."""
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "lgwan_sim.cli", *argv],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )


def test_the_report_font_has_glyphs_for_japanese_names() -> None:
    """The font matplotlib picks for a Japanese name covers it: no box for any character."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    from lgwan_sim.report._plots import new_figure

    fig = new_figure()
    text = fig.text(0.5, 0.5, "盛岡市 仙台市 東日本センター 北海道")
    fonts = font_manager.fontManager._find_fonts_by_props(text.get_fontproperties())
    covered = set()
    for path in fonts:
        covered |= set(FT2Font(path).get_charmap())
    missing = [ch for ch in text.get_text() if not ch.isspace() and ord(ch) not in covered]
    assert missing == []


def test_a_map_with_japanese_names_draws_without_a_missing_glyph(tmp_path: Path) -> None:
    from lgwan_sim.report import plot_network_map
    from lgwan_sim.report._plots import new_figure, save_png

    topo_file = tmp_path / "topo.yaml"
    topo_file.write_text("name: 東北\n" + textwrap.dedent(JAPANESE_SITES), encoding="utf-8")
    topology = load_topology(topo_file)
    assert topology.site("m1").name == "盛岡市"
    fig = new_figure(9.0, 10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" is a UserWarning
        plot_network_map(topology, fig.subplots(), failed_sites=["m2"])
        save_png(fig, tmp_path / "map.png")
    assert (tmp_path / "map.png").stat().st_size > 0


@pytest.mark.parametrize("fidelity", ["analytic", "flow", "packet"])
def test_a_run_with_japanese_names_has_a_clean_stderr(tmp_path: Path, fidelity: str) -> None:
    scenario = tmp_path / "tohoku.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    out = tmp_path / "out"
    proc = _run_strict("run", str(scenario), "--fidelity", fidelity, "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert (out / "map_worst_moment.png").stat().st_size > 0


def test_the_topology_map_command_draws_japanese_titles_and_names(tmp_path: Path) -> None:
    """``topology map`` makes its axes before the map is drawn: the title gets the font too."""
    topo_file = tmp_path / "topo.yaml"
    topo_file.write_text("name: 東北の研究網\n" + textwrap.dedent(JAPANESE_SITES), encoding="utf-8")
    png = tmp_path / "map.png"
    proc = _run_strict("topology", "map", "--topology", str(topo_file), "-o", str(png))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert png.stat().st_size > 0
