"""The simulation engine: fidelities ``analytic``, ``flow`` and ``packet`` behind one ``run()``.

See ``docs/engine.md`` for the models, their formulas, the accounting rules and the
assumptions behind every default of :class:`EngineConfig`.
"""

from lgwan_sim.engine._analytic import OutageImpact, n1_sweep
from lgwan_sim.engine._metrics import LatencyHistogram, ServiceStats
from lgwan_sim.engine._results import AppliedEvent, RunResult
from lgwan_sim.engine._run import run
from lgwan_sim.engine._solver import max_min_rates
from lgwan_sim.engine._state import Outages
from lgwan_sim.engine._types import EngineConfig, EventKind, Fidelity, Timeline, TimelineEvent

__all__ = [
    "AppliedEvent",
    "EngineConfig",
    "EventKind",
    "Fidelity",
    "LatencyHistogram",
    "OutageImpact",
    "Outages",
    "RunResult",
    "ServiceStats",
    "Timeline",
    "TimelineEvent",
    "max_min_rates",
    "n1_sweep",
    "run",
]
