"""The public surface of lgwan_sim.scenario is explicit and complete."""

from __future__ import annotations

from pathlib import Path

from lgwan_sim.scenario import Scenario, load_scenario


def test_from_file_is_load_scenario(small_path: Path) -> None:
    a, b = Scenario.from_file(small_path), load_scenario(small_path)
    assert (a.name, a.seed, a.events) == (b.name, b.seed, b.events)
