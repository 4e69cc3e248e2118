"""Load and validate a scenario file into a frozen :class:`Scenario`.

Validation is strict and happens here, once: an unknown key, a wrong type, an unknown site
or link, a time outside the run or an impossible value raises one
:class:`~lgwan_sim.errors.ScenarioError` that names ``file:line``, the field path and the
value. Nothing downstream re-validates.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from lgwan_sim._fields import (
    MAX_GROWTH_PER_YEAR,
    MAX_MULTIPLIER,
    MAX_REQUESTS_PER_DAY,
    Fields,
)
from lgwan_sim._yaml import LineDict, LineList, load_yaml
from lgwan_sim.engine import EngineConfig
from lgwan_sim.errors import LgwanSimError, ScenarioError, TopologyError
from lgwan_sim.network import (
    MAX_CAPACITY_BPS,
    MAX_METRIC,
    LinkKind,
    SiteKind,
    Topology,
    backup_line,
    build_national,
    load_topology,
    nearest_central,
    topology_from_mapping,
)
from lgwan_sim.scenario._broadcast import (
    BROADCAST_SERVICE,
    broadcast_needed,
    check_broadcast_sizes,
)
from lgwan_sim.scenario._events import EVENT_KINDS, EventReader
from lgwan_sim.scenario._model import (
    Edit,
    EditKind,
    EventType,
    FailoverSettings,
    Fidelity,
    Scenario,
    ScenarioEvent,
    ServiceChoice,
)
from lgwan_sim.traffic import Catalogue, load_catalogue

__all__ = ["apply_overrides", "load_scenario", "parse_override_value"]

log = logging.getLogger(__name__)

_TOP_KEYS = (
    "name",
    "description",
    "topology",
    "roster",
    "edits",
    "catalogue",
    "only_services",
    "services",
    "demand",
    "start",
    "duration",
    "fidelity",
    "seed",
    "engine",
    "failover",
    "events",
)
_REQUIRED_TOP = ("topology", "start", "duration", "seed")
#: Engine settings of ``engine:`` that are plain numbers: (minimum, maximum), both included.
_ENGINE_NUMBERS: Mapping[str, tuple[float, float]] = {
    "buffer_bytes": (0.0, 1.0e10),
    "mss_bytes": (1.0, 65_535.0),
    "header_bytes": (0.0, 1_500.0),
    "window_bytes": (1.0, 2.0**30),
    "max_flow_rate_bps": (1.0e3, 1.0e13),
}
_MAX_INITIAL_WINDOW = 1_000
#: Every key of ``engine:``.
_ENGINE_KEYS = (
    "bin_s",
    "convergence_delay_s",
    *_ENGINE_NUMBERS,
    "initial_window_segments",
    "failed_flows",
    "drain",
)
#: Longest run a scenario may ask for.
MAX_DURATION_S = 400 * 86400.0
_PREF_CODES = tuple(f"{i:02d}" for i in range(1, 48))
#: The years a run may cover: a margin inside what ``datetime`` holds, for time zones.
_FIRST_YEAR, _LAST_YEAR = 2, 9998


def _within_calendar(start: datetime, duration_s: float) -> bool:
    if start.year < _FIRST_YEAR:
        return False
    try:
        return (start + timedelta(seconds=duration_s)).year <= _LAST_YEAR
    except OverflowError:
        return False


def load_scenario(
    path: str | Path,
    *,
    overrides: Mapping[str, object] | None = None,
    fidelity: str | None = None,
    seed: int | None = None,
) -> Scenario:
    """Load, validate and resolve a scenario file.

    Parameters
    ----------
    path:
        The scenario YAML file.
    overrides:
        Dotted paths into the document and their new values (``{"services.eltax.multiplier":
        2.0}``), applied before validation; sweeps use them.
    fidelity, seed:
        Command-line overrides of the file's ``fidelity`` and ``seed``.

    Raises
    ------
    ScenarioError
        With ``file:line``, the field path and the value, for any problem in the file.
    """
    path = Path(path)
    doc = load_yaml(path, error=ScenarioError)
    if not isinstance(doc, LineDict):
        raise ScenarioError(
            "a scenario file must be a mapping of keys",
            file=path,
            line=getattr(doc, "start_line", None) or 1,
        )
    if overrides:
        apply_overrides(doc, overrides, file=path)
    if fidelity is not None:
        doc["fidelity"] = fidelity
    if seed is not None:
        doc["seed"] = seed
    return _Loader(path).scenario(doc)


def parse_override_value(text: str) -> object:
    """A ``--set`` value: an integer, a number, ``true``/``false`` or else YAML/a string."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _as_loaded(value: object, line: int) -> object:
    """A ``--set`` value shaped as YAML from a file: lists and mappings that know a line."""
    if isinstance(value, dict):
        mapping = LineDict()
        mapping.start_line = line
        for key, item in value.items():
            mapping[str(key)] = _as_loaded(item, line)
            mapping._lines[str(key)] = line
        return mapping
    if isinstance(value, list):
        items = LineList()
        items.start_line = line
        for item in value:
            items.append(_as_loaded(item, line))
            items._lines.append(line)
        return items
    return value


