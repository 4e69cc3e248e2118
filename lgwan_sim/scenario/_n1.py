"""``lgwan-sim n1``: the N-1 study of a scenario's network and demand, case by case.

The cases (:func:`lgwan_sim.engine.n1_cases`) are found in this process from the loaded
scenario. On this machine's cores they run in worker processes forked from this one once
the study is built (load the scenario, map it to the engine's inputs, route the intact
network), so each worker inherits it and none builds it again; where processes cannot be
forked, and on a Dask cluster (``--scheduler``), each case is one Dask task and a worker
builds the study once and keeps it for the next cases it is given. A case's numbers do not
depend on which worker ran it or what it ran before.

The study is the scenario's network (its edits applied) and its day of demand, steady
state with one element down all day; the scenario's timeline events are not applied
(:func:`events_note` says so).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lgwan_sim.engine import N1Case, N1Impact, N1Study, n1_cases
from lgwan_sim.errors import LgwanSimError
from lgwan_sim.scenario._model import Scenario

__all__ = [
    "N1_FILES",
    "N1Result",
    "events_note",
    "run_n1",
    "study_of",
    "write_n1",
]

#: What ``lgwan-sim n1`` writes into its folder (``n1.json`` marks it).
N1_FILES = frozenset(
    {
        "n1.json",
        "n1_cases.csv",
        "n1_worst_links.csv",
        "n1_unreachable.csv",
        "n1_timing.json",
        "n1_peaks.png",
        "n1_impact.png",
        "report.html",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class N1Result:
    scenario: str
    name: str
    sites: bool
    impacts: tuple[N1Impact, ...]
    site_names: Mapping[str, str]
    workers: int
    wall_s: float
    case_wall_s: Mapping[str, float]
    worker_peak_rss_mib: tuple[float, ...] = ()
    """The peak resident memory of each worker process that ran cases."""


def study_of(scenario: Scenario) -> N1Study:
    """The N-1 study of a loaded scenario: its network, its demand, its day, its bins."""
    from lgwan_sim.scenario._build import engine_inputs

    inputs = engine_inputs(scenario)
    return N1Study(
        inputs.topology, inputs.demand, duration_s=inputs.duration_s, config=inputs.config
    )


def events_note(scenario: Scenario) -> str | None:
    """A warning when the scenario has timeline events, which the study does not apply."""
    n = len(scenario.events)
    if n == 0:
        return None
    return (
        f"{scenario.name}: the N-1 study fails one element at a time on the intact network; "
        f"the scenario's {n} event{'' if n == 1 else 's'} {'is' if n == 1 else 'are'} "
        "not applied"
    )


#: Studies built in this (worker) process, by scenario file, its mtime and the settings.
_STUDIES: dict[tuple[str, int, tuple[tuple[str, object], ...]], N1Study] = {}


def _study(path: str, params: tuple[tuple[str, object], ...]) -> N1Study:
    from lgwan_sim.scenario._sweep import load_with_settings

    key = (path, os.stat(path).st_mtime_ns, params)
    study = _STUDIES.get(key)
    if study is None:
        _STUDIES.clear()
        study = _STUDIES[key] = study_of(load_with_settings(path, params))
    return study


def run_case(
    path: str, params: tuple[tuple[str, object], ...], element: str
) -> tuple[N1Impact, float, int, float]:
    """One case in this process (what a worker executes): the impact, its wall time, and
    the process id and peak resident memory (MiB) of the process that ran it."""
    from lgwan_sim.engine import case_of

    study = _study(path, params)
    return _timed_case(study, case_of(study.topology, element))


def _timed_case(study: N1Study, case: N1Case) -> tuple[N1Impact, float, int, float]:
    """``case`` on ``study``: the impact, its wall time, this process's id and peak RSS.

    An error comes back as one :class:`~lgwan_sim.errors.LgwanSimError` naming the case,
    with the worker's traceback: not every error of the package can be rebuilt from a
    pickle, and one that cannot would be lost on its way back from a worker.
    """
    from lgwan_sim.scenario._runner import peak_rss_mib

    began = time.perf_counter()
    try:
        impact = study.case(case)
    except Exception as exc:
        detail = traceback.format_exc(limit=-3).rstrip()
        raise LgwanSimError(f"N-1 case {case.id}: {exc}\n{detail}") from None
    return impact, time.perf_counter() - began, os.getpid(), peak_rss_mib()


MAX_DEFAULT_WORKERS = 8
"""At most this many forked workers by default (``--workers`` may ask for more)."""


def can_fork() -> bool:
    """Whether worker processes can be forked from this one: Linux and the BSDs; not macOS,
    where forking a process that has used system frameworks is unsafe (Python spawns there)."""
    return "fork" in multiprocessing.get_all_start_methods() and sys.platform != "darwin"


def _usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, so a container's limit counts)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_workers() -> int:
    """How many worker processes ``lgwan-sim n1`` runs without ``--workers``: one per CPU it
    may use (at most :data:`MAX_DEFAULT_WORKERS`), forked from this process once it has
    built the study; one, this process, where processes cannot be forked, since starting a
    local Dask cluster and building the study in each of its workers takes as long as the
    cases of a bundled scenario (``benchmarks/README.md``)."""
    if not can_fork():
        return 1
    return max(1, min(_usable_cpus(), MAX_DEFAULT_WORKERS))


_LOCAL_STUDY: N1Study | None = None
"""The study of :func:`_run_local`, which forked workers inherit (set only while it runs)."""


def _quiet_worker() -> None:
    # Ctrl-C reaches the whole process group: the command stops its workers itself, so a
    # worker does not print a traceback of its own
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _local_case(case: N1Case) -> tuple[N1Impact, float, int, float]:
    """One case on the study of :func:`_run_local` (see :func:`_timed_case`)."""
    study = _LOCAL_STUDY
    if study is None:  # not run or forked from _run_local
        raise LgwanSimError("an N-1 worker has no study")
    return _timed_case(study, case)


def _run_local(
    path: str,
    scenario: Scenario,
    cases: Sequence[N1Case],
    sites: bool,
    began: float,
    on_started: Callable[[int], None] | None,
    on_done: Callable[[N1Impact], None] | None,
    workers: int,
) -> N1Result:
    """Every case on one study built here: in this process (``workers`` 1), or on
    ``workers`` processes forked from it once the study is built.

    The workers are forked before ``on_started`` is called, so that a progress display it
    starts (a thread writing to the terminal) is not running when they are. A worker that
    dies (killed, out of memory) ends the study with an error instead of a wait.
    """
    global _LOCAL_STUDY
    impacts: list[N1Impact] = []
    walls: dict[str, float] = {}
    worker_rss: dict[int, float] = {}
    pool: ProcessPoolExecutor | None = None
    try:
        _LOCAL_STUDY = study_of(scenario)
        if workers == 1:
            done: Iterator[tuple[N1Impact, float, int, float]] = map(_local_case, cases)
        else:
            pool = ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("fork"), initializer=_quiet_worker
            )
            done = pool.map(_local_case, cases)  # forks the workers, all at once
        if on_started is not None:
            on_started(len(cases))
        # in the cases' order, whichever worker ran each: the result does not depend on it
        for case, (impact, wall, pid, rss) in zip(cases, done, strict=True):
            worker_rss[pid] = max(rss, worker_rss.get(pid, 0.0))
            walls[case.id] = wall
            impacts.append(impact)
            if on_done is not None:
                on_done(impact)
    except BrokenProcessPool:
        raise LgwanSimError(
            "an N-1 worker process died (killed, or out of memory?); "
            "--workers 1 runs the cases in this process"
        ) from None
    finally:
        _LOCAL_STUDY = None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return N1Result(
        scenario=path,
        name=scenario.name,
        sites=sites,
        impacts=tuple(impacts),
        site_names={s.id: s.name for s in scenario.topology.sites.values()},
        workers=workers,
        wall_s=time.perf_counter() - began,
        case_wall_s=walls,
        worker_peak_rss_mib=tuple(worker_rss[p] for p in sorted(worker_rss)),
    )


def run_n1(
    scenario_path: str | Path,
    scenario: Scenario,
    params: Sequence[tuple[str, object]] = (),
    *,
    sites: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    connect_timeout_s: float = 30.0,
    on_started: Callable[[int], None] | None = None,
    on_done: Callable[[N1Impact], None] | None = None,
) -> N1Result:
    """Run every case of ``scenario`` (loaded from ``scenario_path`` with ``params``).

    Without ``scheduler``, on ``workers`` processes (by default :func:`default_workers`):
    one is this process; more are forked from it, or a local Dask cluster where processes
    cannot be forked. With ``scheduler``, on that Dask cluster.

    ``on_started(n_cases)`` is called once the cases are known (and any forked workers
    started), ``on_done`` after each.
    A case that fails raises (every case runs the same code on the same network: a failure
    is a defect, not a result).
    """
    path = str(Path(scenario_path).absolute())
    cases = n1_cases(scenario.topology, sites=sites)
    began = time.perf_counter()
    n = workers or default_workers()
    if scheduler is None and (n == 1 or can_fork()):
        n = min(n, len(cases))
        return _run_local(path, scenario, cases, sites, began, on_started, on_done, n)
    if on_started is not None:
        on_started(len(cases))
    from distributed import Client, as_completed

    from lgwan_sim.scenario._sweep import local_cluster

    cluster = None
    if scheduler is None:
        cluster = local_cluster(n)
        client = Client(cluster)  # type: ignore[no-untyped-call]
    else:
        try:
            client = Client(scheduler, timeout=connect_timeout_s)  # type: ignore[no-untyped-call]
        except (OSError, ValueError) as exc:
            raise LgwanSimError(
                f"scheduler {scheduler}: cannot reach a Dask scheduler there ({exc})"
            ) from None
    params = tuple(params)
    try:
        n_workers = len(client.scheduler_info(n_workers=-1)["workers"])
        tag = f"{os.getpid()}-{time.monotonic_ns()}"
        futures = {
            client.submit(run_case, path, params, case.id, key=f"lgwan-n1-{i}-{tag}", pure=False): (
                case.id
            )
            for i, case in enumerate(cases)
        }
        done: dict[str, N1Impact] = {}
        walls: dict[str, float] = {}
        worker_rss: dict[int, float] = {}
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            impact, wall, pid, rss = future.result()
            worker_rss[pid] = max(rss, worker_rss.get(pid, 0.0))
            done[futures[future]] = impact
            walls[futures[future]] = wall
            if on_done is not None:
                on_done(impact)
    finally:
        client.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()
    names = {s.id: s.name for s in scenario.topology.sites.values()}
    return N1Result(
        scenario=path,
        name=scenario.name,
        sites=sites,
        impacts=tuple(done[c.id] for c in cases),
        site_names=names,
        workers=n_workers,
        wall_s=time.perf_counter() - began,
        case_wall_s={c.id: walls[c.id] for c in cases},
        worker_peak_rss_mib=tuple(worker_rss[p] for p in sorted(worker_rss)),
    )


def severity(impact: N1Impact) -> tuple[float, ...]:
    """Sort key, worst first: bodies cut off, exchanges lost, services in breach, peak."""
    return (
        -len(impact.unreachable),
        -impact.lost_total,
        -len(impact.breaches),
        -impact.peak_utilisation,
    )


def breach_text(impact: N1Impact) -> str:
    """``eltax (cut off); mail-relay (latency)``."""
    return "; ".join(f"{name} ({why})" for name, why in sorted(impact.breaches.items()))


def case_doc(impact: N1Impact) -> dict[str, Any]:
    from lgwan_sim.scenario._results import rounded

    return {
        "case": impact.case,
        "kind": impact.kind,
        "offered": rounded(impact.offered),
        "lost": {k: rounded(v) for k, v in impact.lost.items()},
        "lost_total": rounded(impact.lost_total),
        "peak_utilisation": rounded(impact.peak_utilisation),
        "worst_links": [
            {"link": link, "peak_utilisation": rounded(peak), "p95_utilisation": rounded(p95)}
            for link, peak, p95 in impact.worst_links
        ],
        "overloaded_links": impact.overloaded_links,
        "unreachable_local_bodies": len(impact.unreachable),
        "unreachable": list(impact.unreachable),
        "services_in_breach": dict(sorted(impact.breaches.items())),
        "p95_latency_s": {k: rounded(v) for k, v in sorted(impact.p95_latency_s.items())},
        "failovers": list(impact.failovers),
        "most_raised": None
        if impact.most_raised is None
        else {
            "link": impact.most_raised[0],
            "peak_utilisation": rounded(impact.most_raised[1]),
            "intact_peak_utilisation": rounded(impact.most_raised[2]),
        },
    }


def write_n1(
    result: N1Result,
    out: Path,
    *,
    render: Callable[[N1Result, Path], Sequence[str]] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``n1.json`` (deterministic), the CSVs, ``n1_timing.json`` and, through
    ``render``, the plots and ``report.html``; all at once or nothing."""
    from lgwan_sim.scenario._results import _csv, write_json
    from lgwan_sim.scenario._runner import output_dir, peak_rss_mib

    with output_dir(out, overwrite=overwrite) as folder:
        write_json(
            folder / "n1.json",
            {
                "scenario": Path(result.scenario).name,
                "name": result.name,
                "sites": result.sites,
                "cases": [case_doc(i) for i in result.impacts],
            },
        )
        _csv(
            folder / "n1_cases.csv",
            [
                "case",
                "kind",
                "peak_utilisation",
                "worst_link",
                "worst_link_p95",
                "overloaded_links",
                "most_raised_link",
                "most_raised_peak",
                "most_raised_intact_peak",
                "unreachable_local_bodies",
                "offered",
                "lost",
                "lost_share",
                "lost_no_route",
                "lost_site_down",
                "lost_overload",
                "services_in_breach",
                "breaches",
                "failovers",
            ],
            (
                [
                    i.case,
                    i.kind,
                    i.peak_utilisation,
                    i.worst_links[0][0] if i.worst_links else "",
                    i.worst_links[0][2] if i.worst_links else None,
                    i.overloaded_links,
                    *(i.most_raised or ("", None, None)),
                    len(i.unreachable),
                    i.offered,
                    i.lost_total,
                    i.lost_total / i.offered if i.offered else None,
                    i.lost["no_route"],
                    i.lost["site_down"],
                    i.lost["overload"],
                    len(i.breaches),
                    breach_text(i),
                    " ".join(i.failovers),
                ]
                for i in result.impacts
            ),
        )
        _csv(
            folder / "n1_worst_links.csv",
            ["case", "rank", "link", "peak_utilisation", "p95_utilisation"],
            (
                [i.case, rank, link, peak, p95]
                for i in result.impacts
                for rank, (link, peak, p95) in enumerate(i.worst_links, start=1)
            ),
        )
        _csv(
            folder / "n1_unreachable.csv",
            ["case", "site", "name"],
            (
                [i.case, site, result.site_names.get(site, "")]
                for i in result.impacts
                for site in i.unreachable
            ),
        )
        write_json(
            folder / "n1_timing.json",
            {
                "workers": result.workers,
                "wall_s": round(result.wall_s, 3),
                "peak_rss_mib": round(peak_rss_mib(), 1),
                "worker_peak_rss_mib": [round(x, 1) for x in result.worker_peak_rss_mib],
                "case_wall_s": {k: round(v, 3) for k, v in result.case_wall_s.items()},
            },
        )
        if render is not None:
            render(result, folder)
    return out
