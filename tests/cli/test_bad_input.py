"""Every malformed input gives one line naming the file, field and value, and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from lgwan_sim.cli import main

HEADER = "lgcode,pref_code,pref,name,name_kana,lat,lon\n"
GOOD_ROW = "011002,01,北海道,札幌市,さっぽろし,43.06,141.35\n"

SMALL = """\
name: small
sites:
  - {id: a, kind: municipality, lat: 35.0, lon: 135.0}
  - {id: b, kind: prefecture_node, lat: 35.1, lon: 135.1}
links:
  - {a: a, b: b, capacity_bps: 1.0e+8}
"""


def _roster(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def _sjis_roster(tmp_path: Path) -> Path:
    path = tmp_path / "roster.csv"
    path.write_bytes((HEADER + GOOD_ROW).encode("shift_jis"))
    return path


def _topo(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "topo.yaml"
    path.write_text(text, encoding="utf-8")
    return path


CASES = {
    "roster missing column": (
        lambda p: [
            "topology",
            "summary",
            "--roster",
            str(_roster(p, "011002,01,x,札幌市,x,43.0\n", HEADER.replace(",lon", ""))),
        ],
        ["roster.csv:1", "lon", "missing column"],
    ),
    "roster unknown prefecture": (
        lambda p: [
            "topology",
            "summary",
            "--roster",
            str(_roster(p, GOOD_ROW + "481001,48,x,Nowhere,x,35.0,135.0\n")),
        ],
        ["roster.csv:3", "pref_code", "'48'"],
    ),
    "roster duplicate code": (
        lambda p: ["topology", "summary", "--roster", str(_roster(p, GOOD_ROW + GOOD_ROW))],
        ["roster.csv:3", "lgcode", "duplicate", "'011002'"],
    ),
    "roster bad coordinate": (
        lambda p: [
            "topology",
            "summary",
            "--roster",
            str(_roster(p, "011002,01,x,札幌市,x,forty-three,141.35\n")),
        ],
        ["roster.csv:2", "lat", "'forty-three'"],
    ),
    "roster coordinate outside Japan": (
        lambda p: [
            "topology",
            "summary",
            "--roster",
            str(_roster(p, "011002,01,x,札幌市,x,43.06,14.35\n")),
        ],
        ["roster.csv:2", "lon", "outside Japan", "'14.35'"],
    ),
    "roster empty name": (
        lambda p: [
            "topology",
            "summary",
            "--roster",
            str(_roster(p, "011002,01,x,,x,43.06,141.35\n")),
        ],
        ["roster.csv:2", "name", "empty"],
    ),
    "roster in Shift_JIS": (
        lambda p: ["topology", "summary", "--roster", str(_sjis_roster(p))],
        ["roster.csv", "not UTF-8", "Shift_JIS"],
    ),
    "roster missing file": (
        lambda p: ["topology", "summary", "--roster", str(p / "absent.csv")],
        ["absent.csv", "cannot read roster"],
    ),
    "negative capacity": (
        lambda p: [
            "topology",
            "summary",
            "--topology",
            str(_topo(p, SMALL.replace("1.0e+8", "-5"))),
        ],
        ["topo.yaml:6", "links[0].capacity_bps", "must be > 0", "-5"],
    ),
    "number that YAML reads as text": (
        lambda p: [
            "topology",
            "summary",
            "--topology",
            str(_topo(p, SMALL.replace("1.0e+8", "1e8"))),
        ],
        ["topo.yaml:6", "links[0].capacity_bps", "write 1.0e+9", "(got '1e8')"],
    ),
    "dangling link": (
        lambda p: [
            "topology",
            "summary",
            "--topology",
            str(_topo(p, SMALL.replace("{a: a, b: b", "{a: a, b: zz"))),
        ],
        ["topo.yaml:6", "links[0].b", "does not exist", "'zz'"],
    ),
    "duplicate site id": (
        lambda p: [
            "topology",
            "summary",
            "--topology",
            str(_topo(p, SMALL.replace("id: b,", "id: a,"))),
        ],
        ["topo.yaml:4", "sites[1].id", "duplicate", "'a'"],
    ),
    "unknown site kind": (
        lambda p: [
            "topology",
            "summary",
            "--topology",
            str(_topo(p, SMALL.replace("prefecture_node", "castle"))),
        ],
        ["topo.yaml:4", "sites[1].kind", "'castle'"],
    ),
    "unknown key": (
        lambda p: [
            "topology",
            "summary",
            "--topology",
            str(_topo(p, SMALL.replace("lat: 35.1", "latitude: 35.1"))),
        ],
        ["topo.yaml:4", "sites[1].latitude", "unknown key"],
    ),
    "duplicate link": (
        lambda p: [
            "topology",
            "summary",
            "--topology",
            str(_topo(p, SMALL + "  - {a: b, b: a, capacity_bps: 1.0e+6}\n")),
        ],
        ["topo.yaml:7", "links[1]", "duplicate link", "'b~a'"],
    ),
    "duplicate key": (
        lambda p: [
            "topology",
            "summary",
            "--topology",
            str(
                _topo(p, SMALL.replace("capacity_bps: 1.0e+8", "capacity_bps: 1, capacity_bps: 2"))
            ),
        ],
        ["topo.yaml:6", "duplicate key 'capacity_bps'"],
    ),
    "broken YAML": (
        lambda p: [
            "topology",
            "summary",
            "--topology",
            str(_topo(p, SMALL.replace("links:", "links: ["))),
        ],
        ["topo.yaml:", "invalid YAML"],
    ),
    "prefecture code read as a number": (
        lambda p: [
            "topology",
            "summary",
            "--topology",
            str(
                _topo(
                    p, SMALL.replace("kind: municipality,", "kind: municipality, prefecture: 03,")
                )
            ),
        ],
        ["topo.yaml:3", "sites[0].prefecture", '"01".."47"', "(got 3)"],
    ),
    "campus not a string": (
        lambda p: [
            "topology",
            "summary",
            "--topology",
            str(
                _topo(
                    p, SMALL.replace("kind: prefecture_node,", "kind: prefecture_node, campus: 1,")
                )
            ),
        ],
        ["topo.yaml:4", "sites[1].campus", "(got 1)"],
    ),
    "latitude out of range": (
        lambda p: [
            "topology",
            "summary",
            "--topology",
            str(_topo(p, SMALL.replace("lat: 35.0", "lat: 135.0"))),
        ],
        ["topo.yaml:3", "sites[0].lat", "135.0"],
    ),
    "unknown site in a route query": (
        lambda p: ["topology", "route", "mun-01-001", "mun-99-999"],
        ["unknown site 'mun-99-999'"],
    ),
    "unknown element to fail": (
        lambda p: ["topology", "route", "mun-01-001", "central-east", "--fail", "pn-99"],
        ["unknown site 'pn-99'"],
    ),
    "export into a missing folder": (
        lambda p: ["topology", "export", "--format", "json", "-o", str(p / "nope" / "x.json")],
        ["--out", "does not exist", "x.json"],
    ),
    "map with an unknown image type": (
        lambda p: ["topology", "map", "-o", str(p / "map.bmp")],
        ["--out", ".png", "map.bmp"],
    ),
    "unknown export format": (
        lambda p: ["topology", "export", "--format", "shapefile", "-o", str(p / "x.shp")],
        ["'shapefile'", "--format"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gives_one_clear_line_and_exit_2(case: str, tmp_path: Path, capsys) -> None:
    make_argv, expected = CASES[case]
    argv = make_argv(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    code = main(argv)
    _, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lgwan-sim: error: ")
    for fragment in expected:
        assert fragment in lines[0], (fragment, lines[0])
    assert "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before  # nothing written