def apply_overrides(doc: LineDict, overrides: Mapping[str, object], *, file: Path) -> None:
    """Set each dotted ``path`` (``a.b[2].c``) in ``doc``; intermediate keys must exist.

    A path that does not exist is an error of that path (its field), like a bad value there.
    """
    for dotted, given in overrides.items():
        value = _as_loaded(given, 0)
        parts = _split_path(dotted)
        if not parts:
            raise ScenarioError("empty override path", file=file, field="overrides", value=dotted)
        node: Any = doc
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(part, int):
                if not isinstance(node, list) or not 0 <= part < len(node):
                    where = _join_path(parts[:i]) or "the scenario"
                    raise ScenarioError(
                        "override path does not exist in the scenario"
                        + (
                            f" ({where} has {len(node)} {'entry' if len(node) == 1 else 'entries'}, "
                            "numbered from 0)"
                            if isinstance(node, list)
                            else f" ({where} is not a list)"
                        ),
                        file=file,
                        field=dotted,
                        value=given,
                    )
                if last:
                    node[part] = value
                else:
                    node = node[part]
                continue
            if not isinstance(node, dict):
                raise ScenarioError(
                    "override path does not exist in the scenario",
                    file=file,
                    field=dotted,
                    value=given,
                )
            if last:
                node[part] = value
            else:
                if part not in node:
                    child = LineDict()
                    child.start_line = node.line_of(part) if isinstance(node, LineDict) else 0
                    node[part] = child
                node = node[part]


