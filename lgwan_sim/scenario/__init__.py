"""Scenarios: the service catalogue, the scenario language, runs, comparisons and sweeps."""

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

__all__ = [
    "Basis",
    "BasisKind",
    "BundledScenario",
    "CallerSpec",
    "Catalogue",
    "Edit",
    "EditKind",
    "EventType",
    "Fidelity",
    "Figure",
    "HostSpec",
    "ProfileSpec",
    "Restore",
    "Scenario",
    "ScenarioEvent",
    "ServiceCategory",
    "ServiceChoice",
    "ServiceSpec",
    "SizeKind",
    "SizeSpec",
    "bundled_scenarios",
    "load_catalogue",
    "load_scenario",
    "load_service",
    "parse_override_value",
]
