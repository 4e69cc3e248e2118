"""Files the topology commands write: permissions like any other file the user makes."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from lgwan_sim.cli import main

STUDY = (
    "name: trio\n"
    "sites: [{id: a, kind: central, lat: 35.0, lon: 139.0},\n"
    "        {id: b, kind: central, lat: 34.7, lon: 135.5},\n"
    "        {id: c, kind: data_centre, lat: 33.6, lon: 130.4}]\n"
    "links: [{a: a, b: b, capacity_bps: 1.0e+9}, {a: b, b: c, capacity_bps: 1.0e+9}]\n"
)


@pytest.fixture
def umask() -> Iterator[object]:
    """Set the umask for one test and put the previous one back."""
    previous = os.umask(0o022)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o027])
@pytest.mark.parametrize(
    ("fmt", "name"), [("graphml", "t.graphml"), ("geojson", "t.geojson"), ("json", "t.json")]
)
def test_export_respects_the_umask(tmp_path: Path, capsys, umask, mask, fmt, name) -> None:
    study = tmp_path / "trio.yaml"
    study.write_text(STUDY, encoding="utf-8")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    umask(mask)
    target = out_dir / name
    code = main(
        ["topology", "export", "--topology", str(study), "--format", fmt, "-o", str(target)]
    )
    assert code == 0, capsys.readouterr().err
    assert _mode(target) == 0o666 & ~mask
    assert sorted(p.name for p in out_dir.iterdir()) == [name]  # no temporary file left


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_map_respects_the_umask(tmp_path: Path, capsys, umask, mask) -> None:
    study = tmp_path / "trio.yaml"
    study.write_text(STUDY, encoding="utf-8")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    umask(mask)
    target = out_dir / "trio.png"
    code = main(["topology", "map", "--topology", str(study), "-o", str(target)])
    assert code == 0, capsys.readouterr().err
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _mode(target) == 0o666 & ~mask
    assert sorted(p.name for p in out_dir.iterdir()) == ["trio.png"]


def test_export_over_an_existing_file_replaces_it_with_the_usual_mode(
    tmp_path: Path, capsys, umask
) -> None:
    study = tmp_path / "trio.yaml"
    study.write_text(STUDY, encoding="utf-8")
    target = tmp_path / "t.json"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o600)
    code = main(
        ["topology", "export", "--topology", str(study), "--format", "json", "-o", str(target)]
    )
    assert code == 0, capsys.readouterr().err
    assert target.read_text(encoding="utf-8").startswith("{")
    assert _mode(target) == 0o644
