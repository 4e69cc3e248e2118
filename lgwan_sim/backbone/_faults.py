"""Faults on demand: named, idempotent, timed; network faults through the engine's ``apply``.

A fault is a JSON object (``docs/faults.md``)::

    {"kind": "link_down", "links": ["m1~core"], "duration_s": 30}
    {"kind": "error", "code": 503, "after_s": 0.2, "match": {"service": "directory", "first": 3}}

Network kinds become engine events, applied now with the fault's name as their hold, so
that a fault means in emulation exactly what the same event means in a scenario:
``link_down``, ``site_down``, ``region_down`` (prefectures), ``campus_down`` (the sites of a
campus), ``failover`` (a service to its secondary), ``capacity`` (links to
``capacity_bps``), ``link_loss`` (``loss``, or Gilbert-Elliott's ``p_good_to_bad``,
``p_bad_to_good``, ``loss_good``, ``loss_bad``), ``link_latency`` (``delay_s`` with
``jitter_s``), ``link_flap`` (``mtbf_s``, ``mttr_s``). Removing the fault, or its
``duration_s`` running out, applies the matching restoration.

Message kinds act on the messages that cross a real program, chosen by ``match``:
``drop`` (lost silently), ``error`` (lost, and a real client gets ERR ``code`` after
``after_s``), ``delay`` (``delay_s`` more), ``duplicate`` (delivered twice), ``corrupt``
(a flipped byte in the signature: the receiver refuses it), ``hold`` (kept, as by a hung
peer, until the fault goes; then delivered), ``disconnect`` (the broker's transport is
unbound for ``duration_s`` and bound again: every connection drops and reconnects).
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass, field
from typing import Any

from lgwan_sim.engine import EventKind, LossModel, TimelineEvent
from lgwan_sim.errors import InputError

__all__ = ["MESSAGE_KINDS", "NETWORK_KINDS", "Fault", "Match", "parse_fault"]

NETWORK_KINDS = frozenset(
    {
        "link_down",
        "site_down",
        "region_down",
        "campus_down",
        "failover",
        "capacity",
        "link_loss",
        "link_latency",
        "link_flap",
    }
)
_GE_KEYS = ("p_good_to_bad", "p_bad_to_good", "loss_good", "loss_bad")
MESSAGE_KINDS = frozenset({"drop", "error", "delay", "duplicate", "corrupt", "hold", "disconnect"})
_ERROR_CODES = (400, 403, 404, 502, 503, 504)
_COMMANDS = ("request", "reply")


def _bad(name: str, field_: str, message: str, value: object) -> InputError:
    return InputError(message, field=f"faults.{name}.{field_}", value=value)


def _number(name: str, spec: dict[str, Any], key: str, *, low: float = 0.0) -> float | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(name, key, "must be a finite number", value)
    if value < low:
        raise _bad(name, key, f"must be >= {low:g}", value)
    return float(value)


def _names(name: str, spec: dict[str, Any], key: str) -> tuple[str, ...]:
    value = spec.get(key, ())
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise _bad(name, key, "must be a list of ids", value)
    return tuple(value)


@dataclass(slots=True)
class Match:
    """Which messages a message fault takes (every field given must hold)."""

    service: str | None = None
    command: str | None = None
    src: str | None = None
    dst: str | None = None
    prefecture: str | None = None
    first: int | None = None
    every: int | None = None
    probability: float | None = None
    from_s: float | None = None
    until_s: float | None = None
    seen: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def takes(
        self,
        *,
        service: str,
        command: str,
        src: str,
        dst: str,
        prefecture: str | None,
        now_s: float,
    ) -> bool:
        if self.service is not None and service != self.service:
            return False
        if self.command is not None and command != self.command:
            return False
        if self.src is not None and src != self.src:
            return False
        if self.dst is not None and dst != self.dst:
            return False
        if self.prefecture is not None and prefecture != self.prefecture:
            return False
        if self.from_s is not None and now_s < self.from_s:
            return False
        if self.until_s is not None and now_s >= self.until_s:
            return False
        self.seen += 1  # counted among the matching messages, then thinned
        if self.first is not None and self.seen > self.first:
            return False
        if self.every is not None and self.seen % self.every != 0:
            return False
        return self.probability is None or self.rng.random() < self.probability


@dataclass(slots=True)
class Fault:
    """One named fault: its kind, parameters, window and how often it struck."""

    name: str
    kind: str
    spec: dict[str, Any]
    started_s: float
    expires_s: float | None
    match: Match | None = None
    hits: int = 0
    events: tuple[TimelineEvent, ...] = ()

    @property
    def network(self) -> bool:
        return self.kind in NETWORK_KINDS

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "spec": self.spec,
            "started_s": round(self.started_s, 6),
            "expires_s": None if self.expires_s is None else round(self.expires_s, 6),
            "hits": self.hits,
        }

    def restore(self, at_s: float) -> tuple[TimelineEvent, ...]:
        """The events that undo a network fault at ``at_s`` (the same hold, the up kind;
        a capacity change ends with no capacity)."""
        return tuple(
            dataclasses.replace(
                e,
                at_s=at_s,
                kind=_RESTORE[e.kind],
                capacity_bps=None,
                loss=None,
                delay_s=None,
                jitter_s=None,
                mtbf_s=None,
                mttr_s=None,
            )
            for e in self.events
        )


_RESTORE = {
    EventKind.LINK_DOWN: EventKind.LINK_UP,
    EventKind.SITE_DOWN: EventKind.SITE_UP,
    EventKind.REGION_DOWN: EventKind.REGION_UP,
    EventKind.FAILOVER: EventKind.FAILBACK,
    EventKind.CAPACITY: EventKind.CAPACITY,
    EventKind.LINK_LOSS: EventKind.LINK_LOSS,
    EventKind.LINK_LATENCY: EventKind.LINK_LATENCY,
    EventKind.LINK_FLAP: EventKind.LINK_FLAP,
}
"""The kind that undoes each: a change of capacity or an impairment ends with no value."""


def parse_fault(
    name: str,
    spec: object,
    *,
    now_s: float,
    campuses: dict[str, tuple[str, ...]],
    seed: int = 0,
) -> Fault:
    """Read one fault; raises :class:`InputError` naming ``faults.NAME.FIELD``."""
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
        raise InputError(
            "a fault's name is 1-64 letters, digits, '-', '_' or '.'", field="faults", value=name
        )
    if not isinstance(spec, dict):
        raise _bad(name, "", "a fault is a JSON object", spec)
    kind = spec.get("kind")
    if kind not in NETWORK_KINDS | MESSAGE_KINDS:
        known = ", ".join(sorted(NETWORK_KINDS | MESSAGE_KINDS))
        raise _bad(name, "kind", f"unknown kind (known: {known})", kind)
    allowed = {
        "kind", "duration_s", "links", "sites", "prefectures", "campus", "service",
        "capacity_bps", "code", "after_s", "delay_s", "match", "note",
        "loss", *_GE_KEYS, "jitter_s", "mtbf_s", "mttr_s",
    }  # fmt: skip
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise _bad(name, unknown[0], "unknown field", spec[unknown[0]])
    duration = _number(name, spec, "duration_s")
    if duration is not None and duration <= 0:
        raise _bad(name, "duration_s", "must be > 0", duration)
    hold = f"fault:{name}"
    events: list[TimelineEvent] = []
    try:
        if kind == "link_down":
            links = _names(name, spec, "links")
            events.append(
                TimelineEvent(at_s=now_s, kind=EventKind.LINK_DOWN, links=links, hold=hold)
            )
        elif kind == "site_down":
            sites = _names(name, spec, "sites")
            events.append(
                TimelineEvent(at_s=now_s, kind=EventKind.SITE_DOWN, sites=sites, hold=hold)
            )
        elif kind == "region_down":
            codes = _names(name, spec, "prefectures")
            events.append(
                TimelineEvent(at_s=now_s, kind=EventKind.REGION_DOWN, prefectures=codes, hold=hold)
            )
        elif kind == "campus_down":
            campus = spec.get("campus")
            if campus not in campuses:
                raise _bad(
                    name, "campus", f"unknown campus (known: {', '.join(sorted(campuses))})", campus
                )
            events.append(
                TimelineEvent(
                    at_s=now_s, kind=EventKind.SITE_DOWN, sites=campuses[campus], hold=hold
                )
            )
        elif kind == "failover":
            service = spec.get("service")
            if not isinstance(service, str) or not service:
                raise _bad(name, "service", "names the service to fail over", service)
            events.append(
                TimelineEvent(at_s=now_s, kind=EventKind.FAILOVER, service=service, hold=hold)
            )
        elif kind == "capacity":
            cap = _number(name, spec, "capacity_bps")
            if cap is None or cap <= 0:
                raise _bad(name, "capacity_bps", "must be > 0", spec.get("capacity_bps"))
            events.append(
                TimelineEvent(
                    at_s=now_s,
                    kind=EventKind.CAPACITY,
                    links=_names(name, spec, "links"),
                    capacity_bps=cap,
                    hold=hold,
                )
            )
        elif kind in ("link_loss", "link_latency", "link_flap"):
            events.append(_impairment(name, kind, spec, now_s, hold))
    except InputError as exc:
        if exc.field and exc.field.startswith("faults."):
            raise
        where = exc.field or "kind"
        if where.startswith("event at "):  # a TimelineEvent's own check: its field's name
            where = where.rpartition(".")[2]
        raise _bad(name, where, exc.reason, exc.value) from None
    match = None
    if kind in MESSAGE_KINDS and kind != "disconnect":
        match = _parse_match(name, spec.get("match", {}), now_s=now_s, seed=seed)
        if kind == "error":
            code = spec.get("code", 503)
            if code not in _ERROR_CODES:
                raise _bad(name, "code", f"one of {list(_ERROR_CODES)}", code)
            _number(name, spec, "after_s")
        if kind == "delay" and not _number(name, spec, "delay_s"):
            raise _bad(name, "delay_s", "a delay needs delay_s > 0", spec.get("delay_s"))
    if kind == "disconnect" and duration is None:
        raise _bad(
            name, "duration_s", "a disconnect needs duration_s (then the broker rebinds)", None
        )
    return Fault(
        name=name,
        kind=kind,
        spec=dict(spec),
        started_s=now_s,
        expires_s=None if duration is None else now_s + duration,
        match=match,
        events=tuple(events),
    )


def _impairment(
    name: str, kind: str, spec: dict[str, Any], now_s: float, hold: str
) -> TimelineEvent:
    """A ``link_loss``, ``link_latency`` or ``link_flap`` fault's engine event."""
    links = _names(name, spec, "links")
    if not links:
        raise _bad(name, "links", "names the links", spec.get("links"))
    if kind == "link_loss":
        given = [k for k in _GE_KEYS if k in spec]
        if ("loss" in spec) == bool(given):
            raise _bad(
                name,
                given[0] if given else "loss",
                "give either loss (random) or p_good_to_bad with p_bad_to_good",
                spec.get(given[0]) if given else None,
            )
        if "loss" in spec:
            model = LossModel.random(_number(name, spec, "loss") or 0.0)
        else:
            for key in ("p_good_to_bad", "p_bad_to_good"):
                if key not in spec:
                    raise _bad(name, key, "a Gilbert-Elliott loss needs it", None)
            values = {k: _number(name, spec, k) for k in given}
            model = LossModel(**{k: v for k, v in values.items() if v is not None})
        return TimelineEvent(
            at_s=now_s, kind=EventKind.LINK_LOSS, links=links, loss=model, hold=hold
        )
    if kind == "link_latency":
        delay = _number(name, spec, "delay_s")
        if delay is None:
            raise _bad(name, "delay_s", "a link latency needs delay_s >= 0", None)
        return TimelineEvent(
            at_s=now_s,
            kind=EventKind.LINK_LATENCY,
            links=links,
            delay_s=delay,
            jitter_s=_number(name, spec, "jitter_s") or 0.0,
            hold=hold,
        )
    means = {k: _number(name, spec, k) for k in ("mtbf_s", "mttr_s")}
    for key, mean in means.items():
        if not mean:
            raise _bad(name, key, "a flapping needs mtbf_s and mttr_s > 0", spec.get(key))
    return TimelineEvent(
        at_s=now_s,
        kind=EventKind.LINK_FLAP,
        links=links,
        mtbf_s=means["mtbf_s"],
        mttr_s=means["mttr_s"],
        hold=hold,
    )


