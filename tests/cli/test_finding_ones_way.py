"""Finding one's way: a bundled scenario shown and copied, and the sites found by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lgwan_sim._resources import bundled_dir
from lgwan_sim.cli import main


def _run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_scenarios_show_prints_the_bundled_file_as_it_is(capsys):
    code, out, _ = _run(capsys, "scenarios", "show", "tohoku-2011")
    assert code == 0
    assert out == (bundled_dir("scenarios") / "tohoku-2011.yaml").read_text(encoding="utf-8")


def test_scenarios_show_of_an_unknown_name_suggests_one(capsys):
    code, out, err = _run(capsys, "scenarios", "show", "tohoku2011")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "did you mean 'tohoku-2011'?" in err


def test_scenarios_copy_writes_a_file_that_runs_and_refuses_to_overwrite(capsys, tmp_path):
    target = tmp_path / "mine.yaml"
    code, out, _ = _run(capsys, "scenarios", "copy", "packet-zoom", target)
    assert code == 0
    assert target.read_text(encoding="utf-8") == (
        bundled_dir("scenarios") / "packet-zoom.yaml"
    ).read_text(encoding="utf-8")
    assert str(target) in out
    assert _run(capsys, "validate", target)[0] == 0
    target.write_text("# my edits\n", encoding="utf-8")
    code, _, err = _run(capsys, "scenarios", "copy", "packet-zoom", target)
    assert code == 2
    assert err.count("\n") == 1
    assert "exists" in err
    assert "--force" in err
    assert target.read_text(encoding="utf-8") == "# my edits\n"
    assert _run(capsys, "scenarios", "copy", "packet-zoom", target, "--force")[0] == 0
    assert target.read_text(encoding="utf-8").startswith("# A morning")


def test_scenarios_copy_into_a_missing_folder_is_one_line(capsys, tmp_path):
    code, _, err = _run(capsys, "scenarios", "copy", "packet-zoom", tmp_path / "no" / "x.yaml")
    assert code == 2
    assert err.count("\n") == 1
    assert not (tmp_path / "no").exists()


def _roster(tmp_path: Path) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(
        "lgcode,pref_code,name,lat,lon\n"
        "032018,03,盛岡市,39.7020,141.1545\n"
        "032026,03,宮古市,39.6414,141.9570\n"
        "041009,04,仙台市,38.2682,140.8694\n",
        encoding="utf-8",
    )
    return path


def test_topology_sites_finds_moriokas_id_in_a_roster(capsys, tmp_path):
    code, out, _ = _run(
        capsys, "topology", "sites", "--roster", _roster(tmp_path), "--grep", "盛岡市"
    )
    assert code == 0
    lines = [x for x in out.splitlines() if x.strip()]
    assert len(lines) == 1
    assert lines[0].split()[0] == "mun-032018"
    assert "盛岡市" in lines[0]


def test_topology_sites_json_lists_matches_by_id_name_or_kind(capsys, tmp_path):
    code, out, _ = _run(
        capsys, "topology", "sites", "--roster", _roster(tmp_path), "--grep", "iwate", "--json"
    )
    assert code == 0
    sites = json.loads(out)
    ids = [s["id"] for s in sites]
    assert ids == ["pn-03", "pref-03"]  # the municipalities' names are in Japanese only
    assert sites[0]["kind"] == "prefecture_node"
    assert sites[0]["name_ja"] == "岩手県ノード"
    code, out, _ = _run(capsys, "topology", "sites", "--grep", "MUN-03-00", "--json")
    assert [s["id"] for s in json.loads(out)] == [f"mun-03-00{i}" for i in range(1, 10)]


def test_topology_sites_without_a_match_says_so_and_exits_1(capsys):
    code, out, _ = _run(capsys, "topology", "sites", "--grep", "盛岡市")
    assert code == 1
    assert "no site matches '盛岡市'" in out
    assert "--roster" in out  # the synthetic municipalities have no real names


def test_topology_sites_lists_every_site_without_grep(capsys):
    from lgwan_sim.network import build_national

    code, out, _ = _run(capsys, "topology", "sites", "--json")
    assert code == 0
    assert [s["id"] for s in json.loads(out)] == sorted(build_national().sites)
