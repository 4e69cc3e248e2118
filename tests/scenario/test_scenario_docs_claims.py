"""What docs/scenarios.md says about `services:` and `until`, checked on real files."""

from __future__ import annotations

from pathlib import Path

from lgwan_sim.scenario import load_scenario
from lgwan_sim.traffic import load_catalogue
from tests.scenario.support import SMALL

DOC = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"
NATIONAL = 'topology: national\nstart: "2026-06-10T00:00"\nduration: 1h\nseed: 1\n'


def test_the_doc_states_both_rules() -> None:
    text = " ".join(DOC.read_text(encoding="utf-8").split())
    assert "Listing a service under `services:` changes that service; it chooses nothing." in text
    assert "Only `only_services` restricts the run." in text
    assert "`+` times are always measured from the run's `start`, never from the event." in text


def test_listing_services_changes_them_and_only_services_chooses(cli, write_scenario) -> None:
    everything = write_scenario(NATIONAL, "everything")
    listed = write_scenario(NATIONAL + "services:\n  eltax: {multiplier: 2}\n  konbini:\n", "two")
    only = write_scenario(NATIONAL + "only_services: [eltax, konbini]\n", "only")
    catalogue = load_catalogue()
    n = sum(1 for name in catalogue.names() if not catalogue[name].opt_in)  # opt-in: by name
    assert n > 2
    assert f", {n} services, " in cli("validate", everything).out.splitlines()[0]
    assert f", {n} services, " in cli("validate", listed).out.splitlines()[0]
    assert ", 2 services, " in cli("validate", only).out.splitlines()[0]
    changed = {s.spec.name: s.multiplier for s in load_scenario(listed).services}
    assert len(changed) == n
    assert (changed["eltax"], changed["konbini"]) == (2.0, 1.0)
    assert [s.spec.name for s in load_scenario(only).services] == ["eltax", "konbini"]


def test_until_is_measured_from_the_start_of_the_run(write_scenario) -> None:
    path = write_scenario(
        SMALL.replace(
            "events:\n",
            'events:\n  - {at: "+2h", kind: link_down, links: [m2~core], until: "+3h"}\n',
        )
    )
    event = load_scenario(path).events[0]
    assert event.at_s == 2 * 3600.0
    assert [r.at_s for r in event.restore] == [3 * 3600.0]  # back at 3h into the run, not 5h
