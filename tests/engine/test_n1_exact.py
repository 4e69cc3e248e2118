"""case_of names the element a single-failure case takes down; "none" is the intact network."""

from __future__ import annotations

from lgwan_sim.engine import N1Case, case_of
from tests.engine.support import make_topology


def test_the_case_of_none_is_the_intact_network_and_a_link_is_its_own_case():
    topology = make_topology([("a", "b", 1e9, 0.001), ("b", "c", 1e9, 0.001)])
    assert case_of(topology, "none") == N1Case(id="none", kind="none")
    link = case_of(topology, "a~b")
    assert (link.kind, link.links, link.sites) == ("link", ("a~b",), ())
