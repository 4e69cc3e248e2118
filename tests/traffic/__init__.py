"""Tests of lgwan_sim.traffic: the service catalogue and the traffic it describes."""
