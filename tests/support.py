"""Helpers shared by every test package."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

__all__ = ["BENCHMARKS", "MORIOKA_CUT", "CliResult", "benchmark_module", "five_sites"]


class CliResult(NamedTuple):
    """What one in-process ``lgwan-sim`` call gave: ``code, out, err = cli(...)``."""

    code: int
    out: str
    err: str


#: Morioka's access line cut from +1h to +1h30m (an event line of :func:`five_sites`).
MORIOKA_CUT = '{at: "+1h", kind: link_down, links: [m1~core], until: "+1h30m", note: cable cut}'


def five_sites(name: str, *events: str, fidelity: str | None = None) -> str:
    """The five-site study network (the bundled ``packet-zoom`` shape) as scenario text.

    One central site, two ASP sites hosting mail and the directory for each other, and two
    municipalities on access lines; four hours from 08:00 in bins of five minutes, seed 7.
    ``events`` are flow-style YAML mappings, one an event, in order; ``fidelity`` is left to
    the default when not given. The lines are the file's own, so a test may edit the text
    (e.g. drop ``"      - {a: m2, b: core, capacity_bps: 1.0e+8, kind: access}\\n"``).
    """
    text = f"""\
name: {name}
topology:
  inline:
    sites:
      - {{id: core, kind: central, lat: 35.68, lon: 139.77, campus: east, name: East}}
      - {{id: dc-a, kind: asp, lat: 35.69, lon: 139.74, name: Tokyo ASP}}
      - {{id: dc-b, kind: asp, lat: 34.69, lon: 135.50, name: Osaka ASP}}
      - {{id: m1, kind: municipality, prefecture: "03", lat: 39.70, lon: 141.15, name: Morioka}}
      - {{id: m2, kind: municipality, prefecture: "04", lat: 38.27, lon: 140.87, name: Sendai}}
    links:
      - {{a: core, b: dc-a, capacity_bps: 1.0e+9}}
      - {{a: core, b: dc-b, capacity_bps: 1.0e+9}}
      - {{a: m1, b: core, capacity_bps: 1.0e+8, kind: access}}
      - {{a: m2, b: core, capacity_bps: 1.0e+8, kind: access}}
only_services: [directory, mail-relay]
services:
  mail-relay: {{primary: dc-a, secondary: dc-b, requests_per_day: 20000}}
  directory: {{primary: dc-b, secondary: dc-a, requests_per_day: 20000}}
start: "2026-02-16T08:00"
duration: 4h
seed: 7
"""
    if fidelity is not None:
        text += f"fidelity: {fidelity}\n"
    text += "engine: {bin_s: 300}\n"
    if events:
        text += "events:\n" + "".join(f"  - {e}\n" for e in events)
    return text


def modules_loaded(code: str, prefixes: tuple[str, ...]) -> list[str]:
    """The modules under ``prefixes`` that ``code`` loads, run in a fresh interpreter
    (whatever ``code`` prints itself comes before the marker line and is left out)."""
    script = (
        f"import sys\n{code}\n"
        "print('-- modules loaded --')\n"
        f"print(*sorted(m for m in sys.modules if m.startswith({prefixes!r})), sep='\\n')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    return out.split("-- modules loaded --\n")[-1].split()


#: The repository's ``benchmarks/`` folder (scripts, not a package).
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def benchmark_module(name: str) -> ModuleType:
    """Load ``benchmarks/<name>.py`` afresh, with its folder importable for its neighbours."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
