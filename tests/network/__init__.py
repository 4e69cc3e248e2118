"""Tests of lgwan_sim.network."""
