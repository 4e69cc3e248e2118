"""The applied-event log alone says what was down when (``DownElements``).

Random outages with overlapping holds go through a real run; after every prefix of its log,
``DownElements`` must name exactly the links and sites an independent count of holds keeps
down (an element is down while any (hold, count) of a down event is not yet matched by an
up event of the same hold), and ignore every entry that is not an outage.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from lgwan_sim.engine import (
    DownElements,
    EngineConfig,
    EventKind,
    Timeline,
    TimelineEvent,
    run,
)
from lgwan_sim.network import SiteKind
from lgwan_sim.traffic import SizeDist
from tests.engine.support import demand, make_topology, one_way

TOPOLOGY = make_topology(
    [("a1", "p1", 1e8, 0.001), ("a2", "p1", 1e8, 0.001), ("p1", "h", 1e9, 0.001)],
    kinds={"h": SiteKind.ASP, "p1": SiteKind.PREFECTURE_NODE},
    prefectures={"a1": "01", "a2": "01", "p1": "01"},
)
DEMAND = demand(one_way("svc", ("a1", "a2"), "h", rate_per_s=0.5, size=SizeDist.fixed(1e3)))
LINKS = ("a1~p1", "a2~p1")
SITES = ("a1", "a2", "p1")
KINDS = {
    "link": (EventKind.LINK_DOWN, EventKind.LINK_UP),
    "site": (EventKind.SITE_DOWN, EventKind.SITE_UP),
    "region": (EventKind.REGION_DOWN, EventKind.REGION_UP),
}

event = st.tuples(
    st.integers(0, 59),  # whole seconds, so several events share an instant
    st.sampled_from(sorted(KINDS)),
    st.booleans(),  # down or up
    st.sampled_from(["", "x", "y"]),  # the hold
    st.integers(0, 2),  # which element
)


def _timeline_event(at: int, what: str, down: bool, hold: str, k: int) -> TimelineEvent:
    kind = KINDS[what][0 if down else 1]
    if what == "link":
        return TimelineEvent(at_s=float(at), kind=kind, links=(LINKS[k % 2],), hold=hold)
    if what == "site":
        return TimelineEvent(at_s=float(at), kind=kind, sites=(SITES[k],), hold=hold)
    return TimelineEvent(at_s=float(at), kind=kind, prefectures=("01",), hold=hold)


def _reference(events: list[TimelineEvent]) -> tuple[set[str], set[str]]:
    """Links and sites down after ``events``, counting holds by hand."""
    holds: dict[tuple[str, str], Counter[str]] = {}
    for e in events:
        if e.kind.outage_of == "links":
            elements = [("link", x) for x in e.links]
        elif e.kind.outage_of == "sites":
            elements = [("site", x) for x in e.sites]
        else:
            elements = [("site", x) for x in SITES]  # every site of prefecture 01 but h
        for element in elements:
            held = holds.setdefault(element, Counter())
            if e.kind.takes_down:
                held[e.hold] += 1
            elif held[e.hold]:
                held[e.hold] -= 1
    down = {element for element, held in holds.items() if +held}
    return {x for kind, x in down if kind == "link"}, {x for kind, x in down if kind == "site"}


@settings(max_examples=40, deadline=None)
@given(st.lists(event, max_size=12))
def test_the_log_gives_what_the_holds_keep_down_after_every_event(raw) -> None:
    events = sorted((_timeline_event(*e) for e in raw), key=lambda e: e.at_s)
    result = run(
        TOPOLOGY,
        DEMAND,
        Timeline(events=tuple(events)),
        duration_s=60.0,
        seed=1,
        config=EngineConfig(bin_s=10.0, convergence_delay_s=0.5),
    )
    log = [e for e in result.events if e.kind != "converged"]
    assert [(e.at_s, e.kind) for e in log] == [(e.at_s, str(e.kind)) for e in events]
    down = DownElements()
    for i, applied in enumerate(result.events):
        assert down.apply(applied) is (applied.kind != "converged")
        done = [e for e in result.events[: i + 1] if e.kind != "converged"]
        links, sites = _reference(events[: len(done)])
        assert (down.links, down.sites) == (links, sites)
    assert (DownElements(result.events).links, DownElements(result.events).sites) == (
        down.links,
        down.sites,
    )


def test_entries_that_are_not_outages_change_nothing() -> None:
    result = run(
        TOPOLOGY,
        DEMAND,
        Timeline(
            events=(
                TimelineEvent(at_s=1.0, kind=EventKind.LINK_DOWN, links=("a1~p1",)),
                TimelineEvent(
                    at_s=2.0, kind=EventKind.CAPACITY, links=("a2~p1",), capacity_bps=1e6
                ),
                TimelineEvent(at_s=3.0, kind=EventKind.DEMAND, multiplier=2.0),
            )
        ),
        duration_s=10.0,
        seed=1,
        config=EngineConfig(bin_s=5.0, convergence_delay_s=0.5),
    )
    assert [e.kind for e in result.events] == ["link_down", "converged", "capacity", "demand"]
    down = DownElements()
    assert [down.apply(e) for e in result.events] == [True, False, False, False]
    assert (down.links, down.sites) == ({"a1~p1"}, set())
