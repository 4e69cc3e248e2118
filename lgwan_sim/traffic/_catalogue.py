"""The service catalogue: ``services/<name>/service.yaml`` into frozen :class:`ServiceSpec`.

Every number in a service file is a mapping with ``value`` and exactly one of ``source``
(where the figure comes from) or ``assumption`` (why this guess), so a planner can always
tell a sourced figure from a planning assumption. The loader enforces it. A message size
becomes the :class:`~lgwan_sim.traffic.SizeDist` the engine samples.

The catalogue lives with the traffic it describes, so anything that makes traffic (a
scenario, an emulated municipality) reads it without importing ``scenario/``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from lgwan_sim._fields import (
    MAX_GROWTH_PER_YEAR,
    MAX_MESSAGE_BYTES,
    MAX_REQUESTS_PER_DAY,
    MAX_SERVICE_S,
    Fields,
)
from lgwan_sim._resources import bundled_dir
from lgwan_sim._yaml import LineDict, load_yaml
from lgwan_sim.errors import ScenarioError
from lgwan_sim.network import SiteKind, Topology
from lgwan_sim.traffic._sizes import SizeDist, SizeKind

__all__ = [
    "Basis",
    "BasisKind",
    "CallerSpec",
    "Catalogue",
    "Figure",
    "HostSpec",
    "ProfileSpec",
    "ServiceCategory",
    "ServiceSpec",
    "SizeSpec",
    "load_catalogue",
    "load_service",
]


class BasisKind(StrEnum):
    """Where a figure comes from."""

    SOURCE = "source"
    ASSUMPTION = "assumption"


class ServiceCategory(StrEnum):
    BASIC = "basic"
    """LGWAN basic services (基本サービス): mail, document exchange, directory, bulletin boards."""
    ASP = "asp"
    """LGWAN-ASP services run by J-LIS, 地方税共同機構 and others."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Basis:
    kind: BasisKind
    text: str

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.text}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Figure:
    """A number with its basis."""

    value: float
    basis: Basis


@dataclass(frozen=True, slots=True, kw_only=True)
class SizeSpec:
    """A message-size distribution in bytes (the one the engine samples) with its basis."""

    dist: SizeDist
    basis: Basis


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileSpec:
    """Relative demand by hour of day (24), day of week (7, Mon..Sun) and month (12)."""

    hourly: tuple[float, ...]
    weekly: tuple[float, ...]
    monthly: tuple[float, ...]
    bases: Mapping[str, Basis]
    window_h: tuple[float, float] | None = None
    """Hours of service in local time, e.g. (6.5, 23.0): no requests outside."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HostSpec:
    primary: str
    secondary: str | None
    basis: Basis


@dataclass(frozen=True, slots=True, kw_only=True)
class CallerSpec:
    """Who calls the service: sites of some kinds (a deterministic share of them) or a list."""

    kinds: tuple[SiteKind, ...]
    sites: tuple[str, ...]
    share: Figure | None
    basis: Basis
    prefectures: tuple[str, ...] = ()
    """Only candidates in these prefectures (JIS codes); empty: every prefecture."""
    per_prefecture: Figure | None = None
    """Keep this many candidates in each prefecture (all of them where there are fewer)."""

    def resolve(self, topology: Topology, service: str) -> tuple[str, ...]:
        """The calling site ids in ``topology``, sorted. A share picks a fixed subset.

        A share of ``n`` candidate sites keeps exactly ``round(share * n)`` of them (402 of
        1,741 for a sourced 402), those with the smallest hash of service name and site id.
        The subset never depends on the run's seed, so every run of every scenario sees the
        same participating sites.
        """
        if self.sites:
            return tuple(sorted(self.sites))
        sites = topology.sites_of_kind(*self.kinds)
        if self.prefectures:
            sites = [s for s in sites if s.prefecture in self.prefectures]
        ids = [s.id for s in sites]

        def rank(site_id: str) -> bytes:
            return hashlib.sha256(f"{service}:{site_id}".encode()).digest()

        if self.per_prefecture is not None:
            keep = round(self.per_prefecture.value)
            chosen: set[str] = set()
            for code in sorted({s.prefecture or "" for s in sites}):
                in_pref = [s.id for s in sites if (s.prefecture or "") == code]
                chosen.update(sorted(in_pref, key=rank)[:keep])
            ids = [site_id for site_id in ids if site_id in chosen]
        if self.share is None or self.share.value >= 1.0:
            return tuple(ids)
        chosen = set(sorted(ids, key=rank)[: round(self.share.value * len(ids))])
        return tuple(site_id for site_id in ids if site_id in chosen)


#: The catalogue's failover times for a service whose file does not give its own.
DEFAULT_DETECTION_S = Figure(
    value=60.0,
    basis=Basis(
        kind=BasisKind.ASSUMPTION,
        text="health checks every 20 s notice a host after three missed answers",
    ),
)
DEFAULT_SWITCHOVER_S = Figure(
    value=300.0,
    basis=Basis(
        kind=BasisKind.ASSUMPTION,
        text="five minutes to redirect names and start serving from the standby site",
    ),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceSpec:
    """One catalogue entry: an LGWAN service, its hosts, callers, sizes, profile and SLO."""

    name: str
    title: str
    title_ja: str
    category: ServiceCategory
    description: str
    references: tuple[str, ...]
    host: HostSpec
    callers: CallerSpec
    requests_per_day: Figure
    """Requests per calling site on an average day."""
    request_size: SizeSpec
    response_size: SizeSpec
    service_time_s: Figure
    slo_latency_s: Figure
    growth_per_year: Figure
    profile: ProfileSpec
    file: str = ""
    opt_in: bool = False
    """Runs only in scenarios that name it under ``services:`` (or whose events need it)."""
    detection_s: Figure = DEFAULT_DETECTION_S
    """Failover: from the primary host going down to the health checks noticing."""
    switchover_s: Figure = DEFAULT_SWITCHOVER_S
    """Failover: from noticing to serving from the secondary (and back again)."""


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The services by name, in name order."""

    services: Mapping[str, ServiceSpec] = field(default_factory=dict)
    folder: str = ""

    def __getitem__(self, name: str) -> ServiceSpec:
        return self.services[name]

    def __contains__(self, name: object) -> bool:
        return name in self.services

    def __iter__(self) -> Iterator[str]:
        return iter(self.services)

    def names(self) -> tuple[str, ...]:
        return tuple(self.services)


