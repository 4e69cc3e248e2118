"""Listing a service under ``services:`` changes that service; ``only_services`` chooses.

A planner's first scenario is ``services: {eltax: {multiplier: 1.5}}`` on the national
network: it must run every catalogue service with eltax at 1.5, not eltax alone. Running
only some services is asked for with ``only_services``. ``validate`` prints what will run,
and ``run --set`` makes a one-off change with the machinery of ``sweep --set``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lgwan_sim.errors import ScenarioError
from lgwan_sim.scenario import load_catalogue, load_scenario
from tests.scenario.support import SMALL

NATIONAL = 'topology: national\nstart: "2026-01-30T09:00"\nduration: 1h\nseed: 1\n'
_ALL = load_catalogue()
#: what runs without only_services: every catalogue service but the opt-in ones
CATALOGUE = sorted(n for n in _ALL.names() if not _ALL[n].opt_in)


def test_listing_one_service_changes_it_and_keeps_the_catalogue(write_scenario) -> None:
    path = write_scenario(NATIONAL + "services:\n  eltax: {multiplier: 1.5}\n")
    sc = load_scenario(path)
    assert [s.name for s in sc.services] == CATALOGUE
    assert len(CATALOGUE) == 11
    assert {s.name: s.multiplier for s in sc.services if s.multiplier != 1.0} == {"eltax": 1.5}


def test_only_services_runs_the_services_it_names(write_scenario) -> None:
    path = write_scenario(
        NATIONAL + "only_services: [mail-relay, eltax]\nservices:\n  eltax: {multiplier: 2}\n"
    )
    sc = load_scenario(path)
    assert [s.name for s in sc.services] == ["eltax", "mail-relay"]
    assert sc.service("eltax").multiplier == 2.0


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        (
            "only_services: [mail-relay]\nservices:\n  eltax: {multiplier: 2}\n",
            "services.eltax",
            "not in only_services",
        ),
        ("only_services: [mail-relai]\n", "only_services[0]", "unknown service"),
        ("only_services: []\n", "only_services", "must not be empty"),
        ("only_services: [eltax, eltax]\n", "only_services[1]", "named twice"),
    ],
    ids=["listed-but-not-run", "unknown", "empty", "twice"],
)
def test_only_services_mistakes_are_one_line(
    write_scenario, cli, text: str, field: str, fragment: str
) -> None:
    path = write_scenario(NATIONAL + text)
    result = cli("validate", path)
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert f"{path}:" in line
    assert f": {field}: " in line
    assert fragment in line


def test_an_inline_network_without_the_catalogue_hosts_says_how_to_choose(
    write_scenario,
) -> None:
    path = write_scenario(SMALL.replace("only_services: [directory, mail-relay]\n", ""))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert "only_services" in str(info.value)


def test_validate_prints_what_will_run(write_scenario, cli) -> None:
    path = write_scenario(
        NATIONAL
        + "demand: {multiplier: 2}\nservices:\n  eltax: {multiplier: 1.5}\n"
        + 'events:\n  - {at: "+10m", kind: site_down, sites: [pref-03], until: "+20m"}\n'
    )
    result = cli("validate", path)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("ok: scenario: ")
    assert "11 services, 1 event;" in lines[0]
    assert "fidelity analytic" in lines[0]
    assert "for 1h" in lines[0]
    rows = {line.split()[0]: line for line in lines[1:] if line.startswith("  ")}
    assert sorted(rows) == CATALOGUE
    assert rows["eltax"].split()[1] == "x3"  # its own 1.5 times demand.multiplier 2
    assert rows["mail-relay"].split()[1] == "x2"


def test_validate_json_holds_the_same_facts(write_scenario, cli) -> None:
    path = write_scenario(
        NATIONAL + "only_services: [eltax]\nservices:\n  eltax: {multiplier: 1.5}\n"
    )
    result = cli("validate", path, "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["fidelity"] == "analytic"
    assert doc["duration_s"] == 3600
    assert doc["events"] == 0
    assert [(s["name"], s["multiplier"]) for s in doc["services"]] == [("eltax", 1.5)]


def test_run_set_makes_a_one_off_change(small_path: Path, cli, tmp_path: Path) -> None:
    base = cli("run", small_path, "-o", tmp_path / "a", "--no-plots")
    assert base.code == 0, base.err
    changed = cli(
        "run", small_path, "-o", tmp_path / "b", "--no-plots",
        "--set", "services.directory.multiplier=3", "--set", "demand.multiplier=2",
    )  # fmt: skip
    assert changed.code == 0, changed.err
    a = json.loads((tmp_path / "a" / "summary.json").read_text(encoding="utf-8"))
    b = json.loads((tmp_path / "b" / "summary.json").read_text(encoding="utf-8"))
    assert b["totals"]["offered"] > a["totals"]["offered"]
    recorded = json.loads((tmp_path / "b" / "run.json").read_text(encoding="utf-8"))
    assert "--set=services.directory.multiplier=3" in recorded["command"]


@pytest.mark.parametrize(
    ("setting", "fragment"),
    [
        ("services.directory.multiplier=x", "--set services.directory.multiplier=x: must be a number"),
        ("services.directory.multiplier=1,2", "--set: takes one value in a run"),
        ("events[9].until=+1h", "--set events[9].until"),
    ],
)  # fmt: skip
def test_run_set_mistakes_are_one_line_and_write_nothing(
    small_path: Path, cli, tmp_path: Path, setting: str, fragment: str
) -> None:
    out = tmp_path / "out"
    result = cli("run", small_path, "-o", out, "--set", setting)
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert fragment in line
    assert not out.exists()


def test_set_takes_a_yaml_list_as_one_value(write_scenario, cli) -> None:
    path = write_scenario(NATIONAL)
    result = cli("validate", path, "--set", "only_services=[konbini, eltax]", "--json")
    assert result.code == 0, result.err
    assert [s["name"] for s in json.loads(result.out)["services"]] == ["eltax", "konbini"]
