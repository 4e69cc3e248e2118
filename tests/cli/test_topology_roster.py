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
