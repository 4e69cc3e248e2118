"""The engine's seam on the wall clock, and what the seam costs when nothing uses it.

    python benchmarks/bench_seam.py realtime [--speed 1] [--duration-s 20] [--rate 50]
    python benchmarks/bench_seam.py overhead --base REV [--repeats 3] [--flow-day-s 3600]

``realtime`` paces the packet fidelity to the wall clock with :class:`RealtimeDriver`. A
service runs in a thread of its own, as a real program would: it takes each request the
engine hands to its endpoint, answers 5 ms of wall time later, and the driver's wait hands
the answer back to the engine (``respond``) as soon as it arrives. Every caller has an
endpoint too, which notes the wall time at which its response arrived. Halfway through, the
primary line of the callers' prefecture node is cut through ``apply``; messages in transfer
on it and those sent before routing converges are lost as ``link_failure``. It prints, as
one JSON line: the driver's lateness (p50, p99), the round trip measured on the wall clock
against the modelled one (request leg + 5 ms + response leg, from the engine's own
timestamps) and the drops by reason.

``overhead`` times ``bench_engine.py tandem --engines ours`` and ``bench_engine.py
flow-day`` in this tree and in a checkout of ``--base`` (a temporary git worktree), one
after the other, ``--repeats`` times, and prints CPU seconds (min / median / max) and the
ratio of the medians: the cost of the seam for runs without endpoints or observers.
"""

from __future__ import annotations

import argparse
import json
import math
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from lgwan_sim.engine import (
    EngineInputs,
    EventKind,
    FakeEndpoint,
    Message,
    RealtimeDriver,
    TimelineEvent,
    build,
)
from lgwan_sim.network import Link, LinkKind, Site, SiteKind, Topology
from lgwan_sim.traffic import JST, Demand, ServiceDemand, SizeDist

HERE = Path(__file__).resolve().parent
ANSWER_S = 0.005  # the fake service's processing time, in wall seconds


def world(n_callers: int, rate_per_s: float) -> tuple[Topology, Demand, tuple[str, ...]]:
    """Callers on a prefecture node dual-homed to two central sites; the service beyond."""
    from datetime import datetime

    callers = tuple(f"m{i:02d}" for i in range(n_callers))
    sites = [
        Site(id=c, kind=SiteKind.MUNICIPALITY, name=c, lat=39.7, lon=141.1 + 0.01 * i)
        for i, c in enumerate(callers)
    ]
    sites += [
        Site(id="pn", kind=SiteKind.PREFECTURE_NODE, name="pn", lat=39.7, lon=141.2),
        Site(id="c1", kind=SiteKind.CENTRAL, name="c1", lat=35.7, lon=139.8),
        Site(id="c2", kind=SiteKind.CENTRAL, name="c2", lat=34.7, lon=135.5),
        Site(id="asp", kind=SiteKind.ASP, name="asp", lat=35.7, lon=139.7),
    ]
    links = [
        Link(a=c, b="pn", kind=LinkKind.ACCESS, capacity_bps=1e8, delay_s=0.001) for c in callers
    ]
    links += [
        Link(a="pn", b="c1", kind=LinkKind.BACKBONE, capacity_bps=1e9, delay_s=0.004),
        Link(a="pn", b="c2", kind=LinkKind.BACKBONE, capacity_bps=1e9, delay_s=0.006),
        Link(a="c1", b="asp", kind=LinkKind.BACKBONE, capacity_bps=1e9, delay_s=0.001),
        Link(a="c2", b="asp", kind=LinkKind.BACKBONE, capacity_bps=1e9, delay_s=0.004),
    ]
    svc = ServiceDemand(
        name="directory",
        primary="asp",
        callers=callers,
        requests_per_day=rate_per_s * 86400.0 / n_callers,
        request_size=SizeDist.fixed(1_000.0),
        response_size=SizeDist.fixed(1_200.0),
    )
    demand = Demand(services=(svc,), start=datetime(2026, 4, 6, 9, 0, tzinfo=JST))
    return Topology.build("seam-bench", sites, links), demand, callers


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100.0 * len(ordered))) - 1] if ordered else math.nan


