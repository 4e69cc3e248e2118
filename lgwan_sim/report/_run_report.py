"""Plots and ``report.html`` for one run directory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lgwan_sim.network import Topology
from lgwan_sim.report._html import render_run_html
from lgwan_sim.report._plots import write_run_plots

if TYPE_CHECKING:
    from lgwan_sim.scenario import RunTables

__all__ = ["write_run_report"]


def write_run_report(
    topology: Topology, tables: RunTables, folder: Path, data_files: Sequence[str]
) -> list[str]:
    """Write the PNG plots and ``report.html`` into ``folder``; return their names."""
    plots = write_run_plots(topology, tables, folder)
    page = render_run_html(tables, folder, plots, [*data_files, *plots, "report.html", "run.json"])
    (folder / "report.html").write_text(page, encoding="utf-8")
    return [*plots, "report.html"]
