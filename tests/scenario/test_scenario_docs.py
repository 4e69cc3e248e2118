"""docs/scenarios.md documents every key, and its examples are valid scenarios."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lgwan_sim.scenario import load_scenario
from lgwan_sim.scenario._events import EVENT_KINDS
from lgwan_sim.scenario._loader import _ENGINE_KEYS, _TOP_KEYS

DOC = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"


def _blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_every_key_of_the_language_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    keys = set(_TOP_KEYS)
    for event_class in EVENT_KINDS.values():
        keys.update(event_class.keys)
    keys.update({"capacity_bps", "scale", "link_kind", "site_kinds", "to", "metric_penalty_s"})
    keys.update({"multiplier", "growth_per_year", "requests_per_day", "primary", "secondary"})
    keys.update({"growth_years", "bin_s", "convergence_delay_s", "backup_lines", "inline"})
    missing = sorted(k for k in keys if f"`{k}`" not in text and f"{k}:" not in text)
    assert missing == []


def test_every_engine_setting_has_a_row_with_its_range() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## `engine`") : text.index("## `events`")]
    rows = {line.split("|")[1].strip() for line in section.splitlines() if line.startswith("| `")}
    assert rows == {f"`{key}`" for key in _ENGINE_KEYS}


def test_the_engine_example_loads(write_scenario) -> None:
    (block,) = [b for b in _blocks() if b.startswith("engine:")]
    path = write_scenario(
        'topology: national\nstart: "2011-03-11T00:00"\nduration: 4d\nseed: 1\n' + block
    )
    scenario = load_scenario(path)
    assert scenario.bin_s == 300
    assert set(scenario.engine_options) | {"bin_s", "convergence_delay_s"} == set(_ENGINE_KEYS)


@pytest.mark.parametrize("head", ["events:", "edits:"])
def test_the_examples_load_on_the_national_topology(head: str, write_scenario) -> None:
    (block,) = [b for b in _blocks() if b.startswith(head)]
    path = write_scenario(
        'topology: national\nstart: "2011-03-11T00:00"\nduration: 4d\nseed: 1\n' + block
    )
    scenario = load_scenario(path)
    assert scenario.events or scenario.edits


def test_the_inline_topology_example_loads(write_scenario) -> None:
    (block,) = [b for b in _blocks() if "inline:" in b and b.startswith("topology:")]
    path = write_scenario(
        block
        + "only_services: [mail-relay]\n"
        + "services:\n  mail-relay: {primary: dc-a, secondary: null}\n"
        + "start: 2026-06-10\nduration: 1h\nseed: 1\n"
    )
    scenario = load_scenario(path)
    assert scenario.topology.name == "two-towns"
    assert scenario.service("mail-relay").secondary is None
