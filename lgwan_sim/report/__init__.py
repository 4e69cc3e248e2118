"""Plots, the map of Japan and reports. The only package that imports matplotlib."""

from lgwan_sim.report._animate import FORMATS as ANIMATION_FORMATS
from lgwan_sim.report._animate import MAX_FRAMES as MAX_ANIMATION_FRAMES
from lgwan_sim.report._animate import ffmpeg_path, frame_times, write_animation
from lgwan_sim.report._html import render_run_html
from lgwan_sim.report._map import (
    has_outlines,
    map_positions,
    plot_network_map,
    prefecture_outlines,
)
from lgwan_sim.report._n1 import write_n1_report
from lgwan_sim.report._plots import (
    plot_latency_percentiles,
    plot_link_utilisation,
    plot_unreachable,
    plot_worst_moment_map,
)
from lgwan_sim.report._recording import Recording
from lgwan_sim.report._run_report import write_run_report
from lgwan_sim.report._sweep import plot_sweep_metric, write_sweep_report

__all__ = [
    "ANIMATION_FORMATS",
    "MAX_ANIMATION_FRAMES",
    "Recording",
    "ffmpeg_path",
    "frame_times",
    "has_outlines",
    "map_positions",
    "plot_latency_percentiles",
    "plot_link_utilisation",
    "plot_network_map",
    "plot_sweep_metric",
    "plot_unreachable",
    "plot_worst_moment_map",
    "prefecture_outlines",
    "render_run_html",
    "write_animation",
    "write_n1_report",
    "write_run_report",
    "write_sweep_report",
]
