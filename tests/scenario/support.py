"""Shared test data for the scenario tests (``from tests.scenario.support import SMALL``)."""

from __future__ import annotations

from pathlib import Path

from lgwan_sim._resources import bundled_dir

HERE = Path(__file__).resolve().parent
BROKEN = HERE / "broken"

#: The bundled ``packet-zoom`` study network (five sites, four links, two services on two
#: ASP sites, a cable cut, a data-centre loss and a surge), renamed and set to the analytic
#: fidelity: fast everywhere, and the tests edit its text line by line.
PACKET_ZOOM = (bundled_dir("scenarios") / "packet-zoom.yaml").read_text(encoding="utf-8")
SMALL = PACKET_ZOOM.replace("name: packet-zoom", "name: small", 1).replace(
    "fidelity: packet", "fidelity: analytic", 1
)
assert SMALL.count("name: small") == 1
assert "fidelity: analytic" in SMALL


# A seven-site network for the N-1 tests.
#
# Iwate's prefecture node is dual-homed to the two central sites, 2 Mbit/s to the East and
# 1 Mbit/s to the West, so losing the East line (or anything that sends Iwate's mail the
# West way) overloads the West line; the prefectural office and two municipalities hang off
# the node; one ASP site hosts mail on both central sites.
TINY = """\
name: tiny-n1
topology:
  inline:
    sites:
      - {id: ce, kind: central, lat: 35.68, lon: 139.77, campus: east, name: East}
      - {id: cw, kind: central, lat: 34.69, lon: 135.50, campus: west, name: West}
      - {id: asp, kind: asp, lat: 35.69, lon: 139.74, name: ASP}
      - {id: pn, kind: prefecture_node, prefecture: "03", lat: 39.70, lon: 141.15, name: Iwate node}
      - {id: pref, kind: prefecture, prefecture: "03", lat: 39.70, lon: 141.15, name: Iwate, name_ja: 岩手県}
      - {id: m1, kind: municipality, prefecture: "03", lat: 39.70, lon: 141.15, name: Morioka, name_ja: 盛岡市}
      - {id: m2, kind: municipality, prefecture: "03", lat: 39.3, lon: 141.1, name: Hanamaki, name_ja: 花巻市}
    links:
      - {a: ce, b: cw, capacity_bps: 1.0e+9, kind: backbone}
      - {a: pn, b: ce, capacity_bps: 2.0e+6, kind: backbone}
      - {a: pn, b: cw, capacity_bps: 1.0e+6, kind: backbone}
      - {a: asp, b: ce, capacity_bps: 1.0e+9, kind: backbone}
      - {a: asp, b: cw, capacity_bps: 1.0e+9, kind: backbone}
      - {a: pref, b: pn, capacity_bps: 1.0e+8, kind: access}
      - {a: m1, b: pn, capacity_bps: 1.0e+8, kind: access}
      - {a: m2, b: pn, capacity_bps: 1.0e+8, kind: access}
only_services: [mail-relay]
services:
  mail-relay: {primary: asp, secondary: null, requests_per_day: 20000}
start: "2026-02-16T00:00"
duration: 1d
seed: 1
fidelity: analytic
engine: {bin_s: 600}
"""
