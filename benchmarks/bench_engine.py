"""Engine benchmarks: packet vs ns.py, the national flow day, 10k concurrent flows, analytic.

Run one benchmark per process so that each peak-memory figure is its own::

    python benchmarks/bench_engine.py all          # every benchmark, one subprocess each
    python benchmarks/bench_engine.py tandem       # packet fidelity vs ns.py, same tandem
    python benchmarks/bench_engine.py tandem --engines ours   # one engine alone (memory)
    python benchmarks/bench_engine.py flow-day     # 24 h national day at 300 messages/s
    python benchmarks/bench_engine.py concurrent   # 10,000 concurrent flows, vs SimGrid 4.1
    python benchmarks/bench_engine.py concurrent --per-path 1 --simgrid-models none
    python benchmarks/bench_engine.py analytic     # national day in 1-minute bins
    python benchmarks/bench_engine.py analytic --scenario packet-zoom --bin-s 900
    python benchmarks/bench_engine.py n1           # N-1 sweep over backbone/prefecture links
    python benchmarks/bench_engine.py n1 --scenario national-weekday  # lgwan-sim n1's cases

ns.py comes from the ``bench`` extra (``pip install -e .[bench]``). SimGrid is optional and
built from source (``benchmarks/README.md``); without it ``concurrent`` prints SimGrid's
figures measured earlier on the same workload (``SIMGRID_QUOTED``), marked as quoted. Figures
are printed as one JSON line per benchmark. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import math
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lgwan_sim.engine import EngineConfig, n1_sweep, run
from lgwan_sim.network import Link, LinkKind, Site, SiteKind, Topology, build_national
from lgwan_sim.traffic import SizeDist

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_workloads import national_demand

log = logging.getLogger("bench_engine")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def emit(name: str, **figures: object) -> None:
    figures["peak_rss_mib"] = round(peak_rss_mib(), 1)
    # CPU seconds of the whole process: robust when other work shares the machine
    figures["process_cpu_s"] = round(time.process_time(), 2)
    sys.stdout.write(json.dumps({"benchmark": name, **figures}) + "\n")
    sys.stdout.flush()


def _line(n_sites: int, capacity_bps: float, delay_s: float) -> Topology:
    sites = [
        Site(id=f"n{i}", kind=SiteKind.MUNICIPALITY, name=f"n{i}", lat=35.0, lon=135.0 + i * 0.01)
        for i in range(n_sites)
    ]
    links = [
        Link(
            a=f"n{i}",
            b=f"n{i + 1}",
            kind=LinkKind.ACCESS,
            capacity_bps=capacity_bps,
            delay_s=delay_s,
        )
        for i in range(n_sites - 1)
    ]
    return Topology.build("line", sites, links)


# -- tandem: packet fidelity vs ns.py ------------------------------------------------------
# Three ports in tandem, 8 Mb/s each, 1 ms wires; 1000 B packets, Poisson at 666.7/s.
# rho = 2/3, so M/D/1 waiting at the first port is rho / (2 mu (1 - rho)) = 1 ms, and the
# mean delay is 1 + 3 x 1 (transmission) + 3 x 1 (propagation) = 7.0 ms.
TANDEM_RATE_BPS = 8e6
TANDEM_DELAY_S = 0.001
TANDEM_SIZE = 1000.0
TANDEM_LAMBDA = 2000.0 / 3.0
TANDEM_PACKETS = 200_000
TANDEM_THEORY_S = 0.007


def tandem_ours() -> dict[str, float]:
    from engine_demands import one_way_demand

    topo = _line(4, TANDEM_RATE_BPS, TANDEM_DELAY_S)
    demand = one_way_demand("n0", "n3", TANDEM_LAMBDA, SizeDist.fixed(TANDEM_SIZE))
    cfg = EngineConfig(mss_bytes=math.inf, header_bytes=0.0, buffer_bytes=math.inf, bin_s=60.0)
    duration = TANDEM_PACKETS / TANDEM_LAMBDA
    t0 = time.perf_counter()
    result = run(topo, demand, fidelity="packet", duration_s=duration, seed=1, config=cfg)
    wall = time.perf_counter() - t0
    packets = result.counters["packets"]
    return {
        "packets": packets,
        "wall_s": wall,
        "packets_per_s": packets / wall,
        "mean_delay_ms": result.services["s"].latency.mean * 1e3,
    }


def tandem_nspy() -> dict[str, float]:
    import random

    import simpy
    from ns.packet.dist_generator import DistPacketGenerator
    from ns.packet.sink import PacketSink
    from ns.port.port import Port
    from ns.port.wire import Wire

    random.seed(1)
    env = simpy.Environment()
    gen = DistPacketGenerator(
        env, "flow", lambda: random.expovariate(TANDEM_LAMBDA), lambda: TANDEM_SIZE, flow_id=0
    )
    sink = PacketSink(env)
    ports = [Port(env, TANDEM_RATE_BPS) for _ in range(3)]
    wires = [Wire(env, lambda: TANDEM_DELAY_S) for _ in range(3)]
    gen.out = ports[0]
    for i in range(3):
        ports[i].out = wires[i]
        wires[i].out = ports[i + 1] if i < 2 else sink
    duration = TANDEM_PACKETS / TANDEM_LAMBDA
    t0 = time.perf_counter()
    env.run(until=duration)
    wall = time.perf_counter() - t0
    waits = sink.waits[0]
    # 0.4.3's sink appends each arrival twice; count packets from the generator instead
    packets = gen.packets_sent
    mean = sum(waits) / len(waits)
    return {
        "packets": packets,
        "wall_s": wall,
        "packets_per_s": packets / wall,
        "mean_delay_ms": mean * 1e3,
        # 0.4.3 stamps a packet before the inter-arrival wait: subtract one mean gap
        "mean_delay_ms_corrected": (mean - 1.0 / TANDEM_LAMBDA) * 1e3,
    }


def bench_tandem(engines: str) -> None:
    ours = tandem_ours() if engines in ("both", "ours") else None
    theirs: dict[str, float] | None = None
    if engines in ("both", "nspy"):
        try:
            theirs = tandem_nspy()
        except ImportError:
            log.warning("ns.py is not installed (pip install -e .[bench]); skipping it")
    emit(
        "tandem",
        theory_mean_delay_ms=TANDEM_THEORY_S * 1e3,
        lgwan_sim=ours,
        nspy=theirs,
        speedup=None
        if ours is None or theirs is None
        else ours["packets_per_s"] / theirs["packets_per_s"],
    )


# -- national flow day ---------------------------------------------------------------------
def bench_flow_day(duration_s: float) -> None:
    topo = build_national()
    demand = national_demand(topo, messages_per_s=300.0, mean_bytes=50_000.0)
    t0 = time.perf_counter()
    result = run(topo, demand, fidelity="flow", duration_s=duration_s, seed=1)
    wall = time.perf_counter() - t0
    emit(
        "flow-day",
        simulated_s=duration_s,
        messages=result.offered,
        delivered=result.delivered,
        in_flight=result.in_flight,
        dropped=result.dropped,
        wall_s=round(wall, 2),
        messages_per_wall_s=round(result.offered / wall),
        counters=dict(result.counters),
        peak_utilisation=result.top_links(1),
    )


# -- 10,000 concurrent flows on a shared bottleneck -----------------------------------------
# SimGrid 4.1 on this benchmark's own workload, for a run without SimGrid: 10,000 flows at 100,
# 10 and 1 flows per path, measured on the reference 2-core machine by
# `bench_engine.py concurrent --flows 10000 --simgrid-models LV08,CM02,LV08-full,raw,raw-full`
# (three runs), SimGrid built by the recipe in benchmarks/README.md. Per flows per path and
# model: flows per CPU second of `Engine.run()` (min, median, max), the simulated makespan
# in seconds and the peer process's peak RSS in MiB (medians).
SIMGRID_QUOTED_FLOWS = 10_000
SIMGRID_QUOTED_SOURCE = (
    "quoted, not run here: SimGrid 4.1 on this workload, measured 2026-12-03 on the reference "
    "2-core machine (3 runs), built by `pip install --no-build-isolation simgrid==4.1` "
    '(benchmarks/README.md, "SimGrid for `concurrent`")'
)
SIMGRID_QUOTED: dict[int, dict[str, tuple[tuple[int, int, int], float, float]]] = {
    100: {
        "LV08": ((125, 125, 162), 82.231, 44.1),
        "CM02": ((133, 138, 139), 79.741, 44.1),
        "LV08-full": ((229, 275, 280), 82.231, 43.5),
        "raw": ((225, 225, 236), 79.741, 42.6),
        "raw-full": ((495, 508, 610), 79.741, 41.9),
    },
    10: {
        "LV08": ((118, 118, 185), 82.16, 57.9),
        "CM02": ((123, 123, 171), 79.672, 58.0),
        "LV08-full": ((292, 292, 346), 82.16, 57.4),
        "raw": ((239, 240, 269), 79.672, 56.4),
        "raw-full": ((450, 457, 547), 79.672, 55.8),
    },
    1: {
        "LV08": ((78, 78, 84), 82.16, 982.6),
        "CM02": ((79, 80, 82), 79.672, 982.7),
        "LV08-full": ((170, 185, 187), 82.16, 983.2),
        "raw": ((137, 249, 272), 79.672, 982.6),
        "raw-full": ((239, 387, 399), 79.672, 982.8),
    },
}


def quoted_simgrid(n_flows: int, n_sources: int) -> list[dict[str, object]]:
    """SimGrid's rows measured earlier on this shape, each marked as quoted; [] for another."""
    per_path, rest = divmod(n_flows, n_sources)
    if n_flows != SIMGRID_QUOTED_FLOWS or rest or per_path not in SIMGRID_QUOTED:
        return []
    rows: list[dict[str, object]] = []
    for model, ((low, median, high), makespan_s, rss_mib) in SIMGRID_QUOTED[per_path].items():
        rows.append(
            {
                "model": model,
                "flows_per_cpu_s": median,
                "flows_per_cpu_s_min_max": [low, high],
                "makespan_s": makespan_s,
                "peak_rss_mib": rss_mib,
                "source": SIMGRID_QUOTED_SOURCE,
            }
        )
    return rows


