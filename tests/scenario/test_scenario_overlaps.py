"""Overlapping outages in a scenario: the engine, failed_at, events.csv and unreachable agree.

``site_down pn-03`` from +10 h to +14 h with ``region_down ["03"]`` from +11 h to +12 h:
Iwate's prefecture node is held down by the site event until +14 h, although the region
event that also took it down ends at +12 h.
"""

from __future__ import annotations

import csv

import pytest

from lgwan_sim.scenario import load_scenario, run_scenario, write_run
from lgwan_sim.scenario._results import failed_at

HOUR = 3600.0
BIN_S = 600.0

HEAD = """\
name: overlap
topology: national
start: "2026-06-10T00:00"
duration: 1d
seed: 1
engine: {bin_s: 600}
events:
"""


def _run(write_scenario, tmp_path, events: str, name: str):
    path = write_scenario(HEAD + events, name)
    outcome = run_scenario(load_scenario(path))
    out = write_run(outcome, tmp_path / f"run-{name}")
    with (out / "events.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return outcome, rows


def _bins(t0_h: float, t1_h: float) -> slice:
    return slice(int(t0_h * HOUR // BIN_S), int(t1_h * HOUR // BIN_S))


def test_a_site_stays_down_while_a_shorter_region_outage_ends(
    write_scenario, tmp_path, national
) -> None:
    outcome, rows = _run(
        write_scenario,
        tmp_path,
        '  - {at: "+10h", kind: site_down, sites: [pn-03], until: "+14h"}\n'
        '  - {at: "+11h", kind: region_down, prefectures: ["03"], until: "+12h"}\n',
        "site-region",
    )
    iwate_bodies = sum(
        1 for s in national.sites_in_prefecture("03") if s.kind.is_local_body
    )  # pn-03 down cuts off every local body of Iwate
    unreachable = outcome.result.unreachable_local_bodies
    assert (unreachable[_bins(10.1, 14)] >= iwate_bodies).all()
    assert (unreachable[_bins(14 + 1 / 6, 24)] == 0).all()
    applied = outcome.result.events
    # what the results say was down agrees with the engine
    _, sites_13h = failed_at(national, applied, 13 * HOUR)
    assert "pn-03" in sites_13h
    assert not set(sites_13h) - {"pn-03"}  # the other Iwate sites came back at +12 h
    _, sites_15h = failed_at(national, applied, 15 * HOUR)
    assert sites_15h == ()
    # events.csv names what each event changed: the region's return leaves pn-03 down
    by_kind = {(r["kind"], r["at_s"]): r for r in rows}
    region_up = by_kind[("region_up", str(int(12 * HOUR)))]["sites"]
    assert region_up
    assert "pn-03" not in region_up
    assert by_kind[("site_up", str(int(14 * HOUR)))]["sites"] == "pn-03"
    # the Iwate traffic is lost for the whole four hours, not for two
    summary = outcome.tables.summary
    assert summary.unreachable_local_bodies.bins_with_any >= 4 * HOUR / BIN_S


@pytest.mark.parametrize("inner", ["+12h", "+15h"])
def test_two_cuts_of_one_line_end_with_the_last(write_scenario, tmp_path, national, inner):
    outcome, rows = _run(
        write_scenario,
        tmp_path,
        '  - {at: "+10h", kind: link_down, links: [mun-03-001~pn-03], until: "+14h"}\n'
        f'  - {{at: "+11h", kind: link_down, links: [mun-03-001~pn-03], until: "{inner}"}}\n',
        "two-cuts",
    )
    end_h = max(14.0, float(inner[1:-1]))
    unreachable = outcome.result.unreachable_local_bodies
    assert (unreachable[_bins(10.1, end_h)] == 1).all()
    assert (unreachable[_bins(end_h + 1 / 6, 24)] == 0).all()
    links, _ = failed_at(national, outcome.result.events, (end_h - 0.5) * HOUR)
    assert links == ("mun-03-001~pn-03",)
    ups = [r for r in rows if r["kind"] == "link_up"]
    assert [r["links"] for r in ups] == ["", "mun-03-001~pn-03"]
    assert ups[1]["at_s"] == str(int(end_h * HOUR))
    # and the losses are those of one cut lasting from +10 h to the last restoration
    drops = outcome.tables.summary.totals.dropped
    assert set(drops) <= {"link_failure", "no_route"}
    assert drops["no_route"] > 0


SMALL_HEAD = """\
name: overlap-small
topology:
  inline:
    sites:
      - {id: core, kind: central, lat: 35.68, lon: 139.77}
      - {id: dc-a, kind: asp, lat: 35.69, lon: 139.74}
      - {id: dc-b, kind: asp, lat: 34.69, lon: 135.50}
      - {id: m1, kind: municipality, prefecture: "03", lat: 39.70, lon: 141.15}
    links:
      - {a: core, b: dc-a, capacity_bps: 1.0e+8}
      - {a: core, b: dc-b, capacity_bps: 1.0e+8}
      - {a: m1, b: core, capacity_bps: 1.0e+8, kind: access}
only_services: [mail-relay]
services:
  mail-relay: {primary: dc-a, secondary: dc-b, requests_per_day: 200000}
start: "2026-02-16T08:00"
duration: 4h
seed: 7
engine: {bin_s: 300}
"""


def _small(write_scenario, events: str, name: str):
    path = write_scenario(SMALL_HEAD + events, name)
    return run_scenario(load_scenario(path)).result


@pytest.mark.parametrize("spans", ["nested", "staggered"])
def test_overlapping_capacity_changes_give_the_latest_in_force(write_scenario, spans):
    # first: half capacity from +1h; second: a fifth of it from +1h30m
    ends = ("+3h", "+2h") if spans == "nested" else ("+2h", "+3h")
    events = (
        "events:\n"
        f'  - {{at: "+1h", kind: capacity, links: [core~dc-a], scale: 0.5, until: "{ends[0]}"}}\n'
        f'  - {{at: "+1h30m", kind: capacity, links: [core~dc-a], scale: 0.2, until: "{ends[1]}"}}\n'
    )
    base = _small(write_scenario, "events: []\n", "base")
    changed = _small(write_scenario, events, "capacity")
    link = "core~dc-a>"
    ratio = changed.utilisation_of(link) / base.utilisation_of(link)
    per_hour = 3600 // 300

    def at(h: float) -> float:
        return float(ratio[int(h * per_hour)])

    assert at(0.5) == pytest.approx(1.0)
    assert at(1.2) == pytest.approx(2.0)  # 50 Mb/s
    assert at(1.7) == pytest.approx(5.0)  # 20 Mb/s, the later change
    # after the first of the two ends, the other one is still in force
    assert at(2.5) == pytest.approx(2.0 if spans == "nested" else 5.0)
    assert at(3.5) == pytest.approx(1.0)


@pytest.mark.parametrize("spans", ["nested", "staggered"])
def test_overlapping_surges_of_one_service_multiply(write_scenario, spans):
    ends = ("+3h", "+2h") if spans == "nested" else ("+2h", "+3h")
    events = (
        "events:\n"
        f'  - {{at: "+1h", kind: demand_surge, service: mail-relay, multiplier: 3, until: "{ends[0]}"}}\n'
        f'  - {{at: "+1h30m", kind: demand_surge, service: mail-relay, multiplier: 2, until: "{ends[1]}"}}\n'
    )
    base = _small(write_scenario, "events: []\n", "base")
    surged = _small(write_scenario, events, "surge")
    ratio = surged.offered_per_bin["mail-relay"] / base.offered_per_bin["mail-relay"]
    per_hour = 3600 // 300

    def at(h: float) -> float:
        return float(ratio[int(h * per_hour)])

    assert at(0.5) == pytest.approx(1.0, rel=0.03)
    assert at(1.2) == pytest.approx(3.0, rel=0.03)
    assert at(1.7) == pytest.approx(6.0, rel=0.03)
    assert at(2.5) == pytest.approx(3.0 if spans == "nested" else 2.0, rel=0.03)
    assert at(3.5) == pytest.approx(1.0, rel=0.03)
