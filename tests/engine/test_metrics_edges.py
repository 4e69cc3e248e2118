"""LatencyHistogram and ServiceStats at their edges; expected values from docs/engine.md
(buckets of ratio 1.019 from 100 ns, reported as their geometric middle, nearest rank)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lgwan_sim.engine import LatencyHistogram, ServiceStats
from lgwan_sim.engine._metrics import bucket_indices, bucket_of, bucket_value
from tests.engine.support import bucket_middle

MS = 0.001


def hist_of(*values_s: float) -> LatencyHistogram:
    h = LatencyHistogram()
    for v in values_s:
        h.add(v)
    return h


def test_the_bucket_middle_is_the_documented_geometric_middle():
    # 1 ms lies in bucket floor(ln(1e4) / ln(1.019)) = 489: [1e-7 x 1.019^489, ... ^490)
    k = 489
    assert 1e-7 * 1.019**k <= MS < 1e-7 * 1.019 ** (k + 1)
    assert hist_of(MS).percentile(50) == pytest.approx(1e-7 * 1.019 ** (k + 0.5), rel=1e-12)
    assert bucket_middle(MS) == pytest.approx(1e-7 * 1.019 ** (k + 0.5), rel=1e-12)


def test_values_below_100_ns_are_reported_as_zero_and_100_ns_is_the_first_bucket():
    assert hist_of(9.9e-8).percentile(100) == 0.0
    assert hist_of(0.0).percentile(100) == 0.0
    assert hist_of(1e-7).percentile(100) == pytest.approx(1e-7 * math.sqrt(1.019), rel=1e-12)
    many = LatencyHistogram()
    many.add_many(np.array([9.9e-8, 1e-7]), np.array([1.0, 1.0]))
    assert many.percentile(50) == 0.0
    assert many.percentile(100) == pytest.approx(1e-7 * math.sqrt(1.019), rel=1e-12)


def test_percentiles_are_nearest_rank_over_whole_messages():
    h = hist_of(8 * MS, 1 * MS, 4 * MS, 2 * MS)  # order does not matter
    assert h.count == 4
    assert h.percentile(25) == pytest.approx(bucket_middle(1 * MS), rel=1e-12)  # rank 1
    assert h.percentile(25.01) == pytest.approx(bucket_middle(2 * MS), rel=1e-12)  # rank 2
    assert h.percentile(50) == pytest.approx(bucket_middle(2 * MS), rel=1e-12)
    assert h.percentile(75) == pytest.approx(bucket_middle(4 * MS), rel=1e-12)
    assert h.percentile(99) == pytest.approx(bucket_middle(8 * MS), rel=1e-12)
    assert h.percentile(100) == pytest.approx(bucket_middle(8 * MS), rel=1e-12)
    assert h.percentile(1e-9) == pytest.approx(bucket_middle(1 * MS), rel=1e-12)


def test_percentiles_of_expected_counts_are_fractional_ranks():
    # the analytic fidelity adds expected numbers of messages: half a message at 1 ms and
    # half at 2 ms; the median is the first half, anything above it the second
    h = LatencyHistogram()
    h.add_many(np.array([1 * MS, 2 * MS]), np.array([0.5, 0.5]))
    assert h.count == 1.0
    assert h.percentile(50) == pytest.approx(bucket_middle(1 * MS), rel=1e-12)
    assert h.percentile(50.1) == pytest.approx(bucket_middle(2 * MS), rel=1e-12)
    assert h.percentile(100) == pytest.approx(bucket_middle(2 * MS), rel=1e-12)
    w = LatencyHistogram()
    w.add(1 * MS, weight=0.25)
    w.add(2 * MS, weight=0.75)
    assert w.percentile(25) == pytest.approx(bucket_middle(1 * MS), rel=1e-12)
    assert w.percentile(26) == pytest.approx(bucket_middle(2 * MS), rel=1e-12)


@pytest.mark.parametrize("p", [0.0, -1.0, 100.5, 101.0, math.nan])
def test_a_percentile_outside_0_to_100_is_refused(p):
    with pytest.raises(ValueError, match="percentile must be in"):
        hist_of(MS).percentile(p)


def test_an_empty_histogram_has_no_mean_and_no_percentile():
    h = LatencyHistogram()
    assert h.count == 0
    assert math.isnan(h.mean)
    assert math.isnan(h.percentile(50))
    assert h.to_dict() == {"count": 0}
    h.add_many(np.array([1 * MS, 2 * MS]), np.array([0.0, 0.0]))  # nothing with weight
    assert h.count == 0
    assert h.buckets == {}
    h.add_many(np.array([]), np.array([]))
    assert h.count == 0


def test_mean_is_exact_and_weights_count_as_messages():
    h = LatencyHistogram()
    h.add(1 * MS)
    h.add(4 * MS, weight=3)
    assert h.count == 4
    assert h.total_s == pytest.approx(13 * MS, rel=1e-15)
    assert h.mean == pytest.approx(13 * MS / 4, rel=1e-15)
    assert h.percentile(25) == pytest.approx(bucket_middle(1 * MS), rel=1e-12)
    assert h.percentile(50) == pytest.approx(bucket_middle(4 * MS), rel=1e-12)


def test_add_many_equals_adding_one_by_one():
    values = [3e-8, 1e-7, 2.5 * MS, 2.5 * MS, 7 * MS, 1.3, 40.0]
    weights = [1.0, 2.0, 0.5, 1.5, 3.0, 0.25, 4.0]
    one = LatencyHistogram()
    for v, w in zip(values, weights, strict=True):
        one.add(v, weight=w)
    many = LatencyHistogram()
    many.add_many(np.array(values), np.array(weights))
    assert many.buckets == pytest.approx(one.buckets, rel=1e-12)
    assert many.count == pytest.approx(one.count, rel=1e-15)
    assert many.count == pytest.approx(12.25, rel=1e-15)
    assert many.total_s == pytest.approx(sum(v * w for v, w in zip(values, weights, strict=True)))
    # a scalar weight is broadcast to every value
    broadcast = LatencyHistogram()
    broadcast.add_many(np.array([1 * MS, 2 * MS]), np.array(2.0))
    assert broadcast.count == 4.0
    assert broadcast.total_s == pytest.approx(6 * MS, rel=1e-15)


def test_merge_adds_buckets_counts_and_totals():
    a = hist_of(1 * MS, 2 * MS)
    b = hist_of(2 * MS, 8 * MS, 8 * MS)
    a.merge(b)
    assert a.count == 5
    assert a.total_s == pytest.approx(21 * MS, rel=1e-15)
    assert sorted(a.buckets.values()) == [1, 2, 2]
    assert a.percentile(60) == pytest.approx(bucket_middle(2 * MS), rel=1e-12)  # rank 3
    assert a.percentile(61) == pytest.approx(bucket_middle(8 * MS), rel=1e-12)  # rank 4
    assert b.count == 3  # the other one is left alone


def test_to_dict_reports_count_mean_and_the_three_percentiles():
    # 100 values 5 % apart: each in a bucket of its own, so every rank is told apart
    values = [MS * 1.05**k for k in range(1, 101)]
    d = hist_of(*values).to_dict()
    assert d == {
        "count": 100,
        "mean_s": pytest.approx(sum(values) / 100, rel=1e-12),
        "p50_s": pytest.approx(bucket_middle(values[49]), rel=1e-12),
        "p95_s": pytest.approx(bucket_middle(values[94]), rel=1e-12),
        "p99_s": pytest.approx(bucket_middle(values[98]), rel=1e-12),
    }


def test_a_value_added_with_no_weight_is_never_a_percentile():
    h = LatencyHistogram()
    h.add(1 * MS, weight=0)
    h.add(2 * MS)
    assert h.count == 1
    assert h.percentile(1e-9) == pytest.approx(bucket_middle(2 * MS), rel=1e-12)
    assert h.percentile(100) == pytest.approx(bucket_middle(2 * MS), rel=1e-12)


def test_the_scalar_bucket_of_a_value_agrees_with_the_histogram():
    # bucket_of is the documented bucket index: floor(ln(v / 100 ns) / ln(1.019)), -1 below
    for value in (1e-7, 1.5e-7, 1 * MS, 0.25, 3.0, 7200.0):
        k = math.floor(math.log(value / 1e-7) / math.log(1.019))
        assert bucket_of(value) == k
        assert bucket_value(bucket_of(value)) == pytest.approx(bucket_middle(value), rel=1e-12)
    assert bucket_of(9.99e-8) == -1
    assert bucket_of(0.0) == -1
    assert bucket_value(-1) == 0.0


def stats(**kw) -> ServiceStats:
    base = {
        "name": "s", "offered": 10, "delivered": 6, "dropped": {"no_route": 1, "link_failure": 2},
        "in_flight": 1, "latency": hist_of(MS), "slo_breaches": 2,
    }  # fmt: skip
    base.update(kw)
    return ServiceStats(**base)


def test_service_stats_balance_and_dict():
    s = stats()
    assert s.dropped_total == 3
    assert s.balanced
    assert not stats(in_flight=2).balanced
    assert not stats(offered=9).balanced
    assert stats(dropped={}, delivered=9).balanced
    d = s.to_dict()
    assert list(d["dropped"]) == ["link_failure", "no_route"]  # sorted
    assert d == {
        "offered": 10, "delivered": 6, "dropped": {"link_failure": 2, "no_route": 1},
        "in_flight": 1, "slo_breaches": 2, "latency": hist_of(MS).to_dict(),
    }  # fmt: skip
    assert stats() == stats(latency=hist_of(5 * MS))  # the histogram is not compared


@pytest.mark.parametrize("below", [False, True])
def test_bucket_indices_are_bucket_of_each_value_in_any_layout(below: bool) -> None:
    # all values above the zero bucket (a run's latencies: the unmasked way) or some below
    rng = np.random.default_rng(14)
    values = np.exp(rng.uniform(math.log(1e-7), math.log(30.0), (37, 23)))
    if below:
        values[::5, ::3] = 1e-9
        values[1, 1] = 0.0
    for layout in (values, values.T, values[::2, 1::3], values.ravel()):
        got = bucket_indices(layout)
        assert got.shape == layout.shape
        assert got.dtype == np.int64
        want = np.array([bucket_of(float(v)) for v in layout.ravel()]).reshape(layout.shape)
        assert np.array_equal(got, want)
