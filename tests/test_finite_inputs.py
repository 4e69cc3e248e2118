"""Every number in every input file is finite and inside its documented range.

A value outside (``.inf``, ``.nan``, ``1.0e+300``, an integer too large for a float) is one
line ``file:line: field: message (got value)`` on stderr, exit 2, and nothing written, from
the command line. Each case below once passed ``validate`` and then crashed ``run`` with a
traceback, overflowed, or ran to the end with a meaningless figure.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from lgwan_sim._resources import bundled_dir
from lgwan_sim.errors import InputError, TopologyError
from lgwan_sim.lgpki import default_pki_dir
from lgwan_sim.network import build_national
from lgwan_sim.network._national import national_spec_path
from tests.support import CliResult

PACKET_ZOOM = (bundled_dir("scenarios") / "packet-zoom.yaml").read_text(encoding="utf-8")
ASP_LINE = '{a: core, b: dc-a, capacity_bps: 1.0e+9, basis: "assumption: 1 Gbit/s ASP line"}'
MAIL = "mail-relay: {primary: dc-a, secondary: dc-b, requests_per_day: 20000}"
SURGE = '{at: "+3h", kind: demand_surge, service: directory, multiplier: 3, until: "+3h30m"}'
LOSS = '{at: "+2h", kind: dc_loss, site: dc-a, detection_s: 30, switchover_s: 120, until: "+3h"}'
HUGE_INT = str(10**400)  # an integer YAML reads exactly, too large for a float


def _link(extra: str) -> tuple[str, str]:
    return ASP_LINE, "{a: core, b: dc-a, capacity_bps: 1.0e+9, " + extra + "}"


#: name: (text replaced in packet-zoom.yaml, its replacement, the field the error names)
SCENARIO_CASES: dict[str, tuple[str, str, str]] = {
    # the three reproductions
    "capacity_bps .inf": (ASP_LINE, "{a: core, b: dc-a, capacity_bps: .inf}", "topology.inline.links[0].capacity_bps"),
    "requests_per_day 1e300": (MAIL, MAIL.replace("20000", "1.0e+300"), "services.mail-relay.requests_per_day"),
    "delay_s .inf": (*_link("delay_s: .inf"), "topology.inline.links[0].delay_s"),
    # every other kind of bad number, field by field
    "capacity_bps .nan": (ASP_LINE, "{a: core, b: dc-a, capacity_bps: .nan}", "topology.inline.links[0].capacity_bps"),
    "capacity_bps 1e300": (ASP_LINE, "{a: core, b: dc-a, capacity_bps: 1.0e+300}", "topology.inline.links[0].capacity_bps"),
    "capacity_bps huge integer": (ASP_LINE, "{a: core, b: dc-a, capacity_bps: " + HUGE_INT + "}", "topology.inline.links[0].capacity_bps"),
    "delay_s 1e300": (*_link("delay_s: 1.0e+300"), "topology.inline.links[0].delay_s"),
    "metric .inf": (*_link("metric: .inf"), "topology.inline.links[0].metric"),
    "metric -.inf": (*_link("metric: -.inf"), "topology.inline.links[0].metric"),
    "site lat .nan": ("lat: 35.69, lon: 139.74", "lat: .nan, lon: 139.74", "topology.inline.sites[1].lat"),
    "site lon huge integer": ("lat: 35.69, lon: 139.74", "lat: 35.69, lon: " + HUGE_INT, "topology.inline.sites[1].lon"),
    "requests_per_day .inf": (MAIL, MAIL.replace("20000", ".inf"), "services.mail-relay.requests_per_day"),
    "requests_per_day huge integer": (MAIL, MAIL.replace("20000", HUGE_INT), "services.mail-relay.requests_per_day"),
    "service multiplier .inf": (MAIL, MAIL.replace("20000", "20000, multiplier: .inf"), "services.mail-relay.multiplier"),
    "service multiplier 1e300": (MAIL, MAIL.replace("20000", "20000, multiplier: 1.0e+300"), "services.mail-relay.multiplier"),
    "service growth .nan": (MAIL, MAIL.replace("20000", "20000, growth_per_year: .nan"), "services.mail-relay.growth_per_year"),
    "service volume overflows": (MAIL, MAIL.replace("20000", "1.0e+9, multiplier: 1000"), "services.mail-relay"),
    "demand multiplier .inf": ("seed: 7", "seed: 7\ndemand: {multiplier: .inf}", "demand.multiplier"),
    "demand multiplier 1e300": ("seed: 7", "seed: 7\ndemand: {multiplier: 1.0e+300}", "demand.multiplier"),
    "seed huge integer": ("seed: 7", "seed: " + HUGE_INT, "seed"),
    "engine bin_s .inf": ("engine: {bin_s: 300}", "engine: {bin_s: .inf}", "engine.bin_s"),
    "convergence .inf": ("engine: {bin_s: 300}", "engine: {bin_s: 300, convergence_delay_s: .inf}", "engine.convergence_delay_s"),
    "surge multiplier .nan": (SURGE, SURGE.replace("multiplier: 3", "multiplier: .nan"), "events[2].multiplier"),
    "detection_s .inf": (LOSS, LOSS.replace("detection_s: 30", "detection_s: .inf"), "events[1].detection_s"),
    "switchover_s 1e300": (LOSS, LOSS.replace("switchover_s: 120", "switchover_s: 1.0e+300"), "events[1].switchover_s"),
    "capacity event .inf": (SURGE, SURGE + '\n  - {at: "+1h", kind: capacity, links: [m1~core], capacity_bps: .inf}', "events[3].capacity_bps"),
    "capacity event scale 1e300": (SURGE, SURGE + '\n  - {at: "+1h", kind: capacity, links: [m1~core], scale: 1.0e+300}', "events[3].scale"),
    "region radius .inf": (SURGE, SURGE + '\n  - {at: "+1h", kind: region_down, center: [39.7, 141.1], radius_km: .inf}', "events[3].radius_km"),
    "edit capacity .inf": ("seed: 7", "seed: 7\nedits:\n  - {kind: capacity, links: [m1~core], capacity_bps: .inf}", "edits[0].capacity_bps"),
    "edit scale 1e300": ("seed: 7", "seed: 7\nedits:\n  - {kind: capacity, links: [m1~core], scale: 1.0e+300}", "edits[0].scale"),
    "edit backup penalty .inf": ("seed: 7", "seed: 7\nedits:\n  - {kind: backup_lines, sites: [m1], capacity_bps: 1.0e+7, to: dc-b, metric_penalty_s: .inf}", "edits[0].metric_penalty_s"),
}  # fmt: skip


def _line_of(text: str, fragment: str) -> int:
    """The line of the last line of ``fragment`` in ``text`` (1-based)."""
    end = text.index(fragment) + len(fragment)
    return text.count("\n", 0, end) + 1


def _run_fails_cleanly(tmp_path: Path, cli: Callable[..., CliResult], args: list[str]) -> list[str]:
    """Run the command; assert exit 2, nothing on stdout, nothing written; the stderr lines."""
    before = sorted(tmp_path.rglob("*"))
    code, out, err = cli(*args)
    assert code == 2, err
    assert out == ""
    assert sorted(tmp_path.rglob("*")) == before, "something was written"
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines


@pytest.mark.parametrize("case", list(SCENARIO_CASES), ids=list(SCENARIO_CASES))
@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_bad_number_in_a_scenario_is_one_line_and_exit_2(
    tmp_path: Path, cli: Callable[..., CliResult], case: str, command: str
) -> None:
    old, new, field = SCENARIO_CASES[case]
    assert old in PACKET_ZOOM
    text = PACKET_ZOOM.replace(old, new, 1)
    path = tmp_path / "study.yaml"
    path.write_text(text, encoding="utf-8")
    args = [command, str(path)]
    if command == "run":
        args += ["--out", str(tmp_path / "out"), "--fidelity", "analytic", "--no-plots"]
    (line,) = _run_fails_cleanly(tmp_path, cli, args)
    assert line.startswith(f"lgwan-sim: error: {path}:{_line_of(text, new)}: {field}: "), line
    assert "(got " in line


TOPOLOGY = """\
name: two
sites:
  - {id: a, kind: municipality, prefecture: "03", lat: 39.7, lon: 141.1}
  - {id: b, kind: central, lat: 35.7, lon: 139.8}
