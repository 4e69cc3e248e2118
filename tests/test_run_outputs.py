"""What a run writes: the worst moment, the plots and a clean stderr."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lgwan_sim.cli import main
from lgwan_sim.scenario._results import worst_moment
from tests.support import MORIOKA_CUT, five_sites

#: The packet-zoom study network with only its cable cut: Morioka is cut off from 09:00
#: until 09:30, and the bin that starts at 09:30 still counts it unreachable (routes
#: converge a few seconds after the line is back) although nothing is down by its end.
CABLE_CUT = five_sites("cable-cut", MORIOKA_CUT, fidelity="flow")

#: Bins (of 5 minutes from 08:00) during the cut, and the one the line came back in.
CUT_BINS = range(12, 18)
BACK_BIN = 18


def _run(tmp_path: Path, text: str, *args: str) -> tuple[dict[str, object], Path]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), *args]) == 0
    return json.loads((out / "summary.json").read_text(encoding="utf-8")), out


@pytest.mark.parametrize("fidelity", ["analytic", "flow"])
def test_worst_moment_is_during_the_outage_not_the_bin_it_ended(
    tmp_path: Path, capsys, fidelity: str
) -> None:
    summary, out = _run(tmp_path, CABLE_CUT, "--fidelity", fidelity)
    worst = summary["worst_moment"]
    assert isinstance(worst, dict)
    # The bin the line came back in ties on unreachable bodies (1) and, at flow fidelity,
    # has the busiest link of all of them; it must not win: nothing is down at its end.
    unreachable = (out / "unreachable.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert [int(row.rsplit(",", 1)[1]) for row in unreachable[CUT_BINS.start : BACK_BIN + 1]] == [
        1
    ] * 7
    assert worst["bin"] in CUT_BINS
    assert worst["unreachable_local_bodies"] == 1
    assert (worst["failed_links"], worst["failed_sites"]) == (1, 0)


def test_worst_moment_ties_go_to_the_earliest_bin_with_the_same_rounded_load(
    tmp_path: Path, capsys
) -> None:
    summary, _ = _run(tmp_path, CABLE_CUT, "--fidelity", "analytic", "--no-plots")
    # Analytic load is flat through the cut (equal to six digits): the cut's first bin.
    assert summary["worst_moment"]["bin"] == CUT_BINS.start
    assert summary["worst_moment"]["at"] == "2026-02-16T09:00:00+09:00"


def test_worst_moment_order() -> None:
    # unreachable first, then failed elements, then load, then the earliest bin
    assert worst_moment([0, 2, 1], [0.9, 0.1, 0.5], [0, 0, 3]) == 1
    assert worst_moment([1, 1, 1], [0.1, 0.2, 0.9], [1, 1, 0]) == 1
    assert worst_moment([1, 1, 1], [0.3, 0.3000000000001, 0.1], [1, 1, 1]) == 0
    assert worst_moment([0, 0], [0.2, 0.4], [0, 0]) == 1


# -- plots -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def weekday_tables() -> tuple[object, object]:
    """The bundled national weekday at analytic fidelity: eleven services, ten busy links."""
    from lgwan_sim.scenario import load_scenario, run_scenario
    from lgwan_sim.scenario._bundled import bundled_scenarios

    path = next(b.path for b in bundled_scenarios() if b.name == "national-weekday")
    outcome = run_scenario(load_scenario(path, fidelity="analytic"))
    return outcome.scenario.topology, outcome.tables


def _outside(legend, ax) -> bool:
    """True when the legend's box lies entirely to the right of the axes' box."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(ax.figure)
    canvas.draw()  # lays the figure out as save_png does
    renderer = canvas.get_renderer()
    return bool(legend.get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1)


def test_series_styles_never_repeat() -> None:
    from lgwan_sim.report._plots import series_styles

    for count in (1, 10, 11, 40, 41, 400):
        styles = series_styles(count)
        assert len(set(styles)) == count
    # the first ten are the ten colours, solid; the eleventh is blue again but dashed
    eleven = series_styles(11)
    assert len({s.colour for s in eleven[:10]}) == 10
    assert {s.linestyle for s in eleven[:10]} == {"-"}
    assert (eleven[10].colour, eleven[10].linestyle) == (eleven[0].colour, "--")


def test_service_latency_lines_are_distinct_and_the_legend_is_outside(weekday_tables) -> None:
    from lgwan_sim.report._plots import new_figure, plot_latency_percentiles

    _, tables = weekday_tables
    assert len(tables.services) >= 11  # more services than colours
    axes = plot_latency_percentiles(tables, new_figure(10.0, 8.0).subplots(3, 1, sharex=True))
    for ax in axes:
        looks = [(ln.get_color(), ln.get_linestyle(), ln.get_marker()) for ln in ax.get_lines()]
        assert len(looks) == len(set(looks)), "two services drawn alike"
    legend = axes[0].get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == list(tables.services)
    assert _outside(legend, axes[0])


