"""The network model: sites, links, topologies, the national builder and routing."""

from lgwan_sim.network._backup import backup_line, line_delay_s, nearest_central
from lgwan_sim.network._export import (
    ExportFormat,
    export_topology,
    to_geojson,
    to_mapping,
)
from lgwan_sim.network._geo import great_circle_km, propagation_delay_s
from lgwan_sim.network._metrics import Diameter, diameter, summary
from lgwan_sim.network._model import (
    MAX_CAPACITY_BPS,
    MAX_DELAY_S,
    MAX_METRIC,
    REGIONS,
    Link,
    LinkKind,
    Site,
    SiteKind,
)
from lgwan_sim.network._national import (
    Prefecture,
    build_national,
    load_prefectures,
    load_topology,
    topology_from_mapping,
)
from lgwan_sim.network._roster import (
    ROSTER_COLUMNS,
    RosterEntry,
    RosterWarning,
    load_roster,
    roster_gaps,
)
from lgwan_sim.network._routing import Route, Router, RouterCheckpoint, RoutingChange
from lgwan_sim.network._topology import Topology

__all__ = [
    "MAX_CAPACITY_BPS",
    "MAX_DELAY_S",
    "MAX_METRIC",
    "REGIONS",
    "ROSTER_COLUMNS",
    "Diameter",
    "ExportFormat",
    "Link",
    "LinkKind",
    "Prefecture",
    "RosterEntry",
    "RosterWarning",
    "Route",
    "Router",
    "RouterCheckpoint",
    "RoutingChange",
    "Site",
    "SiteKind",
    "Topology",
    "backup_line",
    "build_national",
    "diameter",
    "export_topology",
    "great_circle_km",
    "line_delay_s",
    "load_prefectures",
    "load_roster",
    "load_topology",
    "nearest_central",
    "propagation_delay_s",
    "roster_gaps",
    "summary",
    "to_geojson",
    "to_mapping",
    "topology_from_mapping",
]
