"""The live map in Chromium: event to DOM update, and one full recolour of the national map.

    python benchmarks/bench_live.py [--events 600] [--hz 20] [--recolours 200]

Serves the national network's page (1,853 sites, 1,911 links) from a source that, ``--hz``
times a second, sends a frame in turn: a site failed or restored (with its lines, the
local bodies cut off and a followed municipality's path), or a new bin's utilisation of
every link. The page stamps each frame when it has applied it; the latency is the page's
``performance.timeOrigin + performance.now()`` after the DOM change minus the server's send
time (one machine, one clock). Then ``window.liveRecolourAll`` recolours every link
``--recolours`` times with fresh values, timed in the page with ``performance.now()``, alone
(JS and DOM) and up to the next painted frame (two ``requestAnimationFrame`` callbacks).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

from lgwan_sim.live import UNITS, LiveServer, LiveState  # noqa: E402
from lgwan_sim.live._replay import services_of  # noqa: E402
from lgwan_sim.scenario import open_scenario  # noqa: E402


class Driven:
    """A source that sends ``events`` frames at ``hz``: faults and utilisation in turn."""

    def __init__(self, events: int, hz: float) -> None:
        sc = open_scenario("national-weekday")
        self.state = LiveState(
            sc.topology,
            services_of(sc),
            mode="live",
            title="bench",
            start=sc.start,
            end_s=sc.duration_s,
            bin_s=sc.bin_s,
        )
        self.state.choose("mun-04-001", "eltax")
        self.events, self.hz = events, hz
        self.go = asyncio.Event()
        self.done = False
        self.sent: dict[str, int] = {"fault": 0, "util": 0}

    async def run(self) -> None:
        await self.go.wait()
        rng = random.Random(1)
        nodes = sorted(s for s in self.state.topology.sites if s.startswith("pn-"))
        n_links = len(self.state.link_ids)
        for k in range(self.events):
            await asyncio.sleep(1 / self.hz)
            if k % 2 == 0:
                down = [] if k % 4 == 2 else [rng.choice(nodes)]
                self.state.update(sim_s=float(k), down=([], down))
                self.sent["fault"] += 1
            else:
                util = [int(rng.lognormvariate(-7, 2) * UNITS) for _ in range(n_links)]
                self.state.update(sim_s=float(k), util=util)
                self.sent["util"] += 1
        self.done = True

    async def command(self, verb: str, body: dict[str, Any]) -> dict[str, Any]:
        if verb == "go":
            self.go.set()
        return {"done": self.done}

    async def close(self) -> None:
        return None


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=600)
    ap.add_argument("--hz", type=float, default=20.0)
    ap.add_argument("--recolours", type=int, default=200)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    source = Driven(args.events, args.hz)
    server = LiveServer(source)
    url = server.start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            t0 = time.perf_counter()
            page.goto(url)
            page.wait_for_function("window.live && window.live.snapshots > 0")
            ready_ms = (time.perf_counter() - t0) * 1e3
            first = page.evaluate("window.live.seq")
            page.evaluate("window.livePost('go', {})")
            page.wait_for_function(
                f"window.live.seq >= {first + args.events}", timeout=args.events / args.hz * 4000
            )
            timings = page.evaluate(f"window.live.timings.filter(t => t.seq > {first})")
            frames = page.evaluate("window.live.frames")
            # one full recolour of the national map, fresh values each time
            recolour = page.evaluate(
                """async (n) => {
                  const links = JSON.parse(document.getElementById('meta').textContent).links.length;
                  const js = [], painted = [];
                  for (let k = 0; k < n; k++) {
                    const util = Array.from({length: links}, () => Math.floor(Math.random() * 120000));
                    const t0 = performance.now();
                    window.liveRecolourAll(util);
                    js.push(performance.now() - t0);
                    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
                    painted.push(performance.now() - t0);
                  }
                  return {js, painted};
                }""",
                args.recolours,
            )
            browser.close()
    finally:
        server.stop()
    fault = [t["latency_ms"] for t in timings if t["seq"] % 2 == (first + 1) % 2]
    util = [t["latency_ms"] for t in timings if t["seq"] % 2 != (first + 1) % 2]
    every = [t["latency_ms"] for t in timings]
    apply_ms = [t["apply_ms"] for t in timings]
    print(f"page ready (goto -> snapshot applied): {ready_ms:.0f} ms; frames seen {frames}")
    for name, values in (("all frames", every), ("fault frames", fault), ("util frames", util)):
        print(
            f"event -> DOM, {name} (n={len(values)}): p50 {statistics.median(values):.2f} ms, "
            f"p99 {pct(values, 99):.2f} ms, max {max(values):.2f} ms"
        )
    print(
        f"apply in the page (parse + DOM): p50 {statistics.median(apply_ms):.2f} ms, "
        f"p99 {pct(apply_ms, 99):.2f} ms"
    )
    for name in ("js", "painted"):
        v = recolour[name]
        print(
            f"full recolour of 1,911 links ({'JS + DOM' if name == 'js' else 'to the next painted frame'}, "
            f"n={len(v)}): p50 {statistics.median(v):.2f} ms, p99 {pct(v, 99):.2f} ms"
        )


if __name__ == "__main__":
    main()
