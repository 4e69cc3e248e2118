"""``lgwan-sim compare``: seeds are labels, and runs of different lengths or bins are flagged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.scenario.support import SMALL


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three runs of the small scenario: as is, another seed, and twice as long on wider bins."""
    from lgwan_sim.cli import main

    root = tmp_path_factory.mktemp("compare-notes")
    base = root / "base.yaml"
    base.write_text(SMALL, encoding="utf-8")
    longer = root / "longer.yaml"
    text = SMALL.replace("duration: 4h", "duration: 8h", 1).replace("bin_s: 300", "bin_s: 600", 1)
    assert text != SMALL
    longer.write_text(text, encoding="utf-8")
    made = {}
    for name, scenario, extra in (
        ("a", base, []),
        ("seeded", base, ["--seed", "150306"]),
        ("long", longer, []),
    ):
        out = root / name
        assert main(["run", str(scenario), "--out", str(out), "--no-plots", *extra]) == 0
        made[name] = out
    return made


def _rows(text: str) -> dict[tuple[str, str], dict]:
    return {(r["section"], r["item"]): r for r in json.loads(text)}


def test_seeds_are_shown_side_by_side_without_a_difference(cli, runs: dict[str, Path]) -> None:
    result = cli("compare", runs["a"], runs["seeded"], "--json")
    assert result.code == 0
    seed = _rows(result.out)[("scenario", "seed")]
    assert (seed["a"], seed["b"]) == (7, 150306)
    assert seed["diff"] is None
    assert seed["change"] is None
    table = cli("compare", runs["a"], runs["seeded"])
    line = next(x for x in table.out.splitlines() if " seed " in x)
    assert "150306" in line
    assert "7" in line
    assert "%" not in line
    assert "150299" not in line
    assert "not like for like" not in table.out + table.err  # same duration and bins


def test_different_durations_and_bins_are_noted_in_one_line(cli, runs: dict[str, Path]) -> None:
    result = cli("compare", runs["a"], runs["long"])
    assert result.code == 0
    notes = [x for x in result.out.splitlines() if x.startswith("note:")]
    assert notes == [
        "note: the runs are not like for like: different durations (A 4h, B 8h): totals and "
        "counts cover different lengths of time; different time bins (A 5m, B 10m): peaks, "
        "percentiles and bin counts are per different bins."
    ]
    as_json = cli("compare", runs["a"], runs["long"], "--json")
    rows = _rows(as_json.out)  # stdout is still plain JSON
    assert (rows[("scenario", "bin_s")]["a"], rows[("scenario", "bin_s")]["b"]) == (300.0, 600.0)
    assert as_json.err.startswith("note: the runs are not like for like: different durations")
    assert len(as_json.err.splitlines()) == 1


def test_only_a_different_duration_is_named(cli, runs: dict[str, Path], tmp_path: Path) -> None:
    # the same long run, but its summary says the bins match: only the duration is noted
    copy = tmp_path / "copy"
    copy.mkdir()
    summary = json.loads((runs["long"] / "summary.json").read_text(encoding="utf-8"))
    summary["scenario"]["bin_s"] = 300.0
    (copy / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    result = cli("compare", runs["a"], copy)
    note = [x for x in result.out.splitlines() if x.startswith("note:")]
    assert len(note) == 1
    assert "different durations (A 4h, B 8h)" in note[0]
    assert "time bins" not in note[0]
