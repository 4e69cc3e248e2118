"""Tests of the command line (lgwan_sim.cli and lgwan_sim._cli)."""
