"""SimGrid 4.1 on the ``concurrent`` workload of ``bench_engine.py``, for a side-by-side figure.

The same star is built in code: ``n`` sources on 100 Mb/s access lines into a hub, a 1 Gb/s
hub-to-sink bottleneck, 1 ms latency on every link. Links are split-duplex, like our directed
links, so that the LV08 model's reverse (acknowledgement) cross-traffic does not share the
forward capacity. Flow ``k`` goes from source ``k mod n`` to the sink with ``sizes[k]`` bytes,
every flow starting at t=0. One actor issues all the transfers with ``Comm.sendto_async`` (no
mailboxes, no per-flow Python actor) and waits for them all, so the figure is SimGrid's
max-min solver, not its Python actor layer.

Run by ``bench_engine.py concurrent`` in a subprocess, so that its peak memory is its own::

    python benchmarks/simgrid_peer.py --sizes SIZES.json --sources 100 --model LV08

``SIZES.json`` is a JSON list of flow sizes in bytes; one JSON line is printed. SimGrid is not a
project dependency (it needs the system's boost); see ``benchmarks/README.md`` to install it.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import json
import resource
import sys
import sysconfig
import time
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

ACCESS_BPS = 100e6
BOTTLENECK_BPS = 1e9
LATENCY_S = 0.001
# network/model values, plus the solver variant run as an extra row
MODELS: dict[str, tuple[str, ...]] = {
    "LV08": ("--cfg=network/model:LV08",),
    "CM02": ("--cfg=network/model:CM02",),
    "LV08-full": (
        "--cfg=network/model:LV08",
        "--cfg=network/optim:Full",
        "--cfg=network/maxmin-selective-update:no",
    ),
    # SimGrid's simplest model (its --help-models): fair sharing, time = size / bw + lat, no
    # cross traffic, no TCP gamma, no correction factors; with its default lazy update
    "raw": ("--cfg=network/model:raw",),
    "raw-full": (
        "--cfg=network/model:raw",
        "--cfg=network/optim:Full",
        "--cfg=network/maxmin-selective-update:no",
    ),
}


def available() -> bool:
    """True when SimGrid's Python bindings are installed (found without loading them)."""
    return importlib.util.find_spec("simgrid") is not None


def _load_libsimgrid() -> None:
    """Load the ``libsimgrid.so`` that pip installs next to the bindings.

    The bindings built from the sdist do not record where ``libsimgrid.so.4.1`` is, so a
    plain import fails unless ``LD_LIBRARY_PATH`` names site-packages. Loading the library
    by its path first lets the dynamic loader reuse it for the bindings.
    """
    for key in ("platlib", "purelib"):
        for lib in sorted(Path(sysconfig.get_paths()[key]).glob("libsimgrid.so.*")):
            ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
            return


def run_peer(sizes: Sequence[float], n_sources: int, model: str = "LV08") -> dict[str, object]:
    """Run the flows in SimGrid; return wall and CPU times, flows/s and the simulated makespan."""
    try:
        import simgrid  # noqa: F401
    except ImportError:
        _load_libsimgrid()
    from simgrid import ActivitySet, Comm, Engine, LinkInRoute

    args = ["simgrid_peer", *MODELS[model], "--log=root.thres:critical"]
    t_build = time.perf_counter()
    e = Engine(args)
    zone = e.netzone_root
    sink = zone.add_host("sink", 1e9).seal()
    bottleneck = zone.add_split_duplex_link("hub-sink", BOTTLENECK_BPS / 8.0)
    bottleneck.set_latency(LATENCY_S).seal()
    sources = []
    for i in range(n_sources):
        host = zone.add_host(f"h{i:03d}", 1e9).seal()
        access = zone.add_split_duplex_link(f"h{i:03d}-hub", ACCESS_BPS / 8.0)
        access.set_latency(LATENCY_S).seal()
        route = [
            LinkInRoute(access, LinkInRoute.Direction.UP),
            LinkInRoute(bottleneck, LinkInRoute.Direction.UP),
        ]
        zone.add_route(host, sink, route, True)  # symmetrical: the way back uses DOWN
        sources.append(host)
    zone.seal()
    build_s = time.perf_counter() - t_build

    done: list[int] = []

    def issuer() -> None:
        pending = ActivitySet()
        for k, size in enumerate(sizes):
            pending.push(Comm.sendto_async(sources[k % n_sources], sink, round(size)))
        pending.wait_all()
        done.append(len(sizes))

    sink.add_actor("issuer", issuer)
    t0, c0 = time.perf_counter(), time.process_time()
    e.run()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = len(sizes)
    return {
        "simgrid_version": version("simgrid"),
        "model": model,
        "flows": n,
        "delivered": done[0] if done else 0,
        "build_s": round(build_s, 4),
        "wall_s": round(wall, 3),
        "flows_per_s": round(n / wall) if wall > 0 else None,
        # the run alone, in CPU seconds of every thread of the process: load-independent
        "cpu_s": round(cpu, 3),
        "flows_per_cpu_s": round(n / cpu) if cpu > 0 else None,
        "makespan_s": round(Engine.clock, 3),
    }


def peak_rss_mib() -> float:
    """This process's own peak RSS.

    ``ru_maxrss`` survives ``exec`` on Linux, so in a child it can report the parent's peak;
    ``VmHWM`` belongs to the current address space only.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=Path, required=True, help="JSON list of sizes in bytes")
    parser.add_argument("--sources", type=int, default=100)
    parser.add_argument("--model", choices=sorted(MODELS), default="LV08")
    args = parser.parse_args(argv)
    sizes = json.loads(args.sizes.read_text())
    figures = run_peer(sizes, args.sources, args.model)
    figures["peak_rss_mib"] = round(peak_rss_mib(), 1)
    figures["process_cpu_s"] = round(time.process_time(), 2)
    sys.stdout.write(json.dumps(figures) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
