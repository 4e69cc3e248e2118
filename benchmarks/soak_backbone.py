"""Soak: signed round trips to a real service through link flaps and data-centre failovers.

    python benchmarks/soak_backbone.py [--seconds 1800] [--rate 1000] [--flap-every 10]
        [--failover-every 300] [--warmup 660] [--json FILE]

Starts ``lgwan-sim emulate`` at real time on a five-site network whose two simulated towns
send ``--rate`` signed directory look-ups a second (both together) to a real service at the
Osaka ASP site (:class:`lgwan_sim.backbone.Service`, which checks every request's signature
end to end before its handler sees it). Meanwhile, through the control API:

* a ``link_flap`` fault on Morioka's access line (``m1~core``): down and up with
  exponential (seeded) up and down times, a cycle of ``--flap-every`` seconds on average
  (down ``--flap-down`` of it);
* every ``--failover-every`` seconds a ``failover`` of the directory to the Tokyo site for
  ``--failover-for`` seconds (the engine simulates the service there, then fails back).

It samples the broker's resident memory every 5 s and, at the end, prints and checks:

* the broker's RSS growth from the end of ``--warmup`` to the end (goal <= 10 %). The
  broker's replay cache of the nonces of the replies it verifies fills for twice its
  5-minute window before it is pruned, so the warm-up lasts 11 minutes by default;
* accounting: offered = delivered + dropped + in flight, exactly, in the broker's summary;
* every drop with a reason (the reasons are the engine's, their sum the total);
* no message without a valid signature reached the service: the service refused none
  (``rejected``), and every request its handler saw passed its end-to-end check.

It exits 1 when a check fails. ``tests/backbone/test_soak.py`` runs it for 60 s (slow).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from lgwan_sim.backbone import Control, ControlError, Service  # noqa: E402
from lgwan_sim.backbone.pytest_plugin import start_emulator  # noqa: E402
from lgwan_sim.engine import DropReason  # noqa: E402

SCENARIO = """\
name: soak
description: Two towns reach a directory at the Osaka ASP site through the East central site.
topology:
  inline:
    sites:
      - {id: core, kind: central, lat: 35.68, lon: 139.77, campus: east}
      - {id: dc-a, kind: asp, lat: 35.69, lon: 139.74}
      - {id: dc-b, kind: asp, lat: 34.69, lon: 135.50}
      - {id: m1, kind: municipality, prefecture: "03", lat: 39.70, lon: 141.15}
      - {id: m2, kind: municipality, prefecture: "04", lat: 38.27, lon: 140.87}
    links:
      - {a: core, b: dc-a, capacity_bps: 1.0e+9}
      - {a: core, b: dc-b, capacity_bps: 1.0e+9}
      - {a: m1, b: core, capacity_bps: 1.0e+8, kind: access}
      - {a: m2, b: core, capacity_bps: 1.0e+8, kind: access}
only_services: [directory]
services:
  directory: {primary: dc-b, secondary: dc-a, requests_per_day: RATE}
start: "2026-02-16T10:00"
duration: DURATION
seed: 7
fidelity: packet
engine: {bin_s: 10, convergence_delay_s: 1}
"""

FLAP_LINK = "m1~core"


def rss_bytes(pid: int) -> int:
    """The resident set of process ``pid`` (Linux)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def soak(
    *,
    seconds: float,
    rate: float,
    flap_every: float = 10.0,
    flap_down: float = 1.0,
    failover_every: float = 300.0,
    failover_for: float = 30.0,
    warmup: float = 60.0,
    folder: Path | None = None,
) -> dict[str, Any]:
    """Run the soak; returns its figures and checks (``ok`` when every check holds)."""
    tmp = folder or Path(tempfile.mkdtemp(prefix="soak-"))
    per_site_day = rate / 2 * 86400  # two calling towns share the rate
    text = SCENARIO.replace("RATE", str(int(per_site_day))).replace(
        "DURATION", f"{int(seconds + 600)}s"
    )
    scenario = tmp / "soak.yaml"
    scenario.write_text(text, encoding="utf-8")
    emu = start_emulator(scenario, tmp / "emu", speed=1)
    seen = {"requests": 0}

    def directory(request: Any) -> bytes:
        seen["requests"] += 1
        return b"entry:" + request.body[:32]

    service = Service(emu.endpoints, "dc-b", {"directory": directory})
    thread = threading.Thread(target=service.serve, daemon=True)
    thread.start()
    if not service.ready.wait(60):
        raise SystemExit("the service did not register")
    control = Control(emu.endpoints)
    pid = emu.process.pid
    late = {"control": 0}

    def call(what: Any, *args: Any, **kwargs: Any) -> Any:
        """A control call, again while the loop is too busy to answer (counted)."""
        for _ in range(5):
            try:
                return what(*args, **kwargs)
            except ControlError as exc:
                if exc.status != 503:
                    raise
                late["control"] += 1
        raise SystemExit("the emulator's loop did not answer five control calls in a row")

    try:
        return _soak(
            emu, service, thread, control, call, late, pid, seen, seconds=seconds,
            flap_every=flap_every, flap_down=flap_down, failover_every=failover_every,
            failover_for=failover_for, warmup=warmup, rate=rate,
        )  # fmt: skip
    finally:
        if emu.process.poll() is None:
            emu.process.kill()
        service.stop()


