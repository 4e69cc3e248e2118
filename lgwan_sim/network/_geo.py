"""Geography: great-circle distances and the propagation-delay model."""

from __future__ import annotations

import math

__all__ = ["FIBRE_SPEED_KM_S", "ROUTE_FACTOR", "great_circle_km", "propagation_delay_s"]

EARTH_RADIUS_KM = 6371.0088
#: Light in silica fibre: about 2/3 of c.
FIBRE_SPEED_KM_S = 204_190.0
#: ASSUMPTION: cable routes are longer than the great circle. 1.5 is a common planning
#: factor for terrestrial fibre; LGWAN's real routes are not public.
ROUTE_FACTOR = 1.5


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def propagation_delay_s(distance_km: float, *, equipment_delay_s: float = 0.0) -> float:
    """One-way delay of a line: fibre along ``ROUTE_FACTOR`` x the distance, plus equipment."""
    return distance_km * ROUTE_FACTOR / FIBRE_SPEED_KM_S + equipment_delay_s
