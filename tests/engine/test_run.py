"""Accounting, determinism and the timeline, in every fidelity, on the national network."""

from __future__ import annotations

import json

import pytest

from lgwan_sim.engine import (
    EngineConfig,
    EventKind,
    Fidelity,
    LossModel,
    Timeline,
    TimelineEvent,
    run,
)
from lgwan_sim.errors import InputError
from tests.engine.support import national_demand

FIDELITIES = [f.value for f in Fidelity]


PER_PACKET = (EventKind.LINK_LOSS, EventKind.LINK_LATENCY)  # refused by the analytic fidelity


def all_kinds_timeline(fidelity: str = "flow") -> Timeline:
    e = TimelineEvent
    link = ("pn-13~central-east",)
    impairments = (
        e(at_s=24.0, kind=EventKind.LINK_LOSS, links=link, loss=LossModel.random(0.01)),
        e(at_s=24.0, kind=EventKind.LINK_LATENCY, links=link, delay_s=0.01, jitter_s=0.005),
        # a flapping that starts and ends before its first transition: no outage
        e(at_s=24.0, kind=EventKind.LINK_FLAP, links=link, mtbf_s=1e6, mttr_s=1.0),
        e(at_s=26.0, kind=EventKind.LINK_FLAP, links=link),
    )
    if fidelity == "analytic":
        impairments = tuple(x for x in impairments if x.kind not in PER_PACKET)
    return Timeline(
        events=(
            e(at_s=4.0, kind=EventKind.LINK_DOWN, links=("pn-13~central-east",), note="cut"),
            e(at_s=9.0, kind=EventKind.DEMAND, multiplier=1.5),
            e(at_s=10.0, kind=EventKind.SITE_DOWN, sites=("pref-27",)),
            e(at_s=12.0, kind=EventKind.REGION_DOWN, prefectures=("46", "47")),
            e(at_s=14.0, kind=EventKind.FAILOVER, service="juki"),
            e(at_s=15.0, kind=EventKind.CAPACITY, links=("asp-jlis-west~aspseg-west",),
              capacity_bps=2e8),
            e(at_s=16.0, kind=EventKind.DEMAND, multiplier=3.0, service="eltax"),
            e(at_s=18.0, kind=EventKind.REGION_DOWN, center_latlon=(43.06, 141.35),
              radius_km=30.0, note="earthquake near Sapporo"),
            e(at_s=20.0, kind=EventKind.LINK_UP, links=("pn-13~central-east",)),
            e(at_s=21.0, kind=EventKind.SITE_UP, sites=("pref-27",)),
            e(at_s=22.0, kind=EventKind.REGION_UP, prefectures=("46", "47")),
            e(at_s=23.0, kind=EventKind.FAILBACK, service="juki"),
            *impairments,
        )
    )  # fmt: skip


CONFIG = EngineConfig(bin_s=5.0, convergence_delay_s=1.0, buffer_bytes=200_000.0)


@pytest.fixture(scope="module")
def workload(national):
    return national_demand(national, messages_per_s=150.0, mean_bytes=10_000.0)


@pytest.fixture(scope="module")
def runs(national, workload):
    def go(fidelity, seed):
        return run(
            national,
            workload,
            all_kinds_timeline(fidelity),
            fidelity=fidelity,
            duration_s=30.0,
            seed=seed,
            config=CONFIG,
        )

    return {(f, s): go(f, s) for f in FIDELITIES for s in (1, 1, 2)}


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_every_message_is_accounted_for(runs, fidelity):
    result = runs[(fidelity, 1)]
    assert result.offered > 3000
    for stats in result.services.values():
        assert stats.offered == stats.delivered + sum(stats.dropped.values()) + stats.in_flight
        # analytic counts are expectations, rounded to whole messages in the totals
        assert stats.latency.count == pytest.approx(stats.delivered, abs=1.0)
    # the outages really lost traffic, for the reasons they should
    assert result.dropped.get("site_down", 0) > 0
    assert set(result.dropped) <= {
        "site_down",
        "link_failure",
        "no_route",
        "buffer_overflow",
        "link_loss",
    }
    # per-bin offered and delivered counts add up to the totals, bin by bin never negative
    for name, stats in result.services.items():
        assert int(result.offered_per_bin[name].sum()) == stats.offered
        assert int(result.delivered_per_bin[name].sum()) == stats.delivered
        assert result.delivered_per_bin[name].min() >= 0


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_applied_events_are_logged(runs, fidelity):
    result = runs[(fidelity, 1)]
    kinds = [e.kind for e in result.events]
    for kind in EventKind:
        if fidelity != "analytic" or kind not in PER_PACKET:
            assert str(kind) in kinds
    converged = [e for e in result.events if e.kind == "converged"]
    assert len(converged) == 7  # the seven down/up events each converged a second later
    assert all(e.routes_recomputed >= 0 for e in converged)
    cut = next(e for e in result.events if e.kind == "link_down")
    assert cut.at_s == 4.0
    assert cut.links == ("central-east~pn-13",) or cut.links == ("pn-13~central-east",)
    sapporo = next(e for e in result.events if e.note == "earthquake near Sapporo")
    assert "pref-01" in sapporo.sites
    assert max(result.unreachable_local_bodies) >= 40  # Kagoshima + Okinawa + Sapporo area


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_same_seed_same_bytes(runs, fidelity):
    a = json.dumps(runs[(fidelity, 1)].to_dict(), sort_keys=True)
    b = json.dumps(runs[(fidelity, 1)].to_dict(), sort_keys=True)
    assert a == b
    assert runs[(fidelity, 1)].digest() == runs[(fidelity, 1)].digest()


