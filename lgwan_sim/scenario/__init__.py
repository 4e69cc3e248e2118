"""Scenarios: the scenario language, runs, comparisons and sweeps.

The service catalogue lives in :mod:`lgwan_sim.traffic`; its names are re-exported here for
scenario code, and they are the same objects.
"""

from lgwan_sim.scenario._build import EngineInputs, engine_inputs
from lgwan_sim.scenario._bundled import BundledScenario, bundled_scenarios
from lgwan_sim.scenario._compare import CompareRow, compare_notes, compare_runs, fidelity_warning
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
from lgwan_sim.scenario._n1 import N1Result, events_note, run_n1, severity, write_n1
from lgwan_sim.scenario._open import open_scenario, parse_settings, resolve_scenario
from lgwan_sim.scenario._results import (
    ALL_LINKS_FILE,
    RunTables,
    fmt,
    resolve_links,
    summarise,
    write_json,
)
from lgwan_sim.scenario._runner import RunOutcome, check_out_dir, run_scenario, write_run
from lgwan_sim.scenario._summary import RunSummary
from lgwan_sim.scenario._sweep import (
    SweepResult,
    SweepRun,
    check_grid,
    identical_replications,
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
    "ALL_LINKS_FILE",
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
    "N1Result",
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
    "check_grid",
    "check_out_dir",
    "compare_notes",
    "compare_runs",
    "engine_inputs",
    "events_note",
    "fidelity_warning",
    "fmt",
    "identical_replications",
    "load_catalogue",
    "load_scenario",
    "load_service",
    "load_with_settings",
    "long_run_warning",
    "open_scenario",
    "parse_override_value",
    "parse_settings",
    "resolve_links",
    "resolve_scenario",
    "run_n1",
    "run_scenario",
    "run_sweep",
    "severity",
    "show_params",
    "summarise",
    "sweep_points",
    "write_json",
    "write_n1",
    "write_run",
    "write_sweep",
]