def test_link_utilisation_is_a_fraction_with_the_legend_outside(weekday_tables) -> None:
    import numpy as np

    from lgwan_sim.report._plots import new_figure, plot_link_utilisation

    _, tables = weekday_tables
    ax = plot_link_utilisation(tables, new_figure().subplots())
    assert "% of capacity" in ax.get_ylabel()
    # the axis shows percentages of the fractions it holds
    assert ax.yaxis.get_major_formatter()(0.5, 0) in ("50%", "50.0%")
    lines = [ln for ln in ax.get_lines() if ln.get_label() in tables.busiest]
    assert len(lines) == len(tables.busiest)
    # the plotted values are the fractions links.csv holds, not percentages
    for k, line in enumerate(lines):
        assert np.array_equal(line.get_ydata(), tables.busiest_utilisation[k])
    assert max(float(np.max(ln.get_ydata())) for ln in lines) <= 1.0
    legend = ax.get_legend()
    assert legend is not None
    assert _outside(legend, ax)


def test_the_map_colour_bar_uses_the_same_unit(weekday_tables) -> None:
    from lgwan_sim.report._plots import new_figure, plot_worst_moment_map

    topology, tables = weekday_tables
    fig = new_figure(9.0, 10.0)
    plot_worst_moment_map(topology, tables, fig.subplots())
    labels = [ax.get_ylabel() for ax in fig.axes[1:]]
    assert labels == ["utilisation (% of capacity)"]


def test_report_and_csv_say_and_hold_fractions(tmp_path: Path, capsys) -> None:
    out = tmp_path / "zoom"
    assert main(["run", "packet-zoom", "--fidelity", "analytic", "--out", str(out)]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<th>peak utilisation</th>" in page
    assert "<th>peak offered load</th>" in page
    assert re.search(
        r'data-key="peak_link.peak_utilisation" data-value="[0-9.e-]+">[0-9.]+ %<', page
    )
    with (out / "links.csv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    values = [float(v) for row in rows[1:] for v in row[2:]]
    assert 0.0 < max(values) <= 1.0


# -- a successful run says nothing on stderr -----------------------------------------------


def _run_strict(*argv: str) -> subprocess.CompletedProcess[str]:
    """The command in a fresh interpreter with every warning an error, as a user runs it.

    ``--quiet`` turns off the progress lines (stderr is a pipe here), so stderr holds only
    what must never appear on a successful run: warnings and errors.
    """
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "lgwan_sim.cli", *argv, "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )


@pytest.mark.parametrize("fidelity", ["analytic", "flow"])
def test_a_bundled_study_run_has_a_clean_stderr(tmp_path: Path, fidelity: str) -> None:
    out = tmp_path / "zoom"
    proc = _run_strict("run", "packet-zoom", "--fidelity", fidelity, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert (out / "service_latency.png").stat().st_size > 0


#: Both municipalities are cut off for the whole run: nothing is delivered, every latency
#: series is empty and no line gets a legend entry.
NOTHING_DELIVERED = CABLE_CUT.replace(
    '  - {at: "+1h", kind: link_down, links: [m1~core], until: "+1h30m", note: cable cut}\n',
    '  - {at: "+0s", kind: link_down, links: [m1~core, m2~core], note: both lines cut}\n',
).replace("fidelity: flow", "fidelity: analytic")


def test_a_run_that_delivers_nothing_has_a_clean_stderr(tmp_path: Path) -> None:
    assert NOTHING_DELIVERED != CABLE_CUT
    scenario = tmp_path / "nothing.yaml"
    scenario.write_text(NOTHING_DELIVERED, encoding="utf-8")
    out = tmp_path / "out"
    proc = _run_strict("run", str(scenario), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["totals"]["delivered"] == 0
    assert (out / "service_latency.png").stat().st_size > 0


def test_latency_panels_without_a_positive_value_stay_linear(tmp_path: Path) -> None:
    from dataclasses import replace

    import numpy as np

    from lgwan_sim.report._plots import new_figure, plot_latency_percentiles
    from lgwan_sim.scenario import load_scenario, run_scenario

    scenario = tmp_path / "cut.yaml"
    scenario.write_text(CABLE_CUT.replace("fidelity: flow", "fidelity: analytic"))
    tables = run_scenario(load_scenario(scenario)).tables
    zeros = {n: np.zeros_like(v) for n, v in tables.p50.items()}
    flat = replace(tables, p50=zeros)
    axes = plot_latency_percentiles(flat, new_figure(10.0, 8.0).subplots(3, 1, sharex=True))
    assert [ax.get_yscale() for ax in axes] == ["linear", "log", "log"]
