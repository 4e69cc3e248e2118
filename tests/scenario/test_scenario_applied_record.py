"""The run's files say what the engine did: what was down comes from its applied-event log.

An outage applied from outside (``Engine.apply``, as the control API will) is in no
timeline, yet it is in the run's log; the summary's service outages, the worst moment's
failed elements and ``failed_at`` must all see it.
"""

from __future__ import annotations

from lgwan_sim.engine import EventKind, TimelineEvent, build
from lgwan_sim.scenario import engine_inputs, load_scenario
from lgwan_sim.scenario._results import failed_at, summarise
from tests.scenario.support import SMALL

HALF_HOUR = 1800.0


def test_an_outage_applied_from_outside_is_in_the_summary(write_scenario) -> None:
    scenario = load_scenario(write_scenario(SMALL, "applied"))
    inputs = engine_inputs(scenario)
    engine = build(inputs)
    engine.advance_to(HALF_HOUR)
    # directory is served from dc-b; Osaka goes dark for ten minutes, announced by nobody
    engine.apply(TimelineEvent(at_s=HALF_HOUR, kind=EventKind.SITE_DOWN, sites=("dc-b",)))
    engine.apply(TimelineEvent(at_s=2400.0, kind=EventKind.SITE_UP, sites=("dc-b",)))
    result = engine.finish()
    assert not any(e.sites == ("dc-b",) for e in inputs.timeline.events)

    tables = summarise(scenario, result, inputs.config)
    spells = [
        (o.service, o.host, o.from_s, o.until_s, o.local_bodies)
        for o in tables.outages
        if o.host == "dc-b"
    ]
    assert spells == [("directory", "dc-b", HALF_HOUR, 2400.0, ("m1", "m2"))]
    assert failed_at(scenario.topology, result.events, 2000.0) == (
        ("core~dc-b",),
        ("dc-b",),
    )
    assert failed_at(scenario.topology, result.events, 2401.0) == ((), ())
    # the worst moment's cut-off local bodies (the map's marks) see it too
    assert {"m1", "m2"} <= set(tables.cut_off)
    assert tables.failed_sites == ("dc-b",)


def test_the_typed_summary_is_the_file(write_scenario, tmp_path) -> None:
    import dataclasses
    import json

    from lgwan_sim.scenario import run_scenario, write_run

    outcome = run_scenario(load_scenario(write_scenario(SMALL, "typed")))
    write_run(outcome, tmp_path / "out")
    text = (tmp_path / "out" / "summary.json").read_text(encoding="utf-8")
    summary = outcome.tables.summary
    assert summary.to_json() == text
    doc = json.loads(text)
    assert "emulation" not in doc
    assert doc["totals"]["offered"] == summary.totals.offered > 0
    assert doc["peak_link"] == (summary.peak_link.to_dict() if summary.peak_link else None)
    assert [e["link"] for e in doc["busiest_links"]] == [e.link for e in summary.busiest_links]
    emulated = dataclasses.replace(summary, emulation={"speed": 1.0})
    assert json.loads(emulated.to_json())["emulation"] == {"speed": 1.0}
