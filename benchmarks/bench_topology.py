"""Topology figures: build the national LGWAN, route to the central sites, fail one.

Run:  python benchmarks/bench_topology.py [--repeat 7] [--roster FILE]

Reports medians (min-max) of wall time over ``--repeat`` runs in one process, and the
peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

from lgwan_sim.network import Router, SiteKind, build_national


def _time(fn: Callable[[], Any], repeat: int) -> tuple[float, float, float]:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), min(samples), max(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--roster", default=None, help="a municipal roster CSV")
    args = parser.parse_args()

    topo = build_national(roster=args.roster)
    sites = sorted(topo.sites)
    centrals = [s.id for s in topo.sites_of_kind(SiteKind.CENTRAL)]
    hubs = [s.id for s in topo.sites_of_kind(SiteKind.CENTRAL, SiteKind.DATA_CENTRE, SiteKind.ASP)]

    def build() -> None:
        build_national(roster=args.roster)

    def routes_to_centrals() -> None:
        router = Router(topo)
        for c in centrals:
            for s in sites:
                if s != c and router.reachable(s, c):
                    router.route(s, c)

    def recompute_after_failure() -> float:
        router = Router(topo)
        router.warm(hubs)  # routes from every site to every hub, before the failure
        t0 = time.perf_counter()
        router.fail_campus("east")
        return time.perf_counter() - t0

    rows = [
        ("build national topology", _time(build, args.repeat)),
        (
            f"routes from all {len(sites)} sites to both central sites",
            _time(routes_to_centrals, args.repeat),
        ),
    ]
    fails = [recompute_after_failure() for _ in range(args.repeat)]
    rows.append(
        (
            f"recompute {len(hubs)} hub trees after East central-site failure",
            (statistics.median(fails), min(fails), max(fails)),
        )
    )
    print(
        f"topology: {len(topo.sites)} sites, {len(topo.links)} links"
        f"{' (roster)' if args.roster else ''}; {args.repeat} repeats"
    )
    print(f"{'measure':<62} {'median ms':>10} {'min':>8} {'max':>8}")
    for name, (med, lo, hi) in rows:
        print(f"{name:<62} {med * 1e3:>10.2f} {lo * 1e3:>8.2f} {hi * 1e3:>8.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.1f} MiB")


if __name__ == "__main__":
    main()