_SERVICE_KEYS = (
    "name",
    "title",
    "title_ja",
    "category",
    "description",
    "references",
    "host",
    "callers",
    "requests_per_day",
    "request_size",
    "response_size",
    "service_time_s",
    "slo_latency_s",
    "growth_per_year",
    "profile",
    "failover",
    "opt_in",
)
_BASIS_KEYS = ("source", "assumption")


def load_catalogue(folder: str | Path | None = None) -> Catalogue:
    """Load every ``<folder>/<name>/service.yaml`` (the bundled ``services/`` by default)."""
    root = Path(folder) if folder is not None else bundled_dir("services")
    if not root.is_dir():
        raise ScenarioError("service catalogue folder not found", file=root)
    specs: dict[str, ServiceSpec] = {}
    for path in sorted(root.glob("*/service.yaml")):
        spec = load_service(path)
        specs[spec.name] = spec
    return Catalogue(MappingProxyType(dict(sorted(specs.items()))), str(root))


def load_service(path: str | Path) -> ServiceSpec:
    """Load and validate one ``service.yaml``; the folder name must equal ``name``."""
    path = Path(path)
    doc = load_yaml(path, error=ScenarioError)
    f = Fields(path)
    if not isinstance(doc, LineDict):
        raise ScenarioError("a service file must be a mapping", file=path, line=1)
    f.only(doc, _SERVICE_KEYS, "")
    for key in _SERVICE_KEYS:
        if key not in ("title_ja", "references", "failover", "opt_in"):
            f.require(doc, key, "")
    name = f.text(doc, "name", "name")
    if name != path.parent.name:
        raise f.error(f"must equal the folder name {path.parent.name!r}", doc, "name", "name", name)
    category_text = f.choice(doc, "category", "category", [c.value for c in ServiceCategory])
    refs: tuple[str, ...] = ()
    if "references" in doc:
        refs = f.text_list(doc, "references", "references")
    return ServiceSpec(
        name=name,
        title=f.text(doc, "title", "title"),
        title_ja=f.text(doc, "title_ja", "title_ja") if "title_ja" in doc else "",
        category=ServiceCategory(category_text),
        description=" ".join(f.text(doc, "description", "description").split()),
        references=refs,
        host=_host(f, doc),
        callers=_callers(f, doc),
        requests_per_day=_figure(
            f, doc, "requests_per_day", minimum=0.0, maximum=MAX_REQUESTS_PER_DAY
        ),
        request_size=_size(f, doc, "request_size"),
        response_size=_size(f, doc, "response_size"),
        service_time_s=_figure(f, doc, "service_time_s", minimum=0.0, maximum=MAX_SERVICE_S),
        slo_latency_s=_figure(
            f, doc, "slo_latency_s", minimum=0.0, exclusive=True, maximum=MAX_SERVICE_S
        ),
        growth_per_year=_figure(
            f, doc, "growth_per_year", minimum=-0.99, maximum=MAX_GROWTH_PER_YEAR
        ),
        profile=_profile(f, doc),
        file=str(path),
        opt_in=f.boolean(doc, "opt_in", "opt_in") if "opt_in" in doc else False,
        **_failover(f, doc),
    )


