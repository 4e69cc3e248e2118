"""What a sweep prints and reports: worker counts, clean intervals, readable failed runs."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from lgwan_sim.scenario._sweep import SweepPoint, SweepResult, SweepRun, aggregate


def _table(values: list[float]) -> dict:
    point = SweepPoint(index=0, params=(("x", 1),), replication=0, seed=0)
    runs = tuple(SweepRun(point=point, metrics={"offered": v}) for v in values)
    result = SweepResult(
        scenario="s", grid=(("x", (1,)),), replications=len(runs), runs=runs, workers=1, wall_s=0
    )
    return aggregate(result)[0]


def test_equal_replications_have_an_interval_of_exactly_zero() -> None:
    # the plain formula gives 9.8e-18 here: the mean of three 0.1s is not exactly 0.1
    mean = math.fsum([0.1] * 3) / 3
    assert math.fsum((v - mean) ** 2 for v in [0.1] * 3) > 0
    row = _table([0.1, 0.1, 0.1])
    assert row["offered.ci95"] == 0.0
    assert _table([2.675] * 3)["offered.ci95"] == 0.0


def test_a_real_small_spread_is_kept() -> None:
    row = _table([1.0, 1.0 + 1e-6, 1.0 - 1e-6])
    assert row["offered.ci95"] == pytest.approx(4.303 * 1e-6 / math.sqrt(3))


def test_the_sweep_command_output_and_report_are_readable(
    cli, small_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a run that fails in its worker: skip the up-front check so the bad value reaches one
    import lgwan_sim.scenario

    monkeypatch.setattr(lgwan_sim.scenario, "check_grid", lambda *args, **kwargs: None)
    out = tmp_path / "sweep"
    result = cli(
        "sweep", small_path, "--set", "services.directory.multiplier=1.5,x",
        "--replications", "3", "--workers", "1", "--out", out,
    )  # fmt: skip
    assert result.code == 1
    assert "3 of 6 runs ok on 1 worker in " in result.out
    assert "1 workers" not in result.out
    assert "lgwan-sim: run 3 failed (services.directory.multiplier=x, seed 7): " in result.err

    # identical analytic replications: every interval is exactly 0, not 1e-17 noise
    with (out / "sweep_table.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    ok = next(r for r in rows if r["services.directory.multiplier"] == "1.5")
    intervals = {k: v for k, v in ok.items() if k.endswith(".ci95") and v != ""}
    assert intervals
    assert set(intervals.values()) == {"0"}, intervals
    table = json.loads((out / "sweep.json").read_text(encoding="utf-8"))["table"]
    assert all(v == 0 for k, v in table[0].items() if k.endswith(".ci95") and v is not None)

    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<li>run 3 (services.directory.multiplier=x, seed 7): " in page
    assert "{" not in page.split("<h2>Failed runs</h2>")[1].split("<h2>")[0]
    assert "3 replications each" in page
    assert "e-1" not in page.split("<h2>Results</h2>")[1].split("<h2>")[0]
