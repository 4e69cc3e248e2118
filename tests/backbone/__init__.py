"""Tests of lgwan_sim.backbone: the wire protocol, its vectors and the C client."""
