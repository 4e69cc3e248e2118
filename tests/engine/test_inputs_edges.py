"""The engine's inputs on both sides of every boundary: EngineConfig, TimelineEvent,
Timeline and the arguments of run(). Each refusal names its field and keeps its value."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from lgwan_sim.engine import EngineConfig, EventKind, Fidelity, Timeline, TimelineEvent, run
from lgwan_sim.errors import InputError
from tests.engine.support import demand, make_topology, traced


def refused(call, field, value=None):
    with pytest.raises(InputError) as info:
        call()
    assert info.value.field == field
    if value is not None:
        assert info.value.value == value or (math.isnan(value) and math.isnan(info.value.value))
    return info.value


@pytest.mark.parametrize(
    ("field", "bad", "good"),
    [
        ("bin_s", 0.0, 1e-9),
        ("max_flow_rate_bps", 0.0, 1.0),
        ("mss_bytes", 0.0, 1.0),
        ("overload_sustain_s", 0.0, 1e-3),
        ("bin_s", math.nan, 60.0),
        ("convergence_delay_s", -1e-9, 0.0),
        ("header_bytes", -1.0, 0.0),
        ("buffer_bytes", -1.0, 0.0),
        ("convergence_delay_s", math.nan, 3.0),
        ("buffer_bytes", math.nan, math.inf),
        ("analytic_max_utilisation", 0.0, 1e-6),
        ("analytic_max_utilisation", 1.0, 0.999999),
    ],
)
def test_engine_config_bounds(field, bad, good):
    refused(lambda: EngineConfig(**{field: bad}), field, bad)
    assert getattr(EngineConfig(**{field: good}), field) == good
    with pytest.raises(InputError):  # dataclasses.replace validates again
        replace(EngineConfig(), **{field: bad})


@pytest.mark.parametrize(
    "field", ["max_active_flows", "max_queued_packets", "solver_numpy_min_classes"]
)
def test_engine_config_limits_are_at_least_one(field):
    err = refused(lambda: EngineConfig(**{field: 0}), "max_active_flows")
    assert "limits must be >= 1" in str(err)
    assert getattr(EngineConfig(**{field: 1}), field) == 1


def test_engine_config_failed_flows_is_lose_or_reroute():
    refused(lambda: EngineConfig(failed_flows="drop"), "failed_flows", "drop")  # type: ignore[arg-type]
    assert EngineConfig(failed_flows="reroute").failed_flows == "reroute"
    assert EngineConfig().failed_flows == "lose"


def test_engine_config_defaults_are_the_documented_assumptions():
    c = EngineConfig()
    assert (c.bin_s, c.convergence_delay_s, c.max_flow_rate_bps) == (60.0, 3.0, math.inf)
    assert (c.solver_numpy_min_classes, c.max_active_flows, c.overload_sustain_s) == (
        256,
        200_000,
        60.0,
    )
    assert (c.mss_bytes, c.header_bytes, c.buffer_bytes) == (1460.0, 40.0, 1_000_000.0)
    assert (c.max_queued_packets, c.analytic_max_utilisation) == (2_000_000, 0.99)


E = TimelineEvent
K = EventKind


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: E(at_s=-1e-9, kind=K.DEMAND, multiplier=1.0), "event at -1e-09s.at_s"),
        (lambda: E(at_s=math.inf, kind=K.DEMAND, multiplier=1.0), "event at infs.at_s"),
        (lambda: E(at_s=1.0, kind="link_down", links=("a~b",)), "event at 1.0s.kind"),
        (lambda: E(at_s=1.0, kind=K.LINK_DOWN), "event at 1.0s.links"),
        (lambda: E(at_s=1.0, kind=K.LINK_UP), "event at 1.0s.links"),
        (lambda: E(at_s=1.0, kind=K.SITE_DOWN), "event at 1.0s.sites"),
        (lambda: E(at_s=1.0, kind=K.SITE_UP), "event at 1.0s.sites"),
        (lambda: E(at_s=1.0, kind=K.REGION_DOWN), "event at 1.0s"),
        (lambda: E(at_s=1.0, kind=K.REGION_UP), "event at 1.0s"),
        (lambda: E(at_s=1.0, kind=K.REGION_DOWN, center_latlon=(35.0, 139.0)), "event at 1.0s"),
        (lambda: E(at_s=1.0, kind=K.REGION_DOWN, radius_km=5.0), "event at 1.0s"),
        (
            lambda: E(at_s=1.0, kind=K.REGION_DOWN, center_latlon=(35.0, 139.0), radius_km=0.0),
            "event at 1.0s.radius_km",
        ),
        (lambda: E(at_s=1.0, kind=K.CAPACITY, capacity_bps=1e6), "event at 1.0s.links"),
        (
            lambda: E(at_s=1.0, kind=K.CAPACITY, links=("a~b",), capacity_bps=0.0),
            "event at 1.0s.capacity_bps",
        ),
        (
            lambda: E(at_s=1.0, kind=K.CAPACITY, links=("a~b",), capacity_bps=math.inf),
            "event at 1.0s.capacity_bps",
        ),
        (lambda: E(at_s=1.0, kind=K.DEMAND), "event at 1.0s.multiplier"),
        (lambda: E(at_s=1.0, kind=K.DEMAND, multiplier=-0.5), "event at 1.0s.multiplier"),
        (lambda: E(at_s=1.0, kind=K.DEMAND, multiplier=math.nan), "event at 1.0s.multiplier"),
        (lambda: E(at_s=1.0, kind=K.FAILOVER), "event at 1.0s.service"),
        (lambda: E(at_s=1.0, kind=K.FAILBACK, service=""), "event at 1.0s.service"),
    ],
)
def test_a_bad_timeline_event_names_its_field(make, field):
    refused(make, field)


@pytest.mark.parametrize(
    "event",
    [
        E(at_s=0.0, kind=K.DEMAND, multiplier=0.0),
        E(at_s=1.0, kind=K.LINK_DOWN, links=("a~b",)),
        E(at_s=1.0, kind=K.SITE_UP, sites=("a",)),
        E(at_s=1.0, kind=K.REGION_DOWN, prefectures=("13",)),
        E(at_s=1.0, kind=K.REGION_UP, center_latlon=(35.0, 139.0), radius_km=1e-3),
        E(at_s=1.0, kind=K.CAPACITY, links=("a~b",), capacity_bps=1.0),
        E(at_s=1.0, kind=K.DEMAND, multiplier=2.0, service="s"),
        E(at_s=1.0, kind=K.FAILOVER, service="s"),
        E(at_s=1.0, kind=K.FAILBACK, service="s"),
    ],
)
def test_a_good_timeline_event_is_accepted(event):
    assert event.at_s >= 0


def test_a_timeline_is_sorted_by_time_keeping_the_order_of_simultaneous_events():
    a = E(at_s=5.0, kind=K.DEMAND, multiplier=1.0, note="a")
    b = E(at_s=1.0, kind=K.DEMAND, multiplier=2.0, note="b")
    c = E(at_s=5.0, kind=K.DEMAND, multiplier=3.0, note="c")
    d = E(at_s=3.0, kind=K.DEMAND, multiplier=4.0, note="d")
    timeline = Timeline(events=(a, b, c, d))
    assert [e.note for e in timeline.events] == ["b", "d", "a", "c"]
    assert len(timeline) == 4
    assert len(Timeline()) == 0


TOPO = make_topology([("a", "b", 1e8, 0.001)])
DEMAND = demand(traced("s", ("a",), "b", [0.5], request_bytes=100))


@pytest.mark.parametrize("fidelity", ["quantum", "", "Flow"])
def test_run_refuses_an_unknown_fidelity(fidelity):
    refused(
        lambda: run(TOPO, DEMAND, fidelity=fidelity, duration_s=1.0, seed=1), "fidelity", fidelity
    )


@pytest.mark.parametrize("duration", [0.0, -1.0, math.inf, math.nan, "10"])
def test_run_refuses_a_duration_that_is_not_a_positive_number(duration):
    refused(lambda: run(TOPO, DEMAND, duration_s=duration, seed=1), "duration_s")


@pytest.mark.parametrize("seed", [True, 1.0, "1", None])
def test_run_refuses_a_seed_that_is_not_an_integer(seed):
    refused(lambda: run(TOPO, DEMAND, duration_s=1.0, seed=seed), "seed")


@pytest.mark.parametrize("fidelity", ["analytic", "flow", "packet"])
def test_run_refuses_an_event_for_an_unknown_service_before_simulating(fidelity):
    bad = Timeline(events=(E(at_s=0.9, kind=K.DEMAND, multiplier=2.0, service="nope"),))
    seen: list[float] = []
    err = refused(
        lambda: run(
            TOPO, DEMAND, bad, fidelity=fidelity, duration_s=1.0, seed=1, progress=seen.append,
            config=EngineConfig(bin_s=0.1),
        ),
        "service",
        "nope",
    )  # fmt: skip
    assert "unknown service" in str(err)
    assert seen == []  # refused up front: not one bin was simulated


@pytest.mark.parametrize("fidelity", ["analytic", "flow", "packet"])
def test_run_takes_events_without_a_service(fidelity):
    timeline = Timeline(
        events=(
            E(at_s=0.2, kind=K.DEMAND, multiplier=2.0),
            E(at_s=0.4, kind=K.DEMAND, multiplier=1.0, service="s"),
        )
    )
    result = run(TOPO, DEMAND, timeline, fidelity=fidelity, duration_s=1.0, seed=1)
    assert [(e.at_s, e.kind, e.service) for e in result.events] == [
        (0.2, "demand", None),
        (0.4, "demand", "s"),
    ]


@pytest.mark.parametrize("fidelity", [Fidelity.FLOW, "packet", "analytic"])
def test_run_takes_a_fidelity_by_name_or_member_and_an_integer_duration(fidelity):
    result = run(TOPO, DEMAND, fidelity=fidelity, duration_s=1, seed=0)
    assert result.fidelity == Fidelity(fidelity)
    assert result.duration_s == 1.0
    assert isinstance(result.duration_s, float)
    assert result.seed == 0
    assert result.bin_s == 60.0  # the default config
    assert result.n_bins == 1
    assert result.services["s"].offered == 1
    assert result.events == ()
