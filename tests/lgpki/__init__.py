"""Tests of lgwan_sim.lgpki."""
