"""The public surface of lgwan_sim.scenario is explicit and complete."""

from __future__ import annotations

from pathlib import Path

import lgwan_sim.scenario as scenario_pkg
from lgwan_sim.scenario import Scenario, load_scenario


def test_all_is_sorted_and_complete() -> None:
    public = sorted(
        n for n, v in vars(scenario_pkg).items() if not n.startswith("_") and not _is_module(v)
    )
    assert scenario_pkg.__all__ == public


def _is_module(value: object) -> bool:
    return type(value).__name__ == "module"


def test_from_file_is_load_scenario(small_path: Path) -> None:
    a, b = Scenario.from_file(small_path), load_scenario(small_path)
    assert (a.name, a.seed, a.events) == (b.name, b.seed, b.events)