def _join_path(parts: list[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _split_path(dotted: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in dotted.split("."):
        name, _, rest = piece.partition("[")
        if name:
            parts.append(name)
        while rest:
            index, _, rest = rest.partition("]")
            if not index.isdigit():
                return []
            parts.append(int(index))
            rest = rest.removeprefix("[")
    return parts


class _Loader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.f = Fields(path)

    def _file(self, doc: LineDict, key: str, path: str) -> Path:
        text = self.f.text(doc, key, path)
        target = Path(text)
        if not target.is_absolute():
            target = self.path.parent / target
        if not target.exists():
            raise self.f.error("file or folder not found", doc, key, path, text)
        return target

    # -- the whole file -------------------------------------------------------------------
    def scenario(self, doc: LineDict) -> Scenario:
        f = self.f
        f.only(doc, _TOP_KEYS, "")
        for key in _REQUIRED_TOP:
            f.require(doc, key, "")
        name = f.text(doc, "name", "name") if "name" in doc else self.path.stem
        description = (
            " ".join(f.text(doc, "description", "description").split())
            if "description" in doc
            else ""
        )
        start = f.moment(doc, "start", "start")
        duration_s = f.duration_s(doc, "duration", "duration")
        if duration_s > MAX_DURATION_S:
            raise f.error("must be at most 400d", doc, "duration", "duration", doc["duration"])
        if not _within_calendar(start, duration_s):
            raise f.error(
                f"the run must lie between the years {_FIRST_YEAR} and {_LAST_YEAR}",
                doc,
                "start",
                "start",
                doc["start"],
            )
        seed = f.integer(doc, "seed", "seed", minimum=0)
        fidelity = Fidelity.ANALYTIC
        if "fidelity" in doc:
            fidelity = Fidelity(f.choice(doc, "fidelity", "fidelity", [v.value for v in Fidelity]))
        topology, ref = self.topology(doc)
        edits: list[Edit] = []
        if "edits" in doc:
            items = f.seq(doc, "edits", "edits")
            for i in range(len(items)):
                edit = self.edit(items, i, topology)
                topology = self.apply_edit(topology, edit, items, i)
                edits.append(edit)
        catalogue = (
            load_catalogue(self._file(doc, "catalogue", "catalogue"))
            if "catalogue" in doc
            else load_catalogue()
        )
        multiplier, growth_years = self.demand(doc)
        services = self.services(doc, catalogue, topology)
        self.check_volumes(doc, services, multiplier, growth_years)
        bin_s, convergence, engine_options = self.engine(doc, duration_s)
        failover = (
            self.failover_settings(f.mapping(doc, "failover", "failover"), "failover")
            if "failover" in doc
            else FailoverSettings()
        )
        events: list[ScenarioEvent] = []
        if "events" in doc:
            items = f.seq(doc, "events", "events")
            for i in range(len(items)):
                events.append(
                    self.event(items, i, topology, services, start=start, duration_s=duration_s)
                )
                if fidelity is Fidelity.ANALYTIC and events[-1].kind in _PER_PACKET:
                    raise f.error(
                        "the analytic fidelity models no per-packet loss or latency: "
                        "use fidelity flow or packet",
                        items[i],
                        "kind",
                        f"events[{i}].kind",
                        events[-1].kind.value,
                    )
            check_broadcast_sizes(f, items, events)
        return Scenario(
            name=name,
            description=description,
            file=str(self.path),
            topology=topology,
            topology_ref=ref,
            edits=tuple(edits),
            services=services,
            start=start,
            duration_s=duration_s,
            fidelity=fidelity,
            seed=seed,
            demand_multiplier=multiplier,
            growth_years=growth_years,
            events=tuple(events),
            bin_s=bin_s,
            convergence_delay_s=convergence,
            engine_options=engine_options,
            failover=failover,
        )

    # -- topology -------------------------------------------------------------------------
    def topology(self, doc: LineDict) -> tuple[Topology, str]:
        f = self.f
        value = doc["topology"]
        roster = self._file(doc, "roster", "roster") if "roster" in doc else None
        if value == "national":
            return self._wrap(lambda: build_national(roster=roster), doc, "topology"), "national"
        m = f.mapping(doc, "topology", "topology")
        f.only(m, ("national", "file", "inline"), "topology")
        given = [k for k in ("national", "file", "inline") if k in m]
        if len(given) != 1:
            raise f.error(
                'needs exactly one of "national", "file" or "inline"',
                doc,
                "topology",
                "topology",
                given or None,
            )
        if roster is not None and given[0] != "national":
            raise f.error(
                "a roster applies only to the national topology",
                doc,
                "roster",
                "roster",
                doc["roster"],
            )
        kind = given[0]
        if kind == "national":
            backup = False
            if m["national"] is not None:
                nm = f.mapping(m, "national", "topology.national")
                f.only(nm, ("backup_lines",), "topology.national")
                if "backup_lines" in nm:
                    backup = f.boolean(nm, "backup_lines", "topology.national.backup_lines")
            return (
                self._wrap(
                    lambda: build_national(roster=roster, backup_lines=backup), m, "national"
                ),
                "national" + (" +backup" if backup else ""),
            )
        if kind == "file":
            target = self._file(m, "file", "topology.file")
            return self._wrap(lambda: load_topology(target), m, "file"), f"file:{m['file']}"
        inline = f.mapping(m, "inline", "topology.inline")
        f.only(inline, ("name", "sites", "links"), "topology.inline")
        for key in ("sites", "links"):
            f.require(inline, key, "topology.inline")
        return self._wrap(
            lambda: topology_from_mapping(inline, source=self.path), m, "inline"
        ), "inline"

    def _wrap(self, build: Any, container: LineDict, key: str) -> Topology:
        try:
            topo: Topology = build()
        except TopologyError as exc:
            # Name the topology's own file and line when it has one, else the scenario's key.
            inline = exc.file == str(self.path)
            field = exc.field
            if field and (inline or not exc.file):
                field = f"topology.{key}.{field}"
            raise ScenarioError(
                exc.reason,
                file=exc.file or self.path,
                line=exc.line if exc.file and exc.line else container.line_of(key),
                field=field,
                value=exc.value,
            ) from None
        return topo

    def link_ids(self, parent: Any, key: str, path: str, topology: Topology) -> tuple[str, ...]:
        ids = self.f.text_list(parent, key, path)
        out = []
        for i, link_id in enumerate(ids):
            try:
                out.append(topology.link(link_id).id)
            except TopologyError as exc:
                near = exc.reason.removeprefix("unknown link").strip(" ()")
                raise self.f.error(
                    f"unknown link ({near or _LINK_FORM})",
                    parent[key],
                    i,
                    f"{path}[{i}]",
                    link_id,
                ) from None
        return tuple(out)

    def site_ids(self, parent: Any, key: str, path: str, topology: Topology) -> tuple[str, ...]:
        ids = self.f.text_list(parent, key, path)
        for i, site_id in enumerate(ids):
            if site_id not in topology:
                raise self.f.error(
                    _unknown("site", site_id, topology.sites),
                    parent[key],
                    i,
                    f"{path}[{i}]",
                    site_id,
                )
        return ids

    def site_id(self, parent: Any, key: str, path: str, topology: Topology) -> str:
        site_id = self.f.text(parent, key, path)
        if site_id not in topology:
            raise self.f.error(
                _unknown("site", site_id, topology.sites), parent, key, path, site_id
            )
        return site_id

    def prefectures(self, parent: Any, key: str, path: str) -> tuple[str, ...]:
        codes = self.f.text_list(parent, key, path)
        for i, code in enumerate(codes):
            if code not in _PREF_CODES:
                raise self.f.error(
                    'unknown prefecture code (two digits "01".."47", e.g. "03" for Iwate)',
                    parent[key],
                    i,
                    f"{path}[{i}]",
                    code,
                )
        return codes

    # -- edits ----------------------------------------------------------------------------
    def edit(self, items: LineList, i: int, topology: Topology) -> Edit:
        f = self.f
        path = f"edits[{i}]"
        m = f.mapping(items, i, path)
        f.require(m, "kind", path)
        kind = EditKind(f.choice(m, "kind", f"{path}.kind", [k.value for k in EditKind]))
        line = items.line_of(i)
        if kind is EditKind.CAPACITY:
            f.only(m, ("kind", "links", "link_kind", "capacity_bps", "scale"), path)
            if ("links" in m) == ("link_kind" in m):
                raise f.error("needs exactly one of 'links' or 'link_kind'", m, None, path, None)
            if "links" in m:
                links = self.link_ids(m, "links", f"{path}.links", topology)
            else:
                lk = LinkKind(
                    f.choice(m, "link_kind", f"{path}.link_kind", [k.value for k in LinkKind])
                )
                links = tuple(link.id for link in topology.links_of_kind(lk))
                if not links:
                    raise f.error(
                        "the topology has no links of this kind",
                        m,
                        "link_kind",
                        f"{path}.link_kind",
                        lk.value,
                    )
            capacity, scale = self.capacity_or_scale(m, path)
            return Edit(kind=kind, links=links, capacity_bps=capacity, scale=scale, line=line)
        f.only(m, ("kind", "sites", "site_kinds", "capacity_bps", "to", "metric_penalty_s"), path)
        if ("sites" in m) == ("site_kinds" in m):
            raise f.error("needs exactly one of 'sites' or 'site_kinds'", m, None, path, None)
        if "sites" in m:
            sites = self.site_ids(m, "sites", f"{path}.sites", topology)
        else:
            names = f.text_list(m, "site_kinds", f"{path}.site_kinds")
            allowed = [k.value for k in SiteKind]
            for j, n in enumerate(names):
                if n not in allowed:
                    raise f.error(
                        f"unknown site kind; one of {', '.join(allowed)}",
                        m["site_kinds"],
                        j,
                        f"{path}.site_kinds[{j}]",
                        n,
                    )
            sites = tuple(s.id for s in topology.sites_of_kind(*(SiteKind(n) for n in names)))
        f.require(m, "capacity_bps", path)
        capacity = f.number(
            m,
            "capacity_bps",
            f"{path}.capacity_bps",
            minimum=0.0,
            exclusive_minimum=True,
            maximum=MAX_CAPACITY_BPS,
        )
        to = self.site_id(m, "to", f"{path}.to", topology) if "to" in m else None
        if to is None and not topology.sites_of_kind(SiteKind.CENTRAL):
            raise f.error(
                "the topology has no central site; say where backup lines go with 'to'",
                m,
                None,
                path,
                None,
            )
        penalty = (
            f.number(
                m, "metric_penalty_s", f"{path}.metric_penalty_s", minimum=0.0, maximum=MAX_METRIC
            )
            if "metric_penalty_s" in m
            else 1.0
        )
        return Edit(
            kind=kind,
            sites=sites,
            capacity_bps=capacity,
            to=to,
            metric_penalty_s=penalty,
            line=line,
        )

    def capacity_or_scale(self, m: LineDict, path: str) -> tuple[float | None, float | None]:
        f = self.f
        if ("capacity_bps" in m) == ("scale" in m):
            raise f.error("needs exactly one of 'capacity_bps' or 'scale'", m, None, path, None)
        if "capacity_bps" in m:
            return (
                f.number(
                    m,
                    "capacity_bps",
                    f"{path}.capacity_bps",
                    minimum=0.0,
                    exclusive_minimum=True,
                    maximum=MAX_CAPACITY_BPS,
                ),
                None,
            )
        return None, f.number(
            m, "scale", f"{path}.scale", minimum=0.0, exclusive_minimum=True, maximum=MAX_MULTIPLIER
        )

    def apply_edit(self, topology: Topology, edit: Edit, items: LineList, i: int) -> Topology:
        links = dict(topology.links)
        if edit.kind is EditKind.CAPACITY:
            for link_id in edit.links:
                link = links[link_id]
                cap = edit.capacity_bps if edit.capacity_bps is not None else None
                if cap is None:
                    assert edit.scale is not None
                    cap = link.capacity_bps * edit.scale
                links[link_id] = dataclasses.replace(link, capacity_bps=cap)
        else:
            centrals = topology.sites_of_kind(SiteKind.CENTRAL)
            assert edit.capacity_bps is not None
            for site_id in edit.sites:
                site = topology.site(site_id)
                far = (
                    topology.site(edit.to)
                    if edit.to is not None
                    else nearest_central(site, centrals)
                )
                if far.id == site.id or topology.has_link_between(site.id, far.id):
                    raise self.f.error(
                        f"site already has a line to {far.id!r}",
                        items,
                        i,
                        f"edits[{i}].sites",
                        site.id,
                    )
                link = backup_line(
                    site,
                    far,
                    capacity_bps=edit.capacity_bps,
                    metric_penalty_s=edit.metric_penalty_s,
                    equipment_delay_s=topology.equipment_delay_s,
                    basis="scenario edit: backup line",
                )
                links[link.id] = link
        try:
            return Topology.build(
                topology.name,
                topology.sites.values(),
                links.values(),
                source=topology.source,
                equipment_delay_s=topology.equipment_delay_s,
            )
        except LgwanSimError as exc:
            raise self.f.error(str(exc), items, i, f"edits[{i}]", None) from None

    # -- demand and services --------------------------------------------------------------
    def demand(self, doc: LineDict) -> tuple[float, float]:
        f = self.f
        if "demand" not in doc:
            return 1.0, 0.0
        m = f.mapping(doc, "demand", "demand")
        f.only(m, ("multiplier", "growth_years"), "demand")
        multiplier = (
            f.number(m, "multiplier", "demand.multiplier", minimum=0.0, maximum=MAX_MULTIPLIER)
            if "multiplier" in m
            else 1.0
        )
        years = (
            f.number(m, "growth_years", "demand.growth_years", minimum=0.0, maximum=50.0)
            if "growth_years" in m
            else 0.0
        )
        return multiplier, years

    def services(
        self, doc: LineDict, catalogue: Catalogue, topology: Topology
    ) -> tuple[ServiceChoice, ...]:
        """The services that run: the catalogue's, or those of ``only_services``.

        ``services:`` changes the services it lists and chooses none: a service it does not
        list runs with its catalogue values.
        """
        f = self.f
        only = "only_services" in doc
        # the whole catalogue is every service but the opt-in ones (named, or needed by an event)
        run = [n for n in catalogue.names() if not catalogue[n].opt_in]
        if only:
            names = f.text_list(doc, "only_services", "only_services")
            items = doc["only_services"]
            run = []
            for i, name in enumerate(names):
                if name not in catalogue:
                    raise f.error(
                        f"{_unknown('service', name, catalogue.names())}; "
                        f"the catalogue has {', '.join(catalogue.names())}",
                        items,
                        i,
                        f"only_services[{i}]",
                        name,
                    )
                if name in run:
                    raise f.error("named twice", items, i, f"only_services[{i}]", name)
                run.append(name)
        changes: dict[str, LineDict | None] = {}
        container: LineDict = doc
        if "services" in doc:
            container = f.mapping(doc, "services", "services")
            for name in container:
                if name not in catalogue:
                    raise f.error(
                        f"{_unknown('service', name, catalogue.names())}; "
                        f"the catalogue has {', '.join(catalogue.names())}",
                        container,
                        name,
                        f"services.{name}",
                        name,
                    )
                if name not in run and not only and catalogue[name].opt_in:
                    run.append(name)  # an opt-in service runs where a scenario names it
                if name not in run:
                    raise f.error(
                        "this service is not in only_services, so it does not run; add it "
                        "there or remove it here",
                        container,
                        name,
                        f"services.{name}",
                        name,
                    )
                value = container[name]
                changes[name] = (
                    None if value is None else f.mapping(container, name, f"services.{name}")
                )
        if (
            broadcast_needed(doc)
            and BROADCAST_SERVICE in catalogue
            and BROADCAST_SERVICE not in run
        ):
            run.append(BROADCAST_SERVICE)
        out = []
        for name in sorted(run):
            out.append(self.service(name, changes.get(name), container, catalogue, topology))
        return tuple(out)

    def check_volumes(
        self,
        doc: LineDict,
        services: tuple[ServiceChoice, ...],
        demand_multiplier: float,
        growth_years: float,
    ) -> None:
        """Each service's requests per calling site and day, all factors applied, in range."""
        for s in services:
            volume = (
                s.requests_per_day
                * s.multiplier
                * (1.0 + s.growth_per_year) ** growth_years
                * demand_multiplier
            )
            if volume <= MAX_REQUESTS_PER_DAY:
                continue
            listed = isinstance(doc.get("services"), LineDict) and s.name in doc["services"]
            container, key = (doc["services"], s.name) if listed else (doc, "demand")
            raise self.f.error(
                "requests_per_day x multiplier x (1 + growth_per_year) ^ growth_years x "
                f"demand.multiplier must be at most {MAX_REQUESTS_PER_DAY:g} requests per "
                "calling site and day",
                container,
                key,
                f"services.{s.name}" if listed else "demand",
                float(f"{volume:.3g}"),
            )

    def service(
        self,
        name: str,
        m: LineDict | None,
        container: LineDict,
        catalogue: Catalogue,
        topology: Topology,
    ) -> ServiceChoice:
        f = self.f
        spec = catalogue[name]
        path = f"services.{name}"
        opts = m if m is not None else LineDict()
        f.only(
            opts,
            (
                "multiplier",
                "growth_per_year",
                "requests_per_day",
                "primary",
                "secondary",
                "callers",
            ),
            path,
        )
        where = opts if m is not None else container
        requests_per_day = (
            f.number(
                opts,
                "requests_per_day",
                f"{path}.requests_per_day",
                minimum=0.0,
                maximum=MAX_REQUESTS_PER_DAY,
            )
            if "requests_per_day" in opts
            else spec.requests_per_day.value
        )
        multiplier = (
            f.number(opts, "multiplier", f"{path}.multiplier", minimum=0.0, maximum=MAX_MULTIPLIER)
            if "multiplier" in opts
            else 1.0
        )
        growth = (
            f.number(
                opts,
                "growth_per_year",
                f"{path}.growth_per_year",
                minimum=-0.99,
                maximum=MAX_GROWTH_PER_YEAR,
            )
            if "growth_per_year" in opts
            else spec.growth_per_year.value
        )

        def host(key: str, default: str | None) -> str | None:
            if key in opts:
                if opts[key] is None:
                    return None
                return self.site_id(opts, key, f"{path}.{key}", topology)
            if default is not None and default not in topology:
                raise f.error(
                    f"the catalogue's {key} host {default!r} is not in this topology; "
                    f"set {path}.{key}, or leave {name} out of the run with only_services",
                    where,
                    name if m is None else None,
                    path,
                    default,
                )
            return default

        primary = host("primary", spec.host.primary)
        if primary is None:
            raise f.error(
                "a service needs a primary host", opts, "primary", f"{path}.primary", None
            )
        secondary = host("secondary", spec.host.secondary)
        if secondary == primary:
            raise f.error(
                "must differ from the primary host",
                opts,
                "secondary",
                f"{path}.secondary",
                secondary,
            )
        if "callers" in opts:
            callers = tuple(sorted(self.site_ids(opts, "callers", f"{path}.callers", topology)))
        else:
            for site_id in spec.callers.sites:
                if site_id not in topology:
                    raise f.error(
                        f"the catalogue's caller {site_id!r} is not in this topology; "
                        f"set {path}.callers, or leave {name} out of the run with only_services",
                        where,
                        name if m is None else None,
                        path,
                        site_id,
                    )
            callers = spec.callers.resolve(topology, name)
        callers = tuple(c for c in callers if c not in (primary, secondary))
        if not callers:
            raise f.error(
                "no calling sites in this topology (the catalogue's callers are "
                f"{', '.join(k.value for k in spec.callers.kinds) or 'a fixed list'}); "
                f"set {path}.callers, or leave {name} out of the run with only_services",
                where,
                name if m is None else None,
                path,
                None,
            )
        return ServiceChoice(
            spec=spec,
            primary=primary,
            secondary=secondary,
            callers=callers,
            requests_per_day=requests_per_day,
            multiplier=multiplier,
            growth_per_year=growth,
        )

    def engine(
        self, doc: LineDict, duration_s: float
    ) -> tuple[float, float | None, dict[str, float | int | str | bool]]:
        f = self.f
        if "engine" not in doc:
            return min(60.0, duration_s), None, {}
        m = f.mapping(doc, "engine", "engine")
        f.only(m, _ENGINE_KEYS, "engine")
        bin_s = (
            f.number(m, "bin_s", "engine.bin_s", minimum=1.0, maximum=duration_s)
            if "bin_s" in m
            else min(60.0, duration_s)
        )
        if "bin_s" in m and (duration_s / bin_s) > 100_000:
            raise f.error(
                "too many time bins (more than 100000) for this duration",
                m,
                "bin_s",
                "engine.bin_s",
                m["bin_s"],
            )
        convergence = (
            f.number(
                m, "convergence_delay_s", "engine.convergence_delay_s", minimum=0.0, maximum=3600.0
            )
            if "convergence_delay_s" in m
            else None
        )
        numbers = {
            key: f.number(m, key, f"engine.{key}", minimum=low, maximum=high)
            for key, (low, high) in _ENGINE_NUMBERS.items()
            if key in m
        }
        if "window_bytes" in m and numbers["window_bytes"] < numbers.get(
            "mss_bytes", EngineConfig().mss_bytes
        ):
            raise f.error(
                "must hold at least one segment (mss_bytes, default 1460)",
                m,
                "window_bytes",
                "engine.window_bytes",
                m["window_bytes"],
            )
        options: dict[str, float | int | str | bool] = dict(numbers)
        if "initial_window_segments" in m:
            segments = f.integer(
                m, "initial_window_segments", "engine.initial_window_segments", minimum=1
            )
            if segments > _MAX_INITIAL_WINDOW:
                raise f.error(
                    f"must be <= {_MAX_INITIAL_WINDOW}",
                    m,
                    "initial_window_segments",
                    "engine.initial_window_segments",
                    segments,
                )
            options["initial_window_segments"] = segments
        if "failed_flows" in m:
            options["failed_flows"] = f.choice(
                m, "failed_flows", "engine.failed_flows", ("lose", "reroute")
            )
        if "drain" in m:
            options["drain"] = f.boolean(m, "drain", "engine.drain")
        return bin_s, convergence, options

    # -- events ---------------------------------------------------------------------------
    def time(
        self,
        m: LineDict,
        key: str,
        path: str,
        *,
        start: datetime,
        duration_s: float,
        after: float,
        after_what: str = "the event's start",
    ) -> float:
        at = self.f.offset_s(m, key, path, start=start)
        if not 0.0 <= at < duration_s:
            raise self.f.error(
                f"outside the run ({start.isoformat()} for {duration_s / 3600:g}h)",
                m,
                key,
                path,
                m[key],
            )
        if at <= after:
            raise self.f.error(f"must be after {after_what}", m, key, path, m[key])
        return at

    def event(
        self,
        items: LineList,
        i: int,
        topology: Topology,
        services: tuple[ServiceChoice, ...],
        *,
        start: datetime,
        duration_s: float,
    ) -> ScenarioEvent:
        """``events[i]``: its kind's class (``EVENT_KINDS``) reads the rest of it."""
        f = self.f
        path = f"events[{i}]"
        m = f.mapping(items, i, path)
        f.require(m, "kind", path)
        kind = EventType(f.choice(m, "kind", f"{path}.kind", [k.value for k in EventType]))
        event_class = EVENT_KINDS[kind]
        f.only(m, ("kind", "at", "note", *event_class.keys), path)
        f.require(m, "at", path)
        at = self.time(m, "at", f"{path}.at", start=start, duration_s=duration_s, after=-1.0)
        note = f.text(m, "note", f"{path}.note") if "note" in m else ""
        common: dict[str, Any] = {"at_s": at, "note": note, "line": items.line_of(i)}
        reader = EventReader(self, topology, services, start, duration_s)
        return event_class.read(reader, m, path, common)

    # -- failover -------------------------------------------------------------------------
    def failover_settings(self, m: LineDict, path: str) -> FailoverSettings:
        f = self.f
        if path == "failover":
            f.only(m, ("detection_s", "switchover_s", "failback"), path)
        values: dict[str, float | None] = {}
        for key in ("detection_s", "switchover_s"):
            values[key] = (
                f.number(m, key, f"{path}.{key}", minimum=0.0, maximum=86400.0)
                if key in m
                else None
            )
        failback = f.boolean(m, "failback", f"{path}.failback") if "failback" in m else None
        return FailoverSettings(
            detection_s=values["detection_s"],
            switchover_s=values["switchover_s"],
            failback=failback,
        )


#: Event kinds that act on each packet, which the analytic fidelity does not carry.
_PER_PACKET = (EventType.LINK_LOSS, EventType.LINK_LATENCY)

#: How a link is written, told with an unknown link that has no close match.
_LINK_FORM = 'write "a~b" with two site ids joined by a link'


def _unknown(what: str, name: str, choices: Iterable[str]) -> str:
    """``unknown site`` or ``unknown site (did you mean 'pn-03'?)``."""
    from lgwan_sim._suggest import did_you_mean

    near = did_you_mean(name, choices)
    return f"unknown {what} ({near})" if near else f"unknown {what}"
