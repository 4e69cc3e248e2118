"""Where the CPU of one ``lgwan-sim run`` goes, by a sampling profiler, in parts.

Usage::

    python benchmarks/profile_run.py national-weekday [--repeat 2] [RUN OPTIONS]

Each run is ``lgwan-sim run SCENARIO -o TMP`` in this process with a SIGPROF timer every
millisecond of CPU; each sample's stack is put in the first part it is in (an import, the
drawing and PNG encoding of the figures, building the figures, loading the scenario, the
engine and tables, the CSV and JSON files, ``report.html``), and the table gives each part's
seconds of CPU, the mean over the runs. The timer costs little (the run takes about as long
as without it), unlike cProfile, which inflates Python-heavy parts such as matplotlib's.
Run it with a tree first on ``PYTHONPATH`` to profile that tree.
"""

from __future__ import annotations

import argparse
import collections
import runpy
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

Stack = list[tuple[str, str]]

#: Parts by the function a sample is under, in the order they are tried.
_PARTS = (
    ("save_png", "plots: drawing and PNG (savefig)"),
    ("write_run_plots", "plots: building the figures"),
    ("run_scenario", "engine and tables (run_scenario)"),
    ("write_tables", "CSV and JSON files"),
    ("render_run_html", "report.html"),
)


def _part(stack: Stack) -> str:
    files = [f for f, _ in stack]
    names = {n for _, n in stack}
    if any("<frozen importlib" in f for f in files):
        modules = [f for f, n in reversed(stack) if n == "<module>"]
        outside = [m for m in modules[1:] if "/lgwan_sim/" not in m]
        top = outside[0] if outside else ""
        for name in ("matplotlib", "networkx", "numpy"):
            if f"/{name}/" in top:
                return f"import {name}"
        return "import (the rest)"
    for function, part in _PARTS:
        if function in names:
            return part
    if "_load" in names:
        return "loading the scenario (YAML)"
    return "the rest (start, command line)"


def _profile(args: list[str]) -> tuple[float, list[Stack]]:
    samples: list[Stack] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        stack: Stack = []
        while frame is not None:
            stack.append((frame.f_code.co_filename, frame.f_code.co_name))
            frame = frame.f_back
        samples.append(stack)

    signal.signal(signal.SIGPROF, handler)
    argv = sys.argv
    sys.argv = ["lgwan-sim", *args]
    start = time.process_time()
    signal.setitimer(signal.ITIMER_PROF, 0.001, 0.001)
    try:
        runpy.run_module("lgwan_sim", run_name="__main__", alter_sys=False)
    except SystemExit:
        pass
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        sys.argv = argv
    return time.process_time() - start, samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ns, extra = parser.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    if ns.child:  # one run in this process: its parts as tab-separated lines
        with tempfile.TemporaryDirectory() as tmp:
            cpu, samples = _profile(["run", ns.scenario, "-o", str(Path(tmp) / "out"), *extra])
        counts = collections.Counter(_part(stack) for stack in samples)
        for name, count in counts.items():
            print(f"{name}\t{cpu * count / max(1, len(samples)):.6f}")
        print(f"total\t{cpu:.6f}")
        return 0
    # every run in a process of its own, so each one pays for its imports
    parts: collections.Counter[str] = collections.Counter()
    total = 0.0
    for _ in range(ns.repeat):
        cmd = [sys.executable, __file__, "--child", ns.scenario, *extra]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            name, _, value = line.rpartition("\t")
            if name == "total":
                total += float(value) / ns.repeat
            elif name:
                parts[name] += float(value) / ns.repeat
    print(f"lgwan-sim run {ns.scenario}: {ns.repeat} runs, CPU seconds by part (mean)")
    for name, value in parts.most_common():
        print(f"  {name:40s} {value:6.2f}")
    print(f"  {'the process':40s} {total:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
