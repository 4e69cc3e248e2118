"""Plots, the map of Japan and reports. The only package that imports matplotlib."""

from lgwan_sim.report._html import render_run_html
from lgwan_sim.report._map import has_outlines, plot_network_map, prefecture_outlines
from lgwan_sim.report._n1 import write_n1_report
from lgwan_sim.report._plots import (
    plot_latency_percentiles,
    plot_link_utilisation,
    plot_unreachable,
    plot_worst_moment_map,
)
from lgwan_sim.report._run_report import write_run_report
from lgwan_sim.report._sweep import plot_sweep_metric, write_sweep_report

__all__ = [
    "has_outlines",
    "plot_latency_percentiles",
    "plot_link_utilisation",
    "plot_network_map",
    "plot_sweep_metric",
    "plot_unreachable",
    "plot_worst_moment_map",
    "prefecture_outlines",
    "render_run_html",
    "write_n1_report",
    "write_run_report",
    "write_sweep_report",
]
