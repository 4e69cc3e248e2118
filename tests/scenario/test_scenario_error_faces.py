"""The library's errors name its own fields; the command line names its options.

``check_out_dir`` is refused about ``out``, a bad setting about ``path=value``, a count of
replications about ``replications``: what a program calling the library passed. Only the
command line turns them into ``--out``, ``--set path=value`` and ``--replications``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lgwan_sim.errors import ScenarioError, SettingError
from lgwan_sim.scenario import (
    check_grid,
    check_out_dir,
    load_scenario,
    load_with_settings,
    sweep_points,
)


def test_an_output_path_that_is_a_file_is_an_error_about_out(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("x", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        check_out_dir(target, overwrite=False)
    assert caught.value.field == "out"
    assert str(caught.value) == f"out: the output path is a file, not a folder (got '{target}')"


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_the_command_line_names_its_option_for_out(
    cli, small_path: Path, tmp_path: Path, command: str
) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / "mine.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        check_out_dir(target, overwrite=False)
    assert str(caught.value).startswith("out: the output folder exists and is not empty")
    result = cli(command, small_path, "--out", target)
    assert result.code == 2
    assert result.err.startswith(
        "lgwan-sim: error: --out: the output folder exists and is not empty"
    )


def test_an_override_path_that_does_not_exist_is_an_error_of_that_path(small_path: Path) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(small_path, overrides={"events[9].at": "+1h"})
    assert caught.value.field == "events[9].at"
    assert caught.value.value == "+1h"
    assert str(caught.value) == (
        f"{small_path}: events[9].at: override path does not exist in the scenario "
        "(events has 3 entries, numbered from 0) (got '+1h')"
    )


def test_a_bad_setting_is_an_error_about_the_setting(small_path: Path) -> None:
    settings = [("services.mail-relay.multiplier", 2), ("services.directory.multiplier", "x")]
    with pytest.raises(SettingError) as caught:
        load_with_settings(small_path, settings)
    assert caught.value.field == "services.directory.multiplier=x"
    assert caught.value.settings == (("services.directory.multiplier", "x"),)
    assert str(caught.value) == "services.directory.multiplier=x: must be a number, not a string"


def test_a_combination_no_single_setting_explains_names_them_all(small_path: Path) -> None:
    # moving the cable cut (until +1h30m) to +2h is wrong only together with the file's 'until'
    with pytest.raises(SettingError) as caught:
        check_grid(small_path, (("events[0].at", ("+1h", "+2h")),), base_seed=1)
    text = str(caught.value)
    assert caught.value.field == "events[0].at=+2h"
    assert text.startswith("events[0].at=+2h: ")
    assert "events[0].until: must be after" in text
    assert "--set" not in text


def test_the_command_line_names_set_for_a_combination(
    cli, small_path: Path, tmp_path: Path
) -> None:
    result = cli("validate", small_path, "--set", "events[0].at=+2h")
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert line.startswith("lgwan-sim: error: --set events[0].at=+2h: ")
    assert "events[0].until: must be after" in line


def test_a_count_of_replications_below_one_is_an_error_about_replications() -> None:
    with pytest.raises(ScenarioError) as caught:
        sweep_points((), replications=0, base_seed=1)
    assert str(caught.value) == "replications: must be >= 1 (got 0)"
