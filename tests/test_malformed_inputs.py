"""Malformed input files give one InputError naming the file, line, field and value.

Each case below once escaped a loader as a raw Python error (``ValueError``,
``OverflowError``, ``TypeError: unhashable type``, ``UnicodeDecodeError``), escaped later
from the code that used what the loader accepted, or named no file at all.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from lgwan_sim._resources import bundled_dir
from lgwan_sim.errors import InputError, ScenarioError, TopologyError
from lgwan_sim.lgpki import default_pki_dir, load_hierarchy, load_migration_plan
from lgwan_sim.network import build_national, load_prefectures, load_roster
from lgwan_sim.network._national import national_spec_path
from lgwan_sim.scenario import engine_inputs, load_scenario


def _edit(path: Path, old: str, new: str) -> None:
    """Replace the first ``old`` in ``path`` with ``new`` (the line numbers stay put)."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _pki(tmp_path: Path, file: str, old: str, new: str) -> Path:
    folder = tmp_path / "pki"
    shutil.copytree(default_pki_dir(), folder)
    _edit(folder / file, old, new)
    return folder / file


def _national(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "topology"
    folder.mkdir()
    shutil.copy(national_spec_path(), folder / "national.yaml")
    shutil.copy(national_spec_path().parent / "prefectures.csv", folder / "prefectures.csv")
    _edit(folder / "national.yaml", old, new)
    return folder / "national.yaml"


def _prefectures(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "prefectures.csv"
    shutil.copy(national_spec_path().parent / "prefectures.csv", path)
    _edit(path, old, new)
    return path


def _scenario(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "packet-zoom.yaml"
    shutil.copy(bundled_dir("scenarios") / "packet-zoom.yaml", path)
    _edit(path, old, new)
    return path


def _load_scenario(path: Path) -> object:
    return engine_inputs(load_scenario(path))


def _load_pki(path: Path) -> object:
    return load_hierarchy(path.parent)


def _load_national(path: Path) -> object:
    return build_national(spec=path)


# (make the bad file, load it, error class, field, value (None: any), line)
Case = tuple[
    Callable[[Path], Path], Callable[[Path], object], type[InputError], str, object, int | None
]

CASES: dict[str, Case] = {
    # int() of NaN / infinity: ValueError / OverflowError
    "pki ca_validity_days .nan": (
        lambda p: _pki(p, "hierarchy.yaml", "ca_validity_days: 7300", "ca_validity_days: .nan"),
        _load_pki,
        InputError,
        "ca_validity_days",
        math.nan,
        27,
    ),
    "pki validity_days .inf": (
        lambda p: _pki(p, "profiles.yaml", "validity_days: 1095", "validity_days: .inf"),
        _load_pki,
        InputError,
        "validity_days",
        math.inf,
        19,
    ),
    "pki validity_days -.inf": (
        lambda p: _pki(p, "profiles.yaml", "validity_days: 1095", "validity_days: -.inf"),
        _load_pki,
        InputError,
        "validity_days",
        -math.inf,
        19,
    ),
    # accepted, then OverflowError when a CA computed its dates
    "pki validity_days huge": (
        lambda p: _pki(p, "profiles.yaml", "validity_days: 1095", f"validity_days: {10**30}"),
        _load_pki,
        InputError,
        "validity_days",
        10**30,
        19,
    ),
    "pki next_update_hours huge": (
        lambda p: _pki(p, "hierarchy.yaml", "next_update_hours: 48", "next_update_hours: 1.0e+30"),
        _load_pki,
        InputError,
        "next_update_hours",
        1.0e30,
        110,
    ),
    # accepted, then ValueError from the certificate library (a common name is <= 64 chars)
    "pki CA name too long": (
        lambda p: _pki(
            p, "hierarchy.yaml", "name: GPKI Bridge CA (simulated)", "name: " + "x" * 65
        ),
        _load_pki,
        InputError,
        "name",
        "x" * 65,
        42,
    ),
    # a mapping or list where a profile name goes: TypeError: unhashable type
    "pki bulk profile is a mapping": (
        lambda p: _pki(p, "profiles.yaml", "  prefecture: role", "  prefecture: {a: 1}"),
        _load_pki,
        InputError,
        "prefecture",
        {"a": 1},
        64,
    ),
    "pki bulk profile is a list": (
        lambda p: _pki(p, "profiles.yaml", "  municipality: role", "  municipality: [role]"),
        _load_pki,
        InputError,
        "municipality",
        ["role"],
        65,
    ),
    # an unknown key in a section that was not checked
    "pki revocation unknown key": (
        lambda p: _pki(p, "hierarchy.yaml", "  delta_every_hours: 1", "  delta_every_hour: 1"),
        _load_pki,
        InputError,
        "delta_every_hour",
        "delta_every_hour",
        113,
    ),
    # accepted, then ValueError / OverflowError when the migration made its CAs
    "pki migration before 1950": (
        lambda p: _pki(p, "migration.yaml", "g1_start: 2008-04-01", "g1_start: 0001-04-01"),
        load_migration_plan,
        InputError,
        "g1_start",
        None,
        7,
    ),
    "pki migration near year 9999": (
        lambda p: _pki(
            p,
            "migration.yaml",
            "algorithm_compromise: 2017-02-23",
            "algorithm_compromise: 9999-02-23",
        ),
        load_migration_plan,
        InputError,
        "algorithm_compromise",
        None,
        13,
    ),
    # a position outside the globe: a TopologyError that named no file
    "national lat .inf": (
        lambda p: _national(p, "lat: 35.6812", "lat: .inf"),
        _load_national,
        TopologyError,
        "central_sites[0].lat",
        math.inf,
        13,
    ),
    "national lon huge": (
        lambda p: _national(p, "lon: 139.7500", f"lon: {10**30}"),
        _load_national,
        TopologyError,
        "gov_gateway[0].lon",
        10**30,
        19,
    ),
    # a mapping as a campus: built, then unhashable wherever campuses are collected
    "national campus is a mapping": (
        lambda p: _national(p, "campus: east", "campus: {a: 1}"),
        _load_national,
        TopologyError,
        "central_sites[0].campus",
        {"a": 1},
        13,
    ),
    "national backup.enabled is a mapping": (
        lambda p: _national(p, "enabled: false", "enabled: {a: 1}"),
        _load_national,
        TopologyError,
        "links.backup.enabled",
        {"a": 1},
        56,
    ),
    # a short row: float(None) / int(None) raised TypeError
    "prefecture table short row": (
        lambda p: _prefectures(p, "Sapporo,43.0640,141.3479,179", "Sapporo,43.0640"),
        load_prefectures,
        TopologyError,
        "lon",
        None,
        2,
    ),
    # a count so large that building the topology would not finish
    "prefecture table huge municipality count": (
        lambda p: _prefectures(p, "141.3479,179", "141.3479,1000000000"),
        load_prefectures,
        TopologyError,
        "municipalities",
        1_000_000_000,
        2,
    ),
    # accepted, then ValueError / OverflowError from the demand profile's calendar
    "scenario starts in year 1": (
        lambda p: _scenario(p, 'start: "2026-02-16T08:00"', 'start: "0001-01-01T00:00"'),
        _load_scenario,
        ScenarioError,
        "start",
        "0001-01-01T00:00",
        29,
    ),
    "scenario ends after year 9998": (
        lambda p: _scenario(p, 'start: "2026-02-16T08:00"', 'start: "9999-12-31T23:00"'),
        _load_scenario,
        ScenarioError,
        "start",
        "9999-12-31T23:00",
        29,
    ),
    # a mapping, list or number where a label goes: once turned into text without a word
    "inline site name is a mapping": (
        lambda p: _scenario(p, "name: East central site}", "name: {a: 1}}"),
        _load_scenario,
        ScenarioError,
        "topology.inline.sites[0].name",
        {"a": 1},
        15,
    ),
    "inline link basis is a list": (
        lambda p: _scenario(p, 'basis: "assumption: 1 Gbit/s ASP line"}', "basis: [x]}"),
        _load_scenario,
        ScenarioError,
        "topology.inline.links[0].basis",
        ["x"],
        21,
    ),
    "national site name_ja is a number": (
        lambda p: _national(p, "name_ja: 東日本センター", "name_ja: 12"),
        _load_national,
        TopologyError,
        "central_sites[0].name_ja",
        12,
        13,
    ),
}


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_malformed_input_is_one_input_error(tmp_path: Path, case: str) -> None:
    make, load, error, field, value, line = CASES[case]
    path = make(tmp_path)
    with pytest.raises(error) as info:
        load(path)
    exc = info.value
    message = str(exc)
    assert exc.file == str(path)
    assert path.name in message
    assert exc.field == field
    assert field in message
    if value is not None:
        assert _same(exc.value, value)
    if line is not None:
        assert exc.line == line
    assert "\n" not in message


def test_prefecture_table_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "prefectures.csv"
    text = (national_spec_path().parent / "prefectures.csv").read_text(encoding="utf-8")
    path.write_bytes(text.encode("shift_jis"))
    with pytest.raises(TopologyError, match=r"prefectures\.csv: prefecture table is not UTF-8"):
        load_prefectures(path)


def test_roster_non_finite_latitude(tmp_path: Path, roster_path: Path) -> None:
    lines = roster_path.read_text(encoding="utf-8-sig").splitlines()
    header, first = lines[0], lines[1].split(",")
    first[header.split(",").index("lat")] = "nan"
    bad = tmp_path / "roster.csv"
    bad.write_text("\n".join([header, ",".join(first), *lines[2:10]]) + "\n", encoding="utf-8")
    prefectures = {p.code: p for p in load_prefectures()}
    with pytest.raises(TopologyError) as info:
        load_roster(bad, prefectures=prefectures)
    assert info.value.file == str(bad)
    assert info.value.line == 2
    assert info.value.field == "lat"
    assert info.value.value == "nan"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("ca_validity_days: 7300", "ca_validity_days: .inf", "ca_validity_days"),
        ("  prefecture: role", "  prefecture: {a: 1}", "prefecture"),
    ],
    ids=["validity-inf", "bulk-mapping"],
)
def test_cli_pki_init_bad_config_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, expected: str
) -> None:
    from lgwan_sim.cli import main

    file = "hierarchy.yaml" if old.startswith("ca_") else "profiles.yaml"
    bad = _pki(tmp_path, file, old, new)
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("a passphrase for the test\n", encoding="utf-8")
    home = tmp_path / "home"
    args = ["pki", "--home", str(home), "--passphrase-file", str(passphrase)]
    code = main([*args, "init", "--pki-dir", str(bad.parent)])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.splitlines()) == 1
    assert f"{file}:" in err
    assert expected in err
    assert "Traceback" not in err
    assert not home.exists()


@pytest.mark.parametrize(
    ("text", "expected", "line"),
    [
        (b"name: small\nsites: [\x00]\n", "invalid YAML: unacceptable character #x0000", 2),
        (
            b"sites: " + b"[" * 5000 + b"]" * 5000 + b"\n",
            "invalid YAML: nested more than 100 levels deep",
            1,
        ),
    ],
    ids=["nul-character", "nested-too-deeply"],
)
def test_cli_unreadable_yaml_one_line_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: bytes,
    expected: str,
    line: int | None,
) -> None:
    from lgwan_sim.cli import main

    path = tmp_path / "topo.yaml"
    path.write_bytes(text)
    code = main(["topology", "summary", "--topology", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.splitlines()) == 1
    where = str(path) if line is None else f"{path}:{line}"
    assert f"{where}: {expected}" in err
