"""case_of names the element a single-failure case takes down; "none" is the intact network."""

from __future__ import annotations

import dataclasses

import pytest

from lgwan_sim.engine import N1Case, N1Study, case_of
from lgwan_sim.traffic import SizeDist
from tests.engine.support import demand, make_topology, one_way


def test_the_case_of_none_is_the_intact_network_and_a_link_is_its_own_case():
    topology = make_topology([("a", "b", 1e9, 0.001), ("b", "c", 1e9, 0.001)])
    assert case_of(topology, "none") == N1Case(id="none", kind="none")
    link = case_of(topology, "a~b")
    assert (link.kind, link.links, link.sites) == ("link", ("a~b",), ())


def _rr(slo_s=None):
    # a request-response service from a to c over b: 1,000-byte requests, 9,000-byte answers
    svc = one_way("rr", ("a",), "c", rate_per_s=10.0, size=SizeDist.fixed(1000.0), slo_s=slo_s)
    return dataclasses.replace(svc, one_way=False, response_size=SizeDist.fixed(9000.0))


LINE = [("a", "b", 1e6, 0.001), ("b", "c", 1e6, 0.002), ("b", "d", 1e6, 0.004)]


def test_a_request_response_latency_counts_both_legs_and_an_slo_met_exactly_is_no_breach():
    topology = make_topology(LINE)
    study = N1Study(topology, demand(_rr()), duration_s=3600.0)
    p95 = study.case(case_of(topology, "none")).p95_latency_s["rr"]
    # both ways over two links: propagation, then the queueing delay of 80 + 720 kbit at
    # each of the two 1 Mb/s bottlenecks crossed, at least their transmission time
    assert p95 is not None
    assert p95 >= 2 * 0.003 + 2 * (8000.0 + 72000.0) / 1e6 - 1e-12
    met = N1Study(topology, demand(_rr(slo_s=p95)), duration_s=3600.0)
    impact = met.case(case_of(topology, "none"))
    assert impact.p95_latency_s["rr"] == p95
    assert "rr" not in impact.breaches
    missed = N1Study(topology, demand(_rr(slo_s=p95 * (1 - 1e-9))), duration_s=3600.0)
    assert missed.case(case_of(topology, "none")).breaches == {"rr": "latency"}


def test_a_host_that_fails_moves_its_service_to_the_secondary_for_the_case_only():
    topology = make_topology(LINE)
    svc = one_way("m", ("a",), "c", rate_per_s=1.0, size=SizeDist.fixed(500.0), secondary="d")
    study = N1Study(topology, demand(svc), duration_s=3600.0)
    impact = study.case(case_of(topology, "c"))
    assert impact.failovers == ("m",)
    assert impact.lost == {"site_down": 0.0, "no_route": 0.0, "overload": 0.0}
    assert study.case(case_of(topology, "none")).failovers == ()


def test_a_study_shorter_than_the_rounding_tolerance_of_a_bin_still_has_one_bin():
    topology = make_topology(LINE)
    svc = one_way("m", ("a",), "c", rate_per_s=1.0, size=SizeDist.fixed(500.0))
    study = N1Study(topology, demand(svc), duration_s=1e-9)  # 1e-9 / 60 s bins - 1e-9 < 0
    assert study.n_bins == 1
    # no load: 3 ms of propagation and 4 ms to send 500 bytes at 1 Mb/s
    assert study.case(case_of(topology, "none")).p95_latency_s == {"m": pytest.approx(0.007)}


def test_a_service_that_offers_nothing_loses_nothing_to_an_overload():
    topology = make_topology(LINE)
    busy = one_way("busy", ("a",), "c", rate_per_s=1000.0, size=SizeDist.fixed(500.0))
    idle = one_way("idle", ("a",), "c", rate_per_s=0.0, size=SizeDist.fixed(500.0))
    impact = N1Study(topology, demand(busy, idle), duration_s=3600.0).case(
        case_of(topology, "none")
    )
    assert impact.peak_utilisation == pytest.approx(4.0)  # 4 Mb/s offered to 1 Mb/s
    assert "overload" in impact.breaches["busy"]
    assert "idle" not in impact.breaches
    alone = N1Study(topology, demand(busy), duration_s=3600.0).case(case_of(topology, "none"))
    assert impact.lost == alone.lost
