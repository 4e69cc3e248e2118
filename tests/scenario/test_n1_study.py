"""The N-1 study: its cases, and every number of a case against a full analytic run."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lgwan_sim.engine import EventKind, N1Study, Timeline, TimelineEvent, n1_cases, run
from lgwan_sim.scenario import load_scenario
from lgwan_sim.scenario._build import engine_inputs
from tests.scenario.support import TINY


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("n1") / "tiny.yaml"
    path.write_text(TINY, encoding="utf-8")
    return engine_inputs(load_scenario(path))


def _study(inputs) -> N1Study:
    return N1Study(
        inputs.topology, inputs.demand, duration_s=inputs.duration_s, config=inputs.config
    )


def test_cases_are_backbone_and_prefecture_links_then_nodes_and_campuses(tiny):
    links = [c.id for c in n1_cases(tiny.topology)]
    # the municipalities' own lines are not cases; the prefectural office's line is
    assert links == ["none", "asp~ce", "asp~cw", "ce~cw", "pn~ce", "pn~cw", "pref~pn"]
    with_sites = n1_cases(tiny.topology, sites=True)
    assert [c.id for c in with_sites[len(links) :]] == ["pn", "campus:east", "campus:west"]
    assert with_sites[-2].sites == ("ce",)


def test_every_case_matches_a_full_analytic_run_with_the_element_down_all_day(tiny):
    """Peak load, loss by reason, local bodies cut off and latency breaches agree with the
    analytic fidelity run for the whole day with the element failed from the start (and
    routing converging at once)."""
    study = _study(tiny)
    config = dataclasses.replace(tiny.config, convergence_delay_s=0.0)
    seen = set()
    for case in n1_cases(tiny.topology, sites=True)[1:]:
        impact = study.case(case)
        kind = EventKind.LINK_DOWN if case.links else EventKind.SITE_DOWN
        event = TimelineEvent(at_s=0.0, kind=kind, links=case.links, sites=case.sites)
        full = run(
            tiny.topology,
            tiny.demand,
            Timeline(events=(event,)),
            fidelity="analytic",
            duration_s=tiny.duration_s,
            seed=1,
            config=config,
        )
        stats = full.services["mail-relay"]
        assert impact.peak_utilisation == pytest.approx(float(full.link_utilisation.max()))
        assert impact.worst_links[0][1] == pytest.approx(impact.peak_utilisation)
        for reason, n in impact.lost.items():
            assert round(n) == stats.dropped.get(reason, 0), (case.id, reason)
        assert len(impact.unreachable) == int(full.unreachable_local_bodies.max())
        if impact.most_raised is not None:
            link, peak, before = impact.most_raised
            assert peak == pytest.approx(float(full.utilisation_of(link).max()))
            assert before < peak
        assert ("latency" in impact.breaches.get("mail-relay", "")) == (stats.slo_breaches > 0)
        seen.add((bool(impact.unreachable), impact.lost["overload"] > 0))
    # the network has cases of each sort: harmless, overloading, cutting off
    assert {(False, False), (False, True), (True, False)} <= seen


def test_the_link_a_failure_loads_most_is_named_with_its_intact_peak(tiny):
    study = _study(tiny)
    cases = {c.id: c for c in n1_cases(tiny.topology)}
    intact = study.case(cases["none"])
    assert intact.most_raised is None
    link, peak, before = study.case(cases["pn~ce"]).most_raised or ("", 0.0, 0.0)
    assert link == "pn~cw>"  # Iwate's mail now takes the 1 Mbit/s West line
    assert before == pytest.approx(0.0)
    assert peak > 1.0


def test_losing_the_node_cuts_off_everything_behind_it(tiny):
    study = _study(tiny)
    node = next(c for c in n1_cases(tiny.topology, sites=True) if c.id == "pn")
    impact = study.case(node)
    assert impact.unreachable == ("m1", "m2", "pref")
    assert impact.lost["no_route"] == pytest.approx(impact.offered)
    assert impact.breaches == {"mail-relay": "cut off"}


def test_a_case_gives_the_same_numbers_alone_or_after_the_others(tiny):
    cases = n1_cases(tiny.topology, sites=True)
    after_all = _study(tiny)
    in_turn = [after_all.case(c) for c in cases]
    again = [after_all.case(c) for c in reversed(cases)][::-1]
    alone = [_study(tiny).case(c) for c in cases]
    assert in_turn == alone == again


def test_a_case_works_out_again_only_the_links_it_reloads_with_the_same_numbers(tiny, monkeypatch):
    # Against the whole day worked out again for every case (as the study first did): a
    # base that differs on every link makes each case recompute every link.
    study = N1Study(tiny.topology, tiny.demand, duration_s=tiny.duration_s, config=tiny.config)
    whole = N1Study(tiny.topology, tiny.demand, duration_s=tiny.duration_s, config=tiny.config)
    whole.base_weights = np.full_like(whole.base_weights, np.nan)
    reloaded: list[int] = []
    partial = study._utilisation

    def spy(weights, links=None):  # type: ignore[no-untyped-def]
        if links is not None:
            reloaded.append(len(links))
        return partial(weights, links)

    monkeypatch.setattr(study, "_utilisation", spy)
    cases = study.cases(sites=True)
    assert [study.case(c) for c in cases] == [whole.case(c) for c in cases]
    assert any(0 < n < study.n_links for n in reloaded)
    assert len(reloaded) < len(cases)  # the intact case, at least, reloads nothing
    assert any(study.case(c).overloaded_links for c in cases)
