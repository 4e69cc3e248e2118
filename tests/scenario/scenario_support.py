"""Shared test data for the scenario tests (imported by name; tests/ has no packages)."""

from __future__ import annotations

import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
BROKEN = HERE / "broken"

#: Five sites, four links, two services hosted on two ASP sites: fast at every fidelity.
SMALL = textwrap.dedent(
    """\
    name: small
    description: A five-site study network for the tests.
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
    services:
      mail-relay: {primary: dc-a, secondary: dc-b, requests_per_day: 20000}
      directory: {primary: dc-b, secondary: dc-a, requests_per_day: 20000}
    start: "2026-02-16T08:00"
    duration: 4h
    seed: 7
    fidelity: analytic
    engine: {bin_s: 300}
    events:
      - {at: "+1h", kind: link_down, links: [m1~core], until: "+1h30m", note: cable cut}
      - {at: "+2h", kind: dc_loss, site: dc-a, detection_s: 30, switchover_s: 120, until: "+3h"}
      - {at: "+3h", kind: demand_surge, service: directory, multiplier: 3, until: "+3h30m"}
    """
)
