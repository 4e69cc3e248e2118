"""Traffic: the service catalogue, message sizes, time profiles, service demand and per-bin
traffic matrices."""

from lgwan_sim.traffic._catalogue import (
    Basis,
    BasisKind,
    CallerSpec,
    Catalogue,
    Figure,
    HostSpec,
    ProfileSpec,
    ServiceCategory,
    ServiceSpec,
    SizeSpec,
    load_catalogue,
    load_service,
)
from lgwan_sim.traffic._demand import Demand, ServiceDemand, TrafficMatrix, traffic_matrix
from lgwan_sim.traffic._profile import JST, Profile
from lgwan_sim.traffic._sizes import SizeDist, SizeKind

__all__ = [
    "JST",
    "Basis",
    "BasisKind",
    "CallerSpec",
    "Catalogue",
    "Demand",
    "Figure",
    "HostSpec",
    "Profile",
    "ProfileSpec",
    "ServiceCategory",
    "ServiceDemand",
    "ServiceSpec",
    "SizeDist",
    "SizeKind",
    "SizeSpec",
    "TrafficMatrix",
    "load_catalogue",
    "load_service",
    "traffic_matrix",
]
