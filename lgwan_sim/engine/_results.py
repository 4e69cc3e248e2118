"""The result of a run: per-service accounting, per-bin series and the applied-event log."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

from lgwan_sim.engine._metrics import ServiceStats
from lgwan_sim.engine._series import UtilisationSeries
from lgwan_sim.engine._types import EventKind, Fidelity
from lgwan_sim.errors import AccountingError

__all__ = ["AppliedEvent", "DownElements", "RunResult", "check_accounting"]


def check_accounting(fidelity: Fidelity, services: Mapping[str, ServiceStats]) -> None:
    """Raise :class:`AccountingError` unless every service's exchanges add up.

    ``in_flight`` must have been counted from the engine's live structures, not derived
    from the other counters, or the identity would hold by construction.
    """
    bad = [s for s in services.values() if not s.balanced]
    if bad:
        detail = "; ".join(
            f"{s.name}: offered {s.offered} != delivered {s.delivered} + dropped "
            f"{s.dropped_total} + in flight {s.in_flight}"
            for s in bad
        )
        raise AccountingError(f"{fidelity} run lost track of exchanges: {detail}")


@dataclass(frozen=True, slots=True, kw_only=True)
class AppliedEvent:
    """One entry of the applied-event log.

    ``kind`` is an :class:`~lgwan_sim.engine.EventKind` value, or ``"converged"`` when the
    routing of an earlier failure or restoration took effect. For a down event ``links``
    and ``sites`` are what it took down (not what another hold already kept down), for an
    up event what came back (not what another hold still keeps down), so the log alone
    says what was down when (:class:`DownElements`). ``routes_recomputed`` counts
    the routing trees recomputed; ``messages_lost``/``messages_rerouted`` the exchanges in
    transfer that the event killed or moved (flow and packet fidelities).
    """

    at_s: float
    kind: str
    note: str = ""
    links: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    service: str | None = None
    routes_recomputed: int = 0
    messages_lost: int = 0
    messages_rerouted: int = 0

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"at_s": self.at_s, "kind": self.kind}
        if self.note:
            out["note"] = self.note
        if self.links:
            out["links"] = list(self.links)
        if self.sites:
            out["sites"] = list(self.sites) if len(self.sites) <= 50 else len(self.sites)
        if self.service:
            out["service"] = self.service
        out["routes_recomputed"] = self.routes_recomputed
        out["messages_lost"] = self.messages_lost
        out["messages_rerouted"] = self.messages_rerouted
        return out


class DownElements:
    """The links and sites held down, followed through an applied-event log.

    Each applied outage event adds what it took down or removes what came back; every other
    entry (a convergence, a capacity or demand change, a failover) changes nothing here. So
    after the events applied before ``t`` the sets are the engine's physical view at ``t``:
    ``links`` the links held down by link events (the lines of a down site are not listed),
    ``sites`` the sites held down.
    """

    __slots__ = ("links", "sites")

    def __init__(self, events: Iterable[AppliedEvent] = ()) -> None:
        self.links: set[str] = set()
        self.sites: set[str] = set()
        for event in events:
            self.apply(event)

    def apply(self, event: AppliedEvent) -> bool:
        """Follow one entry of the log; True when it was an outage event."""
        if event.kind not in _OUTAGE_KINDS:
            return False
        if EventKind(event.kind).takes_down:
            self.links.update(event.links)
            self.sites.update(event.sites)
        else:
            self.links.difference_update(event.links)
            self.sites.difference_update(event.sites)
        return True


_OUTAGE_KINDS = frozenset(str(k) for k in EventKind if k.outage_of is not None)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class RunResult:
    """Everything a run produced. Series are indexed ``[..., bin]`` with ``bin_s`` bins.

    ``link_ids`` are directed: ``"a~b>"`` is the direction from ``a`` to ``b`` of link
    ``a~b`` and ``"a~b<"`` the other one; ``link_utilisation[i, b]`` is the mean
    utilisation (carried bits / capacity) of ``link_ids[i]`` in bin ``b``. Latency series
    are ``nan`` in bins without deliveries. ``unreachable_local_bodies[b]`` is the largest
    number, during bin ``b``, of local bodies that could not reach the host of at least
    one service they call.

    A long analytic run in short bins keeps ``link_utilisation`` as a
    :class:`~lgwan_sim.engine._series.UtilisationSeries` (its factors, read like an array:
    rows, columns, ``max``/``argmax``/``mean`` per row, ``np.asarray``) instead of the
    dense links x bins array; every value is the one the dense array would hold.
    """

    fidelity: Fidelity
    seed: int
    duration_s: float
    bin_s: float
    start: datetime
    services: Mapping[str, ServiceStats]
    link_ids: tuple[str, ...]
    link_capacity_bps: npt.NDArray[np.float64]
    link_utilisation: npt.NDArray[np.float64] | UtilisationSeries
    offered_per_bin: Mapping[str, npt.NDArray[np.int64]]
    delivered_per_bin: Mapping[str, npt.NDArray[np.int64]]
    latency_p50_s: Mapping[str, npt.NDArray[np.float64]]
    latency_p95_s: Mapping[str, npt.NDArray[np.float64]]
    latency_p99_s: Mapping[str, npt.NDArray[np.float64]]
    unreachable_local_bodies: npt.NDArray[np.int64]
    events: tuple[AppliedEvent, ...]
    overloaded: bool = False
    overload_reason: str | None = None
    stopped_at_s: float = 0.0
    counters: Mapping[str, int] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def n_bins(self) -> int:
        return int(self.link_utilisation.shape[1])

    @property
    def offered(self) -> int:
        return sum(s.offered for s in self.services.values())

    @property
    def delivered(self) -> int:
        return sum(s.delivered for s in self.services.values())

    @property
    def in_flight(self) -> int:
        return sum(s.in_flight for s in self.services.values())

    @property
    def dropped(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for stats in self.services.values():
            for reason, n in stats.dropped.items():
                out[reason] = out.get(reason, 0) + n
        return dict(sorted(out.items()))

    @property
    def balanced(self) -> bool:
        """True when every service's exchanges are all accounted for."""
        return all(s.balanced for s in self.services.values())

    def link_index(self, link_id: str) -> int:
        """Index of a directed link id (``"a~b>"``/``"a~b<"``) in the series."""
        return self.link_ids.index(link_id)

    def utilisation_of(self, link_id: str) -> npt.NDArray[np.float64]:
        row: npt.NDArray[np.float64] = self.link_utilisation[self.link_index(link_id)]
        return row

    def top_links(self, n: int = 20) -> list[tuple[str, float, float]]:
        """The ``n`` directed links with the highest peak utilisation: (id, peak, mean)."""
        if self.link_utilisation.size == 0:
            return []
        peak = self.link_utilisation.max(axis=1)
        mean = self.link_utilisation.mean(axis=1)
        order = sorted(range(len(self.link_ids)), key=lambda i: (-peak[i], self.link_ids[i]))
        return [
            (self.link_ids[i], float(peak[i]), float(mean[i])) for i in order[:n] if peak[i] > 0
        ]

    def digest(self) -> str:
        """SHA-256 over every per-bin series, so equal digests mean equal series."""
        util = self.link_utilisation
        if isinstance(util, UtilisationSeries):  # fed a block of rows at a time
            h = util.sha256()
        else:
            h = hashlib.sha256()
            h.update(np.ascontiguousarray(util).tobytes())
        h.update(np.ascontiguousarray(self.unreachable_local_bodies).tobytes())
        for series in (
            self.offered_per_bin,
            self.delivered_per_bin,
            self.latency_p50_s,
            self.latency_p95_s,
            self.latency_p99_s,
        ):
            for name in sorted(series):
                h.update(name.encode())
                h.update(np.ascontiguousarray(series[name]).tobytes())
        return h.hexdigest()

    def to_dict(self) -> dict[str, object]:
        """A deterministic, JSON-safe summary (same seed, same dict)."""
        return {
            "fidelity": str(self.fidelity),
            "seed": self.seed,
            "duration_s": self.duration_s,
            "bin_s": self.bin_s,
            "n_bins": self.n_bins,
            "start": self.start.isoformat(),
            "overloaded": self.overloaded,
            "overload_reason": self.overload_reason,
            "stopped_at_s": self.stopped_at_s,
            "totals": {
                "offered": self.offered,
                "delivered": self.delivered,
                "dropped": self.dropped,
                "in_flight": self.in_flight,
            },
            "services": {name: self.services[name].to_dict() for name in sorted(self.services)},
            "top_links": [
                {"link": i, "peak_utilisation": p, "mean_utilisation": m}
                for i, p, m in self.top_links()
            ],
            "unreachable_local_bodies_peak": int(self.unreachable_local_bodies.max(initial=0)),
            "events": [e.to_dict() for e in self.events],
            "counters": dict(sorted(self.counters.items())),
            "series_sha256": self.digest(),
        }
