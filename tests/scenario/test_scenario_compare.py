"""``lgwan-sim compare``: two runs side by side, with their differences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.scenario.support import SMALL


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from lgwan_sim.cli import main

    root = tmp_path_factory.mktemp("compare")
    base = root / "base.yaml"
    base.write_text(SMALL, encoding="utf-8")
    doubled = root / "doubled.yaml"
    doubled.write_text(
        SMALL.replace(
            "directory: {primary: dc-b, secondary: dc-a, requests_per_day: 20000}",
            "directory: {primary: dc-b, secondary: dc-a, requests_per_day: 20000, multiplier: 2}",
        ),
        encoding="utf-8",
    )
    for scenario, out in ((base, "a"), (doubled, "b")):
        assert main(["run", str(scenario), "--out", str(root / out), "--no-plots"]) == 0
    return root / "a", root / "b"


def test_json_rows_give_both_values_and_their_difference(cli, two_runs: tuple[Path, Path]) -> None:
    a, b = two_runs
    result = cli("compare", a, b, "--json")
    assert result.code == 0
    rows = {(r["section"], r["item"]): r for r in json.loads(result.out)}
    sa = json.loads((a / "summary.json").read_text())
    sb = json.loads((b / "summary.json").read_text())
    offered = rows[("service directory", "offered")]
    assert offered["a"] == sa["services"]["directory"]["offered"]
    assert offered["b"] == sb["services"]["directory"]["offered"]
    assert offered["diff"] == offered["b"] - offered["a"]
    assert offered["change"] == pytest.approx(1.0, rel=0.01)  # twice the directory demand
    mail = rows[("service mail-relay", "offered")]
    assert mail["diff"] == 0


def test_table_shows_only_differences_unless_asked(cli, two_runs: tuple[Path, Path]) -> None:
    a, b = two_runs
    short = cli("compare", a, b)
    full = cli("compare", a, b, "--all")
    assert short.code == full.code == 0
    assert "service directory" in short.out
    lines = short.out.splitlines()
    assert not any("service mail-relay" in ln and " offered " in ln for ln in lines)
    assert any("service directory" in ln and " offered " in ln for ln in lines)
    assert len(full.out.splitlines()) > len(short.out.splitlines())
    assert "figures differ" in short.out


def test_a_run_compared_with_itself_has_no_differences(cli, two_runs: tuple[Path, Path]) -> None:
    a, _ = two_runs
    rows = json.loads(cli("compare", a, a, "--json").out)
    assert all(r["a"] == r["b"] for r in rows)


def test_a_folder_without_summary_is_one_clear_error(
    cli, two_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    a, _ = two_runs
    result = cli("compare", a, tmp_path)
    assert result.code == 2
    assert (
        result.err
        == f"lgwan-sim: error: {tmp_path}: RUN: not a run directory (no summary.json) (got '{tmp_path}')\n"
    )
