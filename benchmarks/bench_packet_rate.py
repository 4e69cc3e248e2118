"""Packet hops per second of the packet fidelity, and the work estimate against the count.

Runs the bundled packet-zoom scenario at packet fidelity and prints one JSON line: the packet
hops the engine moved, the engine's wall and CPU time, hops per CPU second (the rate
``lgwan-sim run`` uses to warn about long packet runs, ``PACKET_HOPS_PER_S`` in
``lgwan_sim/scenario/_estimate.py``; CPU time, so that other load on the machine does not
lower it) and the estimate made before the run.

    python benchmarks/bench_packet_rate.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import time

from lgwan_sim.scenario import bundled_scenarios, engine_inputs, load_scenario, run_scenario
from lgwan_sim.scenario._estimate import PACKET_HOPS_PER_S, estimate_work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs; the fastest is reported")
    args = parser.parse_args()
    path = next(b.path for b in bundled_scenarios() if b.name == "packet-zoom")
    scenario = load_scenario(path, fidelity="packet")
    estimate = estimate_work(engine_inputs(scenario))
    best = None
    cpu_s = float("inf")
    for _ in range(args.repeat):
        began = time.process_time()
        outcome = run_scenario(scenario)
        cpu_s = min(cpu_s, time.process_time() - began)
        if best is None or outcome.wall_s < best.wall_s:
            best = outcome
    assert best is not None
    hops = best.result.counters["packet_hops"]
    print(
        json.dumps(
            {
                "scenario": "packet-zoom",
                "packet_hops": hops,
                "packets": best.result.counters["packets"],
                "engine_wall_s": round(best.wall_s, 3),
                "cpu_s": round(cpu_s, 3),
                "packet_hops_per_cpu_s": round(hops / cpu_s),
                "rate_in_use": PACKET_HOPS_PER_S,
                "estimated_packet_hops": round(estimate.packet_hops),
                "estimated_packets": round(estimate.packets),
            }
        )
    )


if __name__ == "__main__":
    main()