def _failover(f: Fields, doc: LineDict) -> dict[str, Figure]:
    """``failover: {detection_s: {value, ...}, switchover_s: {value, ...}}``, both optional."""
    if "failover" not in doc:
        return {}
    m = f.mapping(doc, "failover", "failover")
    f.only(m, ("detection_s", "switchover_s"), "failover")
    out: dict[str, Figure] = {}
    for key in ("detection_s", "switchover_s"):
        if key in m:
            path = f"failover.{key}"
            fig = f.mapping(m, key, path)
            f.only(fig, ("value", *_BASIS_KEYS), path)
            f.require(fig, "value", path)
            value = f.number(fig, "value", f"{path}.value", minimum=0.0, maximum=86400.0)
            out[key] = Figure(value=value, basis=_basis(f, fig, path))
    return out


def _basis(f: Fields, mapping: LineDict, path: str) -> Basis:
    given = [k for k in _BASIS_KEYS if k in mapping]
    if len(given) != 1:
        raise f.error(
            "needs exactly one of 'source' (where the figure comes from) or 'assumption' "
            "(why this guess)",
            mapping,
            None,
            path,
            given or None,
        )
    return Basis(kind=BasisKind(given[0]), text=f.text(mapping, given[0], f"{path}.{given[0]}"))


def _figure(
    f: Fields,
    parent: LineDict,
    key: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive: bool = False,
) -> Figure:
    m = f.mapping(parent, key, key)
    f.only(m, ("value", *_BASIS_KEYS), key)
    f.require(m, "value", key)
    value = f.number(
        m, "value", f"{key}.value", minimum=minimum, maximum=maximum, exclusive_minimum=exclusive
    )
    return Figure(value=value, basis=_basis(f, m, key))


def _size(f: Fields, parent: LineDict, key: str) -> SizeSpec:
    m = f.mapping(parent, key, key)
    f.only(m, ("dist", "bytes", "mean_bytes", "sigma", "values_bytes", *_BASIS_KEYS), key)
    kind = SizeKind(f.choice(m, "dist", f"{key}.dist", [k.value for k in SizeKind]))
    basis = _basis(f, m, key)
    if kind is SizeKind.FIXED:
        f.require(m, "bytes", key)
        size = f.number(m, "bytes", f"{key}.bytes", minimum=1.0, maximum=MAX_MESSAGE_BYTES)
        return SizeSpec(dist=SizeDist.fixed(size), basis=basis)
    if kind is SizeKind.EMPIRICAL:
        f.require(m, "values_bytes", key)
        values = f.seq(m, "values_bytes", f"{key}.values_bytes")
        if not values:
            raise f.error("must not be empty", m, "values_bytes", f"{key}.values_bytes", [])
        nums = tuple(
            f.number(values, i, f"{key}.values_bytes[{i}]", minimum=1.0, maximum=MAX_MESSAGE_BYTES)
            for i in range(len(values))
        )
        return SizeSpec(dist=SizeDist.empirical(nums), basis=basis)
    f.require(m, "mean_bytes", key)
    mean = f.number(m, "mean_bytes", f"{key}.mean_bytes", minimum=1.0, maximum=MAX_MESSAGE_BYTES)
    if kind is SizeKind.LOGNORMAL:
        f.require(m, "sigma", key)
        sigma = f.number(
            m, "sigma", f"{key}.sigma", minimum=0.0, exclusive_minimum=True, maximum=5.0
        )
        return SizeSpec(dist=SizeDist.lognormal(mean, sigma), basis=basis)
    return SizeSpec(dist=SizeDist.exponential(mean), basis=basis)


def _host(f: Fields, doc: LineDict) -> HostSpec:
    m = f.mapping(doc, "host", "host")
    f.only(m, ("primary", "secondary", *_BASIS_KEYS), "host")
    f.require(m, "primary", "host")
    secondary = f.text(m, "secondary", "host.secondary") if "secondary" in m else None
    primary = f.text(m, "primary", "host.primary")
    if secondary == primary:
        raise f.error("must differ from host.primary", m, "secondary", "host.secondary", secondary)
    return HostSpec(primary=primary, secondary=secondary, basis=_basis(f, m, "host"))


