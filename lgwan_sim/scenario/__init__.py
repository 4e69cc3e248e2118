"""Scenarios: the scenario language, runs, comparisons and sweeps.

The service catalogue lives in :mod:`lgwan_sim.traffic`; its names are re-exported here for
scenario code, and they are the same objects.
"""

from lgwan_sim.scenario._build import EngineInputs, engine_inputs
from lgwan_sim.scenario._bundled import BundledScenario, bundled_scenarios
from lgwan_sim.scenario._compare import CompareRow, compare_notes, compare_runs
from lgwan_sim.scenario._estimate import long_run_warning
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
from lgwan_sim.scenario._results import RunTables, fmt
from lgwan_sim.scenario._runner import RunOutcome, check_out_dir, run_scenario, write_run
from lgwan_sim.scenario._sweep import (
    SweepResult,
    SweepRun,
    check_grid,
    load_with_settings,
    run_sweep,
    show_params,
    sweep_points,
    write_sweep,
)
from lgwan_sim.traffic import (
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
    "check_grid",
    "check_out_dir",
    "compare_notes",
    "compare_runs",
    "engine_inputs",
    "fmt",
    "load_catalogue",
    "load_scenario",
    "load_service",
    "load_with_settings",
    "long_run_warning",
    "parse_override_value",
    "run_scenario",
    "run_sweep",
    "show_params",
    "sweep_points",
    "write_run",
    "write_sweep",
]
