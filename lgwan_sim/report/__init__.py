"""Plots, the map of Japan and reports. The only package that imports matplotlib."""

from lgwan_sim.report._map import has_outlines, plot_network_map, prefecture_outlines

__all__ = ["has_outlines", "plot_network_map", "prefecture_outlines"]
