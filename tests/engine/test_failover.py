"""Link failure with routing convergence: the loss window, rerouting and the new latency."""

from __future__ import annotations

import math

import pytest

from lgwan_sim.engine import EngineConfig, EventKind, Timeline, TimelineEvent, run
from lgwan_sim.traffic import SizeDist
from tests.engine.support import demand, one_way

RATE = 500.0  # messages per second from a to c
CONVERGENCE_S = 2.0
CUT = Timeline(events=(TimelineEvent(at_s=100.0, kind=EventKind.LINK_DOWN, links=("b~c",)),))


def _run(diamond, fidelity, *, size=None, failed_flows="lose", rate=RATE, seed=5):
    svc = one_way("s", ("a",), "c", rate_per_s=rate, size=size or SizeDist.fixed(1000.0))
    cfg = EngineConfig(bin_s=10.0, convergence_delay_s=CONVERGENCE_S, failed_flows=failed_flows)
    return run(
        diamond, demand(svc), CUT, fidelity=fidelity, duration_s=200.0, seed=seed, config=cfg
    )


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_loss_matches_the_convergence_window_and_latency_rises_by_the_detour(diamond, fidelity):
    result = _run(diamond, fidelity)
    stats = result.services["s"]
    assert stats.balanced
    # Messages sent into the dead path during the 2 s window are lost: Poisson(1000), plus
    # the few in transfer at the cut (1000 B take 80 us: ~0.04 expected). 4 sigma = 126.
    expected = RATE * CONVERGENCE_S
    assert set(stats.dropped) == {"link_failure"}
    assert abs(stats.dropped["link_failure"] - expected) < 4 * math.sqrt(expected)
    # Nothing is lost outside the window: the bins before and after deliver everything.
    p50 = result.latency_p50_s["s"]
    before, after = p50[:9], p50[11:]
    # a-b-c is 2 ms, a-d-c is 10 ms: +8 ms. Histogram buckets are within 1 % of ~2 and
    # ~10 ms, so the difference is good to 0.12 ms.
    assert (after.mean() - before.mean()) == pytest.approx(0.008, abs=0.00015)
    kinds = [(e.kind, e.at_s) for e in result.events]
    assert kinds == [("link_down", 100.0), ("converged", 102.0)]


def test_analytic_loses_exactly_rate_times_window(diamond):
    result = _run(diamond, "analytic")
    assert result.services["s"].dropped == {"link_failure": int(RATE * CONVERGENCE_S)}
    util_bc = result.utilisation_of("b~c>")
    util_dc = result.utilisation_of("d~c>")
    load = RATE * 1000 * 8 / 1e8
    assert util_bc[0] == pytest.approx(load)
    assert util_bc[-1] == 0.0
    assert util_dc[-1] == pytest.approx(load)
    # the bin of the cut (100-110 s): the first 2 s are black-holed, the rest go via d
    assert util_dc[10] == pytest.approx(load * 8 / 10)


def test_reroute_mode_moves_flows_in_transfer(diamond):
    # 1 MB messages take 80 ms at 100 Mb/s, so several are in transfer at the cut.
    result = _run(
        diamond, "flow", size=SizeDist.exponential(1e6), failed_flows="reroute", rate=40.0, seed=3
    )
    cut, converged = result.events
    assert cut.messages_rerouted >= 1
    assert converged.messages_rerouted == cut.messages_rerouted
    stats = result.services["s"]
    assert stats.balanced
    # only new messages sent into the dead path during the window are lost
    assert set(stats.dropped) <= {"link_failure"}
    assert stats.dropped.get("link_failure", 0) < 40.0 * CONVERGENCE_S + 4 * math.sqrt(80)
