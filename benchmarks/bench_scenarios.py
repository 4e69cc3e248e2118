"""Wall time and peak memory of every bundled scenario per fidelity, and the sweep speed-up.

Usage::

    python benchmarks/bench_scenarios.py                     # everything
    python benchmarks/bench_scenarios.py --fidelities analytic --skip-sweep
    python benchmarks/bench_scenarios.py --scenarios packet-zoom --skip-sweep
    python benchmarks/bench_scenarios.py --only-sweep --json results.json

Each scenario runs through the real command line (``python -m lgwan_sim.cli run NAME --out
TMP --fidelity F``) in its own process, so the figures include loading, the engine, the
plots and the report. A run that does not finish within its budget is stopped and reported
as such (the flow and packet fidelities are meant for sub-networks, not the national
network). Peak memory is the process's own ``ru_maxrss`` from ``run.json``; for a stopped
run it is the largest resident size seen by polling (psutil).

The sweep measurement runs one 8-run sweep of ``tohoku-2011`` (eight demand multipliers) on
a local Dask cluster with one worker and then with two, end to end and on an already running
cluster, checks that both give the same per-run results, and reports the speed-ups. Not
part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from lgwan_sim.scenario import bundled_scenarios
from lgwan_sim.scenario._sweep import local_cluster, run_sweep


def run_once(name: str, fidelity: str, budget_s: float, folder: Path) -> dict[str, object]:
    out = folder / f"{name}-{fidelity}"
    cmd = [sys.executable, "-m", "lgwan_sim.cli", "run", name, "--out", str(out)]
    cmd += ["--fidelity", fidelity]
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    handle = psutil.Process(proc.pid)
    peak = 0
    status = "ok"
    while proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, handle.memory_info().rss)
        if time.perf_counter() - began > budget_s:
            proc.kill()
            status = f"stopped after {budget_s:.0f} s"
            break
        time.sleep(0.2)
    _, err = proc.communicate()
    wall = time.perf_counter() - began
    row: dict[str, object] = {"scenario": name, "fidelity": fidelity, "status": status}
    row["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    if status == "ok" and proc.returncode != 0:
        row["status"] = f"exit {proc.returncode}: {err.strip().splitlines()[-1] if err else ''}"
    if (out / "run.json").is_file():
        run = json.loads((out / "run.json").read_text())
        row["wall_s"] = round(wall, 1)
        row["engine_wall_s"] = run["engine_wall_s"]
        row["peak_rss_mib"] = run["peak_rss_mib"]
    else:
        row["wall_s"] = round(wall, 1)
        row["peak_rss_mib_at_least"] = round(peak / 2**20, 1)
    return row


def sweep_speedup(runs: int, scenario_name: str) -> dict[str, object]:
    """Wall time of one sweep of ``runs`` runs on 1 and on 2 local worker processes.

    ``end_to_end`` includes starting and stopping the local cluster (what ``lgwan-sim sweep``
    costs); ``on_running_cluster`` hands the same sweep to an already running cluster of that
    size, so it measures only the runs and their scheduling.
    """
    from lgwan_sim._resources import bundled_dir

    scenario = bundled_dir("scenarios") / f"{scenario_name}.yaml"
    values = tuple(round(1.0 + 0.1 * i, 1) for i in range(runs))
    grid = (("demand.multiplier", values),)
    result: dict[str, object] = {"runs": runs, "scenario": scenario_name}
    outcomes = {}
    for workers in (1, 2):
        result[f"load_average_1min_before_{workers}_worker"] = round(os.getloadavg()[0], 2)
        began = time.perf_counter()
        sweep = run_sweep(scenario, grid, base_seed=1, workers=workers)
        result[f"end_to_end_s_{workers}_worker"] = round(time.perf_counter() - began, 1)
        assert not sweep.failed, [r.error for r in sweep.failed]
        outcomes[workers] = sweep
        with local_cluster(workers) as cluster:
            began = time.perf_counter()
            again = run_sweep(scenario, grid, base_seed=1, scheduler=cluster.scheduler_address)
            result[f"on_running_cluster_s_{workers}_worker"] = round(time.perf_counter() - began, 1)
        assert [r.series_sha256 for r in again.runs] == [r.series_sha256 for r in sweep.runs]
    same = all(
        a.metrics == b.metrics and a.series_sha256 == b.series_sha256
        for a, b in zip(outcomes[1].runs, outcomes[2].runs, strict=True)
    )
    result["same_results"] = same
    for kind in ("end_to_end", "on_running_cluster"):
        one = float(result[f"{kind}_s_1_worker"])  # type: ignore[arg-type]
        two = float(result[f"{kind}_s_2_worker"])  # type: ignore[arg-type]
        result[f"speedup_{kind}"] = round(one / two, 2)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fidelities", default="analytic,flow,packet")
    parser.add_argument("--scenarios", help="comma-separated bundled scenarios (default: all)")
    parser.add_argument("--budget-s", type=float, default=60.0, help="flow/packet budget")
    parser.add_argument("--analytic-budget-s", type=float, default=900.0)
    parser.add_argument("--sweep-runs", type=int, default=8)
    parser.add_argument(
        "--sweep-scenario",
        default="tohoku-2011",
        help="a bundled scenario (packet-zoom: short runs of pure computation)",
    )
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--only-sweep", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    doc: dict[str, object] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="bench-scenarios-") as tmp:
        folder = Path(tmp)
        if not args.only_sweep:
            print("| scenario | fidelity | status | wall (s) | engine (s) | peak memory (MiB) |")
            print("|---|---|---|---|---|---|")
            wanted = set(args.scenarios.split(",")) if args.scenarios else None
            for entry in bundled_scenarios():
                if wanted is not None and entry.name not in wanted:
                    continue
                for fidelity in args.fidelities.split(","):
                    budget = args.analytic_budget_s if fidelity == "analytic" else args.budget_s
                    row = run_once(entry.name, fidelity, budget, folder)
                    doc["runs"].append(row)  # type: ignore[attr-defined]
                    memory = row.get("peak_rss_mib", f">= {row.get('peak_rss_mib_at_least')}")
                    print(
                        f"| {entry.name} | {fidelity} | {row['status']} | {row['wall_s']} | "
                        f"{row.get('engine_wall_s', '-')} | {memory} |",
                        flush=True,
                    )
        if not args.skip_sweep:
            sweep = sweep_speedup(args.sweep_runs, args.sweep_scenario)
            doc["sweep"] = sweep
            print(f"\nsweep of {sweep['runs']} runs of {sweep['scenario']}:")
            for kind in ("end_to_end", "on_running_cluster"):
                print(
                    f"  {kind}: 1 worker {sweep[f'{kind}_s_1_worker']} s, "
                    f"2 workers {sweep[f'{kind}_s_2_worker']} s, "
                    f"speed-up {sweep[f'speedup_{kind}']}x"
                )
            print(
                f"  same results on 1 and 2 workers: {sweep['same_results']}; 1-minute load "
                f"average before: {sweep['load_average_1min_before_1_worker']}, "
                f"{sweep['load_average_1min_before_2_worker']}"
            )
    if args.json is not None:
        args.json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
