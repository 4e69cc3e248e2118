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
    timeline = outcome.inputs.timeline.events
    # what the results say was down agrees with the engine
    _, sites_13h = failed_at(national, timeline, 13 * HOUR)
    assert "pn-03" in sites_13h
    assert not set(sites_13h) - {"pn-03"}  # the other Iwate sites came back at +12 h
    _, sites_15h = failed_at(national, timeline, 15 * HOUR)
    assert sites_15h == ()
    # events.csv names what each event changed: the region's return leaves pn-03 down
    by_kind = {(r["kind"], r["at_s"]): r for r in rows}
    region_up = by_kind[("region_up", str(int(12 * HOUR)))]["sites"]
    assert region_up
    assert "pn-03" not in region_up
    assert by_kind[("site_up", str(int(14 * HOUR)))]["sites"] == "pn-03"
    # the Iwate traffic is lost for the whole four hours, not for two
    summary = outcome.tables.summary
    assert summary["unreachable_local_bodies"]["bins_with_any"] >= 4 * HOUR / BIN_S


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
    links, _ = failed_at(national, outcome.inputs.timeline.events, (end_h - 0.5) * HOUR)
    assert links == ("mun-03-001~pn-03",)
    ups = [r for r in rows if r["kind"] == "link_up"]
    assert [r["links"] for r in ups] == ["", "mun-03-001~pn-03"]
    assert ups[1]["at_s"] == str(int(end_h * HOUR))
    # and the losses are those of one cut lasting from +10 h to the last restoration
    drops = outcome.tables.summary["totals"]["dropped"]
    assert set(drops) <= {"link_failure", "no_route"}
    assert drops["no_route"] > 0
