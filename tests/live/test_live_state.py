"""What the live map shows, without a browser: cut-off bodies, a path that reroutes, frames."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from lgwan_sim.live._state import UNITS, LiveState, fold_directed


@pytest.fixture(scope="module")
def scenario() -> Any:
    from lgwan_sim.scenario import open_scenario

    return open_scenario("national-weekday")


@pytest.fixture
def state(scenario: Any) -> LiveState:
    from lgwan_sim.live._replay import services_of

    return LiveState(
        scenario.topology,
        services_of(scenario),
        mode="live",
        title=scenario.name,
        start=scenario.start,
        end_s=scenario.duration_s,
        bin_s=scenario.bin_s,
    )


def test_fold_directed_keeps_the_busier_direction():
    assert fold_directed([0.5, 0.25, 0.0, 0.00002, 1.5, 2.0]) == [UNITS // 2, 2, 2 * UNITS]


def test_a_municipality_path_reroutes_around_a_failed_link(state: LiveState):
    topo = state.topology
    body = "mun-04-001"
    state.choose(body, "eltax")
    first = state.path
    assert first is not None
    assert first["reachable"]
    assert state.site_ids[first["sites"][0]] == body
    assert state.site_ids[first["sites"][-1]] == state.hosts["eltax"]
    # fail a backbone link of the path (not the access line, or nothing is left)
    on_path = [state.link_ids[i] for i in first["links"]]
    backbone = next(x for x in on_path if topo.links[x].kind.value == "backbone")
    frame = state.update(down=([backbone], []))
    assert frame is not None
    assert "path" in frame
    second = frame["path"]
    assert second["reachable"]
    assert state.link_index[backbone] not in second["links"]
    assert second["links"] != first["links"]
    # restored: the first path again
    frame = state.update(down=([], []))
    assert frame is not None
    assert frame["path"] == first


def test_a_failed_prefecture_node_cuts_off_its_local_bodies(state: LiveState):
    topo = state.topology
    frame = state.update(down=([], ["pn-04"]))
    assert frame is not None
    cut = {state.site_ids[i] for i in frame["cut_off"]}
    miyagi = {s.id for s in topo.sites.values() if s.prefecture == "04" and s.kind.is_local_body}
    assert cut == miyagi
    failed = {state.link_ids[i] for i in frame["failed_links"]}
    assert failed == {lk.id for lk in topo.links_of_site("pn-04")}
    assert frame["failed_sites"] == [state.site_index["pn-04"]]
    assert state.update(down=([], [])) is not None
    assert state.cut_off == []
    assert state.failed_links == []


def test_frames_are_numbered_and_a_late_page_gets_the_history(state: LiveState):
    async def go() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        queue = state.subscribe()
        state.update(sim_s=60.0)
        state.update(bin_counts=(300.0, {"eltax": [10, 9, 1]}))
        state.update(sim_s=60.0)  # nothing changed: no frame
        state.update(events=[(70.0, "link_down: a cable cut")])
        got = [json.loads(queue.get_nowait()) for _ in range(queue.qsize())]
        return got, json.loads(state.snapshot())

    frames, snap = asyncio.run(go())
    assert [f["seq"] for f in frames] == [1, 2, 3]
    assert frames[0]["clock"] == "2026-06-10 00:01:00 JST"
    assert frames[1]["bin"] == {"end_s": 300.0, "services": {"eltax": [10, 9, 1]}}
    assert snap["seq"] == 3
    assert snap["history"]["eltax"] == [[300.0, 10, 9, 1]]
    assert snap["timeline"][0]["text"] == "link_down: a cable cut"


@pytest.mark.parametrize(
    ("scenario", "speed", "message"),
    [
        (
            "national-weekday",
            60,
            "scenario: one of tohoku-2011, east-central-loss, dc-loss-failover",
        ),
        ("tohoku-2011", 7200, "speed: a drill runs at 1x to 3600x (got 7200.0)"),
        ("tohoku-2011", "0.5", "speed: a drill runs at 1x to 3600x (got 0.5)"),
        ("tohoku-2011", "fast", "speed: a factor such as 1, 60 or 600x (got 'fast')"),
    ],
)
def test_a_drill_refuses_other_scenarios_and_speeds(scenario: str, speed: Any, message: str):
    from lgwan_sim.errors import InputError
    from lgwan_sim.live._dashboard import Dashboard

    dash = Dashboard(None)
    with pytest.raises(InputError) as got:
        asyncio.run(dash.start_drill(scenario, speed))
    assert str(got.value).startswith(message)
    assert dash.drill is None  # nothing was started


def test_the_engines_path_and_the_maps_own_are_drawn_alike(state: LiveState, scenario: Any):
    # a replay draws its own shortest path; beside an emulator the engine's answer is drawn
    # the same way: same links, sites and delay for the same route
    state.choose("mun-04-001", "eltax")
    own = state.path
    assert own is not None
    route = state.router.route("mun-04-001", state.hosts["eltax"])
    assert own["delay_ms"] == round(sum(lk.delay_s for lk in route.links) * 1e3, 2)
    assert own["delay_ms"] > 0
    key = ("mun-04-001", state.hosts["eltax"])
    asked = LiveState(
        scenario.topology,
        state.services,
        mode="live",
        title="t",
        start=scenario.start,
        end_s=scenario.duration_s,
        bin_s=scenario.bin_s,
    )
    asked.choose("mun-04-001", "eltax")
    asked.update(routes={})
    assert asked.path is not None
    assert asked.path["reachable"] is None  # asked for, not answered yet
    asked.update(routes={key: route.sites})
    assert asked.path == own
    asked.update(routes={key: None})
    assert asked.path is not None
    assert asked.path["reachable"] is False
    assert asked.path["links"] == []
