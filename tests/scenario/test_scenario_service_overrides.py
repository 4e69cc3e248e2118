"""A ``--set services.NAME...`` override changes that service; it does not drop the others."""

from __future__ import annotations

from pathlib import Path

from lgwan_sim._resources import bundled_dir
from lgwan_sim.scenario import load_scenario
from lgwan_sim.scenario._sweep import run_point

TAX = bundled_dir("scenarios") / "tax-season-peak.yaml"  # lists no services: the catalogue


def test_an_override_on_a_scenario_without_a_services_list_keeps_the_catalogue() -> None:
    plain = load_scenario(TAX)
    changed = load_scenario(TAX, overrides={"services.eltax.multiplier": 2})
    assert [s.spec.name for s in changed.services] == [s.spec.name for s in plain.services]
    assert len(changed.services) > 1
    assert {s.spec.name: s.multiplier for s in changed.services if s.multiplier != 1} == {
        "eltax": 2.0
    }


def test_a_sweep_run_of_a_service_override_runs_every_service() -> None:
    # what a sweep worker runs for --set services.eltax.multiplier=2 on tax-season-peak
    value = run_point(str(TAX), {"services.eltax.multiplier": 2}, 1, None)
    services = {k.removeprefix("p95_s.") for k in value["metrics"] if k.startswith("p95_s.")}
    assert services == {s.spec.name for s in load_scenario(TAX).services}
    base = run_point(str(TAX), {}, 1, None)
    assert value["metrics"]["offered"] > base["metrics"]["offered"]


def test_only_services_in_the_file_still_chooses_the_services(small_path: Path) -> None:
    listed = [s.spec.name for s in load_scenario(small_path).services]
    changed = load_scenario(small_path, overrides={"services.directory.multiplier": 3})
    assert [s.spec.name for s in changed.services] == listed == ["directory", "mail-relay"]
    assert [s.multiplier for s in changed.services] == [3.0, 1.0]
