"""Sustained overload is detected, reported and stops the run; accounting still balances."""

from __future__ import annotations

import math

import pytest

from lgwan_sim.engine import EngineConfig, run
from lgwan_sim.traffic import SizeDist
from tests.engine.support import demand, one_way


@pytest.mark.parametrize(
    ("fidelity", "config"),
    [
        ("flow", EngineConfig(max_active_flows=300, overload_sustain_s=5.0)),
        (
            "packet",
            EngineConfig(
                max_queued_packets=300,
                overload_sustain_s=5.0,
                buffer_bytes=math.inf,
                mss_bytes=math.inf,
            ),
        ),
    ],
)
def test_overload_stops_the_run_gracefully(single_link, fidelity, config):
    # rho = 1.5: 1500 messages/s of 1000 B on a 1 MB/s link; the backlog grows ~500/s.
    svc = one_way("s", ("a",), "b", rate_per_s=1500.0, size=SizeDist.exponential(1000.0))
    result = run(
        single_link, demand(svc), fidelity=fidelity, duration_s=600.0, seed=2, config=config
    )
    assert result.overloaded
    assert "sustained overload" in (result.overload_reason or "")
    assert 5.0 < result.stopped_at_s < 20.0
    stats = result.services["s"]
    assert stats.dropped["overload"] >= 300
    assert stats.in_flight == 0
    assert stats.balanced
    assert result.to_dict()["overloaded"] is True


def test_analytic_counts_the_excess_as_overload(single_link):
    # rho = 1.25: the link carries 1/1.25 = 80 % of the offered messages.
    svc = one_way("s", ("a",), "b", rate_per_s=1250.0, size=SizeDist.fixed(1000.0))
    result = run(single_link, demand(svc), fidelity="analytic", duration_s=100.0, seed=1)
    stats = result.services["s"]
    assert stats.offered == 125_000
    assert stats.dropped == {"overload": 25_000}
    assert result.utilisation_of("a~b>")[0] == pytest.approx(1.25)
