"""The run summary as a typed record: what ``summary.json`` holds, section by section.

:class:`RunSummary` is built by :func:`~lgwan_sim.scenario._results.summarise`;
:meth:`RunSummary.to_dict` gives the document (the same keys and values as the file) and
:meth:`RunSummary.to_json` the exact text written to ``summary.json`` (sorted keys, two
spaces, no NaN), so the same scenario and seed give byte-identical files.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EngineSummary",
    "LatencySummary",
    "LinkSummary",
    "OutageSummary",
    "RunSummary",
    "ScenarioSummary",
    "ServiceSummary",
    "Totals",
    "UnreachableSummary",
    "WorstMoment",
    "json_text",
]


def json_text(doc: object) -> str:
    """A JSON document as the run's files write it (stable: sorted keys, no NaN)."""
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True, allow_nan=False) + "\n"


def _doc(value: object) -> Any:
    """Records as mappings (a field's ``key`` metadata renames it), recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.metadata.get("key", f.name): _doc(getattr(value, f.name))
            for f in dataclasses.fields(value)
        }
    if isinstance(value, Mapping):
        return {k: _doc(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_doc(v) for v in value]
    return value


class _Section:
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """This section as it appears in ``summary.json``."""
        doc: dict[str, Any] = _doc(self)
        return doc


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioSummary(_Section):
    """What was run: the scenario, its file, network and settings."""

    name: str
    description: str
    file: str
    """The file's name (no folder)."""
    file_sha256: str
    """SHA-256 of the file ("" when it cannot be read)."""
    topology: str
    sites: int
    links: int
    start: str
    duration_s: float
    fidelity: str
    seed: int
    bin_s: float
    events: int
    """Entries of the scenario's ``events`` list."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencySummary(_Section):
    """Mean and percentiles of delivered exchanges' latency, in seconds (``None``: none)."""

    mean: float | None
    p50: float | None
    p95: float | None
    p99: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceSummary(_Section):
    """One service's accounting, latency and objective."""

    title: str
    primary: str
    secondary: str | None
    callers: int
    offered: int
    delivered: int
    dropped: Mapping[str, int]
    """By drop reason (``DropReason`` values), in name order."""
    dropped_total: int
    in_flight: int
    delivered_ratio: float | None
    latency_s: LatencySummary
    slo_latency_s: float | None
    slo_breaches: int
    slo_breach_ratio: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Totals(_Section):
    """The services' accounting added up: offered = delivered + dropped + in flight."""

    offered: int
    delivered: int
    dropped: Mapping[str, int]
    dropped_total: int
    in_flight: int
    slo_breaches: int


@dataclass(frozen=True, slots=True, kw_only=True)
class UnreachableSummary(_Section):
    """Local bodies that could not reach a host of a service they call."""

    peak: int
    peak_at: str
    bins_with_any: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OutageSummary(_Section):
    """One spell of a service without a serving host."""

    service: str
    host: str
    from_: str = dataclasses.field(metadata={"key": "from"})
    until: str | None
    """``None``: to the end of the run."""
    duration_s: float
    local_bodies: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkSummary(_Section):
    """One directed link's day (a row of ``links_peak.csv``).

    Utilisations are the share of capacity carried, at most 1; ``peak_load`` is the
    engine's series at its peak (offered load at the analytic fidelity, so above 1 when
    overloaded) and ``overloaded_bins`` the bins it was above 1.
    """

    link: str
    capacity_bps: float
    p95_utilisation: float | None
    peak_utilisation: float | None
    mean_utilisation: float | None
    peak_load: float | None
    overloaded_bins: int
    peak_at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WorstMoment(_Section):
    """The bin of the worst moment of the run and what was failed then."""

    bin: int
    at: str
    unreachable_local_bodies: int
    max_link_utilisation: float | None
    failed_links: int
    failed_sites: int


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineSummary(_Section):
    """How the engine ran: overload, the series digest, its settings and counters."""

    overloaded: bool
    overload_reason: str | None
    stopped_at_s: float
    series_sha256: str
    settings: Mapping[str, Any]
    counters: Mapping[str, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSummary(_Section):
    """The summary of one run: the content of ``summary.json``."""

    scenario: ScenarioSummary
    totals: Totals
    services: Mapping[str, ServiceSummary]
    """In the scenario's order of services."""
    unreachable_local_bodies: UnreachableSummary
    service_outages: tuple[OutageSummary, ...]
    busiest_links: tuple[LinkSummary, ...]
    """The busiest links by sustained (95th percentile) load, at most ten."""
    peak_link: LinkSummary | None
    """The link with the highest single-bin load (``None``: a network without links)."""
    requested_links: tuple[LinkSummary, ...]
    """The links asked for with ``--link``, in the order asked."""
    worst_moment: WorstMoment
    engine: EngineSummary
    emulation: Mapping[str, Any] | None = None
    """What an emulation adds (its section is absent from a simulated run's file)."""

    def to_dict(self) -> dict[str, Any]:
        doc = _Section.to_dict(self)
        if doc["emulation"] is None:
            del doc["emulation"]
        return doc

    def to_json(self) -> str:
        """The text of ``summary.json``."""
        return json_text(self.to_dict())
