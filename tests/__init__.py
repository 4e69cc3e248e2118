"""Tests of lgwan_sim, one package per package of the library."""
