"""Tests of lgwan_sim.scenario."""
