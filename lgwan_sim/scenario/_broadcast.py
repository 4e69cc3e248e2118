"""The CEPTOAR alert broadcast (自治体CEPTOAR): one alert mailed to every local body at once.

A ``ceptoar_alert`` event at time ``t`` becomes, for the catalogue service ``ceptoar-alert``,
one exchange per calling local body at ``t`` (a trace, so profile and multipliers do not
apply). The service's host is the gateway to the national government network, through which
the national security centre's alert enters LGWAN; every local body is a caller.

Mail travels from the sending server to the receiving one, while the engine's exchanges run
from a caller to its host and back. The exchange is modelled as the SMTP session it is: the
receiving body's server answers the connection with its small greeting (the request, body to
gateway), and the alert comes back as the response (gateway to body), so the alert's bytes
cross every line in the direction they really do and an exchange is delivered when the
alert has reached the body.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lgwan_sim._fields import Fields
from lgwan_sim._yaml import LineDict
from lgwan_sim.scenario._events import BROADCAST_SERVICE, CeptoarAlert, EventType, ScenarioEvent
from lgwan_sim.scenario._model import ServiceChoice

__all__ = ["BROADCAST_SERVICE", "broadcast_needed", "broadcast_trace", "check_broadcast_sizes"]


def broadcast_needed(doc: LineDict) -> bool:
    """Whether the file's events hold a ``ceptoar_alert`` (validated later, event by event)."""
    events = doc.get("events")
    if not isinstance(events, list):
        return False
    return any(isinstance(e, dict) and e.get("kind") == EventType.CEPTOAR_ALERT for e in events)


def broadcast_trace(
    events: Sequence[ScenarioEvent], choice: ServiceChoice
) -> tuple[tuple[float, ...], float]:
    """The trace (one arrival per caller at every alert) and the alert size in bytes.

    The engine hands the i-th arrival of a trace to ``callers[i % len(callers)]``, so each
    alert's block of ``len(callers)`` arrivals reaches every caller once. Every alert of a
    run has one size: the events' ``size_bytes`` (they must agree) or the catalogue's.
    """
    alerts = [e for e in events if isinstance(e, CeptoarAlert)]
    n = len(choice.callers)
    trace = tuple(t for e in sorted(alerts, key=lambda e: e.at_s) for t in [e.at_s] * n)
    sizes = {e.size_bytes for e in alerts if e.size_bytes is not None}
    size = sizes.pop() if sizes else choice.spec.response_size.dist.mean_bytes
    return trace, size


def check_broadcast_sizes(f: Fields, items: Any, events: Sequence[ScenarioEvent]) -> None:
    """Every ``ceptoar_alert`` of one scenario gives the same ``size_bytes`` (or none)."""
    first: float | None = None
    for i, ev in enumerate(events):
        if not isinstance(ev, CeptoarAlert) or ev.size_bytes is None:
            continue
        if first is None:
            first = ev.size_bytes
        elif ev.size_bytes != first:
            raise f.error(
                f"every ceptoar_alert of a scenario has one size; an earlier one gives {first:g}",
                items[i],
                "size_bytes",
                f"events[{i}].size_bytes",
                ev.size_bytes,
            )