def _callers(f: Fields, doc: LineDict) -> CallerSpec:
    m = f.mapping(doc, "callers", "callers")
    f.only(m, ("kinds", "sites", "share", "prefectures", "per_prefecture", *_BASIS_KEYS), "callers")
    if ("kinds" in m) == ("sites" in m):
        raise f.error("needs exactly one of 'kinds' or 'sites'", m, None, "callers", None)
    kinds: tuple[SiteKind, ...] = ()
    sites: tuple[str, ...] = ()
    if "kinds" in m:
        names = f.text_list(m, "kinds", "callers.kinds")
        allowed = [k.value for k in SiteKind]
        for i, n in enumerate(names):
            if n not in allowed:
                raise f.error(
                    f"unknown site kind; one of {', '.join(allowed)}",
                    m["kinds"],
                    i,
                    f"callers.kinds[{i}]",
                    n,
                )
        kinds = tuple(SiteKind(n) for n in names)
    else:
        sites = f.text_list(m, "sites", "callers.sites")
    share = None
    if "share" in m:
        share = _figure(f, m, "share", minimum=0.0, maximum=1.0, exclusive=True)
    prefectures: tuple[str, ...] = ()
    per_prefecture = None
    if ("prefectures" in m or "per_prefecture" in m) and "kinds" not in m:
        raise f.error("needs 'kinds' (it narrows the kinds)", m, None, "callers", None)
    if "prefectures" in m:
        prefectures = f.text_list(m, "prefectures", "callers.prefectures")
        for i, code in enumerate(prefectures):
            if not (len(code) == 2 and code.isdigit() and 1 <= int(code) <= 47):
                raise f.error(
                    "unknown prefecture code (01..47)",
                    m["prefectures"],
                    i,
                    f"callers.prefectures[{i}]",
                    code,
                )
    if "per_prefecture" in m:
        per_prefecture = _figure(f, m, "per_prefecture", minimum=1.0, maximum=1000.0)
        if per_prefecture.value != round(per_prefecture.value):
            raise f.error(
                "must be a whole number",
                m["per_prefecture"],
                "value",
                "callers.per_prefecture.value",
                per_prefecture.value,
            )
    return CallerSpec(
        kinds=kinds,
        sites=sites,
        share=share,
        basis=_basis(f, m, "callers"),
        prefectures=prefectures,
        per_prefecture=per_prefecture,
    )


_PROFILE_PARTS = {"hourly": 24, "weekly": 7, "monthly": 12}


def _profile(f: Fields, doc: LineDict) -> ProfileSpec:
    m = f.mapping(doc, "profile", "profile")
    f.only(m, (*_PROFILE_PARTS, "window_h"), "profile")
    parts: dict[str, tuple[float, ...]] = {}
    bases: dict[str, Basis] = {}
    for part, size in _PROFILE_PARTS.items():
        path = f"profile.{part}"
        f.require(m, part, "profile")
        pm = f.mapping(m, part, path)
        f.only(pm, ("value", *_BASIS_KEYS), path)
        f.require(pm, "value", path)
        values = f.seq(pm, "value", f"{path}.value")
        if len(values) != size:
            raise f.error(
                f"must have {size} weights", pm, "value", f"{path}.value", f"{len(values)} weights"
            )
        nums = tuple(
            f.number(values, i, f"{path}.value[{i}]", minimum=0.0, maximum=1.0e6)
            for i in range(len(values))
        )
        if not any(nums):
            raise f.error("at least one weight must be > 0", pm, "value", f"{path}.value", nums)
        parts[part] = nums
        bases[part] = _basis(f, pm, path)
    window: tuple[float, float] | None = None
    if "window_h" in m:
        wm = f.mapping(m, "window_h", "profile.window_h")
        f.only(wm, ("value", *_BASIS_KEYS), "profile.window_h")
        f.require(wm, "value", "profile.window_h")
        pair = f.seq(wm, "value", "profile.window_h.value")
        if len(pair) != 2:
            raise f.error(
                "must be [start_h, end_h]", wm, "value", "profile.window_h.value", list(pair)
            )
        start = f.number(pair, 0, "profile.window_h.value[0]", minimum=0.0, maximum=24.0)
        end = f.number(pair, 1, "profile.window_h.value[1]", minimum=0.0, maximum=24.0)
        if not start < end:
            raise f.error(
                "start_h must be before end_h", wm, "value", "profile.window_h.value", [start, end]
            )
        window = (start, end)
        bases["window_h"] = _basis(f, wm, "profile.window_h")
    return ProfileSpec(
        hourly=parts["hourly"],
        weekly=parts["weekly"],
        monthly=parts["monthly"],
        window_h=window,
        bases=MappingProxyType(bases),
    )
