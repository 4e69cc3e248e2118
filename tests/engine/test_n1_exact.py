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


# A ring with a chord and callers on two of its sites; every service answers from h (h2
# when h is down). Three are routed alike (one host, the same callers: they share their
# legs' terms), one is one way, and the West side is loaded enough to overload.
RING = [
    ("a", "b", 2e6, 0.001),
    ("b", "c", 2e6, 0.002),
    ("c", "d", 4e6, 0.001),
    ("d", "a", 4e6, 0.003),
    ("a", "c", 1e6, 0.004),
    ("c", "h", 1e7, 0.001),
    ("d", "h2", 1e7, 0.001),
    ("m1", "a", 1e6, 0.001),
    ("m2", "b", 1e6, 0.001),
]


def _ring_services():
    def rr(name, callers, rate, req, resp, slo_s=None):
        svc = one_way(
            name, callers, "h", rate_per_s=rate, size=SizeDist.fixed(req), secondary="h2",
            slo_s=slo_s,
        )  # fmt: skip
        return dataclasses.replace(svc, one_way=False, response_size=SizeDist.fixed(resp))

    return (
        rr("alike-1", ("m1", "m2", "b"), 20.0, 2000.0, 9000.0, slo_s=0.05),
        rr("alike-2", ("m1", "m2", "b"), 5.0, 500.0, 40000.0),
        rr("alike-3", ("m1", "m2", "b"), 1.0, 100.0, 100.0, slo_s=0.02),
        rr("east", ("d",), 30.0, 4000.0, 4000.0),
        one_way("push", ("m1", "c"), "h", rate_per_s=3.0, size=SizeDist.fixed(30000.0)),
    )


def test_every_shortcut_of_a_case_gives_the_numbers_worked_out_in_full():
    # Against the study with no shortcut (routing restored and converged, every service
    # routed again, every link reloaded, every latency summed on its own), every case in
    # turn, twice over in both orders: the routing rolled back, the intact latency reused,
    # the legs shared and the busiest bins taken once give the same impacts, bit for bit.
    topology = make_topology(RING)
    d = demand(*_ring_services())
    fast = N1Study(topology, d, duration_s=3600.0)
    plain = N1Study(topology, d, duration_s=3600.0, shortcuts=False)
    elements = ["none", *sorted(topology.links), *sorted(topology.sites)]
    cases = [case_of(topology, e) for e in elements]
    for order in (cases, cases[::-1]):
        assert [fast.case(c) for c in order] == [plain.case(c) for c in order]
    impacts = [fast.case(c) for c in cases]
    # the cases do what the shortcuts are for: keep some services' latency, change others'
    intact = impacts[0].p95_latency_s
    assert any(i.p95_latency_s == intact for i in impacts[1:])
    assert any(i.p95_latency_s != intact and not i.failovers for i in impacts[1:])
    assert any(i.failovers for i in impacts) and any(i.overloaded_links for i in impacts)
