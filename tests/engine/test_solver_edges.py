"""Max-min rates at the edges: a link with no capacity, per-class counts and caps, links
level within the tolerance, and the method switch."""

from __future__ import annotations

import math

import pytest

from lgwan_sim.engine import EngineConfig, _solver, max_min_rates
from lgwan_sim.engine._solver import waterfill_numpy, waterfill_python

SOLVERS = [waterfill_python, waterfill_numpy]


@pytest.mark.parametrize("method", ["python", "numpy", "auto"])
def test_a_link_without_capacity_gives_its_flows_nothing_and_the_rest_to_the_others(method):
    rates = max_min_rates(
        {"l0": 0.0, "l1": 10.0}, {"f1": ["l0", "l1"], "f2": ["l1"]}, method=method
    )
    assert rates == {"f1": 0.0, "f2": 10.0}


@pytest.mark.parametrize("solve", SOLVERS)
def test_counts_and_caps_of_classes(solve):
    # one 10-unit link: class 0 is 2 flows capped at 1 each, class 1 is 3 flows, class 2 one
    # flow capped at 5: level 1 freezes class 0 (2 units); the other 4 flows share 8 -> 2
    rates = solve([10.0], [[0], [0], [0]], [2.0, 3.0, 1.0], [1.0, math.inf, 5.0])
    assert rates == pytest.approx([1.0, 2.0, 2.0], rel=1e-12)


@pytest.mark.parametrize("solve", SOLVERS)
def test_a_capped_class_leaves_its_share_to_a_second_bottleneck(solve):
    # l0 (6) carries A (cap 1) and B; l1 (4) carries B and C. Level 1 freezes A; l1 then
    # gives B and C 2 each; B uses 2 of the 5 left on l0.
    rates = solve([6.0, 4.0], [[0], [0, 1], [1]], [1.0, 1.0, 1.0], [1.0, math.inf, math.inf])
    assert rates == pytest.approx([1.0, 2.0, 2.0], rel=1e-12)


@pytest.mark.parametrize("solve", SOLVERS)
def test_links_within_the_tolerance_of_the_level_freeze_together(solve):
    # l0 and l1 differ by one part in 1e13: both are the bottleneck of the first round
    caps = [1.0, 1.0 + 1e-13, 10.0]
    rates = solve(caps, [[0, 2], [1, 2], [2]], [1.0, 1.0, 1.0], [math.inf] * 3)
    assert rates[0] == 1.0
    assert rates[1] == 1.0  # the level of the round, not its own 1 + 1e-13
    assert rates[2] == pytest.approx(8.0, rel=1e-12)


def test_auto_switches_to_numpy_from_numpy_min_flows_up():
    caps = {"l": 1.0}
    flows = {f"f{i:02d}": ["l"] for i in range(3)}
    for threshold in (1, 3, 4, 48):
        assert max_min_rates(caps, flows, numpy_min_flows=threshold) == pytest.approx(
            dict.fromkeys(flows, 1 / 3), rel=1e-12
        )


@pytest.mark.parametrize("method", ["", "Python", "simplex"])
def test_an_unknown_method_is_refused_whatever_the_size(method):
    with pytest.raises(ValueError, match="method must be auto, python or numpy"):
        max_min_rates({"l": 1.0}, {}, method=method)


@pytest.mark.parametrize("method", ["python", "numpy", "auto"])
def test_a_flow_that_crosses_no_link_gets_its_own_limit_without_warnings(method):
    # As many flows as the engine's default numpy threshold (solver_numpy_min_classes):
    # 255 share l0 (1 each out of 255) and l1 (2) also carries f000; one flow crosses no
    # link, so nothing bounds it. Warnings are errors in this suite.
    n = EngineConfig().solver_numpy_min_classes
    flows = {f"f{i:03d}": ["l0"] for i in range(n - 1)}
    flows["f000"] = ["l0", "l1"]
    flows["none"] = []
    rates = max_min_rates({"l0": n - 1.0, "l1": 2.0}, flows, method=method, numpy_min_flows=n)
    assert rates.pop("none") == math.inf
    assert rates == pytest.approx(dict.fromkeys(rates, 1.0), rel=1e-12)


def test_classes_without_links_get_their_limits_from_both_solvers():
    # no constraint at all, and a linkless class beside linked ones, capped or not
    for caps, members, counts, limits, expected in (
        ([], [[], []], [1.0, 3.0], [math.inf, 2.0], [math.inf, 2.0]),
        ([4.0], [[0], [], []], [2.0, 1.0, 1.0], [math.inf, math.inf, 5.0], [2.0, math.inf, 5.0]),
    ):
        assert waterfill_numpy(caps, members, counts, limits) == expected
        assert waterfill_python(caps, members, counts, limits) == expected


@pytest.mark.parametrize(
    ("method", "threshold", "numpy_used"),
    [("numpy", 48, True), ("python", 1, False), ("auto", 3, True), ("auto", 4, False)],
)
def test_the_method_picks_the_water_filling_that_runs(monkeypatch, method, threshold, numpy_used):
    calls: list[str] = []

    def spy(name, solve):
        def wrapped(*args):
            calls.append(name)
            return solve(*args)

        return wrapped

    monkeypatch.setattr(_solver, "waterfill_numpy", spy("numpy", _solver.waterfill_numpy))
    monkeypatch.setattr(_solver, "waterfill_python", spy("python", _solver.waterfill_python))
    flows = {f"f{i}": ["l"] for i in range(3)}
    rates = _solver.max_min_rates({"l": 3.0}, flows, method=method, numpy_min_flows=threshold)
    assert rates == pytest.approx(dict.fromkeys(flows, 1.0), rel=1e-12)
    assert calls == ["numpy" if numpy_used else "python"]
