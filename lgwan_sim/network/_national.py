"""Builders: the national LGWAN from ``topology/national.yaml``, and topology files."""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lgwan_sim._resources import bundled_dir
from lgwan_sim._yaml import LineDict, Reader, load_yaml
from lgwan_sim.errors import TopologyError
from lgwan_sim.network._backup import backup_line, nearest_central
from lgwan_sim.network._geo import great_circle_km, propagation_delay_s
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
from lgwan_sim.network._roster import RosterEntry, RosterWarning, load_roster, roster_gaps
from lgwan_sim.network._topology import Topology

__all__ = [
    "Prefecture",
    "build_national",
    "load_prefectures",
    "load_topology",
    "national_spec_path",
]

_GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))
_KM_PER_DEG_LAT = 111.32
#: Most municipalities one prefecture may have (Hokkaido, the largest, has 179).
_MAX_MUNICIPALITIES = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Prefecture:
    code: str
    name_ja: str
    name_en: str
    region: str
    capital: str
    lat: float
    lon: float
    municipalities: int


def national_spec_path() -> Path:
    return bundled_dir("topology") / "national.yaml"


# -- the shared reader, raising TopologyError ---------------------------------------------
class _Reader(Reader):
    def __init__(self, file: Path) -> None:
        super().__init__(file, error=TopologyError)

    def amount(
        self,
        parent: object,
        key: str,
        field: str,
        *,
        maximum: float,
        positive: bool = True,
        default: float | None = None,
    ) -> float:
        """A finite number > 0 (>= 0 unless ``positive``) and at most ``maximum``."""
        return self.number(
            parent,
            key,
            field,
            minimum=0.0,
            maximum=maximum,
            exclusive_minimum=positive,
            default=default,
        )


def load_prefectures(path: str | Path | None = None) -> list[Prefecture]:
    """Read the 47-row prefecture table (code, names, region, capital position, counts)."""
    path = Path(path) if path is not None else bundled_dir("topology") / "prefectures.csv"
    required = (
        "code",
        "name_ja",
        "name_en",
        "region",
        "capital_en",
        "lat",
        "lon",
        "municipalities",
    )
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise TopologyError(f"cannot read prefecture table: {exc.strerror}", file=path) from None
    result: list[Prefecture] = []
    with handle:
        reader = csv.DictReader(handle)
        try:  # the decoder reads ahead: even the header can hit a non-UTF-8 byte
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise TopologyError("missing column", file=path, line=1, field=missing[0])
            seen: set[str] = set()
            for row in reader:
                result.append(_prefecture(row, path, reader.line_num, seen))
        except UnicodeDecodeError:
            raise TopologyError("prefecture table is not UTF-8 text", file=path) from None
        except csv.Error as exc:
            raise TopologyError(f"malformed CSV: {exc}", file=path, line=reader.line_num) from None
    return sorted(result, key=lambda p: p.code)


def _prefecture(row: dict[str, str | None], path: Path, line: int, seen: set[str]) -> Prefecture:
    """One row of the prefecture table; ``seen`` holds the codes of the rows before it."""
    for column, cell in row.items():
        if cell is None:  # a short row: DictReader fills the missing cells with None
            raise TopologyError("row has too few cells", file=path, line=line, field=column)
    cells: dict[str, str] = {k: v for k, v in row.items() if k is not None and v is not None}
    code = cells["code"].strip()
    if len(code) != 2 or not code.isdigit() or not 1 <= int(code) <= 47:
        raise TopologyError(
            "prefecture code must be 01..47", file=path, line=line, field="code", value=code
        )
    if code in seen:
        raise TopologyError(
            "duplicate prefecture code", file=path, line=line, field="code", value=code
        )
    seen.add(code)
    if cells["region"] not in REGIONS:
        raise TopologyError(
            "unknown region", file=path, line=line, field="region", value=cells["region"]
        )
    try:
        lat, lon = float(cells["lat"]), float(cells["lon"])
        count = int(cells["municipalities"])
    except ValueError:
        raise TopologyError(
            "lat, lon and municipalities must be numbers",
            file=path,
            line=line,
            field="lat/lon/municipalities",
            value=(cells["lat"], cells["lon"], cells["municipalities"]),
        ) from None
    _check_in_japan(lat, lon, file=path, line=line)
    if count < 0:
        raise TopologyError(
            "must be >= 0", file=path, line=line, field="municipalities", value=count
        )
    if count > _MAX_MUNICIPALITIES:
        raise TopologyError(
            f"must be at most {_MAX_MUNICIPALITIES}",
            file=path,
            line=line,
            field="municipalities",
            value=count,
        )
    return Prefecture(
        code=code,
        name_ja=cells["name_ja"],
        name_en=cells["name_en"],
        region=cells["region"],
        capital=cells["capital_en"],
        lat=lat,
        lon=lon,
        municipalities=count,
    )


