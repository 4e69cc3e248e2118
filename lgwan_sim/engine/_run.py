"""``build()`` and ``run()``: one entry point for every fidelity."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Protocol, overload

from lgwan_sim.engine._endpoint import Endpoint, Message, Observer, Observers, ProgressObserver
from lgwan_sim.engine._results import RunResult
from lgwan_sim.engine._types import (
    DropReason,
    EngineConfig,
    EngineInputs,
    Fidelity,
    Timeline,
    TimelineEvent,
)
from lgwan_sim.errors import InputError
from lgwan_sim.network import Topology
from lgwan_sim.traffic import Demand

__all__ = ["Engine", "build", "run"]

log = logging.getLogger(__name__)


class Engine(Protocol):
    """A built run, pumped from outside (see ``docs/engine.md``, "Stepping a run")."""

    @property
    def now_s(self) -> float:
        """Simulated time: everything due before it has been processed."""
        ...

    def peek(self) -> float:
        """The time of the next thing that will happen (``math.inf``: nothing will)."""
        ...

    def advance_to(self, t_s: float) -> None:
        """Process everything due before ``t_s``."""
        ...

    def apply(self, event: TimelineEvent) -> None:
        """Apply a timeline event at its time (now or later), as the timeline would."""
        ...

    def inject(self, service: str, caller_site: str, size_bytes: float, at_s: float) -> Message:
        """A real client's request entering the network at its site."""
        ...

    def respond(self, message: Message, size_bytes: float, at_s: float) -> None:
        """A real service's answer to a message its endpoint received."""
        ...

    def attach(self, site: str, endpoint: Endpoint) -> None:
        """Put ``endpoint`` at ``site`` from now on (flow and packet)."""
        ...

    def detach(self, site: str) -> None:
        """Take the endpoint away from ``site``: what arrives there is simulated again."""
        ...

    def discard(self, message: Message, reason: DropReason | str) -> None:
        """Lose ``message``, which waits at an endpoint, as a drop with ``reason``."""
        ...

    def end_now(self) -> None:
        """Make the current time the run's end (flow and packet): nothing new is offered."""
        ...

    def path(self, src: str, dst: str) -> tuple[str, ...] | None:
        """The sites routing sends ``src``'s traffic to ``dst`` through now (``None``: no
        route). It is routing's view: before a failure has converged it is the old path."""
        ...

    def finish(self) -> RunResult:
        """Advance to the end and return the result."""
        ...


def build(
    inputs: EngineInputs,
    *,
    endpoints: Mapping[str, Endpoint] | None = None,
    observer: Observer | None = None,
) -> Engine:
    """Make the engine for ``inputs``, ready to be advanced from time 0.

    ``endpoints`` maps site ids to programs that stand in for those sites: a leg that
    reaches such a site is handed to its endpoint instead of being simulated there (flow
    and packet fidelities). ``observer`` sees applied events, closed bins and drops as they
    happen. ``build(inputs).finish()`` is :func:`run`.
    """
    endpoints = dict(endpoints or {})
    for site in endpoints:
        if site not in inputs.topology.sites:
            raise InputError("an endpoint names an unknown site", field="endpoints", value=site)
    log.info(
        "build %s: %d services, %.0fs, seed %d, %d events",
        inputs.fidelity,
        len(inputs.demand.services),
        inputs.duration_s,
        inputs.seed,
        len(inputs.timeline),
    )
    if inputs.fidelity is Fidelity.ANALYTIC:
        if endpoints:
            raise InputError(
                "the analytic fidelity has no messages to hand over: use flow or packet",
                field="endpoints",
                value=sorted(endpoints)[0],
            )
        from lgwan_sim.engine._analytic import AnalyticEngine

        return AnalyticEngine(inputs, observer=observer)
    from lgwan_sim.engine._flow import FlowEngine
    from lgwan_sim.engine._packet import PacketEngine

    engine_class = FlowEngine if inputs.fidelity is Fidelity.FLOW else PacketEngine
    return engine_class(
        inputs.topology,
        inputs.demand,
        inputs.timeline,
        duration_s=inputs.duration_s,
        seed=inputs.seed,
        config=inputs.config,
        endpoints=endpoints,
        observer=observer,
    )


@overload
def run(
    inputs: EngineInputs,
    *,
    progress: Callable[[float], None] | None = None,
    observer: Observer | None = None,
) -> RunResult: ...


@overload
def run(
    inputs: Topology,
    demand: Demand,
    timeline: Timeline | None = None,
    *,
    fidelity: Fidelity | str = Fidelity.ANALYTIC,
    duration_s: float,
    seed: int,
    config: EngineConfig | None = None,
    progress: Callable[[float], None] | None = None,
    observer: Observer | None = None,
) -> RunResult: ...


def run(
    inputs: EngineInputs | Topology,
    demand: Demand | None = None,
    timeline: Timeline | None = None,
    *,
    fidelity: Fidelity | str = Fidelity.ANALYTIC,
    duration_s: float | None = None,
    seed: int | None = None,
    config: EngineConfig | None = None,
    progress: Callable[[float], None] | None = None,
    observer: Observer | None = None,
) -> RunResult:
    """Run ``inputs`` to the end: ``build(inputs)``, advanced to ``duration_s``, finished.

    ``run(topology, demand, timeline, fidelity=..., duration_s=..., seed=..., config=...)``
    is the same with the record's fields given one by one. ``fidelity`` is ``"analytic"``,
    ``"flow"`` or ``"packet"``; ``seed`` derives every random stream, so the same inputs
    give the same result. ``progress(sim_now_s)`` is called as each time bin closes and
    ``observer`` sees applied events, closed bins and drops. Raises :class:`InputError`
    for bad inputs (unknown sites, links or services, a failover without a secondary, bad
    parameters). A run that stops on sustained overload returns normally with
    ``overloaded`` set.
    """
    if isinstance(inputs, EngineInputs):
        given = [
            name
            for name, value in (
                ("demand", demand),
                ("timeline", timeline),
                ("duration_s", duration_s),
                ("seed", seed),
                ("config", config),
            )
            if value is not None
        ]
        if given or fidelity != Fidelity.ANALYTIC:
            raise InputError(
                "run(inputs) takes its settings from the inputs record",
                field=(given or ["fidelity"])[0],
            )
    else:
        if demand is None:
            raise InputError("a run needs a demand", field="demand")
        inputs = EngineInputs(
            topology=inputs,
            demand=demand,
            timeline=timeline or Timeline(),
            fidelity=fidelity,  # type: ignore[arg-type]  # EngineInputs takes the name too
            duration_s=duration_s,  # type: ignore[arg-type]
            seed=seed,  # type: ignore[arg-type]
            config=config or EngineConfig(),
        )
    watchers = [o for o in (observer, progress and ProgressObserver(progress)) if o]
    watch = watchers[0] if len(watchers) == 1 else Observers(*watchers) if watchers else None
    return build(inputs, observer=watch).finish()
