"""A warning from the library is one ``lgwan-sim: warning:`` line; the command goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from lgwan_sim.cli import main


def test_a_partial_roster_in_a_scenario_warns_in_one_line(
    tmp_path: Path, roster_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = roster_path.read_text(encoding="utf-8-sig").splitlines()[:100]  # header + 99
    roster = tmp_path / "partial.csv"
    roster.write_text("\n".join(rows) + "\n", encoding="utf-8")
    scenario = tmp_path / "partial.yaml"
    scenario.write_text(
        "name: partial\ntopology: national\nroster: partial.csv\n"
        'start: "2026-06-10T00:00"\nduration: 1h\nseed: 1\n',
        encoding="utf-8",
    )
    assert main(["validate", str(scenario)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("ok: partial: 211 sites")
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lgwan-sim: warning: roster partial.csv has 99 municipalities")
