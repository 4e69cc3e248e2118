"""case_of names the element a single-failure case takes down; "none" is the intact network."""

from __future__ import annotations

import dataclasses

import pytest

from lgwan_sim.engine import N1Case, N1Study, case_of
from lgwan_sim.traffic import Profile, SizeDist
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


# A square a-b-c-d with hosts on two corners: h behind c (h2, its standby, behind d) and g
# behind a. The trees toward c and toward a differ: c~d is in c's and not in a's, so failing
# it reroutes h's traffic from d over d~a and a~b, links that g's services use while their
# routes stay as they were. Three services are routed alike (one host, the same callers:
# they share their legs' terms); the services peak at different hours.
SQUARE = [
    ("a", "b", 2e6, 0.001),
    ("b", "c", 2e6, 0.001),
    ("c", "d", 4e6, 0.001),
    ("d", "a", 2e6, 0.0015),
    ("c", "h", 1e7, 0.001),
    ("d", "h2", 1e7, 0.001),
    ("a", "g", 1e7, 0.001),
    ("m1", "a", 1e6, 0.001),
    ("m2", "b", 1e6, 0.001),
]


def _square_services():
    def rr(name, callers, host, rate, req, resp, peak, slo_s=None, secondary=None):
        svc = one_way(
            name, callers, host, rate_per_s=rate, size=SizeDist.fixed(req),
            secondary=secondary, slo_s=slo_s,
        )  # fmt: skip
        hourly = tuple(4.0 if h == peak else 1.0 for h in range(24))
        return dataclasses.replace(
            svc, one_way=False, response_size=SizeDist.fixed(resp), profile=Profile(hourly=hourly)
        )

    alike = ("m1", "m2", "b")
    return (
        rr("alike-1", alike, "h", 10.0, 2000.0, 9000.0, 10, slo_s=0.05, secondary="h2"),
        rr("alike-2", alike, "h", 3.0, 500.0, 40000.0, 10, secondary="h2"),
        rr("alike-3", alike, "h", 1.0, 100.0, 100.0, 10, slo_s=0.02, secondary="h2"),
        rr("east", ("d",), "h", 20.0, 4000.0, 4000.0, 14),
        rr("local", ("d", "m2", "b"), "g", 10.0, 3000.0, 6000.0, 20, slo_s=0.03),
        one_way("push", ("m1", "c"), "h", rate_per_s=3.0, size=SizeDist.fixed(30000.0)),
    )


def test_every_shortcut_of_a_case_gives_the_numbers_worked_out_in_full():
    # Against the study with no shortcut (routing restored and converged, every service
    # routed again, every link reloaded, every latency summed on its own), every case in
    # turn, in both orders: the routing rolled back, the intact latency reused, the legs
    # shared and the busiest bins taken once give the same impacts, bit for bit.
    topology = make_topology(SQUARE)
    d = demand(*_square_services())
    fast = N1Study(topology, d)
    plain = N1Study(topology, d, shortcuts=False)
    elements = ["none", *sorted(topology.links), *sorted(topology.sites)]
    cases = [case_of(topology, e) for e in elements]
    for order in (cases, cases[::-1]):
        assert [fast.case(c) for c in order] == [plain.case(c) for c in order]
    impacts = {c.id: fast.case(c) for c in cases}
    intact = impacts["none"].p95_latency_s
    # c~d moves h's traffic onto g's links: g's service is slower though its routes stay
    assert impacts["c~d"].p95_latency_s["local"] > intact["local"]
    assert any(i.failovers for i in impacts.values())
    assert any(i.overloaded_links for i in impacts.values())
