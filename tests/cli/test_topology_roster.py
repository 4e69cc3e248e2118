"""``--roster``: what the help promises is what the loader reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lgwan_sim.cli import main
from lgwan_sim.network import ROSTER_COLUMNS

COMMANDS = ("summary", "route", "failure", "export", "map")


@pytest.mark.parametrize("command", COMMANDS)
def test_help_names_the_columns_the_loader_requires(capsys, command: str) -> None:
    assert main(["topology", command, "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "Required columns: lgcode,pref_code,name,lat,lon;" in help_text
    assert "pref and name_kana, are ignored" in help_text
    assert ",".join(ROSTER_COLUMNS) == "lgcode,pref_code,name,lat,lon"


def test_a_roster_with_only_the_required_columns_loads(tmp_path: Path, capsys) -> None:
    roster = tmp_path / "five.csv"
    roster.write_text(
        "lat,lon,name,pref_code,lgcode\n43.06,141.35,Sapporo,01,011002\n", encoding="utf-8"
    )
    code = main(["topology", "summary", "--roster", str(roster), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["sites_by_kind"]["municipality"] == 1


def test_a_roster_without_a_required_column_is_refused(tmp_path: Path, capsys) -> None:
    roster = tmp_path / "four.csv"
    roster.write_text("lgcode,pref_code,pref,name,name_kana,lat\n011002,01,x,y,z,43.0\n")
    assert main(["topology", "summary", "--roster", str(roster)]) == 2
    assert "lon" in capsys.readouterr().err


def _one_per_prefecture(tmp_path: Path, *, skip: tuple[str, ...] = ()) -> Path:
    """A roster with one municipality at each prefectural office (less ``skip``)."""
    from lgwan_sim.network import load_prefectures

    rows = [
        f"{p.code}0001,{p.code},{p.name_en} town,{p.lat},{p.lon}"
        for p in load_prefectures()
        if p.code not in skip
    ]
    path = tmp_path / "one_each.csv"
    path.write_text("lgcode,pref_code,name,lat,lon\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_partial_roster_warns_on_one_line_and_still_builds(tmp_path: Path, capsys) -> None:
    roster = _one_per_prefecture(tmp_path, skip=("03", "04", "07"))
    code = main(["topology", "summary", "--roster", str(roster), "--json"])
    out, err = capsys.readouterr()
    assert code == 0
    assert json.loads(out)["sites_by_kind"]["municipality"] == 44
    assert err.count("\n") == 1
    assert err.startswith(
        "lgwan-sim: warning: roster one_each.csv has 44 municipalities, not 1,741"
    )
    assert "3 of 47 prefectures have none (03 Iwate, 04 Miyagi, 07 Fukushima)" in err


def test_a_roster_covering_every_prefecture_but_short_warns_about_the_count(
    tmp_path: Path, capsys
) -> None:
    roster = _one_per_prefecture(tmp_path)
    assert main(["topology", "failure", "pn-03", "--roster", str(roster), "--json"]) == 0
    err = capsys.readouterr().err
    assert err == "lgwan-sim: warning: roster one_each.csv has 47 municipalities, not 1,741\n"


def test_the_first_99_rows_of_the_real_roster_warn(tmp_path: Path, capsys, roster_path) -> None:
    lines = roster_path.read_text(encoding="utf-8-sig").splitlines()
    partial = tmp_path / "partial.csv"
    partial.write_text("\n".join(lines[:100]) + "\n", encoding="utf-8")
    code = main(["topology", "summary", "--roster", str(partial), "--json"])
    out, err = capsys.readouterr()
    assert code == 0
    assert json.loads(out)["sites"] == 211  # 99 municipalities and 112 other sites
    assert err.startswith("lgwan-sim: warning: roster partial.csv has 99 municipalities")
    assert "46 of 47 prefectures have none (02 Aomori, 03 Iwate," in err
    assert "and 41 more" in err
    assert err.count("\n") == 1


def test_the_full_real_roster_does_not_warn(capsys, roster_path) -> None:
    assert main(["topology", "summary", "--roster", str(roster_path), "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert json.loads(out)["sites_by_kind"]["municipality"] == 1741


def test_the_library_issues_a_roster_warning(tmp_path: Path) -> None:
    from lgwan_sim.network import RosterWarning, build_national

    roster = _one_per_prefecture(tmp_path, skip=("47",))
    with pytest.warns(RosterWarning, match=r"1 of 47 prefectures has none \(47 Okinawa\)"):
        topo = build_national(roster=roster)
    assert not [s for s in topo.sites_in_prefecture("47") if s.id.startswith("mun-")]
    heard: list[str] = []
    build_national(roster=roster, on_warning=heard.append)  # no warning: filterwarnings=error
    assert len(heard) == 1