def _free_text(rd: _Reader, entry: Mapping[str, Any], key: str, field: str, default: str) -> str:
    """An optional label (a name, a basis): any string, but not a number, list or mapping."""
    value = entry.get(key, default)
    if not isinstance(value, str):
        hint = " (quote it: YAML reads it as a number)" if isinstance(value, int | float) else ""
        raise rd.error(f"must be text{hint}", entry, key, field, value)
    return value


def _check_in_japan(lat: float, lon: float, *, file: Path, line: int | None) -> None:
    # Japan spans about 20-46 N and 122-154 E (Okinotorishima to Etorofu, Yonaguni to Minamitorishima).
    if not (20.0 <= lat <= 46.0):
        raise TopologyError(
            "latitude outside Japan (20..46)", file=file, line=line, field="lat", value=lat
        )
    if not (122.0 <= lon <= 154.0):
        raise TopologyError(
            "longitude outside Japan (122..154)", file=file, line=line, field="lon", value=lon
        )


def _spiral(
    lat0: float, lon0: float, index: int, count: int, radius_km: float
) -> tuple[float, float]:
    """Deterministic position ``index`` of ``count`` on a golden-angle spiral (sunflower)."""
    r_km = radius_km * math.sqrt((index + 0.5) / max(count, 1))
    theta = index * _GOLDEN_ANGLE
    dlat = r_km * math.cos(theta) / _KM_PER_DEG_LAT
    dlon = r_km * math.sin(theta) / (_KM_PER_DEG_LAT * math.cos(math.radians(lat0)))
    return round(lat0 + dlat, 5), round(lon0 + dlon, 5)