def fastest_simgrid(rows: list[dict[str, object]]) -> tuple[dict[str, object], int] | None:
    """The row with the most flows per CPU second and that figure; None when no row has it."""
    timed = [(r, fps) for r in rows if isinstance(fps := r.get("flows_per_cpu_s"), int)]
    return max(timed, key=lambda pair: pair[1]) if timed else None


def concurrent_sizes(n_flows: int, seed: int, mean_bytes: float) -> list[float]:
    """The request sizes our engine draws for service ``s`` (its documented size stream)."""
    draw = SizeDist.exponential(mean_bytes).sampler(random.Random(f"{seed}:s:request-size"))
    return [draw() for _ in range(n_flows)]


def run_simgrid_peer(sizes: list[float], n_sources: int, model: str) -> dict[str, object]:
    """``simgrid_peer.py`` in its own process (its own peak memory) on the same sizes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sizes.json"
        path.write_text(json.dumps(sizes))
        cmd = [sys.executable, str(Path(__file__).resolve().parent / "simgrid_peer.py")]
        cmd += ["--sizes", str(path), "--sources", str(n_sources), "--model", model]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"simgrid_peer.py failed ({proc.returncode}): {proc.stderr[-2000:]}")
    figures: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return figures


def bench_concurrent(n_flows: int, n_sources: int, simgrid_models: list[str]) -> None:
    from engine_demands import trace_demand
    from simgrid_peer import available as simgrid_available

    seed, mean_bytes = 1, 1e6
    # n_sources hosts on 100 Mb/s access lines into a hub, a 1 Gb/s bottleneck to the sink
    sites = [Site(id="hub", kind=SiteKind.PREFECTURE_NODE, name="hub", lat=35.0, lon=135.0)]
    sites.append(Site(id="sink", kind=SiteKind.DATA_CENTRE, name="sink", lat=35.0, lon=135.1))
    links = [Link(a="hub", b="sink", kind=LinkKind.BACKBONE, capacity_bps=1e9, delay_s=0.001)]
    for i in range(n_sources):
        sites.append(
            Site(id=f"h{i:03d}", kind=SiteKind.MUNICIPALITY, name=f"h{i}", lat=35.0, lon=135.0)
        )
        links.append(
            Link(a=f"h{i:03d}", b="hub", kind=LinkKind.ACCESS, capacity_bps=1e8, delay_s=0.001)
        )
    topo = Topology.build("star", sites, links)
    callers = tuple(f"h{i:03d}" for i in range(n_sources))
    demand = trace_demand(callers, "sink", (0.0,) * n_flows, SizeDist.exponential(mean_bytes))
    # the same sizes, in the same order (flow k from source k mod n), are handed to SimGrid
    sizes = concurrent_sizes(n_flows, seed, mean_bytes)
    total_bytes = math.fsum(sizes)
    t0, c0 = time.perf_counter(), time.process_time()
    # one bin over the whole run: the figure is the sharing, not 16,667 bin closes of a
    # links x bins array (20,002 x 16,667 x 8 bytes = 2.7 GB at 10,000 sources in 60 s bins)
    cfg = EngineConfig(bin_s=1e6)
    result = run(topo, demand, fidelity="flow", duration_s=1e6, seed=seed, config=cfg)
    wall, run_cpu = time.perf_counter() - t0, time.process_time() - c0
    ours_rss = round(peak_rss_mib(), 1)
    ours_cpu = round(time.process_time(), 2)
    # bytes our run carried over the bottleneck: a check that SimGrid gets the same work
    carried = float(result.utilisation_of("hub~sink>").sum()) * 1e9 / 8.0 * result.bin_s
    ours: dict[str, object] = {
        "flows_per_s": round(n_flows / wall),
        "flows_per_cpu_s": round(n_flows / run_cpu),  # the run alone, load-independent
        "wall_s": round(wall, 3),
        "delivered": result.delivered,
        # the last flow's latency: all flows start at t=0 (log-bucket histogram, within 1 %)
        "makespan_s": round(result.services["s"].latency.percentile(100), 1),
        "bottleneck_bytes_match": math.isclose(carried, total_bytes, rel_tol=1e-6),
        "peak_rss_mib": ours_rss,
        "process_cpu_s": ours_cpu,
        "counters": dict(result.counters),
    }
    figures: dict[str, object] = {
        "flows": n_flows,
        "sources": n_sources,
        "flows_per_path": n_flows / n_sources,
        "flows_per_cpu_s": ours["flows_per_cpu_s"],
        "total_bytes": round(total_bytes),
        # the bottleneck alone, at 1 Gb/s and at LV08's 0.97 x 1 Gb/s
        "bottleneck_bound_s": round(total_bytes * 8.0 / 1e9, 2),
        "bottleneck_bound_lv08_s": round(total_bytes * 8.0 / (0.97 * 1e9), 2),
        "ours": ours,
    }
    rows: list[dict[str, object]] = []
    if simgrid_models and simgrid_available():
        rows = [run_simgrid_peer(sizes, n_sources, model) for model in simgrid_models]
        figures["simgrid"] = rows
        peer_fps = rows[0]["flows_per_s"]
        if isinstance(peer_fps, int) and peer_fps > 0:
            figures["ratio_ours_to_simgrid"] = round(n_flows / wall / peer_fps, 2)
            figures["ratio_model"] = rows[0]["model"]
    elif simgrid_models:
        rows = quoted_simgrid(n_flows, n_sources)
        figures["simgrid"] = rows or [
            {
                "source": "not run (SimGrid is not installed) and none quoted: SimGrid was "
                f"measured on {SIMGRID_QUOTED_FLOWS:,} flows at "
                f"{', '.join(map(str, SIMGRID_QUOTED))} flows per path only"
            }
        ]
    # our run's CPU seconds against SimGrid's fastest row (its `Engine.run()` alone), run or
    # quoted; both are CPU time, so the figure does not move with the machine's load
    fastest = fastest_simgrid(rows)
    if fastest is not None:
        row, peer_fps_cpu = fastest
        figures["simgrid_fastest_model"] = row["model"]
        key = "ratio_ours_to_simgrid_fastest_cpu" + ("_quoted" if "source" in row else "")
        figures[key] = round(n_flows / run_cpu / peer_fps_cpu, 2)
    emit("concurrent", **figures)


# -- analytic ------------------------------------------------------------------------------
def bench_analytic_scenario(name: str, bin_s: float) -> None:
    """A bundled scenario's day in the analytic fidelity at ``bin_s``: the engine alone."""
    from lgwan_sim.scenario import bundled_scenarios, load_scenario
    from lgwan_sim.scenario._build import engine_inputs

    path = {s.name: s.path for s in bundled_scenarios()}[name]
    scenario = load_scenario(
        path, overrides={"duration": "1d", "engine.bin_s": bin_s}, fidelity="analytic"
    )
    inputs = engine_inputs(scenario)
    t0 = time.perf_counter()
    c0 = time.process_time()
    result = run(inputs)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    emit(
        "analytic",
        scenario=name,
        bins=result.n_bins,
        links=len(result.link_ids),
        messages=result.offered,
        wall_s=round(wall, 3),
        run_cpu_s=round(cpu, 3),
        series_sha256=result.digest(),
    )


