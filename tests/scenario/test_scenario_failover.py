"""Whatever takes a service's primary host down fails the service over, and back.

A ``site_down``, a campus failure, a ``region_down`` (by prefecture or circle) and a
``dc_loss`` are one mechanism: the service moves to its secondary host ``detection_s +
switchover_s`` after its primary goes down, and back ``switchover_s`` after the primary is
up again (its last outage over). ``failover: false`` on an event studies an outage without
business continuity.
"""

from __future__ import annotations

import shutil
import textwrap

import pytest

from lgwan_sim._resources import bundled_dir
from lgwan_sim.engine import EventKind
from lgwan_sim.scenario import engine_inputs, load_scenario, run_scenario

HOUR = 3600.0

#: dc-a (Tokyo, on the campus "tokyo") hosts mail-relay with dc-b (Osaka) as standby.
STUDY = """\
name: failover-study
topology:
  inline:
    sites:
      - {id: core, kind: central, lat: 35.68, lon: 139.77}
      - {id: dc-a, kind: asp, lat: 35.69, lon: 139.74, campus: tokyo, prefecture: "13"}
      - {id: dc-b, kind: asp, lat: 34.69, lon: 135.50, prefecture: "27"}
      - {id: m1, kind: municipality, prefecture: "03", lat: 39.70, lon: 141.15}
      - {id: m2, kind: municipality, prefecture: "04", lat: 38.27, lon: 140.87}
    links:
      - {a: core, b: dc-a, capacity_bps: 1.0e+9}
      - {a: core, b: dc-b, capacity_bps: 1.0e+9}
      - {a: m1, b: core, capacity_bps: 1.0e+8, kind: access}
      - {a: m2, b: core, capacity_bps: 1.0e+8, kind: access}
only_services: [mail-relay]
services:
  mail-relay: {primary: dc-a, secondary: dc-b, requests_per_day: 20000}
start: "2026-02-16T08:00"
duration: 8h
seed: 7
engine: {bin_s: 300}
"""


def _timeline(write_scenario, body: str, *, head: str = STUDY):
    path = write_scenario(head + textwrap.dedent(body))
    scenario = load_scenario(path)
    events = engine_inputs(scenario).timeline.events
    moves = [
        (e.kind.value, e.at_s, e.service)
        for e in events
        if e.kind in (EventKind.FAILOVER, EventKind.FAILBACK)
    ]
    return scenario, moves


OUTAGES = {
    "site_down": '{at: "+1h", kind: site_down, sites: [dc-a], until: "+3h"}',
    "campus": '{at: "+1h", kind: site_down, campuses: [tokyo], until: "+3h"}',
    "region prefecture": '{at: "+1h", kind: region_down, prefectures: ["13"], until: "+3h"}',
    "region circle": (
        '{at: "+1h", kind: region_down, center: [35.69, 139.74], radius_km: 5, until: "+3h"}'
    ),
    "dc_loss": '{at: "+1h", kind: dc_loss, site: dc-a, until: "+3h"}',
}


@pytest.mark.parametrize("outage", OUTAGES)
def test_every_kind_of_host_outage_fails_over_with_the_service_defaults(write_scenario, outage):
    _, moves = _timeline(write_scenario, f"events:\n  - {OUTAGES[outage]}\n")
    # catalogue defaults: detection 60 s, switchover 300 s
    assert moves == [
        ("failover", 1 * HOUR + 60 + 300, "mail-relay"),
        ("failback", 3 * HOUR + 300, "mail-relay"),
    ]


def test_an_event_can_study_an_outage_without_failover(write_scenario):
    _, moves = _timeline(
        write_scenario,
        'events:\n  - {at: "+1h", kind: site_down, sites: [dc-a], until: "+3h", failover: false}\n',
    )
    assert moves == []


def test_times_come_from_the_event_then_the_scenario_then_the_service(write_scenario, tmp_path):
    event = '{at: "+1h", kind: region_down, prefectures: ["13"], until: "+3h"%s}'
    scenario_level = "failover: {detection_s: 30, switchover_s: 90}\n"
    _, moves = _timeline(write_scenario, scenario_level + f"events:\n  - {event % ''}\n")
    assert moves[0][1] == HOUR + 30 + 90
    assert moves[1][1] == 3 * HOUR + 90
    _, moves = _timeline(
        write_scenario,
        scenario_level + f"events:\n  - {event % ', switchover_s: 600, failback: false'}\n",
    )
    assert moves == [("failover", HOUR + 30 + 600, "mail-relay")]
    # a catalogue whose service file gives its own failover times
    catalogue = tmp_path / "catalogue"
    shutil.copytree(bundled_dir("services") / "mail-relay", catalogue / "mail-relay")
    service = catalogue / "mail-relay" / "service.yaml"
    service.write_text(
        service.read_text(encoding="utf-8")
        + "failover:\n"
        + "  detection_s: {value: 10, assumption: fast health checks}\n"
        + "  switchover_s: {value: 20, assumption: hot standby}\n",
        encoding="utf-8",
    )
    _, moves = _timeline(
        write_scenario,
        f"catalogue: {catalogue}\nevents:\n  - {event % ''}\n",
    )
    assert moves == [
        ("failover", HOUR + 10 + 20, "mail-relay"),
        ("failback", 3 * HOUR + 20, "mail-relay"),
    ]


