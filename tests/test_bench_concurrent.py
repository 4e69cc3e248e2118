"""The concurrent-flows benchmark without SimGrid: it quotes SimGrid's figure for the same shape."""

from __future__ import annotations

import json

import pytest

from tests.support import benchmark_module


def _line_without_simgrid(monkeypatch, capsys, flows: int, sources: int) -> dict:
    bench = benchmark_module("bench_engine")
    import simgrid_peer

    # the run as on a machine where SimGrid's bindings are not installed
    monkeypatch.setattr(simgrid_peer, "available", lambda: False)
    bench.bench_concurrent(flows, sources, ["LV08"])
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return {"bench": bench, "line": line}


@pytest.mark.parametrize("per_path", [100, 10, 1])
def test_each_shape_quotes_simgrid_measured_on_that_shape(monkeypatch, capsys, per_path):
    out = _line_without_simgrid(monkeypatch, capsys, 10_000, 10_000 // per_path)
    bench, line = out["bench"], out["line"]
    measured = bench.SIMGRID_QUOTED[per_path]
    assert {row["model"] for row in line["simgrid"]} == set(measured)
    for row in line["simgrid"]:
        (low, median, high), makespan_s, rss_mib = measured[row["model"]]
        assert row["flows_per_cpu_s"] == median
        assert row["flows_per_cpu_s_min_max"] == [low, high]
        assert (row["makespan_s"], row["peak_rss_mib"]) == (makespan_s, rss_mib)
        assert row["source"].startswith("quoted, not run here")
        assert "this workload" in row["source"]
    fastest = max(measured, key=lambda model: measured[model][0][1])
    assert line["simgrid_fastest_model"] == fastest
    ours = line["flows_per_cpu_s"]
    ratio = line["ratio_ours_to_simgrid_fastest_cpu_quoted"]
    assert ratio == pytest.approx(ours / measured[fastest][0][1], rel=0.01)
    assert "ratio_ours_to_simgrid_fastest_cpu" not in line  # SimGrid did not run


def test_a_shape_not_measured_quotes_nothing(monkeypatch, capsys):
    line = _line_without_simgrid(monkeypatch, capsys, 1_000, 100)["line"]
    [row] = line["simgrid"]
    assert row["source"].startswith("not run (SimGrid is not installed) and none quoted")
    assert "model" not in row
    assert not any(key.startswith("ratio") for key in line)
