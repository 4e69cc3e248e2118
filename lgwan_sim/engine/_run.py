"""``run()``: one entry point for every fidelity."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from lgwan_sim.engine._event_engine import EventEngine
from lgwan_sim.engine._results import RunResult
from lgwan_sim.engine._types import EngineConfig, Fidelity, Timeline
from lgwan_sim.errors import InputError
from lgwan_sim.network import Topology
from lgwan_sim.traffic import Demand

__all__ = ["run"]

log = logging.getLogger(__name__)


def run(
    topology: Topology,
    demand: Demand,
    timeline: Timeline | None = None,
    *,
    fidelity: Fidelity | str = Fidelity.ANALYTIC,
    duration_s: float,
    seed: int,
    config: EngineConfig | None = None,
    progress: Callable[[float], None] | None = None,
) -> RunResult:
    """Simulate ``demand`` on ``topology`` for ``duration_s`` seconds with the ``timeline``.

    ``fidelity`` is ``"analytic"``, ``"flow"`` or ``"packet"``. ``seed`` derives every random
    stream, so the same inputs and seed give the same result. ``progress(sim_now_s)`` is
    called now and then (at least once per bin). Raises :class:`InputError` for bad inputs
    (unknown sites, links or services, a failover without a secondary, bad parameters).
    A run that stops on sustained overload returns normally with ``overloaded`` set.
    """
    try:
        fid = Fidelity(fidelity)
    except ValueError:
        raise InputError(
            "fidelity must be analytic, flow or packet", field="fidelity", value=fidelity
        ) from None
    if not (isinstance(duration_s, int | float) and math.isfinite(duration_s) and duration_s > 0):
        raise InputError("duration_s must be > 0", field="duration_s", value=duration_s)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InputError("seed must be an integer", field="seed", value=seed)
    config = config or EngineConfig()
    timeline = timeline or Timeline()
    for event in timeline.events:
        if event.service is not None:
            demand.service(event.service)
    log.info(
        "run %s: %d services, %.0fs, seed %d, %d events",
        fid,
        len(demand.services),
        duration_s,
        seed,
        len(timeline),
    )
    if fid is Fidelity.ANALYTIC:
        from lgwan_sim.engine._analytic import run_analytic

        return run_analytic(
            topology,
            demand,
            timeline,
            duration_s=float(duration_s),
            seed=seed,
            config=config,
            progress=progress,
        )
    from lgwan_sim.engine._flow import FlowEngine
    from lgwan_sim.engine._packet import PacketEngine

    engine_class: type[EventEngine] = FlowEngine if fid is Fidelity.FLOW else PacketEngine
    engine = engine_class(
        topology,
        demand,
        timeline,
        duration_s=float(duration_s),
        seed=seed,
        config=config,
        progress=progress,
    )
    return engine.run()