def test_overlapping_outages_fail_back_only_when_the_host_is_up_again(write_scenario):
    _, moves = _timeline(
        write_scenario,
        """\
        events:
          - {at: "+1h", kind: site_down, sites: [dc-a], until: "+4h", failover: false}
          - {at: "+2h", kind: region_down, prefectures: ["13"], until: "+3h"}
          - {at: "+5h", kind: dc_loss, site: dc-a, until: "+6h"}
          - {at: "+5h30m", kind: site_down, campuses: [tokyo], until: "+7h"}
        """,
    )
    assert moves == [
        # the region event allows failover: noticed a minute after it, switched 5 min later
        ("failover", 2 * HOUR + 360, "mail-relay"),
        # the host is held down by the site event until +4 h
        ("failback", 4 * HOUR + 300, "mail-relay"),
        ("failover", 5 * HOUR + 360, "mail-relay"),
        # the campus failure holds the host until +7 h, after the data-centre loss ends
        ("failback", 7 * HOUR + 300, "mail-relay"),
    ]


def test_an_outage_over_before_it_is_noticed_moves_nothing(write_scenario):
    _, moves = _timeline(
        write_scenario,
        'events:\n  - {at: "+1h", kind: site_down, sites: [dc-a], until: "+1h0m30s"}\n',
    )
    assert moves == []


def test_a_host_down_again_before_failback_keeps_the_service_on_the_secondary(write_scenario):
    _, moves = _timeline(
        write_scenario,
        """\
        events:
          - {at: "+1h", kind: site_down, sites: [dc-a], until: "+2h"}
          - {at: "+2h2m", kind: site_down, sites: [dc-a], until: "+3h"}
        """,
    )
    assert moves == [
        ("failover", HOUR + 360, "mail-relay"),
        ("failback", 3 * HOUR + 300, "mail-relay"),
    ]


@pytest.mark.parametrize("fidelity", ["analytic", "flow", "packet"])
def test_the_service_is_served_from_the_secondary_meanwhile(write_scenario, fidelity):
    outage = '{at: "+1h", kind: site_down, sites: [dc-a], until: "+3h"%s}'

    def go(extra: str):
        path = write_scenario(STUDY + f"events:\n  - {outage % extra}\n")
        result = run_scenario(load_scenario(path, fidelity=fidelity)).result
        stats = result.services["mail-relay"]
        assert stats.balanced
        return result, stats

    result, stats = go("")
    delivered = result.delivered_per_bin["mail-relay"]
    # 300 s bins: lost from +1 h until the switch at +1 h 6 min, served from dc-b after
    assert delivered[12] < delivered[11] / 2
    assert (delivered[14:36] > 0).all()
    _, without = go(", failover: false")
    # 6 minutes of a 2-hour outage are lost instead of all of it (the packet fidelity also
    # drops messages larger than a port buffer, whatever the outage)
    assert set(stats.dropped) - {"buffer_overflow"} == {"site_down"}
    assert stats.dropped["site_down"] < 0.1 * without.dropped["site_down"]


def test_the_west_region_outage_fails_the_west_services_over(write_scenario):
    """The reproduction: 250 km around 33.5 N, 135.8 E for 10 h on the national network."""
    path = write_scenario(
        """\
        name: west
        topology: national
        start: "2026-06-10T00:00"
        duration: 1d
        seed: 1
        engine: {bin_s: 600}
        events:
          - {at: "+8h", kind: region_down, center: [33.5, 135.8], radius_km: 250, until: "+18h"}
        """
    )
    outcome = run_scenario(load_scenario(path))
    moves = {
        (e.kind, e.service, e.at_s)
        for e in outcome.result.events
        if e.kind in ("failover", "failback")
    }
    for name in ("bulletin-board", "directory", "e-learning"):
        assert ("failover", name, 8 * HOUR + 360) in moves
        assert ("failback", name, 18 * HOUR + 300) in moves
        stats = outcome.result.services[name]
        assert stats.delivered > 0.7 * stats.offered


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            'events:\n  - {at: "+1h", kind: site_down, sites: [dc-a], until: "+3h",'
            " failover: false, detection_s: 30}\n",
            "events[0].detection_s: has no effect with 'failover: false' (got 30)",
        ),
        (
            'events:\n  - {at: "+1h", kind: region_down, prefectures: ["13"], failback: false}\n',
            "events[0].failback: failback needs 'until' (when the site comes back) (got False)",
        ),
        ("failover: {detection: 30}\n", "failover.detection: unknown key"),
        ("failover: {switchover_s: -1}\n", "failover.switchover_s: must be >= 0"),
    ],
)
def test_bad_failover_settings_are_one_line(cli, write_scenario, body, message):
    path = write_scenario(STUDY + body)
    result = cli("validate", path)
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert line.startswith(f"lgwan-sim: error: {path}:")
    assert message in line
