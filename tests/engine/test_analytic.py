"""The analytic fidelity: loads, the delay formula, time profiles and the N-1 sweep."""

from __future__ import annotations

import pytest

from lgwan_sim.engine import EngineConfig, n1_sweep, run
from lgwan_sim.traffic import Profile, ServiceDemand, SizeDist
from tests.engine.support import demand, make_topology, one_way


def test_single_link_load_and_ps_delay(single_link):
    rho = 0.6
    svc = one_way("s", ("a",), "b", rate_per_s=rho * 1000, size=SizeDist.exponential(1000.0))
    result = run(single_link, demand(svc), fidelity="analytic", duration_s=600.0, seed=1)
    assert result.utilisation_of("a~b>") == pytest.approx([rho] * 10)
    assert result.utilisation_of("a~b<") == pytest.approx([0.0] * 10)
    stats = result.services["s"]
    # E[S] / (1 - rho) with E[S] = 1 ms; the mean is exact, percentiles within 1 %
    assert stats.latency.mean == pytest.approx(0.001 / (1 - rho))
    assert stats.latency.percentile(50) == pytest.approx(0.0025, rel=0.01)
    assert stats.offered == stats.delivered == 360_000


def test_request_response_loads_both_directions():
    topo = make_topology([("a", "b", 1e6, 0.01)])
    svc = ServiceDemand(
        name="s",
        primary="b",
        callers=("a",),
        requests_per_day=86400.0,  # 1 per second
        request_size=SizeDist.fixed(1000.0),
        response_size=SizeDist.fixed(5000.0),
        service_time_s=0.1,
    )
    result = run(topo, demand(svc), fidelity="analytic", duration_s=60.0, seed=1)
    assert result.utilisation_of("a~b>")[0] == pytest.approx(8000 / 1e6)
    assert result.utilisation_of("a~b<")[0] == pytest.approx(40000 / 1e6)
    # 10 + 10 ms propagation, 100 ms service, 8 ms and 40 ms transfers at the tiny loads
    expected = 0.02 + 0.1 + 0.008 / (1 - 0.008) + 0.04 / (1 - 0.04)
    assert result.services["s"].latency.mean == pytest.approx(expected)


def test_profile_window_shapes_the_day(single_link):
    # Convenience-store issuance: open 6:30-23:00, so nothing from 23:00 to 6:30.
    profile = Profile(window_h=(6.5, 23.0))
    svc = ServiceDemand(
        name="s",
        primary="b",
        callers=("a",),
        requests_per_day=86400.0,
        request_size=SizeDist.fixed(100.0),
        response_size=SizeDist.fixed(100.0),
        profile=profile,
    )
    cfg = EngineConfig(bin_s=1800.0)
    result = run(
        single_link, demand(svc), fidelity="analytic", duration_s=86400.0, seed=1, config=cfg
    )
    per_bin = result.offered_per_bin["s"]
    assert per_bin[:13].sum() == 0  # 0:00-6:30
    assert per_bin[46:].sum() == 0  # 23:00-24:00
    assert per_bin.sum() == 86400  # the day's total is kept: the window concentrates it
    assert per_bin[13] == pytest.approx(1800 * 24 / 16.5, abs=1)


def test_n1_sweep_reroutes_and_counts_loss(diamond):
    svc = one_way("s", ("a",), "c", rate_per_s=1000.0, size=SizeDist.fixed(1000.0))
    d = demand(svc)
    impacts = {i.link: i for i in n1_sweep(diamond, d, ["b~c", "a~b"], duration_s=600.0)}
    load = 1000 * 1000 * 8 / 1e8
    assert impacts["b~c"].peak_utilisation == pytest.approx(load)
    assert impacts["b~c"].worst_link in ("a~d>", "d~c>")
    assert impacts["b~c"].lost_requests == 0
    leaf = make_topology([("a", "b", 1e8, 0.001), ("b", "c", 1e8, 0.001)])
    cut = n1_sweep(leaf, d, ["b~c"], duration_s=600.0)[0]
    assert cut.lost_requests == pytest.approx(600_000)
