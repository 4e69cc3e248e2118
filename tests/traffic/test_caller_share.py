"""A caller share picks exactly the sourced number of sites, the same ones on every run."""

from __future__ import annotations

from lgwan_sim.network import Topology
from lgwan_sim.traffic import load_catalogue


def test_konbini_has_exactly_the_sourced_402_municipalities(national: Topology) -> None:
    spec = load_catalogue().services["konbini"]
    callers = spec.callers.resolve(national, "konbini")
    assert len(callers) == 402  # round(0.231 * 1741): "402 of 1,741" in the catalogue's source
    assert all(c.startswith("mun-") for c in callers)
    assert callers == spec.callers.resolve(national, "konbini")  # no seed, no state


def test_each_service_draws_its_own_subset(national: Topology) -> None:
    spec = load_catalogue().services["konbini"]
    mine = set(spec.callers.resolve(national, "konbini"))
    other = set(spec.callers.resolve(national, "another-service"))
    assert len(other) == len(mine)
    assert mine != other  # the hash includes the service name
