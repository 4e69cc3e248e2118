"""Parameter sweeps over a scenario, one run per process, on Dask distributed.

A sweep is the Cartesian product of a grid of values for scenario paths (the command
line's ``--set PATH=V1,V2,...``), each run
``replications`` times with seeds ``seed, seed+1, ...`` (the same seeds for every parameter
combination: common random numbers make the comparisons sharper). :func:`check_grid` loads
every combination in this process first, so an invalid value is one error before any worker
starts. Every run then loads the scenario in its worker with its overrides, so a run that
still fails there is reported as failed and the other runs are kept.

Workers must see the scenario file (and any file it names) at the same path: on a local
cluster that is always so; on a remote cluster use a shared filesystem.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lgwan_sim.errors import LgwanSimError, ScenarioError, SettingError
from lgwan_sim.scenario._model import Scenario

__all__ = [
    "METRICS",
    "SweepPoint",
    "SweepResult",
    "SweepRun",
    "aggregate",
    "check_grid",
    "identical_replications",
    "load_with_settings",
    "local_cluster",
    "metrics_of",
    "run_point",
    "run_sweep",
    "show_params",
    "sweep_points",
    "write_sweep",
]

log = logging.getLogger(__name__)

#: The whole-run metrics a sweep table reports (per-service p95 latencies are added).
METRICS = (
    "offered",
    "delivered",
    "dropped_total",
    "delivered_ratio",
    "slo_breaches",
    "unreachable_peak",
    "peak_link_utilisation",
)

# Two-sided 95 % Student-t quantiles for 1..30 degrees of freedom (standard table values).
_T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


#: A confidence half-width this small relative to the values is floating-point noise (the
#: mean of equal numbers need not be exactly that number), reported as 0.
_NOISE = 1e-9


def t95(dof: int) -> float:
    """The 97.5 % quantile of Student's t with ``dof`` degrees of freedom (1.96 beyond 30)."""
    return _T95[dof - 1] if 1 <= dof <= len(_T95) else 1.96


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepPoint:
    """One run of a sweep: its parameter values, replication number and seed."""

    index: int
    params: tuple[tuple[str, object], ...]
    replication: int
    seed: int

    @property
    def overrides(self) -> dict[str, object]:
        return dict(self.params)


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepRun:
    point: SweepPoint
    metrics: Mapping[str, float | None] = field(default_factory=dict)
    series_sha256: str = ""
    error: str | None = None
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepResult:
    scenario: str
    grid: tuple[tuple[str, tuple[object, ...]], ...]
    replications: int
    runs: tuple[SweepRun, ...]
    workers: int
    wall_s: float

    @property
    def failed(self) -> tuple[SweepRun, ...]:
        return tuple(r for r in self.runs if not r.ok)


def sweep_points(
    grid: Sequence[tuple[str, Sequence[object]]], *, replications: int, base_seed: int
) -> list[SweepPoint]:
    """Every combination of the grid's values times ``replications``, in a fixed order."""
    if replications < 1:
        raise ScenarioError("must be >= 1", field="replications", value=replications)
    paths = [p for p, _ in grid]
    points: list[SweepPoint] = []
    combos = itertools.product(*(values for _, values in grid)) if grid else [()]
    for combo in combos:
        for r in range(replications):
            points.append(
                SweepPoint(
                    index=len(points),
                    params=tuple(zip(paths, combo, strict=True)),
                    replication=r,
                    seed=base_seed + r,
                )
            )
    return points


def show_value(value: object) -> str:
    """A setting's value as the user would write it (``true``, ``null``, ``1.5``, ``x``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def show_params(params: Sequence[tuple[str, object]]) -> str:
    """``services.eltax.multiplier=2, demand.growth_years=4``."""
    return ", ".join(f"{p}={show_value(v)}" for p, v in params)


def _culprit(field: str | None, params: Sequence[tuple[str, object]]) -> tuple[str, object] | None:
    """The setting an error's field path points at (itself, inside it or above it)."""
    if field is None:
        return None
    best: tuple[str, object] | None = None
    for path, value in params:
        if path == field:
            return path, value
        related = field.startswith((f"{path}.", f"{path}[")) or path.startswith(
            (f"{field}.", f"{field}[")
        )
        if related and (best is None or len(path) > len(best[0])):
            best = (path, value)
    return best


