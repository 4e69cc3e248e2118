"""Sweeps on Dask: the same results as one-by-one runs, failures reported, others kept."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from lgwan_sim._cli.scenario import parse_set
from lgwan_sim.errors import LgwanSimError
from lgwan_sim.scenario._sweep import aggregate, run_point, run_sweep, sweep_points


def test_parse_set_types_values_and_rejects_bad_items() -> None:
    assert parse_set(["services.eltax.multiplier=1,2.5", "fidelity=flow"]) == (
        ("services.eltax.multiplier", (1, 2.5)),
        ("fidelity", ("flow",)),
    )
    from lgwan_sim.errors import ScenarioError

    with pytest.raises(ScenarioError, match=r"--set: needs PATH=V1,V2"):
        parse_set(["seed"])
    with pytest.raises(ScenarioError, match="the same PATH is given twice"):
        parse_set(["seed=1", "seed=2"])


def test_points_are_the_grid_product_times_replications_with_common_seeds() -> None:
    points = sweep_points([("a", (1, 2)), ("b", ("x", "y"))], replications=2, base_seed=10)
    assert len(points) == 8
    assert [p.seed for p in points] == [10, 11] * 4
    assert points[5].overrides == {"a": 2, "b": "x"}


def test_sweep_on_two_workers_equals_one_by_one_runs(small_path: Path) -> None:
    grid = (("services.directory.multiplier", (1, 3)), ("engine.bin_s", (300, 600)))
    result = run_sweep(small_path, grid, replications=2, base_seed=7, workers=2)
    assert result.workers == 2
    assert len(result.runs) == 8
    assert not result.failed
    for run in result.runs:
        alone = run_point(str(small_path), run.point.overrides, run.point.seed, None)
        assert run.metrics == alone["metrics"]
        assert run.series_sha256 == alone["series_sha256"]
    # the parameters matter: tripling directory demand raises the offered load
    by = {r.point.params: r.metrics["offered"] for r in result.runs if r.point.replication == 0}
    low = by[(("services.directory.multiplier", 1), ("engine.bin_s", 300))]
    high = by[(("services.directory.multiplier", 3), ("engine.bin_s", 300))]
    assert high is not None
    assert low is not None
    assert high > low


def test_a_failed_run_is_reported_and_the_others_kept(
    cli, small_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The command checks every value before it starts a worker (an invalid value is exit 2,
    # see test_scenario_sweep_checks.py); with that check off, the invalid value fails in its
    # worker as a run-time failure would: it is reported, the other runs are kept, exit 1.
    import lgwan_sim.scenario

    monkeypatch.setattr(lgwan_sim.scenario, "check_grid", lambda *args, **kwargs: None)
    out = tmp_path / "sweep"
    result = cli(
        "sweep",
        small_path,
        "--set",
        "services.directory.multiplier=1,-1,2",
        "--workers",
        "2",
        "--out",
        out,
    )
    assert result.code == 1
    assert "lgwan-sim: run 1 failed (services.directory.multiplier=-1, seed 7):" in result.err
    assert "services.directory.multiplier: must be >= 0 (got -1)" in result.err
    assert "2 of 3 runs ok on 2 workers" in result.out
    with (out / "sweep_runs.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["status"] for r in rows] == ["ok", "failed", "ok"]
    assert float(rows[2]["offered"]) > float(rows[0]["offered"])
    doc = json.loads((out / "sweep.json").read_text())
    assert [row["runs_ok"] for row in doc["table"]] == [1, 0, 1]
    assert {p.name for p in out.iterdir()} >= {
        "sweep_table.csv",
        "sweep_metrics.png",
        "sweep_latency.png",
        "report.html",
        "sweep_timing.json",
    }


def test_confidence_intervals_use_student_t(small_path: Path) -> None:
    from lgwan_sim.scenario._sweep import SweepPoint, SweepResult, SweepRun

    point = SweepPoint(index=0, params=(("x", 1),), replication=0, seed=0)
    runs = tuple(SweepRun(point=point, metrics={"offered": v}) for v in (10.0, 12.0, 14.0))
    table = aggregate(
        SweepResult(
            scenario="s", grid=(("x", (1,)),), replications=3, runs=runs, workers=1, wall_s=0
        )
    )
    assert table[0]["offered.mean"] == 12.0
    # s = 2, n = 3, t(0.975, 2) = 4.303: half-width 4.303 * 2 / sqrt(3)
    assert table[0]["offered.ci95"] == pytest.approx(4.303 * 2 / 3**0.5)


def test_a_sweep_can_use_an_existing_scheduler(small_path: Path) -> None:
    from distributed import LocalCluster

    # a plain Dask cluster, as someone else's scheduler would be
    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # 8787 may be taken
    ) as cluster:
        result = run_sweep(
            small_path,
            (("services.mail-relay.multiplier", (1, 2)),),
            base_seed=7,
            scheduler=cluster.scheduler_address,
        )
    assert result.workers == 1
    assert [r.ok for r in result.runs] == [True, True]
    assert result.runs[1].metrics["offered"] > result.runs[0].metrics["offered"]


def test_the_sweep_command_runs_on_an_existing_scheduler(cli, small_path: Path, tmp_path) -> None:
    from distributed import LocalCluster

    out = tmp_path / "sweep"
    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # 8787 may be taken
    ) as cluster:
        result = cli(
            "sweep",
            small_path,
            "--set",
            "services.directory.multiplier=1,3",
            "--scheduler",
            cluster.scheduler_address,
            "--out",
            out,
        )
    assert result.code == 0, result.err
    assert "2 of 2 runs ok on 1 worker in" in result.out
    with (out / "sweep_runs.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["services.directory.multiplier"] for r in rows] == ["1", "3"]
    assert int(rows[1]["offered"]) > int(rows[0]["offered"])


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--scheduler", "not-an-address"), "scheduler not-an-address: cannot reach"),
        (("--scheduler", "tcp://127.0.0.1:8786", "--workers", "2"), "--workers applies to"),
    ],
)
def test_a_bad_scheduler_option_is_one_line_and_writes_nothing(
    cli, small_path: Path, tmp_path, args: tuple[str, ...], says: str
) -> None:
    out = tmp_path / "sweep"
    result = cli("sweep", small_path, "--set", "seed=1,2", *args, "--out", out)
    assert result.code == 2
    assert says in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert not out.exists()


def test_an_unreachable_scheduler_is_named_after_the_timeout(small_path: Path) -> None:
    with pytest.raises(LgwanSimError, match=r"scheduler tcp://127\.0\.0\.1:9: cannot reach"):
        run_sweep(
            small_path,
            (("demand.multiplier", (1,)),),
            base_seed=1,
            scheduler="tcp://127.0.0.1:9",
            connect_timeout_s=1.0,
        )


@pytest.mark.slow
def test_a_national_sweep_gives_the_bits_of_one_by_one_runs() -> None:
    from lgwan_sim._resources import bundled_dir

    scenario = bundled_dir("scenarios") / "national-weekday.yaml"
    grid = (("demand.multiplier", (1.0, 1.5)),)
    result = run_sweep(scenario, grid, base_seed=3, workers=2)
    assert not result.failed
    for run in result.runs:
        alone = run_point(str(scenario), run.point.overrides, run.point.seed, None)
        assert run.series_sha256 == alone["series_sha256"]
        assert run.metrics == alone["metrics"]


def test_replications_at_the_flow_fidelity_give_confidence_intervals(small_path: Path) -> None:
    result = run_sweep(
        small_path,
        (("services.mail-relay.multiplier", (1, 2)),),
        replications=3,
        base_seed=7,
        fidelity="flow",
        workers=2,
    )
    assert not result.failed
    rows = aggregate(result)
    assert [r["runs_ok"] for r in rows] == [3, 3]
    for row in rows:
        assert row["offered.ci95"] > 0  # Poisson arrivals differ from seed to seed
    assert rows[1]["offered.mean"] > rows[0]["offered.mean"]
