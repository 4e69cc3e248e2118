"""The control API's latency while the broker carries signed traffic to a real service.

    python benchmarks/bench_control.py [--rate 500] [--seconds 20] [--hz 20]

Starts ``lgwan-sim emulate`` on a five-site scenario at real time whose simulated local bodies
send ``--rate`` directory look-ups a second, all to a real service (``lgwan-sim serve
directory``, a process of its own), then calls the control API ``--hz`` times a second for
``--seconds`` (``GET /state``, and a ``PUT``/``DELETE`` of a message fault in turn) and prints
the latency p50 / p99 / max of those calls with the rate the broker carried meanwhile.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from lgwan_sim.backbone import Control  # noqa: E402
from lgwan_sim.backbone.pytest_plugin import start_emulator  # noqa: E402
from tests.backbone.support import small_scenario  # noqa: E402


def rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=500.0, help="simulated look-ups a second")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--hz", type=float, default=20.0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-control-"))
    scenario = small_scenario(tmp, rate=args.rate * 86400, duration="3600s")
    emu = start_emulator(scenario, tmp / "emu", speed=1)
    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lgwan_sim",
            "serve",
            "directory",
            "--endpoints",
            str(emu.endpoints),
            "--site",
            "dc-b",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    control = Control(emu.endpoints)
    deadline = time.monotonic() + 60
    while "dc-b/directory" not in control.state()["programs"]:
        if time.monotonic() > deadline:
            raise SystemExit("the service did not register")
        time.sleep(0.2)
    time.sleep(2.0)  # past the start
    first = _forwarded(control)
    t0 = time.monotonic()
    lat: list[float] = []
    i = 0
    while time.monotonic() - t0 < args.seconds:
        began = time.perf_counter()
        if i % 3 == 0:
            control.state()
        elif i % 3 == 1:
            control.put("probe", kind="delay", delay_s=0.001, match={"src": "nowhere"})
        else:
            control.delete("probe")
        lat.append(time.perf_counter() - began)
        i += 1
        time.sleep(max(0.0, 1.0 / args.hz - (time.perf_counter() - began)))
    elapsed = time.monotonic() - t0
    carried = (_forwarded(control) - first) / elapsed
    summary = emu.stop()
    serve.terminate()
    serve.wait(30)
    totals = summary["totals"]
    print(f"control calls: {len(lat)} at {args.hz:g} Hz over {elapsed:.1f} s")
    print(
        f"latency ms: p50 {rank(lat, 50) * 1e3:.2f}, p99 {rank(lat, 99) * 1e3:.2f}, "
        f"max {max(lat) * 1e3:.2f}"
    )
    print(
        f"the broker meanwhile forwarded {carried:,.0f} signed requests/s to the service "
        f"and as many replies back: {2 * carried:,.0f} messages/s"
    )
    print(
        f"accounting: offered {totals['offered']:,} = delivered {totals['delivered']:,} + "
        f"dropped {totals['dropped_total']:,} + in flight {totals['in_flight']:,}"
    )
    print(f"load average: {os.getloadavg()[0]:.1f}")


def _forwarded(control: Control) -> int:
    for line in control.metrics().splitlines():
        if line.startswith('lgwan_emulator_messages_total{kind="requests_to_services"}'):
            return int(line.split()[-1])
    return 0


if __name__ == "__main__":
    main()
