"""Scenarios: the service catalogue, the scenario language, runs, comparisons and sweeps."""

from lgwan_sim.scenario._build import EngineInputs, engine_inputs
from lgwan_sim.scenario._bundled import BundledScenario, bundled_scenarios
from lgwan_sim.scenario._catalogue import (
    Basis,
    BasisKind,
    CallerSpec,
    Catalogue,
    Figure,
    HostSpec,
    ProfileSpec,
    ServiceCategory,
    ServiceSpec,
    SizeKind,
    SizeSpec,
    load_catalogue,
    load_service,
)
from lgwan_sim.scenario._compare import CompareRow, compare_runs
from lgwan_sim.scenario._loader import load_scenario, parse_override_value
from lgwan_sim.scenario._model import (
    Edit,
    EditKind,
    EventType,
    Fidelity,
    Restore,
    Scenario,
    ScenarioEvent,
    ServiceChoice,
)
from lgwan_sim.scenario._results import RunTables
from lgwan_sim.scenario._runner import RunOutcome, run_scenario, write_run
from lgwan_sim.scenario._summary import RunSummary
from lgwan_sim.scenario._sweep import SweepResult, SweepRun, run_sweep, write_sweep

__all__ = [
    "Basis",
    "BasisKind",
    "BundledScenario",
    "CallerSpec",
    "Catalogue",
    "CompareRow",
    "Edit",
    "EditKind",
    "EngineInputs",
    "EventType",
    "Fidelity",
    "Figure",
    "HostSpec",
    "ProfileSpec",
    "Restore",
    "RunOutcome",
    "RunSummary",
    "RunTables",
    "Scenario",
    "ScenarioEvent",
    "ServiceCategory",
    "ServiceChoice",
    "ServiceSpec",
    "SizeKind",
    "SizeSpec",
    "SweepResult",
    "SweepRun",
    "bundled_scenarios",
    "compare_runs",
    "engine_inputs",
    "load_catalogue",
    "load_scenario",
    "load_service",
    "parse_override_value",
    "run_scenario",
    "run_sweep",
    "write_run",
    "write_sweep",
]