def bench_analytic(bin_s: float) -> None:
    topo = build_national()
    demand = national_demand(topo, messages_per_s=300.0, mean_bytes=50_000.0)
    t0 = time.perf_counter()
    c0 = time.process_time()
    result = run(
        topo, demand, fidelity="analytic", duration_s=86400.0, seed=1,
        config=EngineConfig(bin_s=bin_s),
    )  # fmt: skip
    digest = result.digest()  # reads every value of the series once
    wall = time.perf_counter() - t0
    emit(
        "analytic",
        bins=result.n_bins,
        links=len(result.link_ids),
        messages=result.offered,
        wall_s=round(wall, 3),
        run_cpu_s=round(time.process_time() - c0, 3),
        peak_utilisation=result.top_links(1),
        series_sha256=digest,
    )


def bench_n1() -> None:
    topo = build_national()
    demand = national_demand(topo, messages_per_s=300.0, mean_bytes=50_000.0)
    t0 = time.perf_counter()
    c0 = time.process_time()
    impacts = n1_sweep(topo, demand, duration_s=86400.0)
    wall = time.perf_counter() - t0
    digest = hashlib.sha256(repr([dataclasses.astuple(i) for i in impacts]).encode())
    worst = max(impacts, key=lambda i: (i.lost_requests, i.peak_utilisation))
    emit(
        "n1",
        links_failed=len(impacts),
        wall_s=round(wall, 2),
        sweep_cpu_s=round(time.process_time() - c0, 2),
        impacts_sha256=digest.hexdigest(),
        worst={"link": worst.link, "lost_requests": round(worst.lost_requests)},
        max_peak_utilisation=round(max(i.peak_utilisation for i in impacts), 4),
    )


