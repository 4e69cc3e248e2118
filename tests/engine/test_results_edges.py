"""RunResult and AppliedEvent: totals, lookups, the top-links order, the digest and the
summary dict, on a result built by hand."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

import numpy as np
import pytest

from lgwan_sim.engine import (
    AppliedEvent,
    DownElements,
    Fidelity,
    LatencyHistogram,
    RunResult,
    ServiceStats,
)
from tests.engine.support import MONDAY


def hist(*values):
    h = LatencyHistogram()
    for v in values:
        h.add(v)
    return h


def service(name, offered, delivered, dropped, in_flight):
    return ServiceStats(
        name=name, offered=offered, delivered=delivered, dropped=dropped, in_flight=in_flight,
        latency=hist(*([0.01] * delivered)), slo_breaches=0,
    )  # fmt: skip


def result(**kw) -> RunResult:
    base = {
        "fidelity": Fidelity.FLOW,
        "seed": 7,
        "duration_s": 20.0,
        "bin_s": 10.0,
        "start": MONDAY,
        "services": {
            "b": service("b", 5, 2, {"no_route": 1, "link_failure": 1}, 1),
            "a": service("a", 4, 3, {"link_failure": 1}, 0),
        },
        "link_ids": ("x~y>", "x~y<", "y~z>", "y~z<"),
        "link_capacity_bps": np.array([1e6, 1e6, 2e6, 2e6]),
        "link_utilisation": np.array([[0.5, 0.1], [0.0, 0.0], [0.5, 0.3], [0.2, 0.9]]),
        "offered_per_bin": {"a": np.array([3, 1]), "b": np.array([2, 3])},
        "delivered_per_bin": {"a": np.array([2, 1]), "b": np.array([1, 1])},
        "latency_p50_s": {"a": np.array([0.01, np.nan]), "b": np.array([0.02, 0.03])},
        "latency_p95_s": {"a": np.array([0.01, np.nan]), "b": np.array([0.02, 0.03])},
        "latency_p99_s": {"a": np.array([0.01, np.nan]), "b": np.array([0.02, 0.04])},
        "unreachable_local_bodies": np.array([0, 3]),
        "events": (AppliedEvent(at_s=5.0, kind="link_down", links=("x~y",), messages_lost=2),),
        "stopped_at_s": 20.0,
        "counters": {"flows": 9, "classes": 2},
    }
    base.update(kw)
    return RunResult(**base)


def test_totals_add_up_over_services():
    r = result()
    assert r.n_bins == 2
    assert (r.offered, r.delivered, r.in_flight) == (9, 5, 1)
    assert r.dropped == {"link_failure": 2, "no_route": 1}
    assert list(r.dropped) == ["link_failure", "no_route"]
    assert r.balanced
    unbalanced = dict(r.services, c=service("c", 3, 1, {}, 1))
    assert not result(services=unbalanced).balanced


def test_a_link_is_found_by_its_directed_id():
    r = result()
    assert r.link_index("y~z<") == 3
    assert r.utilisation_of("y~z<").tolist() == [0.2, 0.9]
    assert r.utilisation_of("x~y>").tolist() == [0.5, 0.1]
    with pytest.raises(ValueError, match="not in tuple"):
        r.link_index("x~z>")


def test_top_links_are_by_peak_then_id_and_only_loaded_ones():
    r = result()
    # peaks: x~y> 0.5, x~y< 0, y~z> 0.5, y~z< 0.9; a tie on 0.5 goes to the smaller id
    assert r.top_links() == [
        ("y~z<", 0.9, pytest.approx(0.55)),
        ("x~y>", 0.5, pytest.approx(0.3)),
        ("y~z>", 0.5, pytest.approx(0.4)),
    ]
    assert [t[0] for t in r.top_links(2)] == ["y~z<", "x~y>"]
    assert r.top_links(1) == [("y~z<", 0.9, pytest.approx(0.55))]
    empty = result(link_ids=(), link_capacity_bps=np.zeros(0), link_utilisation=np.zeros((0, 2)))
    assert empty.top_links() == []
    no_bins = result(link_utilisation=np.zeros((4, 0)))
    assert no_bins.top_links() == []
    one = result(
        link_ids=("x~y>",), link_capacity_bps=np.ones(1), link_utilisation=np.array([[0.5]])
    )
    assert one.top_links() == [("x~y>", 0.5, 0.5)]


def test_top_links_lists_twenty_by_default():
    ids = tuple(f"l{i:02d}~m>" for i in range(25))
    util = np.array([[0.01 * (i + 1)] for i in range(25)])
    r = result(link_ids=ids, link_capacity_bps=np.ones(25), link_utilisation=util)
    top = r.top_links()
    assert len(top) == 20
    assert [t[0] for t in top] == [f"l{i:02d}~m>" for i in range(24, 4, -1)]
    assert len(r.top_links(25)) == 25


def test_the_digest_covers_every_series_and_nothing_else():
    r = result()
    assert r.digest() == result().digest()
    assert len(r.digest()) == 64
    changed = [
        result(link_utilisation=r.link_utilisation + np.array([[0.0, 0.0]] * 3 + [[0.0, 1e-9]])),
        result(unreachable_local_bodies=np.array([0, 4])),
        result(offered_per_bin={"a": np.array([3, 1]), "b": np.array([2, 4])}),
        result(delivered_per_bin={"a": np.array([2, 0]), "b": np.array([1, 1])}),
        result(latency_p50_s={"a": np.array([0.01, np.nan]), "b": np.array([0.02, 0.031])}),
        result(latency_p95_s={"a": np.array([0.011, np.nan]), "b": np.array([0.02, 0.03])}),
        result(latency_p99_s={"a": np.array([0.01, np.nan]), "b": np.array([0.02, 0.05])}),
        # the same series under other service names (in the same order, and in another)
        result(offered_per_bin={"a2": np.array([3, 1]), "b": np.array([2, 3])}),
        result(offered_per_bin={"c": np.array([3, 1]), "b": np.array([2, 3])}),
    ]
    digests = {x.digest() for x in changed}
    assert len(digests) == len(changed)
    assert r.digest() not in digests
    # counters, events and wall time are not series
    assert result(counters={}, events=(), wall_s=3.0).digest() == r.digest()


def test_to_dict_is_the_documented_summary():
    r = result(overloaded=True, overload_reason="too much", stopped_at_s=15.0, wall_s=1.5)
    d = r.to_dict()
    assert d["fidelity"] == "flow"
    assert (d["seed"], d["duration_s"], d["bin_s"], d["n_bins"]) == (7, 20.0, 10.0, 2)
    assert d["start"] == "2026-04-06T00:00:00+09:00"
    assert (d["overloaded"], d["overload_reason"], d["stopped_at_s"]) == (True, "too much", 15.0)
    assert d["totals"] == {
        "offered": 9, "delivered": 5, "dropped": {"link_failure": 2, "no_route": 1}, "in_flight": 1,
    }  # fmt: skip
    assert list(d["services"]) == ["a", "b"]
    assert d["services"]["b"] == r.services["b"].to_dict()
    assert d["top_links"][0] == {
        "link": "y~z<", "peak_utilisation": 0.9, "mean_utilisation": pytest.approx(0.55),
    }  # fmt: skip
    assert len(d["top_links"]) == 3
    assert d["unreachable_local_bodies_peak"] == 3
    assert d["events"] == [
        {"at_s": 5.0, "kind": "link_down", "links": ["x~y"], "routes_recomputed": 0,
         "messages_lost": 2, "messages_rerouted": 0},
    ]  # fmt: skip
    assert d["counters"] == {"classes": 2, "flows": 9}
    assert list(d["counters"]) == ["classes", "flows"]
    assert d["series_sha256"] == r.digest()
    assert "wall_s" not in d
    json.dumps(d)  # JSON-safe
    none = result(unreachable_local_bodies=np.zeros(0, dtype=np.int64))
    assert none.to_dict()["unreachable_local_bodies_peak"] == 0


def test_an_applied_event_dict_leaves_out_what_is_empty():
    assert AppliedEvent(at_s=1.0, kind="demand").to_dict() == {
        "at_s": 1.0, "kind": "demand", "routes_recomputed": 0, "messages_lost": 0,
        "messages_rerouted": 0,
    }  # fmt: skip
    full = AppliedEvent(
        at_s=2.0, kind="failover", note="n", links=("a~b",), sites=("a", "b"), service="s",
        routes_recomputed=3, messages_lost=4, messages_rerouted=5,
    )  # fmt: skip
    assert full.to_dict() == {
        "at_s": 2.0, "kind": "failover", "note": "n", "links": ["a~b"], "sites": ["a", "b"],
        "service": "s", "routes_recomputed": 3, "messages_lost": 4, "messages_rerouted": 5,
    }  # fmt: skip


def test_an_applied_event_lists_up_to_50_sites_and_counts_more():
    fifty = tuple(f"s{i:02d}" for i in range(50))
    assert AppliedEvent(at_s=0.0, kind="region_down", sites=fifty).to_dict()["sites"] == list(fifty)
    many = AppliedEvent(at_s=0.0, kind="region_down", sites=(*fifty, "s50"))
    assert many.to_dict()["sites"] == 51


def test_a_result_is_not_overloaded_unless_it_says_so():
    r = RunResult(**{k: v for k, v in vars_of(result()).items() if k not in OPTIONAL})
    assert r.overloaded is False
    assert r.overload_reason is None
    assert r.stopped_at_s == 0.0
    assert r.wall_s == 0.0
    assert r.counters == {}
    assert r.to_dict()["overloaded"] is False


OPTIONAL = {"overloaded", "overload_reason", "stopped_at_s", "counters", "wall_s"}


def vars_of(r: RunResult) -> dict[str, object]:
    return {name: getattr(r, name) for name in RunResult.__dataclass_fields__}


def test_results_are_frozen():
    r = result()
    with pytest.raises(AttributeError):
        r.seed = 8  # type: ignore[misc]
    assert replace(r, seed=8).seed == 8
    assert isinstance(r.start, datetime)


def test_down_elements_follow_what_each_outage_entry_took_down_and_brought_back():
    log = [
        AppliedEvent(at_s=1.0, kind="link_down", links=("a~b", "b~c")),
        AppliedEvent(at_s=2.0, kind="site_down", sites=("s1", "s2")),
        AppliedEvent(at_s=3.0, kind="converged", links=("b~c",), sites=("s2",)),
        AppliedEvent(at_s=4.0, kind="link_up", links=("a~b",)),
        AppliedEvent(at_s=5.0, kind="site_up", sites=("s1",)),
    ]
    down = DownElements()
    seen = [(down.apply(e), sorted(down.links), sorted(down.sites)) for e in log]
    assert seen == [
        (True, ["a~b", "b~c"], []),
        (True, ["a~b", "b~c"], ["s1", "s2"]),
        (False, ["a~b", "b~c"], ["s1", "s2"]),
        (True, ["b~c"], ["s1", "s2"]),
        (True, ["b~c"], ["s2"]),
    ]
    again = DownElements(log)
    assert (again.links, again.sites) == ({"b~c"}, {"s2"})