def check_grid(
    scenario_path: str | Path,
    grid: Sequence[tuple[str, Sequence[object]]],
    *,
    base_seed: int,
    fidelity: str | None = None,
) -> None:
    """Load the scenario with every combination of the grid's values, in this process.

    Loading is cheap next to a run, so a value or path that no run could accept is found
    before any worker starts. The first failure raises the
    :class:`~lgwan_sim.errors.SettingError` of :func:`load_with_settings`.
    """
    if not grid:
        return
    paths = [p for p, _ in grid]
    for combo in itertools.product(*(values for _, values in grid)):
        load_with_settings(
            scenario_path,
            tuple(zip(paths, combo, strict=True)),
            seed=base_seed,
            fidelity=fidelity,
        )


def load_with_settings(
    scenario_path: str | Path,
    params: Sequence[tuple[str, object]],
    *,
    seed: int | None = None,
    fidelity: str | None = None,
) -> Scenario:
    """Load the scenario with ``params`` set; an error they cause names the setting to blame.

    Raises :class:`~lgwan_sim.errors.SettingError` whose field is the setting
    (``services.eltax.multiplier=x: must be a number``), or, for a failure that no single
    setting explains, all of them with the scenario's own message.
    """
    from lgwan_sim.scenario._loader import load_scenario

    try:
        return load_scenario(scenario_path, overrides=dict(params), seed=seed, fidelity=fidelity)
    except ScenarioError as exc:
        if not params:
            raise
        hit = _culprit(exc.field, params)
        if hit is not None:
            raise SettingError(
                exc.reason, field=f"{hit[0]}={show_value(hit[1])}", settings=(hit,)
            ) from None
        raise SettingError(f"{exc}", field=show_params(params), settings=tuple(params)) from None


def _peak_load(summary: Mapping[str, Any]) -> float:
    """The highest load of any link (offered at the analytic fidelity, so above 1 where
    demand overloads it); the busiest links are ranked by sustained load, not by it."""
    peak = summary.get("peak_link")
    if peak:
        return float(peak["peak_load"])
    busiest = summary["busiest_links"]
    return float(max((e["peak_utilisation"] for e in busiest), default=0.0))


def metrics_of(summary: Mapping[str, Any]) -> dict[str, float | None]:
    """The sweep metrics of one run, read from its summary."""
    totals = summary["totals"]
    offered = totals["offered"]
    out: dict[str, float | None] = {
        "offered": float(offered),
        "delivered": float(totals["delivered"]),
        "dropped_total": float(totals["dropped_total"]),
        "delivered_ratio": totals["delivered"] / offered if offered else None,
        "slo_breaches": float(totals["slo_breaches"]),
        "unreachable_peak": float(summary["unreachable_local_bodies"]["peak"]),
        "peak_link_utilisation": _peak_load(summary),
    }
    for name, svc in summary["services"].items():
        out[f"p95_s.{name}"] = svc["latency_s"]["p95"]
    return out


def run_point(
    scenario_path: str,
    overrides: Mapping[str, object],
    seed: int,
    fidelity: str | None,
    keep: str | None = None,
) -> dict[str, Any]:
    """Load, run and summarise one sweep point (this is what a worker process executes).

    With ``keep``, the run's folder is written there too, as ``lgwan-sim run`` writes it.
    """
    from lgwan_sim.scenario._loader import load_scenario
    from lgwan_sim.scenario._runner import run_scenario, write_run

    began = time.perf_counter()
    scenario = load_scenario(scenario_path, overrides=overrides, seed=seed, fidelity=fidelity)
    outcome = run_scenario(scenario)
    if keep is not None:
        from lgwan_sim.report import write_run_report

        write_run(
            outcome,
            Path(keep),
            render=write_run_report,
            command=[
                "lgwan-sim",
                "run",
                scenario_path,
                "--out",
                keep,
                *(f"--set={p}={show_value(v)}" for p, v in overrides.items()),
                f"--seed={seed}",
                *([f"--fidelity={fidelity}"] if fidelity else []),
            ],
        )
    return {
        "metrics": metrics_of(outcome.tables.summary.to_dict()),
        "series_sha256": outcome.tables.summary.engine.series_sha256,
        "wall_s": time.perf_counter() - began,
    }


def _error_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, LgwanSimError) else text


