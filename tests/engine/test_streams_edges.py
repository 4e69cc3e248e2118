"""Arrival streams through run(): replayed traces at their edges, and Poisson arrivals that
follow the profile's segments, the multipliers and the end of the run."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from lgwan_sim.engine import EngineConfig, EventKind, Timeline, TimelineEvent, run
from lgwan_sim.traffic import JST, Demand, Profile, ServiceDemand, SizeDist
from tests.engine.support import demand, make_topology, traced

TOPO = make_topology([("a", "h", 1e9, 0.0), ("b", "h", 1e9, 0.0)])
FIDELITIES = ["flow", "packet"]


def demand_at(multiplier: float, service: str | None = None) -> TimelineEvent:
    return TimelineEvent(at_s=0.0, kind=EventKind.DEMAND, multiplier=multiplier, service=service)


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_a_trace_is_replayed_from_time_zero_up_to_but_not_including_the_end(fidelity):
    svc = traced("s", ("a", "b"), "h", [0.0, 0.0, 3.0, 9.999, 10.0, 11.0], request_bytes=100)
    result = run(
        TOPO, demand(svc), fidelity=fidelity, duration_s=10.0, seed=1,
        config=EngineConfig(bin_s=1.0),
    )  # fmt: skip
    offered = result.offered_per_bin["s"].tolist()
    assert offered == [2, 0, 0, 1, 0, 0, 0, 0, 0, 1]
    # round robin: a, b, a, b
    carried_a = result.utilisation_of("a~h>").sum()
    carried_b = result.utilisation_of("b~h>").sum()
    assert carried_a == pytest.approx(carried_b, rel=1e-12)
    assert carried_a > 0


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_a_trace_is_replayed_round_robin_from_the_first_caller(fidelity):
    svc = traced("s", ("a", "b"), "h", [1.0, 2.0, 3.0], request_bytes=100)
    result = run(
        TOPO, demand(svc), fidelity=fidelity, duration_s=4.0, seed=1,
        config=EngineConfig(bin_s=1.0, header_bytes=0.0),
    )  # fmt: skip
    # a sends at 1.0 and 3.0, b at 2.0: 100 B each over a 1 s bin at 1 Gb/s
    assert result.utilisation_of("a~h>").tolist() == pytest.approx([0, 8e-7, 0, 8e-7], rel=1e-9)
    assert result.utilisation_of("b~h>").tolist() == pytest.approx([0, 0, 8e-7, 0], rel=1e-9)


@pytest.mark.parametrize("fidelity", FIDELITIES)
@pytest.mark.parametrize("at_s", [2.5, 3.0, 0.5, 9.0])
def test_a_demand_change_neither_drops_nor_repeats_a_trace_arrival(fidelity, at_s):
    # multipliers do not apply to a trace; the pending arrival is scheduled again, once
    svc = traced("s", ("a",), "h", [1.0, 2.0, 3.0, 4.0], request_bytes=100)
    timeline = Timeline(events=(replace(demand_at(2.0), at_s=at_s),))
    result = run(
        TOPO, demand(svc), timeline, fidelity=fidelity, duration_s=5.0, seed=1,
        config=EngineConfig(bin_s=1.0),
    )  # fmt: skip
    assert result.offered_per_bin["s"].tolist() == [0, 1, 1, 1, 1]


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_a_trace_entirely_after_the_end_offers_nothing_even_across_a_demand_change(fidelity):
    svc = traced("s", ("a",), "h", [20.0], request_bytes=100)
    timeline = Timeline(events=(replace(demand_at(3.0), at_s=1.0),))
    result = run(TOPO, demand(svc), timeline, fidelity=fidelity, duration_s=5.0, seed=1)
    assert result.services["s"].offered == 0


def poisson(rate_per_s: float, *, callers=("a",), profile: Profile | None = None) -> ServiceDemand:
    return ServiceDemand(
        name="p", primary="h", callers=callers,
        requests_per_day=rate_per_s * 86400.0 / len(callers),
        request_size=SizeDist.fixed(100.0), response_size=SizeDist.fixed(0.0),
        one_way=True, profile=profile or Profile.flat(),
    )  # fmt: skip


def within(count: float, expected: float, sigmas: float = 4.0) -> bool:
    return abs(count - expected) <= sigmas * math.sqrt(expected)


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_poisson_arrivals_keep_their_rate_across_many_profile_segments(fidelity):
    # about two requests an hour for a week: the Exp(1) draw is spent across the hour
    # segments of the profile, so the count stays Poisson(336)
    result = run(
        TOPO, Demand(services=(poisson(2 / 3600.0),), start=datetime(2026, 4, 6, tzinfo=JST)),
        fidelity=fidelity, duration_s=7 * 86400.0, seed=3, config=EngineConfig(bin_s=3600.0),
    )  # fmt: skip
    assert within(result.services["p"].offered, 336.0)


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_poisson_arrivals_follow_the_hourly_profile_and_stop_at_the_end(fidelity):
    # closed until noon, open after: from 11:58 for 4 minutes, nothing before 12:00
    profile = Profile(hourly=(0.0,) * 12 + (1.0,) * 12)
    start = datetime(2026, 4, 6, 11, 58, tzinfo=JST)
    result = run(
        TOPO, Demand(services=(poisson(50.0, profile=profile),), start=start),
        fidelity=fidelity, duration_s=240.0, seed=4, config=EngineConfig(bin_s=60.0),
    )  # fmt: skip
    per_bin = result.offered_per_bin["p"].tolist()
    assert per_bin[:2] == [0, 0]
    # the factor after noon is 2 (the weights are normalised to a mean of 1): 100/s
    assert within(per_bin[2], 6000.0)
    assert within(per_bin[3], 6000.0)


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_poisson_arrivals_follow_multiplier_changes(fidelity):
    timeline = Timeline(
        events=(
            replace(demand_at(0.0, "p"), at_s=10.0),
            replace(demand_at(3.0, "p"), at_s=20.0),
            replace(demand_at(0.5), at_s=30.0),
        )
    )
    result = run(
        TOPO, Demand(services=(poisson(100.0),), start=datetime(2026, 4, 6, 3, tzinfo=JST)),
        timeline, fidelity=fidelity, duration_s=40.0, seed=5, config=EngineConfig(bin_s=10.0),
    )  # fmt: skip
    first, off, tripled, halved = result.offered_per_bin["p"].tolist()
    assert within(first, 1000.0)
    assert off == 0
    assert within(tripled, 3000.0)
    # the service's own multiplier stays 3; all demand is then halved: 1.5
    assert within(halved, 1500.0)


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_an_empty_trace_offers_nothing_across_a_demand_change(fidelity):
    svc = traced("s", ("a",), "h", [], request_bytes=100)
    timeline = Timeline(events=(replace(demand_at(2.0), at_s=1.0),))
    result = run(TOPO, demand(svc), timeline, fidelity=fidelity, duration_s=3.0, seed=1)
    assert result.services["s"].offered == 0
    assert [e.kind for e in result.events] == ["demand"]


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_the_multiplier_of_the_whole_demand_scales_poisson_arrivals(fidelity):
    base = Demand(services=(poisson(100.0),), start=datetime(2026, 4, 6, 3, tzinfo=JST))
    for multiplier, expected in ((2.0, 2000.0), (0.5, 500.0)):
        result = run(
            TOPO, replace(base, multiplier=multiplier), fidelity=fidelity, duration_s=10.0,
            seed=8, config=EngineConfig(bin_s=10.0),
        )  # fmt: skip
        assert within(result.services["p"].offered, expected)


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_poisson_callers_are_drawn_uniformly(fidelity):
    result = run(
        TOPO, Demand(services=(poisson(200.0, callers=("a", "b")),), start=datetime(2026, 4, 6, 3, tzinfo=JST)),
        fidelity=fidelity, duration_s=10.0, seed=6, config=EngineConfig(bin_s=10.0, header_bytes=0.0),
    )  # fmt: skip
    offered = result.services["p"].offered
    assert within(offered, 2000.0)
    # each request is 800 bits over 10 s at 1 Gb/s
    from_a = round(result.utilisation_of("a~h>")[0] * 1e10 / 800)
    from_b = round(result.utilisation_of("b~h>")[0] * 1e10 / 800)
    assert from_a + from_b == offered
    assert within(from_a, offered / 2)


def test_poisson_callers_are_drawn_at_random_not_in_turn():
    # in turn, every 1 s bin would split its ~200 requests evenly (within one)
    result = run(
        TOPO, Demand(services=(poisson(200.0, callers=("a", "b")),), start=datetime(2026, 4, 6, 3, tzinfo=JST)),
        fidelity="flow", duration_s=10.0, seed=6, config=EngineConfig(bin_s=1.0, header_bytes=0.0),
    )  # fmt: skip
    from_a = result.utilisation_of("a~h>") * 1e9 / 800
    from_b = result.utilisation_of("b~h>") * 1e9 / 800
    assert (from_a + from_b).round().tolist() == result.offered_per_bin["p"].tolist()
    assert max(abs(from_a - from_b)) > 4


def test_a_profile_change_exactly_at_the_start_of_a_segment_is_followed():
    # a window opening at 12:00:00 exactly, with the run starting on the hour
    profile = Profile(window_h=(12.0, 13.0))
    start = datetime(2026, 4, 6, 11, tzinfo=JST) + timedelta(minutes=59, seconds=59)
    result = run(
        TOPO, Demand(services=(poisson(10.0, profile=profile),), start=start),
        fidelity="flow", duration_s=11.0, seed=7, config=EngineConfig(bin_s=1.0),
    )  # fmt: skip
    per_bin = result.offered_per_bin["p"].tolist()
    assert per_bin[0] == 0
    # open one hour a day: the factor inside the window is 24, so 240/s
    assert within(sum(per_bin[1:]), 2400.0)
