"""One ``bench_engine.py`` benchmark on two source trees, runs interleaved, min/median/max.

Usage::

    python benchmarks/side_by_side.py --before OLD_TREE --after . --repeat 3 -- analytic
    python benchmarks/side_by_side.py --before OLD_TREE --after . -- analytic --bin-s 6

Each run is ``python benchmarks/bench_engine.py ARGS`` in a process of its own with the
tree first on ``PYTHONPATH`` (the benchmark script is the ``--after`` tree's, so both trees
run the same workload), taken in turn before/after so that a change in the machine's load
falls on both. Prints one line per figure: ``figure: before min/median/max | after
min/median/max | median ratio``, and whether any digest the benchmark prints differs.
``--before`` may be an extracted ``git archive`` of an earlier commit.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIGURES = (
    "wall_s",
    "run_cpu_s",
    "sweep_cpu_s",
    "process_cpu_s",
    "flows_per_cpu_s",
    "peak_rss_mib",
)


def one(tree: Path, args: list[str]) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(tree.resolve()))
    cmd = [sys.executable, str(HERE / "bench_engine.py"), *args]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    figures: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=HERE.parent)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("bench", nargs=argparse.REMAINDER)
    ns = parser.parse_args(argv)
    args = [a for a in ns.bench if a != "--"]
    runs: dict[str, list[dict[str, object]]] = {"before": [], "after": []}
    for _ in range(ns.repeat):
        runs["before"].append(one(ns.before, args))
        runs["after"].append(one(ns.after, args))
    print(f"bench_engine.py {' '.join(args)}: {ns.repeat} runs each")
    for name in FIGURES:
        if name not in runs["after"][0] or name not in runs["before"][0]:
            continue
        cols = []
        meds = []
        for side in ("before", "after"):
            values = sorted(float(r[name]) for r in runs[side])  # type: ignore[arg-type]
            meds.append(statistics.median(values))
            cols.append(f"{values[0]:g}/{meds[-1]:g}/{values[-1]:g}")
        ratio = meds[0] / meds[1] if meds[1] else float("nan")
        print(f"  {name}: before {cols[0]} | after {cols[1]} | before/after {ratio:.2f}")
    for key in sorted(k for k in runs["after"][0] if k.endswith("sha256")):
        seen = {str(r.get(key)) for side in runs.values() for r in side}
        print(f"  {key}: {'identical' if len(seen) == 1 else 'DIFFERS: ' + ', '.join(seen)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