def build_national(
    *,
    roster: str | Path | None = None,
    spec: str | Path | None = None,
    backup_lines: bool | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> Topology:
    """Build the national LGWAN.

    Parameters
    ----------
    roster:
        A CSV with the columns ``lgcode,pref_code,name,lat,lon`` (others, such as ``pref``
        and ``name_kana``, are ignored). Its rows replace the synthetic municipalities (real
        names and positions).
    spec:
        The national parameter file; the bundled ``topology/national.yaml`` by default.
    backup_lines:
        Override the spec's ``links.backup.enabled``: give every local body a low-capacity
        backup line to the nearest central site.
    on_warning:
        Called with one line when the roster loads but falls short of the country (a row
        count other than the prefecture table's 1,741, or prefectures without a
        municipality). Without it, a :class:`RosterWarning` is issued.

    Raises
    ------
    TopologyError
        If the spec, the prefecture table or the roster is malformed.
    """
    spec_path = Path(spec) if spec is not None else national_spec_path()
    doc = load_yaml(spec_path, error=TopologyError)
    rd = _Reader(spec_path)
    if not isinstance(doc, LineDict):
        raise TopologyError("the national spec must be a mapping", file=spec_path, line=1)
    rd.only(
        doc,
        (
            "name",
            "prefectures",
            "central_sites",
            "gov_gateway",
            "data_centres",
            "asp_providers",
            "links",
            "placement",
        ),
        "national",
    )
    prefectures = load_prefectures(spec_path.parent / rd.text(doc, "prefectures", "prefectures"))
    by_code = {p.code: p for p in prefectures}
    lk = rd.mapping(doc, "links", "links")
    equip = rd.amount(
        lk, "equipment_delay_s", "links.equipment_delay_s", positive=False, maximum=MAX_DELAY_S
    )
    backup = rd.mapping(lk, "backup", "links.backup")
    enabled = (
        rd.boolean(backup, "enabled", "links.backup.enabled") if "enabled" in backup else False
    )
    use_backup = enabled if backup_lines is None else backup_lines

    sites: list[Site] = []
    links: list[Link] = []
    pos: dict[str, tuple[float, float]] = {}

    def add_site(site: Site) -> Site:
        sites.append(site)
        pos[site.id] = (site.lat, site.lon)
        return site

    def add_link(
        a: str,
        b: str,
        kind: LinkKind,
        cap_key: str,
        *,
        capacity: float | None = None,
    ) -> None:
        cap = (
            capacity
            if capacity is not None
            else rd.amount(lk, cap_key, f"links.{cap_key}", maximum=MAX_CAPACITY_BPS)
        )
        dist = great_circle_km(*pos[a], *pos[b])
        delay = propagation_delay_s(dist, equipment_delay_s=equip)
        links.append(
            Link(
                a=a,
                b=b,
                kind=kind,
                capacity_bps=cap,
                delay_s=round(delay, 9),
                basis=f"links.{cap_key}",
            )
        )

    def node_site(
        entry: LineDict, idx: int, kind: SiteKind, field: str, *, pref: Prefecture | None = None
    ) -> Site:
        allowed = ("id", "campus", "name", "name_ja", "lat", "lon", "prefecture")
        rd.only(entry, allowed, f"{field}[{idx}]")
        lat = (
            pref.lat
            if pref and "lat" not in entry
            else rd.amount(entry, "lat", f"{field}[{idx}].lat", maximum=90.0)
        )
        lon = (
            pref.lon
            if pref and "lon" not in entry
            else rd.amount(entry, "lon", f"{field}[{idx}].lon", maximum=180.0)
        )
        for key, value, low, high in (("lat", lat, -90.0, 90.0), ("lon", lon, -180.0, 180.0)):
            if not low <= value <= high:
                raise rd.error(
                    f"{key} must be in [{low:g}, {high:g}]",
                    entry,
                    key,
                    f"{field}[{idx}].{key}",
                    value,
                )
        campus = rd.text(entry, "campus", f"{field}[{idx}].campus") if "campus" in entry else None
        return Site(
            id=rd.text(entry, "id", f"{field}[{idx}].id"),
            kind=kind,
            name=rd.text(entry, "name", f"{field}[{idx}].name"),
            name_ja=_free_text(rd, entry, "name_ja", f"{field}[{idx}].name_ja", ""),
            lat=lat,
            lon=lon,
            campus=campus,
            prefecture=pref.code if pref else None,
            region=pref.region if pref else None,
        )

    centrals: list[Site] = []
    for i, entry in enumerate(rd.seq(doc, "central_sites", "central_sites")):
        c = add_site(node_site(entry, i, SiteKind.CENTRAL, "central_sites"))
        if not c.campus:
            raise rd.error(
                "central site needs a campus", entry, "id", f"central_sites[{i}].campus", None
            )
        centrals.append(c)
        sgw = add_site(
            Site(
                id=f"sgw-{c.campus}",
                kind=SiteKind.SECURITY_GATEWAY,
                campus=c.campus,
                name=f"Security gateway ({c.campus})",
                name_ja="セキュリティゲートウェイ",
                lat=c.lat,
                lon=c.lon,
            )
        )
        seg = add_site(
            Site(
                id=f"aspseg-{c.campus}",
                kind=SiteKind.ASP_SEGMENT,
                campus=c.campus,
                name=f"LGWAN-ASP segment ({c.campus})",
                name_ja="LGWAN-ASP接続セグメント",
                lat=c.lat,
                lon=c.lon,
            )
        )
        add_link(c.id, sgw.id, LinkKind.BACKBONE, "central_to_gateway_bps")
        add_link(sgw.id, seg.id, LinkKind.BACKBONE, "gateway_to_asp_segment_bps")
    if len(centrals) < 1:
        raise TopologyError(
            "at least one central site is required", file=spec_path, field="central_sites"
        )
    for i, a in enumerate(centrals):
        for b in centrals[i + 1 :]:
            add_link(a.id, b.id, LinkKind.BACKBONE, "central_interconnect_bps")

    gov = rd.mapping(doc, "gov_gateway", "gov_gateway")
    gov_site = add_site(node_site(gov, 0, SiteKind.GOV_GATEWAY, "gov_gateway"))
    for c in centrals:
        add_link(gov_site.id, f"sgw-{c.campus}", LinkKind.BACKBONE, "gov_gateway_bps")

    for i, entry in enumerate(rd.seq(doc, "asp_providers", "asp_providers")):
        asp = add_site(node_site(entry, i, SiteKind.ASP, "asp_providers"))
        for c in centrals:  # the duplicated ASP segment: every provider is dual-homed
            add_link(asp.id, f"aspseg-{c.campus}", LinkKind.ACCESS, "asp_access_bps")

    overrides = rd.mapping(lk, "prefecture_uplink_overrides", "links.prefecture_uplink_overrides")
    for code in overrides:
        if code not in by_code:
            raise rd.error(
                "unknown prefecture code",
                overrides,
                code,
                f"links.prefecture_uplink_overrides.{code}",
                code,
            )
    roster_entries = load_roster(roster, prefectures=by_code) if roster is not None else None
    if roster is not None and roster_entries is not None:
        gaps = roster_gaps(roster_entries, by_code, source=Path(roster).name)
        if gaps is not None:
            if on_warning is None:
                warnings.warn(gaps, RosterWarning, stacklevel=2)
            else:
                on_warning(gaps)
    placement = rd.mapping(doc, "placement", "placement")
    spacing = rd.amount(placement, "spacing_km", "placement.spacing_km", maximum=1000.0)
    max_radius = rd.amount(placement, "max_radius_km", "placement.max_radius_km", maximum=1000.0)

    local_bodies: list[Site] = []
    for pref in prefectures:
        pn = add_site(
            Site(
                id=f"pn-{pref.code}",
                kind=SiteKind.PREFECTURE_NODE,
                prefecture=pref.code,
                region=pref.region,
                name=f"{pref.name_en} prefecture node",
                name_ja=f"{pref.name_ja}ノード",
                lat=pref.lat,
                lon=pref.lon,
            )
        )
        uplink = overrides.get(pref.code)
        for c in centrals:
            add_link(
                pn.id,
                c.id,
                LinkKind.BACKBONE,
                "prefecture_uplink_bps",
                capacity=None
                if uplink is None
                else rd.amount(
                    overrides,
                    pref.code,
                    f"links.prefecture_uplink_overrides.{pref.code}",
                    maximum=MAX_CAPACITY_BPS,
                ),
            )
        office = add_site(
            Site(
                id=f"pref-{pref.code}",
                kind=SiteKind.PREFECTURE,
                prefecture=pref.code,
                region=pref.region,
                name=f"{pref.name_en} Prefecture",
                name_ja=pref.name_ja,
                lat=pref.lat,
                lon=pref.lon,
            )
        )
        add_link(office.id, pn.id, LinkKind.ACCESS, "prefecture_access_bps")
        local_bodies.append(office)
        members: list[RosterEntry]
        if roster_entries is not None:
            members = [e for e in roster_entries if e.pref_code == pref.code]
        else:
            radius = min(max_radius, spacing * math.sqrt(pref.municipalities))
            members = []
            for k in range(pref.municipalities):
                lat, lon = _spiral(pref.lat, pref.lon, k, pref.municipalities, radius)
                members.append(
                    RosterEntry(
                        lgcode=f"{pref.code}-{k + 1:03d}",
                        pref_code=pref.code,
                        name=f"{pref.name_en} municipality {k + 1}",
                        name_ja="",
                        lat=lat,
                        lon=lon,
                    )
                )
        for m in members:
            site = add_site(
                Site(
                    id=f"mun-{m.lgcode}",
                    kind=SiteKind.MUNICIPALITY,
                    prefecture=pref.code,
                    region=pref.region,
                    name=m.name,
                    name_ja=m.name_ja,
                    lat=m.lat,
                    lon=m.lon,
                )
            )
            add_link(site.id, pn.id, LinkKind.ACCESS, "municipality_access_bps")
            local_bodies.append(site)

    for i, entry in enumerate(rd.seq(doc, "data_centres", "data_centres")):
        rd.only(entry, ("id", "name", "name_ja", "lat", "lon", "prefecture"), f"data_centres[{i}]")
        dc_pref = entry.get("prefecture")
        if not isinstance(dc_pref, str) or dc_pref not in by_code:
            raise rd.error(
                "unknown prefecture code",
                entry,
                "prefecture",
                f"data_centres[{i}].prefecture",
                dc_pref,
            )
        dc = add_site(
            node_site(entry, i, SiteKind.DATA_CENTRE, "data_centres", pref=by_code[dc_pref])
        )
        add_link(dc.id, f"pn-{dc_pref}", LinkKind.ACCESS, "data_centre_bps")
        add_link(dc.id, nearest_central(dc, centrals).id, LinkKind.BACKBONE, "data_centre_bps")

    if use_backup:
        cap = rd.amount(
            backup, "capacity_bps", "links.backup.capacity_bps", maximum=MAX_CAPACITY_BPS
        )
        penalty = rd.amount(
            backup, "metric_penalty_s", "links.backup.metric_penalty_s", maximum=MAX_METRIC
        )
        links.extend(
            backup_line(
                body,
                nearest_central(body, centrals),
                capacity_bps=cap,
                metric_penalty_s=penalty,
                equipment_delay_s=equip,
                basis="links.backup.capacity_bps",
            )
            for body in local_bodies
        )

    name = rd.text(doc, "name", "name")
    return Topology.build(name, sites, links, source=str(spec_path), equipment_delay_s=equip)


# -- explicit topology files (small studies) ----------------------------------------------
_SITE_KEYS = ("id", "kind", "name", "name_ja", "lat", "lon", "prefecture", "region", "campus")
_LINK_KEYS = ("a", "b", "kind", "capacity_bps", "delay_s", "metric", "basis")


def load_topology(path: str | Path) -> Topology:
    """Load an explicit topology file: ``name``, a list of ``sites`` and a list of ``links``.

    A link without ``delay_s`` gets the great-circle propagation delay between its ends.
    """
    path = Path(path)
    doc = load_yaml(path, error=TopologyError)
    rd = _Reader(path)
    if not isinstance(doc, LineDict):
        raise TopologyError("a topology file must be a mapping", file=path, line=1)
    rd.only(doc, ("name", "sites", "links"), "topology")
    return topology_from_mapping(doc, source=path)


def topology_from_mapping(doc: Mapping[str, Any], *, source: str | Path) -> Topology:
    """Build a topology from an already-loaded mapping (used for inline scenario topologies)."""
    rd = _Reader(Path(source))
    sites: list[Site] = []
    pos: dict[str, tuple[float, float]] = {}
    for i, entry in enumerate(rd.seq(doc, "sites", "sites")):
        f = f"sites[{i}]"
        if not isinstance(entry, dict):
            raise rd.error("must be a mapping", doc["sites"], i, f, entry)
        rd.only(entry, _SITE_KEYS, f)
        kind_text = rd.text(entry, "kind", f"{f}.kind")
        try:
            kind = SiteKind(kind_text)
        except ValueError:
            raise rd.error(
                f"unknown site kind; one of {', '.join(k.value for k in SiteKind)}",
                entry,
                "kind",
                f"{f}.kind",
                kind_text,
            ) from None
        lat = (
            rd.number(entry, "lat", f"{f}.lat", minimum=-90.0, maximum=90.0)
            if "lat" in entry
            else 35.0
        )
        lon = (
            rd.number(entry, "lon", f"{f}.lon", minimum=-180.0, maximum=180.0)
            if "lon" in entry
            else 135.0
        )
        if not (-90 <= lat <= 90):
            raise rd.error("lat must be in [-90, 90]", entry, "lat", f"{f}.lat", lat)
        if not (-180 <= lon <= 180):
            raise rd.error("lon must be in [-180, 180]", entry, "lon", f"{f}.lon", lon)
        region = entry.get("region")
        if region is not None and region not in REGIONS:
            raise rd.error(
                f"unknown region; one of {', '.join(REGIONS)}",
                entry,
                "region",
                f"{f}.region",
                region,
            )
        prefecture = entry.get("prefecture")
        if prefecture is not None and not (
            isinstance(prefecture, str) and len(prefecture) == 2 and "01" <= prefecture <= "47"
        ):
            raise rd.error(
                'must be a JIS prefecture code "01".."47" (quoted: YAML reads 03 as 3)',
                entry,
                "prefecture",
                f"{f}.prefecture",
                prefecture,
            )
        campus = entry.get("campus")
        if campus is not None and not (isinstance(campus, str) and campus):
            raise rd.error("must be a non-empty string", entry, "campus", f"{f}.campus", campus)
        site_id = rd.text(entry, "id", f"{f}.id")
        if site_id in pos:
            raise rd.error("duplicate site id", entry, "id", f"{f}.id", site_id)
        sites.append(
            Site(
                id=site_id,
                kind=kind,
                name=_free_text(rd, entry, "name", f"{f}.name", site_id),
                name_ja=_free_text(rd, entry, "name_ja", f"{f}.name_ja", ""),
                lat=lat,
                lon=lon,
                prefecture=prefecture,
                region=region,
                campus=campus,
            )
        )
        pos[site_id] = (lat, lon)
    links: list[Link] = []
    seen: set[frozenset[str]] = set()
    for i, entry in enumerate(rd.seq(doc, "links", "links")):
        f = f"links[{i}]"
        if not isinstance(entry, dict):
            raise rd.error("must be a mapping", doc["links"], i, f, entry)
        rd.only(entry, _LINK_KEYS, f)
        a, b = rd.text(entry, "a", f"{f}.a"), rd.text(entry, "b", f"{f}.b")
        for key, end in (("a", a), ("b", b)):
            if end not in pos:
                raise rd.error(
                    "link names a site that does not exist", entry, key, f"{f}.{key}", end
                )
        if a == b:
            raise rd.error("a link cannot join a site to itself", entry, "b", f"{f}.b", b)
        if frozenset((a, b)) in seen:
            raise rd.error("duplicate link between the same two sites", entry, "a", f, f"{a}~{b}")
        seen.add(frozenset((a, b)))
        kind_text = str(entry.get("kind", "backbone"))
        try:
            lkind = LinkKind(kind_text)
        except ValueError:
            raise rd.error(
                f"unknown link kind; one of {', '.join(k.value for k in LinkKind)}",
                entry,
                "kind",
                f"{f}.kind",
                kind_text,
            ) from None
        cap = rd.amount(entry, "capacity_bps", f"{f}.capacity_bps", maximum=MAX_CAPACITY_BPS)
        if "delay_s" in entry:
            delay = rd.amount(entry, "delay_s", f"{f}.delay_s", positive=False, maximum=MAX_DELAY_S)
        else:
            delay = propagation_delay_s(great_circle_km(*pos[a], *pos[b]))
        metric = (
            rd.amount(entry, "metric", f"{f}.metric", positive=False, maximum=MAX_METRIC)
            if "metric" in entry
            else None
        )
        links.append(
            Link(
                a=a,
                b=b,
                kind=lkind,
                capacity_bps=cap,
                delay_s=delay,
                metric=metric,
                basis=_free_text(rd, entry, "basis", f"{f}.basis", ""),
            )
        )
    name = _free_text(rd, doc, "name", "name", Path(source).stem)
    return Topology.build(name, sites, links, source=str(source))
