"""Analytic and flow agree on the national network (the slow, national-scale check)."""

from __future__ import annotations

import numpy as np
import pytest

from lgwan_sim.engine import EngineConfig, run
from tests.engine.support import national_demand

DURATION_S = 1200.0
MEAN_BYTES = 50_000.0


@pytest.mark.slow
def test_analytic_and_flow_agree_on_link_utilisation(national):
    # 300 exchanges/s (the planning load) for 20 minutes with a flat profile: the full day
    # runs in the benchmark; a test needs only enough messages per link. Over a window the
    # bytes a link carries are a compound Poisson sum with relative standard deviation
    # sqrt(E[S^2] / (N E[S]^2)) = sqrt(2 / N) for exponential sizes; links with N >= 40,000
    # messages have 0.71 %, so the 2 % tolerance is 2.8 standard deviations.
    demand = national_demand(national, messages_per_s=300.0, mean_bytes=MEAN_BYTES)
    cfg = EngineConfig(bin_s=300.0)
    analytic = run(national, demand, fidelity="analytic", duration_s=DURATION_S, seed=4, config=cfg)
    flow = run(national, demand, fidelity="flow", duration_s=DURATION_S, seed=4, config=cfg)
    assert flow.balanced
    assert analytic.link_ids == flow.link_ids
    a = analytic.link_utilisation.mean(axis=1)
    f = flow.link_utilisation.mean(axis=1)
    messages = a * analytic.link_capacity_bps * DURATION_S / 8 / MEAN_BYTES
    busy = messages >= 40_000
    assert busy.sum() >= 6  # the ASP access lines, segments and central links
    for i in np.flatnonzero(busy):
        assert f[i] == pytest.approx(a[i], rel=0.02), analytic.link_ids[i]
    # and the network as a whole carries the same bytes (the sum has millions of messages)
    carried_a = float((a * analytic.link_capacity_bps).sum())
    carried_f = float((f * flow.link_capacity_bps).sum())
    assert carried_f == pytest.approx(carried_a, rel=0.01)
