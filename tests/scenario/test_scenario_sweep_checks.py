"""``lgwan-sim sweep`` checks every ``--set`` value before it starts a worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from lgwan_sim._cli.scenario import parse_set
from lgwan_sim.scenario import _sweep, check_grid


@pytest.fixture
def no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting a Dask cluster fails the test: a bad value must be caught before that."""

    def refuse(workers: int) -> None:
        raise AssertionError("a worker was started for a sweep with a bad --set")

    monkeypatch.setattr(_sweep, "local_cluster", refuse)


@pytest.mark.parametrize(
    ("setting", "line"),
    [
        (
            "services.directory.multipler=1,2",
            "--set services.directory.multipler=1: unknown key; allowed: multiplier,",
        ),
        (
            "demand.growth=1,2",
            "--set demand.growth=1: unknown key; allowed: multiplier, growth_years",
        ),
        (
            "events[5].until=+1h",
            "--set events[5].until=+1h: override path does not exist in the scenario "
            "(events has 3 entries, numbered from 0)",
        ),
        (
            "services.directory.multiplier=1,x",
            "--set services.directory.multiplier=x: must be a number",
        ),
        (
            "services.directory.multiplier=1,2,-1",
            "--set services.directory.multiplier=-1: must be >= 0",
        ),
    ],
)
def test_a_bad_set_is_one_line_before_any_worker_and_writes_nothing(
    cli, no_cluster: None, small_path: Path, tmp_path: Path, setting: str, line: str
) -> None:
    out = tmp_path / "sweep"
    result = cli("sweep", small_path, "--set", setting, "--workers", "1", "--out", out)
    assert result.code == 2
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(f"lgwan-sim: error: {line}")
    assert str(small_path) not in lines[0]  # not a line of the scenario file: the option
    assert result.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.yaml"]


def test_the_bad_value_is_found_in_any_combination(
    cli, no_cluster: None, small_path: Path, tmp_path: Path
) -> None:
    result = cli(
        "sweep", small_path,
        "--set", "services.mail-relay.multiplier=1,2",
        "--set", "services.directory.requests_per_day=100,-5",
        "--workers", "1", "--out", tmp_path / "sweep",
    )  # fmt: skip
    assert result.code == 2
    assert result.err.startswith(
        "lgwan-sim: error: --set services.directory.requests_per_day=-5: must be >= 0"
    )
    assert not (tmp_path / "sweep").exists()


def test_valid_values_pass_the_check(small_path: Path) -> None:
    grid = parse_set(["services.directory.multiplier=0,1.5", "engine.bin_s=30,60"])
    check_grid(small_path, grid, base_seed=3)
