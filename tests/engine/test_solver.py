"""Max-min fairness: textbook examples get their exact rates; both solvers agree."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lgwan_sim.engine import max_min_rates
from lgwan_sim.engine._solver import waterfill_numpy, waterfill_python

METHODS = ["python", "numpy"]


@pytest.mark.parametrize("method", METHODS)
def test_bertsekas_gallager_line(method):
    # One long flow across three unit links, one short flow per link: everybody gets 1/2.
    caps = {"l1": 1.0, "l2": 1.0, "l3": 1.0}
    flows = {"long": ["l1", "l2", "l3"], "s1": ["l1"], "s2": ["l2"], "s3": ["l3"]}
    assert max_min_rates(caps, flows, method=method) == {
        "long": 0.5,
        "s1": 0.5,
        "s2": 0.5,
        "s3": 0.5,
    }


@pytest.mark.parametrize("method", METHODS)
def test_two_bottlenecks(method):
    # l2 (4) is shared by f1 and f2: 2 each. f3 takes what f1 leaves on l1: 10 - 2 = 8.
    caps = {"l1": 10.0, "l2": 4.0}
    flows = {"f1": ["l1", "l2"], "f2": ["l2"], "f3": ["l1"]}
    assert max_min_rates(caps, flows, method=method) == {"f1": 2.0, "f2": 2.0, "f3": 8.0}


@pytest.mark.parametrize("method", METHODS)
def test_three_levels(method):
    # Classic example (Bertsekas & Gallager, Data Networks, sec. 6.5.2 style):
    # A: 1/3 on l1 (3 flows), then l2 (cap 1) has B, C with A frozen: (1 - 1/3)/2 = 1/3,
    # l3 (cap 2): D alone after A -> 2 - 1/3 = 5/3.
    caps = {"l1": 1.0, "l2": 1.0, "l3": 2.0}
    flows = {
        "A": ["l1", "l2", "l3"],
        "B": ["l1"],
        "C": ["l1", "l2"],
        "D": ["l3"],
    }
    rates = max_min_rates(caps, flows, method=method)
    assert rates["A"] == pytest.approx(1 / 3)
    assert rates["B"] == pytest.approx(1 / 3)
    assert rates["C"] == pytest.approx(1 / 3)
    assert rates["D"] == pytest.approx(5 / 3)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="method must be"):
        max_min_rates({"l": 1.0}, {"f": ["l"]}, method="simplex")


problems = st.integers(1, 6).flatmap(
    lambda n_links: st.tuples(
        st.lists(st.floats(0.5, 100.0), min_size=n_links, max_size=n_links),
        st.lists(
            st.tuples(
                st.lists(st.integers(0, n_links - 1), min_size=1, max_size=n_links, unique=True),
                st.integers(1, 5),
                st.one_of(st.just(math.inf), st.floats(0.1, 50.0)),
            ),
            min_size=1,
            max_size=12,
        ),
    )
)


@settings(max_examples=200, deadline=None)
@given(problems)
def test_solvers_agree_and_allocation_is_max_min(problem):
    caps, classes = problem
    members = [c[0] for c in classes]
    counts = [float(c[1]) for c in classes]
    limits = [c[2] for c in classes]
    a = waterfill_python(caps, members, counts, limits)
    b = waterfill_numpy(caps, members, counts, limits)
    assert a == pytest.approx(b, rel=1e-9)
    # feasible
    for j, cap in enumerate(caps):
        used = sum(counts[i] * a[i] for i in range(len(a)) if j in members[i])
        assert used <= cap * (1 + 1e-9)
    # max-min: every class is at its limit or crosses a saturated link where it is maximal
    for i, r in enumerate(a):
        assert r <= limits[i] * (1 + 1e-9)
        if r >= limits[i] * (1 - 1e-9):
            continue
        bottleneck = False
        for j in members[i]:
            used = sum(counts[k] * a[k] for k in range(len(a)) if j in members[k])
            top = max(a[k] for k in range(len(a)) if j in members[k])
            if used >= caps[j] * (1 - 1e-9) and r >= top * (1 - 1e-9):
                bottleneck = True
        assert bottleneck, (i, r)


def test_flow_engine_gives_the_same_answer_with_either_solver():
    # 20 hosts on 100 Mb/s lines share a 300 Mb/s bottleneck: components of up to 20 classes.
    from lgwan_sim.engine import EngineConfig, run
    from lgwan_sim.traffic import SizeDist
    from tests.engine.support import demand, make_topology, one_way

    hosts = tuple(f"h{i:02d}" for i in range(20))
    topo = make_topology([(h, "hub", 1e8, 0.001) for h in hosts] + [("hub", "dc", 3e8, 0.002)])
    d = demand(one_way("s", hosts, "dc", rate_per_s=600.0, size=SizeDist.exponential(50_000)))
    results = [
        run(
            topo,
            d,
            fidelity="flow",
            duration_s=30.0,
            seed=9,
            config=EngineConfig(solver_numpy_min_classes=n),
        )
        for n in (1, 10_000)
    ]
    numpy_run, python_run = results
    assert numpy_run.counters["numpy_solves"] > 100
    assert python_run.counters["numpy_solves"] == 0
    assert numpy_run.delivered == python_run.delivered
    a, b = numpy_run.services["s"].latency.mean, python_run.services["s"].latency.mean
    assert a == pytest.approx(b, rel=1e-6)
