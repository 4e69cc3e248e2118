"""``compare`` warns about runs of different fidelities; ``sweep`` keeps runs on request and
warns when the replications of a deterministic fidelity came out identical."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from lgwan_sim.cli import main
    from tests.scenario.support import SMALL

    root = tmp_path_factory.mktemp("fidelity")
    path = root / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    a, b = root / "analytic", root / "flow"
    assert main(["run", str(path), "-o", str(a), "--no-plots", "-q"]) == 0
    assert main(["run", str(path), "-o", str(b), "--no-plots", "-q", "--fidelity", "flow"]) == 0
    return a, b


def test_compare_warns_when_the_fidelities_differ(cli, two_runs):
    a, b = two_runs
    for extra in ((), ("--json",)):
        result = cli("compare", a, b, *extra)
        assert result.code == 0
        warnings = [x for x in result.err.splitlines() if x.startswith("lgwan-sim: warning:")]
        assert len(warnings) == 1
        assert "different fidelities (A analytic, B flow)" in warnings[0]
    assert "warning" not in cli("compare", a, a).err


def test_sweep_keeps_each_runs_folder_on_request(cli, small_path, tmp_path):
    out = tmp_path / "sweep"
    result = cli(
        "sweep",
        small_path,
        "--set",
        "services.directory.multiplier=1,3",
        "--workers",
        "2",
        "--keep-runs",
        "-o",
        out,
    )
    assert result.code == 0, result.err
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == ["run-0", "run-1"]
    with (out / "sweep_runs.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row, name in zip(rows, runs, strict=True):
        summary = json.loads((out / "runs" / name / "summary.json").read_text(encoding="utf-8"))
        assert summary["engine"]["series_sha256"] == row["series_sha256"]
        assert (out / "runs" / name / "report.html").is_file()
        command = json.loads((out / "runs" / name / "run.json").read_text(encoding="utf-8"))
        assert (
            f"--set=services.directory.multiplier={row['services.directory.multiplier']}"
            in (command["command"])
        )
    # a sweep folder with its runs is still one lgwan-sim can replace
    again = cli("sweep", small_path, "--set", "seed=1", "-o", out, "--overwrite", "--workers", "1")
    assert again.code == 0, again.err
    assert not (out / "runs").exists()


def test_sweep_warns_when_replications_of_the_analytic_fidelity_are_identical(
    cli, small_path, tmp_path
):
    result = cli("sweep", small_path, "--replications", "2", "--workers", "2", "-o", tmp_path / "s")
    assert result.code == 0, result.err
    warnings = [x for x in result.err.splitlines() if x.startswith("lgwan-sim: warning:")]
    assert len(warnings) == 1
    assert "identical" in warnings[0]
    assert "analytic" in warnings[0]
    flow = cli(
        "sweep",
        small_path,
        "--replications",
        "2",
        "--fidelity",
        "flow",
        "--workers",
        "2",
        "-o",
        tmp_path / "f",
    )
    assert flow.code == 0, flow.err
    assert "identical" not in flow.err
