"""The work estimate made before a packet run agrees with the packets the engine moves."""

from __future__ import annotations

from pathlib import Path

import pytest

from lgwan_sim.scenario import engine_inputs, load_scenario, run_scenario
from lgwan_sim.scenario._estimate import LONG_RUN_S, estimate_work, long_run_warning

#: A light study network (no queue gets near its buffer) with a threefold surge of one
#: service for an hour: every packet is delivered, so the estimate should be the count.
LIGHT = """\
name: light
topology:
  inline:
    sites:
      - {id: core, kind: central, lat: 35.68, lon: 139.77, campus: east, name: East central}
      - {id: dc-a, kind: asp, lat: 35.69, lon: 139.74, name: "ASP, Tokyo"}
      - {id: dc-b, kind: asp, lat: 34.69, lon: 135.50, name: "ASP, Osaka"}
      - {id: m1, kind: municipality, prefecture: "03", lat: 39.70, lon: 141.15, name: Morioka}
      - {id: m2, kind: municipality, prefecture: "04", lat: 38.27, lon: 140.87, name: Sendai}
    links:
      - {a: core, b: dc-a, capacity_bps: 1.0e+9}
      - {a: core, b: dc-b, capacity_bps: 1.0e+9}
      - {a: m1, b: core, capacity_bps: 1.0e+8, kind: access}
      - {a: m2, b: core, capacity_bps: 1.0e+8, kind: access}
only_services: [directory, konbini]
services:
  directory: {primary: dc-b, secondary: dc-a, requests_per_day: 4000}
  konbini: {primary: dc-a, secondary: dc-b, callers: [m1, m2], requests_per_day: 2000}
start: "2026-02-16T08:00"
duration: 4h
seed: 3
fidelity: packet
engine: {bin_s: 300}
events:
  - {at: "+1h", kind: demand_surge, service: directory, multiplier: 3, until: "+2h"}
"""


@pytest.fixture(scope="module")
def light(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("estimate") / "light.yaml"
    path.write_text(LIGHT, encoding="utf-8")
    return path


def test_the_estimate_matches_the_packets_and_hops_of_the_run(light: Path) -> None:
    scenario = load_scenario(light)
    estimate = estimate_work(engine_inputs(scenario))
    outcome = run_scenario(scenario)
    totals = outcome.tables.summary.totals
    assert totals.dropped_total == 0  # nothing lost: the estimate is an exact expectation
    counters = outcome.result.counters
    assert estimate.exchanges == pytest.approx(totals.offered, rel=0.05)
    assert estimate.packets == pytest.approx(counters["packets"], rel=0.05)
    assert estimate.packet_hops == pytest.approx(counters["packet_hops"], rel=0.05)


def test_the_surge_counts_in_the_estimate(light: Path) -> None:
    with_surge = estimate_work(engine_inputs(load_scenario(light)))
    flat = light.with_name("flat.yaml")
    flat.write_text(LIGHT.split("events:")[0], encoding="utf-8")
    without = estimate_work(engine_inputs(load_scenario(flat)))
    assert with_surge.exchanges > without.exchanges * 1.05


def test_only_a_long_packet_run_is_warned_about(light: Path, national_weekday: Path) -> None:
    assert long_run_warning(engine_inputs(load_scenario(light))) is None
    assert long_run_warning(engine_inputs(load_scenario(national_weekday, fidelity="flow"))) is None
    inputs = engine_inputs(load_scenario(national_weekday, fidelity="packet"))
    assert estimate_work(inputs).cpu_s > LONG_RUN_S
    message = long_run_warning(inputs)
    assert message is not None
    assert "\n" not in message
    assert message.startswith("packet fidelity: this run is about ")


@pytest.fixture(scope="module")
def national_weekday() -> Path:
    from lgwan_sim.scenario import bundled_scenarios

    return next(b.path for b in bundled_scenarios() if b.name == "national-weekday")
