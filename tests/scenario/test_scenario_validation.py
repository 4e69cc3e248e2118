"""Strict validation: every broken scenario gives one clear line, exit 2 and no output."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lgwan_sim.errors import ScenarioError
from lgwan_sim.scenario import EventType, load_scenario
from tests.scenario.support import BROKEN, SMALL

BROKEN_FILES = sorted(BROKEN.glob("*.yaml"))


def _expectations(path: Path) -> tuple[str, Path, int]:
    """The ``# expect:`` fragment, the file holding the ``<-- error`` marker, and its line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    fragment = lines[0].removeprefix("# expect: ")
    target = path
    for line in lines[1:3]:
        if line.startswith("# expect-file: "):
            target = path.parent / line.removeprefix("# expect-file: ")
    marked = [
        i
        for i, text in enumerate(target.read_text(encoding="utf-8").splitlines(), start=1)
        if "# <-- error" in text
    ]
    assert len(marked) == 1, f"{target} needs exactly one '# <-- error' marker"
    return fragment, target, marked[0]


def test_there_are_at_least_twenty_broken_scenarios() -> None:
    assert len(BROKEN_FILES) >= 20


@pytest.mark.parametrize("path", BROKEN_FILES, ids=[p.stem for p in BROKEN_FILES])
def test_validate_gives_one_line_with_file_line_field_and_value(path: Path, cli) -> None:
    fragment, target, line = _expectations(path)
    result = cli("validate", path)
    assert result.code == 2
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(f"lgwan-sim: error: {target}:{line}: "), lines[0]
    assert fragment in lines[0]


def test_error_carries_file_line_field_and_value(write_scenario) -> None:
    path = write_scenario(SMALL.replace("seed: 7", "seed: 7.5"))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    err = info.value
    assert (err.file, err.field, err.value) == (str(path), "seed", 7.5)
    assert err.line == SMALL.splitlines().index("seed: 7") + 1


def test_small_scenario_resolves_times_hosts_and_restorations(small_path: Path) -> None:
    sc = load_scenario(small_path)
    assert sc.name == "small"
    assert sc.start.isoformat() == "2026-02-16T08:00:00+09:00"
    assert sc.duration_s == 4 * 3600
    assert [s.name for s in sc.services] == ["directory", "mail-relay"]
    mail = sc.service("mail-relay")
    assert (mail.primary, mail.secondary, mail.callers) == ("dc-a", "dc-b", ("m1", "m2"))
    assert mail.requests_per_day == 20000
    cut, loss, surge = sc.events
    assert (cut.kind, cut.at_s, cut.links, cut.note) == (
        EventType.LINK_DOWN,
        3600.0,
        ("m1~core",),
        "cable cut",
    )
    assert [r.at_s for r in cut.restore] == [5400.0]
    assert (loss.detection_s, loss.switchover_s, loss.restore[0].at_s) == (30.0, 120.0, 10800.0)
    assert (surge.service, surge.multiplier) == ("directory", 3.0)


def test_absolute_and_relative_times_agree(write_scenario) -> None:
    rel = load_scenario(write_scenario(SMALL, "rel"))
    absolute = SMALL.replace(
        'at: "+1h", kind: link_down', 'at: "2026-02-16T09:00", kind: link_down'
    )
    assert absolute != SMALL
    assert load_scenario(write_scenario(absolute, "abs")).events[0].at_s == rel.events[0].at_s


def test_an_offset_in_the_start_time_is_respected(write_scenario) -> None:
    sc = load_scenario(write_scenario(SMALL.replace('"2026-02-16T08:00"', '"2026-02-15T23:00Z"')))
    assert sc.start.isoformat() == "2026-02-15T23:00:00+00:00"


def test_overrides_and_cli_options_replace_values_before_validation(small_path: Path) -> None:
    sc = load_scenario(
        small_path,
        overrides={"services.directory.multiplier": 2.5, "events[0].until": "+2h"},
        seed=11,
        fidelity="flow",
    )
    assert sc.service("directory").multiplier == 2.5
    assert sc.events[0].restore[0].at_s == 7200.0
    assert (sc.seed, sc.fidelity.value) == (11, "flow")


def test_a_bad_override_is_a_scenario_error_naming_the_field(small_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"services\.directory\.multiplier: must be >= 0"):
        load_scenario(small_path, overrides={"services.directory.multiplier": -1})
    with pytest.raises(ScenarioError, match=r"override path does not exist"):
        load_scenario(small_path, overrides={"events[9].at": "+1h"})


def test_edits_change_capacity_and_add_backup_lines(write_scenario) -> None:
    text = SMALL + textwrap_edits()
    sc = load_scenario(write_scenario(text))
    assert sc.topology.link("m1~core").capacity_bps == 2.5e8
    assert sc.topology.link("core~dc-b").capacity_bps == 2e9
    backup = sc.topology.link("m2~dc-b")
    assert backup.kind.value == "backup"
    assert backup.capacity_bps == 1e7
    assert backup.routing_metric > 1.0


def textwrap_edits() -> str:
    return (
        "edits:\n"
        "  - {kind: capacity, links: [core~m1], capacity_bps: 2.5e+8}\n"
        "  - {kind: capacity, link_kind: backbone, scale: 2}\n"
        "  - {kind: backup_lines, sites: [m2], capacity_bps: 1.0e+7, to: dc-b}\n"
    )


def test_region_outage_restores_in_stages(write_scenario) -> None:
    text = SMALL.replace(
        "events:\n",
        "events:\n"
        '  - {at: "+1h", kind: region_down, prefectures: ["03", 4],'
        ' restore: [{at: "+2h", prefectures: ["04"]}, {at: "+3h", prefectures: ["03"]}]}\n',
    )
    sc = load_scenario(write_scenario(text))
    region = sc.events[0]
    assert region.prefectures == ("03", "04")
    assert [(r.at_s, r.prefectures) for r in region.restore] == [
        (7200.0, ("04",)),
        (10800.0, ("03",)),
    ]


def test_restoring_a_prefecture_twice_is_rejected(write_scenario) -> None:
    text = SMALL.replace(
        "events:\n",
        "events:\n"
        '  - {at: "+1h", kind: region_down, prefectures: ["03"],'
        ' restore: [{at: "+2h", prefectures: ["03"]}, {at: "+3h", prefectures: ["03"]}]}\n',
    )
    with pytest.raises(
        ScenarioError, match=r"restore\[1\]\.prefectures\[0\]: this prefecture is already restored"
    ):
        load_scenario(write_scenario(text))


def test_site_down_by_campus_takes_every_site_of_the_campus(national_scenario_path: Path) -> None:
    sc = load_scenario(national_scenario_path)
    (event,) = sc.events
    assert set(event.sites) == {"central-east", "sgw-east", "aspseg-east"}


@pytest.fixture
def national_scenario_path(write_scenario) -> Path:
    return write_scenario(
        """\
        topology: national
        start: 2026-02-16
        duration: 1d
        seed: 1
        events:
          - {at: "+10h", kind: site_down, campuses: [east]}
        """
    )


def test_national_scenario_uses_the_whole_catalogue(national_scenario_path: Path) -> None:
    sc = load_scenario(national_scenario_path)
    assert len(sc.services) == 11
    mail = sc.service("mail-relay")
    assert len(mail.callers) == 1788  # every local body: 47 prefectures + 1,741 municipalities
    konbini = sc.service("konbini")
    assert 300 < len(konbini.callers) < 510  # about 23.1 % of 1,741 municipalities
    assert re.fullmatch(r"mun-\d\d-\d{3}", konbini.callers[0])