def _parse_match(name: str, spec: object, *, now_s: float, seed: int) -> Match:
    if not isinstance(spec, dict):
        raise _bad(name, "match", "a JSON object", spec)
    allowed = {
        "service",
        "command",
        "src",
        "dst",
        "prefecture",
        "first",
        "every",
        "probability",
        "from_s",
        "until_s",
    }
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise _bad(name, f"match.{unknown[0]}", "unknown field", spec[unknown[0]])
    m = Match(rng=random.Random(f"{seed}:{name}"))
    for key in ("service", "src", "dst", "prefecture"):
        value = spec.get(key)
        if value is not None and not (isinstance(value, str) and value):
            raise _bad(name, f"match.{key}", "must be a text", value)
        setattr(m, key, value)
    command = spec.get("command")
    if command is not None and command not in _COMMANDS:
        raise _bad(name, "match.command", "request or reply", command)
    m.command = command
    for key in ("first", "every"):
        value = spec.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise _bad(name, f"match.{key}", "a whole number >= 1", value)
        setattr(m, key, value)
    p = spec.get("probability")
    if p is not None and (isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1):
        raise _bad(name, "match.probability", "between 0 and 1", p)
    m.probability = None if p is None else float(p)
    for key in ("from_s", "until_s"):  # seconds from now, simulated
        value = spec.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise _bad(name, f"match.{key}", "seconds from now, >= 0", value)
            setattr(m, key, now_s + float(value))
    return m
