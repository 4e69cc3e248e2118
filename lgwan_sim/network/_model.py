"""Frozen model records: sites, links and their kinds."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from lgwan_sim.errors import TopologyError

__all__ = [
    "MAX_CAPACITY_BPS",
    "MAX_DELAY_S",
    "MAX_METRIC",
    "REGIONS",
    "Link",
    "LinkKind",
    "Site",
    "SiteKind",
]

SiteId = str

#: The conventional eight-region scheme used by the prefecture table (Mie in Kinki).
REGIONS: tuple[str, ...] = (
    "Hokkaido",
    "Tohoku",
    "Kanto",
    "Chubu",
    "Kinki",
    "Chugoku",
    "Shikoku",
    "Kyushu-Okinawa",
)


class SiteKind(StrEnum):
    """What a site is. Local bodies are ``PREFECTURE`` and ``MUNICIPALITY``."""

    CENTRAL = "central"
    """East or West central site (the national centre's core routers)."""
    SECURITY_GATEWAY = "security_gateway"
    """東日本・西日本セキュリティゲートウェイ: firewalls in front of the ASP segment."""
    ASP_SEGMENT = "asp_segment"
    """LGWAN-ASP接続セグメント at a central site (duplicated: one per central site)."""
    GOV_GATEWAY = "gov_gateway"
    """Interconnection with the national government network (政府共通ネットワーク)."""
    PREFECTURE_NODE = "prefecture_node"
    """都道府県ノード: aggregates the access lines of one prefecture."""
    PREFECTURE = "prefecture"
    """A prefectural government (one of the 47 local bodies at that level)."""
    MUNICIPALITY = "municipality"
    """A city, town, village or Tokyo special ward (1,741 in all)."""
    DATA_CENTRE = "data_centre"
    """A municipal-cloud or LGWAN-ASP hosting data centre."""
    ASP = "asp"
    """An LGWAN-ASP provider's service site."""

    @property
    def is_local_body(self) -> bool:
        return self in (SiteKind.PREFECTURE, SiteKind.MUNICIPALITY)


class LinkKind(StrEnum):
    """The role of a link; routing prefers everything over ``BACKUP``."""

    BACKBONE = "backbone"
    ACCESS = "access"
    BACKUP = "backup"


#: Ranges of the numbers that topology and scenario files give a line (docs/scenarios.md):
#: capacity in bit/s each way (10 Tbit/s, far above any LGWAN line), one-way delay in
#: seconds and the routing metric in seconds.
MAX_CAPACITY_BPS = 1.0e13
MAX_DELAY_S = 10.0
MAX_METRIC = 1.0e6


def _check_finite(name: str, value: float, *, positive: bool, where: str) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
        raise TopologyError(f"{name} must be a number", field=f"{where}.{name}", value=value)
    if positive and not value > 0:
        raise TopologyError(f"{name} must be > 0", field=f"{where}.{name}", value=value)
    if not positive and value < 0:
        raise TopologyError(f"{name} must be >= 0", field=f"{where}.{name}", value=value)


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    """A place on the network: a router, a local body, a data centre or a service.

    ``prefecture`` is the two-digit JIS code ("01".."47") or ``None`` for national sites.
    """

    id: SiteId
    kind: SiteKind
    name: str
    lat: float
    lon: float
    prefecture: str | None = None
    region: str | None = None
    name_ja: str = ""
    campus: str | None = None
    """Sites that share a campus fail together (e.g. ``"east"``: the East central site)."""

    def __post_init__(self) -> None:
        where = f"site {self.id!r}"
        if not self.id or not isinstance(self.id, str):
            raise TopologyError("site id must be a non-empty string", field="id", value=self.id)
        if not isinstance(self.kind, SiteKind):
            raise TopologyError("unknown site kind", field=f"{where}.kind", value=self.kind)
        if not (isinstance(self.lat, int | float) and -90.0 <= self.lat <= 90.0):
            raise TopologyError("lat must be in [-90, 90]", field=f"{where}.lat", value=self.lat)
        if not (isinstance(self.lon, int | float) and -180.0 <= self.lon <= 180.0):
            raise TopologyError("lon must be in [-180, 180]", field=f"{where}.lon", value=self.lon)
        if self.region is not None and self.region not in REGIONS:
            raise TopologyError(
                f"region must be one of {', '.join(REGIONS)}",
                field=f"{where}.region",
                value=self.region,
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class Link:
    """A full-duplex line between two sites: ``capacity_bps`` in each direction.

    ``metric`` is the routing cost (an IGP-style metric in seconds); it defaults to the
    propagation delay, and backup lines carry a large penalty so that they are used only
    when the primary path is gone.
    """

    a: SiteId
    b: SiteId
    kind: LinkKind
    capacity_bps: float
    delay_s: float
    metric: float | None = None
    basis: str = ""

    def __post_init__(self) -> None:
        where = f"link {self.a}~{self.b}"
        if not isinstance(self.kind, LinkKind):
            raise TopologyError("unknown link kind", field=f"{where}.kind", value=self.kind)
        if self.a == self.b:
            raise TopologyError("a link cannot join a site to itself", field=where, value=self.a)
        _check_finite("capacity_bps", self.capacity_bps, positive=True, where=where)
        _check_finite("delay_s", self.delay_s, positive=False, where=where)
        if self.metric is not None:
            _check_finite("metric", self.metric, positive=False, where=where)

    @property
    def id(self) -> str:
        """A stable identifier, ``"a~b"`` in the order the link was declared."""
        return f"{self.a}~{self.b}"

    @property
    def routing_metric(self) -> float:
        return self.delay_s if self.metric is None else self.metric

    def other(self, site: SiteId) -> SiteId:
        """The far end of the link seen from ``site``."""
        return self.b if site == self.a else self.a
