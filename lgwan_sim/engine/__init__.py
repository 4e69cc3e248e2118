"""The simulation engine: fidelities ``analytic``, ``flow`` and ``packet`` behind one seam.

``build(inputs)`` makes an engine that is advanced from outside (``peek``, ``advance_to``,
``apply``, ``inject``, ``respond``, ``finish``); ``run`` is build and finish in one call.
See ``docs/engine.md`` for the models, their formulas, the accounting rules and the
assumptions behind every default of :class:`EngineConfig`.
"""

from lgwan_sim.engine._analytic import OutageImpact, n1_sweep
from lgwan_sim.engine._endpoint import (
    SIMULATE,
    BinRecord,
    DropRecord,
    Endpoint,
    FakeEndpoint,
    Message,
    Observer,
    Observers,
    ProgressObserver,
    Reply,
)
from lgwan_sim.engine._metrics import LatencyHistogram, ServiceStats
from lgwan_sim.engine._n1 import N1Case, N1Impact, N1Study, case_of, n1_cases
from lgwan_sim.engine._realtime import Lateness, RealtimeDriver, Reservoir, Steppable
from lgwan_sim.engine._results import AppliedEvent, DownElements, RunResult
from lgwan_sim.engine._run import Engine, build, run
from lgwan_sim.engine._series import UtilisationSeries, row_blocks
from lgwan_sim.engine._solver import max_min_rates
from lgwan_sim.engine._state import Outages
from lgwan_sim.engine._types import (
    DropReason,
    EngineConfig,
    EngineInputs,
    EventKind,
    Fidelity,
    LossModel,
    Timeline,
    TimelineEvent,
)

__all__ = [
    "SIMULATE",
    "AppliedEvent",
    "BinRecord",
    "DownElements",
    "DropReason",
    "DropRecord",
    "Endpoint",
    "Engine",
    "EngineConfig",
    "EngineInputs",
    "EventKind",
    "FakeEndpoint",
    "Fidelity",
    "LatencyHistogram",
    "Lateness",
    "LossModel",
    "Message",
    "N1Case",
    "N1Impact",
    "N1Study",
    "Observer",
    "Observers",
    "OutageImpact",
    "Outages",
    "ProgressObserver",
    "RealtimeDriver",
    "Reply",
    "Reservoir",
    "RunResult",
    "ServiceStats",
    "Steppable",
    "Timeline",
    "TimelineEvent",
    "UtilisationSeries",
    "build",
    "case_of",
    "max_min_rates",
    "n1_cases",
    "n1_sweep",
    "row_blocks",
    "run",
]