@pytest.mark.parametrize("fidelity", ["flow", "packet"])
def test_another_seed_changes_the_run(runs, fidelity):
    a = runs[(fidelity, 1)].to_dict()
    b = runs[(fidelity, 2)].to_dict()
    assert a["totals"] != b["totals"]
    assert a["series_sha256"] != b["series_sha256"]


def test_analytic_is_an_expectation_independent_of_the_seed(runs):
    a = runs[("analytic", 1)].to_dict()
    b = runs[("analytic", 2)].to_dict()
    assert a.pop("seed") == 1
    assert b.pop("seed") == 2
    assert a == b


def test_bad_inputs_are_refused(national, workload):
    with pytest.raises(InputError, match="fidelity"):
        run(national, workload, fidelity="quantum", duration_s=1.0, seed=1)
    with pytest.raises(InputError, match="duration_s"):
        run(national, workload, fidelity="flow", duration_s=0.0, seed=1)
    bad = Timeline(events=(TimelineEvent(at_s=1.0, kind=EventKind.FAILOVER, service="nope"),))
    with pytest.raises(InputError, match="unknown service"):
        run(national, workload, bad, fidelity="flow", duration_s=2.0, seed=1)
    no_secondary = Timeline(
        events=(TimelineEvent(at_s=1.0, kind=EventKind.FAILOVER, service="cloud-kyoto"),)
    )
    with pytest.raises(InputError, match="secondary"):
        run(national, workload, no_secondary, fidelity="analytic", duration_s=2.0, seed=1)
    with pytest.raises(InputError, match="needs links"):
        TimelineEvent(at_s=1.0, kind=EventKind.LINK_DOWN)


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_progress_is_reported_in_simulated_time(diamond, fidelity):
    from lgwan_sim.traffic import SizeDist
    from tests.engine.support import demand, one_way

    seen: list[float] = []
    d = demand(one_way("s", ("a",), "c", rate_per_s=50.0, size=SizeDist.fixed(1000.0)))
    cfg = EngineConfig(bin_s=10.0)
    run(diamond, d, fidelity=fidelity, duration_s=60.0, seed=1, config=cfg, progress=seen.append)
    assert seen
    assert seen == sorted(seen)
    assert seen[-1] == pytest.approx(60.0)


@pytest.mark.parametrize("fidelity", ["flow", "analytic"])
def test_same_seed_same_bytes_across_processes(tmp_path, fidelity):
    # String hashing is randomised per process, and a BLAS library may split its sums by
    # thread count; nothing that reaches the result may depend on either. Two interpreters
    # with different hash seeds and BLAS thread counts must print the same summary.
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "once.py"
    script.write_text(
        "import json, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parents[2])!r})\n"
        "from tests.engine.support import national_demand\n"
        "from tests.engine.test_run import CONFIG, all_kinds_timeline\n"
        "from lgwan_sim.engine import run\n"
        "from lgwan_sim.network import build_national\n"
        "topo = build_national()\n"
        "d = national_demand(topo, messages_per_s=50.0, mean_bytes=10_000.0)\n"
        f"r = run(topo, d, all_kinds_timeline({fidelity!r}), fidelity={fidelity!r},"
        " duration_s=30.0, seed=3,\n"
        "        config=CONFIG)\n"
        "print(json.dumps(r.to_dict(), sort_keys=True))\n"
    )
    outs = [
        subprocess.run(
            [sys.executable, str(script)],
            env={
                **os.environ,
                "PYTHONHASHSEED": seed,
                "OPENBLAS_NUM_THREADS": threads,
                "OMP_NUM_THREADS": threads,
            },
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        for seed, threads in (("1", "1"), ("4242", "2"))
    ]
    assert outs[0]
    assert outs[0] == outs[1]


@pytest.mark.parametrize("fidelity", FIDELITIES)
def test_capacity_change_takes_effect(single_link, fidelity):
    from lgwan_sim.traffic import SizeDist
    from tests.engine.support import demand, one_way

    # 300 messages/s of 1000 B on 1 MB/s: rho 0.3, then 0.6 once the link is halved at 50 s.
    d = demand(one_way("s", ("a",), "b", rate_per_s=300.0, size=SizeDist.fixed(1000.0)))
    halve = Timeline(
        events=(
            TimelineEvent(at_s=50.0, kind=EventKind.CAPACITY, links=("a~b",), capacity_bps=4e6),
        )
    )
    cfg = EngineConfig(bin_s=10.0, mss_bytes=1e9, header_bytes=0.0)
    result = run(single_link, d, halve, fidelity=fidelity, duration_s=100.0, seed=8, config=cfg)
    util = result.utilisation_of("a~b>")
    # 40 s windows hold ~12,000 messages: Poisson noise 0.9 %, tolerance 5 %
    assert util[:4].mean() == pytest.approx(0.3, rel=0.05)
    assert util[6:].mean() == pytest.approx(0.6, rel=0.05)
    # at rho 0.6 messages wait longer than at 0.3 (M/D/1 in packet, PS in flow and analytic)
    p50 = result.latency_p50_s["s"]
    assert p50[6:].mean() > 1.5 * p50[:4].mean()
    assert result.balanced
