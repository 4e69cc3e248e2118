"""Sizes, profiles, demand validation, traffic matrices and the streaming histogram."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lgwan_sim.traffic
from lgwan_sim.engine import LatencyHistogram, run
from lgwan_sim.errors import InputError
from lgwan_sim.traffic import JST, Profile, ServiceDemand, SizeDist, traffic_matrix
from tests.engine.support import MONDAY, demand, make_topology, one_way


@pytest.mark.parametrize(
    "dist",
    [
        SizeDist.fixed(700.0),
        SizeDist.exponential(5000.0),
        SizeDist.lognormal(5000.0, 1.0),
        SizeDist.empirical([100.0, 200.0, 900.0]),
    ],
    ids=["fixed", "exponential", "lognormal", "empirical"],
)
def test_size_samples_have_the_stated_mean(dist):
    rng = random.Random(7)
    draw = dist.sampler(rng)
    n = 200_000
    mean = sum(draw() for _ in range(n)) / n
    # CV <= sqrt(e - 1) = 1.31 (lognormal sigma 1): standard error <= 0.3 %, tolerance 1.5 %
    assert mean == pytest.approx(dist.mean_bytes, rel=0.015)
    second = sum(draw() ** 2 for _ in range(n)) / n
    assert second == pytest.approx(dist.second_moment_bytes2, rel=0.1)


def test_bad_sizes_are_refused():
    with pytest.raises(InputError, match="mean_bytes > 0"):
        SizeDist.exponential(0.0)
    with pytest.raises(InputError, match="sigma"):
        SizeDist.lognormal(100.0, 0.0)
    with pytest.raises(InputError, match="needs values"):
        SizeDist.empirical([])


def test_profile_mean_over_a_week_is_one():
    hourly = tuple(float(h % 7 + 1) for h in range(24))
    weekly = (1.0, 1.0, 1.0, 1.0, 1.0, 0.2, 0.1)
    profile = Profile(hourly=hourly, weekly=weekly, window_h=(6.5, 23.0))
    start = datetime(2026, 4, 6, tzinfo=JST)
    assert profile.mean_factor(start, start + timedelta(days=7)) == pytest.approx(1.0)
    assert profile.factor(datetime(2026, 4, 6, 6, 0, tzinfo=JST)) == 0.0
    assert profile.factor(datetime(2026, 4, 6, 6, 45, tzinfo=JST)) > 0.0
    assert profile.factor(datetime(2026, 4, 11, 12, tzinfo=JST)) < profile.factor(
        datetime(2026, 4, 10, 12, tzinfo=JST)
    )  # Saturday is quieter than Friday
    with pytest.raises(InputError, match="24 weights"):
        Profile(hourly=(1.0,) * 23)
    with pytest.raises(InputError, match="timezone-aware"):
        profile.factor(datetime(2026, 4, 6, 12))


def test_traffic_matrix_follows_the_profile_and_multipliers():
    svc = one_way("s", ("a", "b"), "c", rate_per_s=2.0, size=SizeDist.fixed(10.0))
    svc = replace(svc, profile=Profile(hourly=(0.0,) * 12 + (1.0,) * 12), multiplier=2.0)
    d = replace(demand(svc), multiplier=1.5)
    tm = traffic_matrix(d, bin_s=3600.0, n_bins=24)
    # per caller: 1/s on average, x2 x1.5, all of it in the afternoon (x2 there)
    assert tm.requests[:12, 0].sum() == 0
    assert tm.requests[12:, 0] == pytest.approx([3600.0 * 1 * 3 * 2] * 12)
    assert tm.od_pairs(d, 12)[("a", "c")] == pytest.approx(6 * 10.0)


def test_trace_arrivals_are_replayed_round_robin():
    topo = make_topology([("a", "c", 1e8, 0.0), ("b", "c", 1e8, 0.0)])
    svc = one_way("s", ("a", "b"), "c", rate_per_s=1.0, size=SizeDist.fixed(100.0))
    svc = replace(svc, arrivals="trace", trace_s=(0.0, 0.5, 0.5, 2.0, 9.5, 12.0))
    result = run(topo, demand(svc), fidelity="flow", duration_s=10.0, seed=1)
    assert result.services["s"].offered == 5  # 12.0 is after the end
    assert result.utilisation_of("a~c>").sum() > 0
    assert result.utilisation_of("b~c>").sum() > 0


def test_demand_validation_names_the_field():
    with pytest.raises(InputError, match="callers"):
        ServiceDemand(
            name="s",
            primary="c",
            callers=(),
            requests_per_day=1.0,
            request_size=SizeDist.fixed(1.0),
            response_size=SizeDist.fixed(1.0),
        )
    with pytest.raises(InputError, match="timezone-aware"):
        lgwan_sim.traffic.Demand(services=(), start=datetime(2026, 1, 1))
    assert MONDAY.weekday() == 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(1e-6, 1e4, allow_nan=False), min_size=1, max_size=400),
    st.sampled_from([1.0, 25.0, 50.0, 90.0, 95.0, 99.0, 100.0]),
)
def test_histogram_percentiles_are_within_one_percent(values, p):
    hist = LatencyHistogram()
    for v in values:
        hist.add(v)
    exact = float(np.sort(values)[max(1, math.ceil(p / 100 * len(values))) - 1])  # nearest rank
    assert hist.percentile(p) == pytest.approx(exact, rel=0.01)
    assert hist.mean == pytest.approx(sum(values) / len(values))
    bulk = LatencyHistogram()
    bulk.add_many(np.asarray(values), np.ones(len(values)))
    assert bulk.percentile(p) == pytest.approx(hist.percentile(p))
