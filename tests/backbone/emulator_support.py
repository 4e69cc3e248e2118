"""A small scenario for the emulator's tests: five sites, directory at dc-b (packet)."""

from __future__ import annotations

from pathlib import Path

SMALL = """\
name: emu-small
description: Five sites; directory look-ups from two towns to an ASP site in Osaka.
topology:
  inline:
    sites:
      - {id: core, kind: central, lat: 35.68, lon: 139.77, campus: east, name: East central site}
      - {id: dc-a, kind: asp, lat: 35.69, lon: 139.74, name: "LGWAN-ASP site, Tokyo"}
      - {id: dc-b, kind: asp, lat: 34.69, lon: 135.50, name: "LGWAN-ASP site, Osaka"}
      - {id: m1, kind: municipality, prefecture: "03", lat: 39.70, lon: 141.15, name: Morioka, name_ja: 盛岡市}
      - {id: m2, kind: municipality, prefecture: "04", lat: 38.27, lon: 140.87, name: Sendai, name_ja: 仙台市}
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
engine: {bin_s: 10}
"""


def small_scenario(folder: Path, *, rate: float = 200_000, duration: str = "60s") -> Path:
    path = folder / "emu-small.yaml"
    path.write_text(SMALL.replace("RATE", str(int(rate))).replace("DURATION", duration), "utf-8")
    return path
