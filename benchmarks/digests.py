"""SHA-256 digests of every file a bundled scenario run writes, to prove a refactor changed
no output.

Usage::

    python benchmarks/digests.py --write digests.json          # before the change
    python benchmarks/digests.py --check digests.json          # after it: exit 1 on a change
    python benchmarks/digests.py --write d.json --scenarios packet-zoom --fidelities packet
    python benchmarks/digests.py --check d.json --budget-s 300   # a slower machine

Each run goes through the real command line (``python -m lgwan_sim.cli run NAME --out TMP
--fidelity F``) in its own process, with the scenario's own seed, and every file of its
results folder is hashed except ``run.json`` (it holds the date, wall time and memory).

Which runs: every bundled scenario (``lgwan-sim scenarios list``) at the analytic fidelity,
and also at the flow and packet fidelities when the scenario is written for one of them
(its own ``fidelity`` is flow or packet: the study networks). The flow fidelity takes
minutes on the national network and the packet fidelity longer, so those pairs are not
taken unless ``--fidelities`` asks for them by name. A run that does not finish within
``--budget-s`` seconds of wall time is stopped: ``--write`` leaves it out of the file and
says so, ``--check`` counts it as a failure.

``--check`` runs exactly the runs the file lists and names every file that differs, is
missing or is new, then exits 1; it exits 0 when every digest matches. Not part of the
test suite (the outputs change whenever the engine's results do).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FIDELITIES = ("analytic", "flow", "packet")
#: Files of a results folder that legitimately differ between two identical runs.
EXCLUDED = frozenset({"run.json"})
FORMAT = 1


def file_digests(folder: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``folder`` but the excluded ones."""
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if name not in EXCLUDED:
            out[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def default_runs(fidelities: list[str] | None, scenarios: list[str] | None) -> list[str]:
    """``scenario/fidelity`` keys, in name order then fidelity order."""
    from lgwan_sim.scenario import bundled_scenarios

    bundled = {b.name: b for b in bundled_scenarios()}
    if scenarios:
        unknown = sorted(set(scenarios) - set(bundled))
        if unknown:
            sys.exit(
                f"--scenarios: no bundled scenario {unknown[0]!r} (see lgwan-sim scenarios list)"
            )
        names = [n for n in bundled if n in set(scenarios)]
    else:
        names = list(bundled)
    keys = []
    for name in names:
        own = bundled[name].fidelity
        for fidelity in FIDELITIES:
            wanted = (
                fidelity in fidelities
                if fidelities is not None
                else fidelity == "analytic" or own in ("flow", "packet")
            )
            if wanted:
                keys.append(f"{name}/{fidelity}")
    return keys


def run_one(key: str, budget_s: float, folder: Path) -> dict[str, object]:
    """Run ``scenario/fidelity`` through the command line; its digests, status and times."""
    name, fidelity = key.split("/")
    out = folder / f"{name}-{fidelity}"
    cmd = [sys.executable, "-m", "lgwan_sim.cli", "run", name, "--out", str(out)]
    cmd += ["--fidelity", fidelity]
    # the tree this script lives in, whatever the caller's path says
    path = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join(path))
    cpu0 = os.times()
    began = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    try:
        _, err = proc.communicate(timeout=budget_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"status": f"stopped after {budget_s:g} s", "wall_s": round(budget_s, 1)}
    wall = time.perf_counter() - began
    cpu1 = os.times()
    row: dict[str, object] = {
        "status": "ok",
        "wall_s": round(wall, 1),
        "cpu_s": round(
            (cpu1.children_user - cpu0.children_user)
            + (cpu1.children_system - cpu0.children_system),
            1,
        ),
    }
    if proc.returncode != 0:
        last = err.strip().splitlines()[-1] if err.strip() else ""
        row["status"] = f"exit {proc.returncode}: {last}"
        return row
    row["files"] = file_digests(out)
    return row


def compare(key: str, want: dict[str, str], got: dict[str, str]) -> list[str]:
    lines = []
    for name in sorted(set(want) | set(got)):
        if name not in got:
            lines.append(f"{key}: {name}: missing")
        elif name not in want:
            lines.append(f"{key}: {name}: new file")
        elif want[name] != got[name]:
            lines.append(f"{key}: {name}: differs")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", type=Path, metavar="FILE", help="run and write the digests")
    mode.add_argument("--check", type=Path, metavar="FILE", help="run and compare with FILE")
    parser.add_argument(
        "--budget-s",
        type=float,
        default=120.0,
        help="wall seconds one run may take before it is stopped (default 120)",
    )
    parser.add_argument("--scenarios", help="comma-separated names (default: every bundled one)")
    parser.add_argument(
        "--fidelities",
        help="comma-separated fidelities for every chosen scenario (default: analytic, and "
        "flow and packet for the scenarios written for them)",
    )
    args = parser.parse_args(argv)
    if not args.budget_s > 0:
        parser.error(f"--budget-s must be > 0 (got {args.budget_s:g})")
    fidelities = None
    if args.fidelities:
        fidelities = [f.strip() for f in args.fidelities.split(",") if f.strip()]
        bad = [f for f in fidelities if f not in FIDELITIES]
        if bad:
            parser.error(f"--fidelities: must be analytic, flow or packet (got {bad[0]!r})")
    scenarios = [s.strip() for s in args.scenarios.split(",")] if args.scenarios else None

    if args.check is not None:
        try:
            expected = json.loads(args.check.read_text(encoding="utf-8"))
            runs_wanted: dict[str, dict[str, str]] = {
                k: v["files"] for k, v in expected["runs"].items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            print(f"{args.check}: not a digests file ({exc})", file=sys.stderr)
            return 2
        keys = list(runs_wanted)
        if scenarios or fidelities:
            keys = [
                k
                for k in keys
                if (not scenarios or k.split("/")[0] in scenarios)
                and (not fidelities or k.split("/")[1] in fidelities)
            ]
    else:
        keys = default_runs(fidelities, scenarios)

    began = time.perf_counter()
    results: dict[str, dict[str, object]] = {}
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="digests-") as tmp:
        for key in keys:
            row = run_one(key, args.budget_s, Path(tmp))
            results[key] = row
            extra = f", {row['cpu_s']} s CPU" if "cpu_s" in row else ""
            print(f"{key:<32} {row['status']:<10} {row['wall_s']:>6} s{extra}", flush=True)
            if args.check is not None:
                if row["status"] != "ok":
                    problems.append(f"{key}: {row['status']}")
                else:
                    got = row["files"]
                    assert isinstance(got, dict)
                    problems += compare(key, runs_wanted[key], got)
    wall = time.perf_counter() - began

    if args.write is not None:
        kept = {k: r for k, r in results.items() if r["status"] == "ok"}
        for key, row in results.items():
            if row["status"] != "ok":
                print(f"left out: {key}: {row['status']}", file=sys.stderr)
        doc = {
            "format": FORMAT,
            "excluded": sorted(EXCLUDED),
            "runs": {k: {"files": r["files"]} for k, r in kept.items()},
        }
        args.write.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {args.write}: {len(kept)} runs in {wall:.0f} s")
        return 0
    for line in problems:
        print(line)
    print(
        f"{len(keys)} runs checked in {wall:.0f} s: "
        + ("every digest matches" if not problems else f"{len(problems)} differences")
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
