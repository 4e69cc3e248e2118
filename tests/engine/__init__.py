"""Tests of lgwan_sim.engine (and the traffic it runs)."""
