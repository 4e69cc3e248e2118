"""The one definition of a backup line, shared by the national builder and scenario edits."""

from __future__ import annotations

from collections.abc import Iterable

from lgwan_sim.network._geo import great_circle_km, propagation_delay_s
from lgwan_sim.network._model import Link, LinkKind, Site

__all__ = ["backup_line", "line_delay_s", "nearest_central"]


def line_delay_s(a: Site, b: Site, *, equipment_delay_s: float = 0.0) -> float:
    """A line's propagation delay between two sites plus its equipment delay (unrounded)."""
    return propagation_delay_s(
        great_circle_km(a.lat, a.lon, b.lat, b.lon), equipment_delay_s=equipment_delay_s
    )


def nearest_central(site: Site, centrals: Iterable[Site]) -> Site:
    """The central site nearest to ``site`` (on a tie, the lowest id)."""
    return min(centrals, key=lambda c: (great_circle_km(site.lat, site.lon, c.lat, c.lon), c.id))


def backup_line(
    site: Site,
    far: Site,
    *,
    capacity_bps: float,
    metric_penalty_s: float,
    equipment_delay_s: float = 0.0,
    basis: str,
) -> Link:
    """A low-capacity ``backup`` line from ``site`` to ``far``.

    Its delay is that of any line of the topology (great circle, route factor, equipment
    delay, to the nanosecond); its routing metric adds ``metric_penalty_s`` so that routing
    avoids it while the primary path is up (no penalty: the metric is the delay).
    """
    delay = line_delay_s(site, far, equipment_delay_s=equipment_delay_s)
    return Link(
        a=site.id,
        b=far.id,
        kind=LinkKind.BACKUP,
        capacity_bps=capacity_bps,
        delay_s=round(delay, 9),
        metric=(delay + metric_penalty_s) if metric_penalty_s else None,
        basis=basis,
    )
