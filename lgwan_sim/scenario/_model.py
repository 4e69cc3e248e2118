"""Frozen records of a validated scenario: what the loader produces and the runner reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from lgwan_sim.engine import Fidelity
from lgwan_sim.network import Topology
from lgwan_sim.scenario._events import EventType, FailoverSettings, Restore, ScenarioEvent
from lgwan_sim.traffic import ServiceSpec

__all__ = [
    "Edit",
    "EditKind",
    "EventType",
    "FailoverSettings",
    "Fidelity",
    "Restore",
    "Scenario",
    "ScenarioEvent",
    "ServiceChoice",
]


class EditKind(StrEnum):
    """Changes applied to the topology before the run starts."""

    CAPACITY = "capacity"
    BACKUP_LINES = "backup_lines"


@dataclass(frozen=True, slots=True, kw_only=True)
class Edit:
    kind: EditKind
    links: tuple[str, ...] = ()
    """Capacity edits: the link ids (canonical ``a~b``) to change."""
    capacity_bps: float | None = None
    scale: float | None = None
    sites: tuple[str, ...] = ()
    """Backup lines: the sites that get one."""
    to: str | None = None
    """Backup lines: the far end; ``None`` means each site's nearest central site."""
    metric_penalty_s: float = 1.0
    line: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceChoice:
    """A catalogue service as this scenario uses it: hosts, callers and volume resolved."""

    spec: ServiceSpec
    primary: str
    secondary: str | None
    callers: tuple[str, ...]
    requests_per_day: float
    multiplier: float
    growth_per_year: float

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """A validated scenario. Build one with :func:`lgwan_sim.scenario.load_scenario`."""

    name: str
    description: str
    file: str
    topology: Topology
    """The topology with every edit already applied."""
    topology_ref: str
    edits: tuple[Edit, ...]
    services: tuple[ServiceChoice, ...]
    start: datetime
    duration_s: float
    fidelity: Fidelity
    seed: int
    demand_multiplier: float
    growth_years: float
    events: tuple[ScenarioEvent, ...]
    bin_s: float = 60.0
    convergence_delay_s: float | None = None
    engine_options: Mapping[str, float | int | str | bool] = field(default_factory=dict)
    """The other settings of ``engine:`` (``EngineConfig`` fields), as given."""
    failover: FailoverSettings = field(default_factory=FailoverSettings)
    """The scenario's ``failover:`` settings, for every service and host event."""

    @classmethod
    def from_file(
        cls, path: str | Path, *, overrides: Mapping[str, object] | None = None
    ) -> Scenario:
        """Load and validate a scenario file (see :func:`~lgwan_sim.scenario.load_scenario`)."""
        from lgwan_sim.scenario._loader import load_scenario

        return load_scenario(path, overrides=overrides)

    def service(self, name: str) -> ServiceChoice:
        for choice in self.services:
            if choice.name == name:
                return choice
        raise KeyError(name)

    def growth_factor(self, choice: ServiceChoice) -> float:
        """Compound growth of one service over ``growth_years``."""
        return float((1.0 + choice.growth_per_year) ** self.growth_years)