def local_cluster(workers: int) -> Any:
    """A local Dask cluster of ``workers`` single-threaded worker processes.

    Dask starts workers with ``OMP/MKL/OPENBLAS_NUM_THREADS=1``. The engine's numpy sums can
    round differently with another BLAS thread count, so such a worker would not reproduce
    the bits of the same run made in this process. These workers inherit this process's
    environment instead (only Dask's allocator setting is kept).
    """
    import dask.config
    from distributed import LocalCluster

    with dask.config.set(
        {"distributed.nanny.pre-spawn-environ": {"MALLOC_TRIM_THRESHOLD_": 65536}}
    ):
        return LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            # The scheduler's HTTP server (health, metrics) runs even without a dashboard and
            # wants port 8787; a free port keeps two sweeps, or a sweep beside a Dask
            # dashboard, from colliding on it.
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.CRITICAL,
        )


def run_sweep(
    scenario_path: str | Path,
    grid: Sequence[tuple[str, Sequence[object]]],
    *,
    replications: int = 1,
    base_seed: int,
    fidelity: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    connect_timeout_s: float = 30.0,
    on_done: Callable[[SweepRun], None] | None = None,
    keep_runs_in: Path | None = None,
) -> SweepResult:
    """Run every sweep point on Dask; failed points are kept in the result with their error.

    With ``keep_runs_in`` (a folder the workers can write to), each run's folder is written
    there as ``run-<index>``.

    ``scheduler`` is the address of an existing Dask scheduler (``tcp://host:8786``); without
    it a local cluster of ``workers`` single-threaded processes is started and stopped. A
    scheduler that cannot be reached within ``connect_timeout_s`` raises
    :class:`~lgwan_sim.errors.LgwanSimError` naming the address.
    """
    from distributed import Client, as_completed

    path = str(Path(scenario_path).absolute())
    points = sweep_points(
        [(p, tuple(v)) for p, v in grid], replications=replications, base_seed=base_seed
    )
    began = time.perf_counter()
    cluster = None
    if scheduler is None:
        cluster = local_cluster(workers or os.cpu_count() or 1)
        client = Client(cluster)  # type: ignore[no-untyped-call]
    else:
        try:
            client = Client(scheduler, timeout=connect_timeout_s)  # type: ignore[no-untyped-call]
        except (OSError, ValueError) as exc:  # refused, timed out, or not an address
            raise LgwanSimError(
                f"scheduler {scheduler}: cannot reach a Dask scheduler there ({exc})"
            ) from None
    try:
        n_workers = len(client.scheduler_info(n_workers=-1)["workers"])
        futures = {
            client.submit(
                run_point,
                path,
                point.overrides,
                point.seed,
                fidelity,
                None
                if keep_runs_in is None
                else str(Path(keep_runs_in).absolute() / f"run-{point.index}"),
                key=f"lgwan-sweep-{point.index}-{os.getpid()}-{time.monotonic_ns()}",
                pure=False,
            ): point
            for point in points
        }
        runs: dict[int, SweepRun] = {}
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            point = futures[future]
            try:
                value = future.result()
                run = SweepRun(
                    point=point,
                    metrics=value["metrics"],
                    series_sha256=value["series_sha256"],
                    wall_s=value["wall_s"],
                )
            except Exception as exc:  # a failed run is reported; the others are kept
                run = SweepRun(point=point, error=_error_line(exc))
                log.info("sweep run %d failed: %s", point.index, run.error)
            runs[point.index] = run
            if on_done is not None:
                on_done(run)
    finally:
        client.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()
    return SweepResult(
        scenario=path,
        grid=tuple((p, tuple(v)) for p, v in grid),
        replications=replications,
        runs=tuple(runs[i] for i in sorted(runs)),
        workers=n_workers,
        wall_s=time.perf_counter() - began,
    )


