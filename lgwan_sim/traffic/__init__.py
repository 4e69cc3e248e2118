"""Traffic: message sizes, time profiles, service demand and per-bin traffic matrices."""

from lgwan_sim.traffic._demand import Demand, ServiceDemand, TrafficMatrix, traffic_matrix
from lgwan_sim.traffic._profile import JST, Profile
from lgwan_sim.traffic._sizes import SizeDist, SizeKind

__all__ = [
    "JST",
    "Demand",
    "Profile",
    "ServiceDemand",
    "SizeDist",
    "SizeKind",
    "TrafficMatrix",
    "traffic_matrix",
]