links:
  - {a: a, b: b, capacity_bps: 1.0e+8}
"""


@pytest.mark.parametrize(
    ("new", "field"),
    [
        ("capacity_bps: .inf}", "links[0].capacity_bps"),
        ("capacity_bps: 1.0e+8, delay_s: .inf}", "links[0].delay_s"),
        ("capacity_bps: 1.0e+8, delay_s: 1.0e+300}", "links[0].delay_s"),
        ("capacity_bps: 1.0e+8, metric: .nan}", "links[0].metric"),
        (f"capacity_bps: {HUGE_INT}}}", "links[0].capacity_bps"),
    ],
)
@pytest.mark.parametrize("command", ["topology", "run"])
def test_a_bad_number_in_a_topology_file_is_one_line_and_exit_2(
    tmp_path: Path, cli: Callable[..., CliResult], new: str, field: str, command: str
) -> None:
    text = TOPOLOGY.replace("capacity_bps: 1.0e+8}", new)
    topo = tmp_path / "two.yaml"
    topo.write_text(text, encoding="utf-8")
    if command == "topology":
        args = ["topology", "summary", "--topology", str(topo)]
    else:
        scenario = tmp_path / "study.yaml"
        scenario.write_text(
            "topology: {file: two.yaml}\nonly_services: [mail-relay]\n"
            "services:\n  mail-relay: {primary: b, secondary: null}\n"
            'start: "2026-02-16T08:00"\nduration: 1h\nseed: 1\n',
            encoding="utf-8",
        )
        args = ["run", str(scenario), "--out", str(tmp_path / "out"), "--no-plots"]
    (line,) = _run_fails_cleanly(tmp_path, cli, args)
    assert line.startswith(f"lgwan-sim: error: {topo}:6: {field}: "), line
    assert "(got " in line


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("  value: 300\n", "  value: .inf\n", "requests_per_day.value"),
        ("  value: 300\n", "  value: 1.0e+300\n", "requests_per_day.value"),
        ("mean_bytes: 200000", "mean_bytes: .inf", "request_size.mean_bytes"),
        ("mean_bytes: 200000", f"mean_bytes: {HUGE_INT}", "request_size.mean_bytes"),
    ],
)
def test_a_bad_number_in_a_service_file_is_one_line_and_exit_2(
    tmp_path: Path, cli: Callable[..., CliResult], old: str, new: str, field: str
) -> None:
    catalogue = tmp_path / "services"
    shutil.copytree(bundled_dir("services"), catalogue)
    service = catalogue / "eltax" / "service.yaml"
    text = service.read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, 1)
    service.write_text(text, encoding="utf-8")
    scenario = tmp_path / "study.yaml"
    scenario.write_text(
        'topology: national\ncatalogue: services\nstart: "2026-02-16T08:00"\n'
        "duration: 1h\nseed: 1\n",
        encoding="utf-8",
    )
    (line,) = _run_fails_cleanly(tmp_path, cli, ["validate", str(scenario)])
    assert line.startswith(f"lgwan-sim: error: {service}:{_line_of(text, new.strip())}: "), line
    assert f"{field}: " in line
    assert "(got " in line


@pytest.mark.parametrize(
    ("file", "old", "new", "field"),
    [
        ("hierarchy.yaml", "next_update_hours: 48", "next_update_hours: .inf", "next_update_hours"),
        ("hierarchy.yaml", "next_update_hours: 48", "next_update_hours: .nan", "next_update_hours"),
        ("migration.yaml", "laggard_ratio: 0.02", "laggard_ratio: .nan", "laggard_ratio"),
        ("migration.yaml", "seed: 2008", f"seed: {HUGE_INT}", "seed"),
    ],
)
def test_a_bad_number_in_a_pki_file_is_one_line_and_exit_2(
    tmp_path: Path,
    cli: Callable[..., CliResult],
    file: str,
    old: str,
    new: str,
    field: str,
) -> None:
    folder = tmp_path / "pki"
    shutil.copytree(default_pki_dir(), folder)
    target = folder / file
    text = target.read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, 1)
    target.write_text(text, encoding="utf-8")
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("a passphrase for the test\n", encoding="utf-8")
    home = tmp_path / "home"
    args = ["pki", "--home", str(home), "--passphrase-file", str(passphrase)]
    if file == "migration.yaml":
        args += ["migrate", "--plan", str(target)]
    else:
        args += ["init", "--pki-dir", str(folder)]
    (line,) = _run_fails_cleanly(tmp_path, cli, args)
    assert line.startswith(f"lgwan-sim: error: {target}:{_line_of(text, new)}: {field}: "), line
    assert "(got " in line


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("equipment_delay_s: 0.0001", "equipment_delay_s: .inf", "links.equipment_delay_s"),
        ("municipality_access_bps: 1.0e+8", "municipality_access_bps: .inf", "links.municipality_access_bps"),
        ("spacing_km: 12.0", "spacing_km: 1.0e+300", "placement.spacing_km"),
        ("capacity_bps: 1.0e+7", "capacity_bps: .inf", "links.backup.capacity_bps"),
    ],
)  # fmt: skip
def test_a_bad_number_in_national_yaml_is_one_error_naming_its_line(
    tmp_path: Path, old: str, new: str, field: str
) -> None:
    folder = tmp_path / "topology"
    folder.mkdir()
    shutil.copy(national_spec_path().parent / "prefectures.csv", folder / "prefectures.csv")
    text = national_spec_path().read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, 1)
    (folder / "national.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(TopologyError) as info:
        build_national(spec=folder / "national.yaml", backup_lines=True)
    assert (info.value.field, info.value.line) == (field, _line_of(text, new))
    assert "\n" not in str(info.value)


def test_a_50000_deep_nesting_names_its_line(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("name: deep\n\nsites: " + "[" * 50_000 + "]" * 50_000 + "\n", encoding="utf-8")
    (line,) = _run_fails_cleanly(tmp_path, cli, ["topology", "summary", "--topology", str(path)])
    assert line.startswith(f"lgwan-sim: error: {path}:3: invalid YAML: nested more than "), line


def test_the_reader_refuses_infinity_for_every_field(tmp_path: Path) -> None:
    from lgwan_sim._yaml import Reader, load_yaml

    path = tmp_path / "doc.yaml"
    path.write_text("a: .inf\nb: -.inf\nc: 1.0e+300\n", encoding="utf-8")
    doc = load_yaml(path)
    rd = Reader(path)
    for key in ("a", "b"):
        with pytest.raises(InputError, match="must be a finite number"):
            rd.number(doc, key, key)
    with pytest.raises(InputError, match=r":3: c: must be <= 1e\+15 \(got 1e\+300\)$"):
        rd.number(doc, "c", "c")