def bench_realtime(speed: float, duration_s: float, rate: float) -> dict[str, object]:
    topo, demand, callers = world(10, rate)
    inputs = EngineInputs(
        topology=topo, demand=demand, fidelity="packet", duration_s=duration_s, seed=11
    )
    to_service: queue.SimpleQueue[Message | None] = queue.SimpleQueue()
    answers: queue.SimpleQueue[Message] = queue.SimpleQueue()
    arrived_host: dict[int, float] = {}  # simulated arrival at the service
    answered_at: dict[int, float] = {}  # simulated time the answer entered the network
    got: list[tuple[Message, float, float]] = []  # response, simulated, wall

    def service_main() -> None:
        while (message := to_service.get()) is not None:
            time.sleep(ANSWER_S)
            answers.put(message)

    def at_host(message: Message, at_s: float) -> None:
        arrived_host[message.id] = at_s
        to_service.put(message)

    def at_caller(message: Message, at_s: float) -> None:
        got.append((message, at_s, time.monotonic()))

    endpoints: dict[str, FakeEndpoint] = {"asp": FakeEndpoint(lambda m, t: at_host(m, t))}
    for c in callers:
        endpoints[c] = FakeEndpoint(lambda m, t: at_caller(m, t))
    engine = build(inputs, endpoints=endpoints)
    thread = threading.Thread(target=service_main, daemon=True)
    thread.start()
    driver: RealtimeDriver

    def wait(seconds: float) -> None:
        try:
            message = answers.get(timeout=seconds)
        except queue.Empty:
            return
        now = driver.sim_now()
        answered_at[message.id] = now
        engine.respond(message, 1_200.0, now)

    driver = RealtimeDriver(engine, speed=speed, wait=wait)
    cut_at = duration_s / 2
    cut = False
    while driver.step(duration_s):
        if not cut and driver.now_s >= cut_at:
            engine.apply(
                TimelineEvent(
                    at_s=driver.sim_now(), kind=EventKind.LINK_DOWN, links=("c1~pn",), note="cut"
                )
            )
            cut = True
    lateness = driver.lateness()
    result = engine.finish()
    to_service.put(None)
    thread.join(timeout=1.0)
    errors_ms = []
    for message, at_s, wall in got:
        req_leg = arrived_host[message.id] - message.sent_at_s
        resp_leg = at_s - answered_at[message.id]
        modelled = req_leg + ANSWER_S * speed + resp_leg
        measured = (wall - driver.wall_of(message.sent_at_s)) * speed
        errors_ms.append((measured - modelled) * 1e3)
    stats = result.services["directory"]
    return {
        "benchmark": "realtime",
        "speed": speed,
        "duration_s": duration_s,
        "exchanges": stats.offered,
        "delivered": stats.delivered,
        "in_flight": stats.in_flight,
        "dropped": dict(stats.dropped),
        "lateness_steps": lateness.steps,
        "lateness_p50_ms": round(lateness.p50_s * 1e3, 3),
        "lateness_p99_ms": round(lateness.p99_s * 1e3, 3),
        "lateness_max_ms": round(lateness.max_s * 1e3, 3),
        "rtt_modelled_p50_ms": round(
            pct(
                [
                    (arrived_host[m.id] - m.sent_at_s + ANSWER_S + at - answered_at[m.id]) * 1e3
                    for m, at, _ in got
                ],
                50,
            ),
            3,
        ),
        "rtt_error_p50_ms": round(pct(errors_ms, 50), 3),
        "rtt_error_p99_ms": round(pct(errors_ms, 99), 3),
    }


def _time(tree: Path, args: list[str]) -> float:
    out = subprocess.run(
        [sys.executable, str(tree / "benchmarks" / "bench_engine.py"), *args],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    return float(figures["process_cpu_s"])


def bench_overhead(base: str, repeats: int, flow_day_s: float) -> list[dict[str, object]]:
    here = HERE.parent
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "base"
        subprocess.run(
            ["git", "-C", str(here), "worktree", "add", "--detach", str(other), base],
            check=True,
            capture_output=True,
        )
        try:
            for name, args in (
                ("tandem", ["tandem", "--engines", "ours"]),
                ("flow-day", ["flow-day", "--duration-s", str(flow_day_s)]),
            ):
                ours, theirs = [], []
                for _ in range(repeats):  # interleaved, so drifts in load hit both alike
                    theirs.append(_time(other, args))
                    ours.append(_time(here, args))
                rows.append(
                    {
                        "benchmark": f"overhead-{name}",
                        "base": base,
                        "cpu_s_base": [min(theirs), statistics.median(theirs), max(theirs)],
                        "cpu_s_this": [min(ours), statistics.median(ours), max(ours)],
                        "ratio_of_medians": round(
                            statistics.median(ours) / statistics.median(theirs), 4
                        ),
                    }
                )
        finally:
            subprocess.run(
                ["git", "-C", str(here), "worktree", "remove", "--force", str(other)],
                check=False,
                capture_output=True,
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("which", choices=["realtime", "overhead"])
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--duration-s", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--base", default="HEAD~1", help="overhead: the revision to compare")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--flow-day-s", type=float, default=3600.0)
    args = parser.parse_args(argv)
    if args.which == "realtime":
        # the service thread hands its answers over through the interpreter lock: switch
        # threads every 0.1 ms rather than every 5 ms, as a latency-bound program would
        sys.setswitchinterval(1e-4)
        rows = [bench_realtime(args.speed, args.duration_s, args.rate)]
    else:
        rows = bench_overhead(args.base, args.repeats, args.flow_day_s)
    for row in rows:
        sys.stdout.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