def bench_n1_study(name: str) -> None:
    """``lgwan-sim n1``'s cases of a bundled scenario in one process: the study is built
    first (``study_s``), then every case (the intact network first) runs in turn on it
    (``sweep_cpu_s``: CPU of the cases alone)."""
    from lgwan_sim.scenario import bundled_scenarios, load_with_settings
    from lgwan_sim.scenario._n1 import study_of

    path = {s.name: s.path for s in bundled_scenarios()}[name]
    scenario = load_with_settings(path, ())
    s0 = time.process_time()
    study = study_of(scenario)
    study_s = time.process_time() - s0
    cases = study.cases()
    t0 = time.perf_counter()
    c0 = time.process_time()
    impacts = [study.case(c) for c in cases]
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    digest = hashlib.sha256(repr([dataclasses.astuple(i) for i in impacts]).encode())
    emit(
        "n1",
        scenario=name,
        cases=len(impacts),
        study_s=round(study_s, 3),
        wall_s=round(wall, 2),
        sweep_cpu_s=round(cpu, 2),
        impacts_sha256=digest.hexdigest(),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "which", choices=["all", "tandem", "flow-day", "concurrent", "analytic", "n1"]
    )
    parser.add_argument("--duration-s", type=float, default=86400.0, help="flow-day length")
    parser.add_argument("--bin-s", type=float, default=60.0, help="analytic: bin length")
    parser.add_argument(
        "--scenario",
        help="analytic: a bundled scenario's day instead (its network and demand, one day, "
        "the engine call alone timed), e.g. national-weekday or packet-zoom; n1: the cases "
        "of `lgwan-sim n1` on that scenario, in one process",
    )
    parser.add_argument("--flows", type=int, default=10_000)
    parser.add_argument(
        "--sources",
        type=int,
        help="concurrent: one shape, F flows on this many paths (default: every --per-path)",
    )
    parser.add_argument(
        "--per-path",
        default="100,10,1",
        help="concurrent: flows per path of the shapes to run, each in a process of its own",
    )
    parser.add_argument(
        "--simgrid-models",
        default="LV08",
        help="concurrent: SimGrid models to run side by side, comma-separated, the first one "
        "giving the wall-time ratio (LV08, CM02, LV08-full, raw, raw-full), or none; without "
        "SimGrid the figures measured earlier on the same shape, marked as quoted",
    )
    parser.add_argument(
        "--engines",
        choices=["both", "ours", "nspy"],
        default="both",
        help="tandem: run both side by side, or one alone (for its own peak memory)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.which == "all":
        for name in ("tandem", "analytic", "n1", "concurrent", "flow-day"):
            subprocess.run([sys.executable, __file__, name], check=True)
        return 0
    if args.which == "tandem":
        bench_tandem(args.engines)
    elif args.which == "flow-day":
        bench_flow_day(args.duration_s)
    elif args.which == "concurrent":
        if args.sources is None:
            shapes = [int(k) for k in args.per_path.split(",") if k]
            if len(shapes) > 1:
                for k in shapes:
                    cmd = [sys.executable, __file__, "concurrent", "--flows", str(args.flows)]
                    cmd += ["--per-path", str(k), "--simgrid-models", args.simgrid_models]
                    subprocess.run(cmd, check=True)
                return 0
            args.sources = max(1, args.flows // shapes[0])
        models = [m for m in args.simgrid_models.split(",") if m and m != "none"]
        bench_concurrent(args.flows, args.sources, models)
    elif args.which == "analytic" and args.scenario:
        bench_analytic_scenario(args.scenario, args.bin_s)
    elif args.which == "analytic":
        bench_analytic(args.bin_s)
    elif args.scenario:
        bench_n1_study(args.scenario)
    else:
        bench_n1()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