def _soak(
    emu: Any,
    service: Service,
    thread: threading.Thread,
    control: Control,
    call: Any,
    late: dict[str, int],
    pid: int,
    seen: dict[str, int],
    *,
    seconds: float,
    flap_every: float,
    flap_down: float,
    failover_every: float,
    failover_for: float,
    warmup: float,
    rate: float,
) -> dict[str, Any]:
    call(
        control.put,
        "flap",
        kind="link_flap",
        links=[FLAP_LINK],
        mtbf_s=flap_every - flap_down,
        mttr_s=flap_down,
    )
    samples: list[tuple[float, int]] = []
    failovers = 0
    t0 = time.monotonic()
    next_sample = t0
    next_failover = t0 + failover_every
    first = call(_forwarded, control)
    while (now := time.monotonic()) - t0 < seconds:
        if now >= next_sample:
            samples.append((now - t0, rss_bytes(pid)))
            next_sample += 5.0
        if now >= next_failover:
            control.put(
                f"failover-{failovers}",
                kind="failover",
                service="directory",
                duration_s=failover_for,
            )
            failovers += 1
            next_failover += failover_every
        time.sleep(max(0.0, min(next_sample, next_failover) - time.monotonic()))
    elapsed = time.monotonic() - t0
    carried = (call(_forwarded, control) - first) / elapsed
    samples.append((elapsed, rss_bytes(pid)))
    call(control.delete, "flap")
    summary = emu.stop()
    service.stop()
    thread.join(10)
    service.close()

    with (emu.out / "events.csv").open(encoding="utf-8") as fh:
        applied = list(csv.DictReader(fh))
    flaps = sum(1 for e in applied if e["kind"] == "link_down" and "flap" in e["note"])
    failed_over = sum(1 for e in applied if e["kind"] == "failover")
    after = [rss for t, rss in samples if t >= warmup] or [samples[-1][1]]
    base = after[0]
    growth = (samples[-1][1] - base) / base
    totals = summary["totals"]
    dropped = dict(totals["dropped"])
    reasons = {r.value for r in DropReason}
    accounted = totals["offered"] == (
        totals["delivered"] + totals["dropped_total"] + totals["in_flight"]
    )
    with_reason = set(dropped) <= reasons and sum(dropped.values()) == totals["dropped_total"]
    signed = dict(service.rejected) == {} and service.served >= seen["requests"] > 0
    result = {
        "seconds": round(elapsed, 1),
        "rate_asked_per_s": rate,
        "round_trips_per_s": round(carried, 1),
        "flaps": flaps,
        "failovers": failed_over,
        "rss_after_warmup_mb": round(base / 2**20, 1),
        "rss_end_mb": round(samples[-1][1] / 2**20, 1),
        "rss_peak_mb": round(max(r for _, r in samples) / 2**20, 1),
        "rss_growth": round(growth, 4),
        "rss_mb_each_minute": [round(r / 2**20, 1) for t, r in samples if int(t) % 60 < 5],
        "offered": totals["offered"],
        "delivered": totals["delivered"],
        "dropped": dropped,
        "dropped_total": totals["dropped_total"],
        "in_flight": totals["in_flight"],
        "service_requests": seen["requests"],
        "service_rejected": dict(service.rejected),
        "control_calls_retried": late["control"],
        "checks": {
            "rss_growth_le_10pct": growth <= 0.10,
            "accounting_exact": accounted,
            "every_drop_with_a_reason": with_reason,
            "only_signed_messages_reached_the_service": signed,
        },
        "load_average": round(os.getloadavg()[0], 1),
    }
    result["ok"] = all(result["checks"].values())
    return result


def _forwarded(control: Control) -> int:
    text = control.metrics()
    if not text:  # the busy loop did not answer: the API gives an empty page
        raise ControlError(503, "no metrics")
    for line in text.splitlines():
        if line.startswith('lgwan_emulator_messages_total{kind="requests_to_services"}'):
            return int(line.split()[-1])
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1800.0)
    ap.add_argument("--rate", type=float, default=1000.0, help="signed look-ups a second")
    ap.add_argument("--flap-every", type=float, default=10.0)
    ap.add_argument("--flap-down", type=float, default=1.0)
    ap.add_argument("--failover-every", type=float, default=300.0)
    ap.add_argument("--failover-for", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=660.0, help="seconds before the RSS base")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args()
    if not (math.isfinite(args.seconds) and args.seconds > args.warmup):
        raise SystemExit("--seconds must be longer than --warmup")
    result = soak(
        seconds=args.seconds,
        rate=args.rate,
        flap_every=args.flap_every,
        flap_down=args.flap_down,
        failover_every=args.failover_every,
        failover_for=args.failover_for,
        warmup=args.warmup,
    )
    text = json.dumps(result, indent=2, sort_keys=True)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