def aggregate(result: SweepResult) -> list[dict[str, Any]]:
    """One row per parameter combination: runs ok/failed and mean with a 95 % CI per metric.

    The interval is mean +/- t(0.975, n-1) * s / sqrt(n) over the replications that
    succeeded (no interval with fewer than two).
    """
    groups: dict[tuple[tuple[str, object], ...], list[SweepRun]] = {}
    for run in result.runs:
        groups.setdefault(run.point.params, []).append(run)
    rows = []
    for params, runs in groups.items():
        ok = [r for r in runs if r.ok]
        row: dict[str, Any] = {p: v for p, v in params}
        row["runs_ok"] = len(ok)
        row["runs_failed"] = len(runs) - len(ok)
        names = sorted({k for r in result.runs for k in r.metrics}, key=_metric_order)
        for name in names:
            values = [float(v) for r in ok if (v := r.metrics.get(name)) is not None]
            n = len(values)
            mean = math.fsum(values) / n if n else math.nan
            half = math.nan
            if n >= 2:
                var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
                half = t95(n - 1) * math.sqrt(var / n)
                if half <= _NOISE * max(abs(v) for v in values):
                    half = 0.0  # equal replications: rounding noise of the mean, not spread
            row[f"{name}.mean"] = mean
            row[f"{name}.ci95"] = half
        rows.append(row)
    return rows


def _metric_order(name: str) -> tuple[int, str]:
    return (METRICS.index(name), name) if name in METRICS else (len(METRICS), name)


def write_sweep(
    result: SweepResult,
    out: Path,
    *,
    render: Callable[[SweepResult, list[dict[str, Any]], Path], Sequence[str]] | None = None,
    overwrite: bool = False,
    kept_runs: Path | None = None,
) -> Path:
    """Write ``sweep_runs.csv``, ``sweep_table.csv``, ``sweep.json`` (deterministic) and
    ``sweep_timing.json`` (wall times), plus plots and a report through ``render``;
    ``kept_runs`` (the folder of ``run_sweep(keep_runs_in=...)``) becomes ``runs/``."""
    from lgwan_sim.scenario._results import _csv, rounded, write_json
    from lgwan_sim.scenario._runner import output_dir

    table = aggregate(result)
    paths = [p for p, _ in result.grid]
    metric_names = sorted({k for r in result.runs for k in r.metrics}, key=_metric_order)
    with output_dir(out, overwrite=overwrite) as folder:
        _csv(
            folder / "sweep_runs.csv",
            [
                "run",
                *paths,
                "replication",
                "seed",
                "status",
                "error",
                *metric_names,
                "series_sha256",
            ],
            (
                [
                    r.point.index,
                    *(v for _, v in r.point.params),
                    r.point.replication,
                    r.point.seed,
                    "ok" if r.ok else "failed",
                    r.error or "",
                    *(r.metrics.get(m) for m in metric_names),
                    r.series_sha256,
                ]
                for r in result.runs
            ),
        )
        columns = list(dict.fromkeys(c for row in table for c in row))
        _csv(folder / "sweep_table.csv", columns, ([row.get(c) for c in columns] for row in table))
        write_json(
            folder / "sweep.json",
            {
                "scenario": Path(result.scenario).name,
                "grid": {p: list(v) for p, v in result.grid},
                "replications": result.replications,
                "runs": [
                    {
                        "run": r.point.index,
                        "params": dict(r.point.params),
                        "replication": r.point.replication,
                        "seed": r.point.seed,
                        "ok": r.ok,
                        "error": r.error,
                        "metrics": {
                            k: rounded(v) if v is not None else None for k, v in r.metrics.items()
                        },
                        "series_sha256": r.series_sha256,
                    }
                    for r in result.runs
                ],
                "table": [
                    {k: (rounded(v) if isinstance(v, float) else v) for k, v in row.items()}
                    for row in table
                ],
            },
        )
        write_json(
            folder / "sweep_timing.json",
            {
                "workers": result.workers,
                "wall_s": round(result.wall_s, 3),
                "run_wall_s": {str(r.point.index): round(r.wall_s, 3) for r in result.runs},
            },
        )
        if render is not None:
            render(result, table, folder)
        if kept_runs is not None:
            import shutil

            shutil.move(str(kept_runs), str(folder / "runs"))
    return out


def identical_replications(result: SweepResult) -> bool:
    """True when every point has two or more runs that succeeded and, at each point, they
    all gave the same series: the replications added nothing (a deterministic fidelity)."""
    groups: dict[tuple[tuple[str, object], ...], set[str]] = {}
    sizes: dict[tuple[tuple[str, object], ...], int] = {}
    for run in result.runs:
        if run.ok:
            groups.setdefault(run.point.params, set()).add(run.series_sha256)
            sizes[run.point.params] = sizes.get(run.point.params, 0) + 1
    return bool(groups) and all(sizes[p] >= 2 and len(hashes) == 1 for p, hashes in groups.items())
