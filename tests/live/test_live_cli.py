"""Bad input to ``replay`` and ``dashboard``: one line naming it, exit 2, nothing served."""

from __future__ import annotations

from pathlib import Path

import pytest

from lgwan_sim.cli import main


def _one_line(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 2
    out, err = capsys.readouterr()
    assert out == ""  # no URL: nothing is served
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_replay_of_a_missing_run_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    line = _one_line(capsys, "replay", str(tmp_path / "nope"))
    assert (
        line
        == f"lgwan-sim: error: {tmp_path / 'nope'}: RUN_DIR: no such run directory (got '{tmp_path / 'nope'}')"
    )


def test_replay_of_a_folder_that_is_not_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "summary.json").write_text("{}", encoding="utf-8")
    line = _one_line(capsys, "replay", str(tmp_path))
    assert "links_all.csv.gz: RUN_DIR: not a run directory: this file is missing" in line


@pytest.mark.parametrize("speed", ["fast", "0", "-5", "inf", "nan"])
def test_replay_with_a_bad_speed(mini_run: Path, speed: str, capsys: pytest.CaptureFixture[str]):
    line = _one_line(capsys, "replay", str(mini_run), "--speed", speed)
    assert line.startswith("lgwan-sim: error: --speed: ")
    assert line.endswith(f"(got '{speed}')")


def test_dashboard_with_a_missing_endpoints_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    line = _one_line(capsys, "dashboard", "--endpoints", str(tmp_path / "endpoints.json"))
    assert line == (
        f"lgwan-sim: error: --endpoints: no such file (got '{tmp_path / 'endpoints.json'}')"
    )


def test_dashboard_with_an_endpoints_file_that_is_not_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    bad = tmp_path / "endpoints.json"
    bad.write_text("{not json", encoding="utf-8")
    line = _one_line(capsys, "dashboard", "--endpoints", str(bad))
    assert line.startswith(f"lgwan-sim: error: {bad}: --endpoints: not JSON (")


def test_dashboard_with_an_emulator_that_has_no_control_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    bad = tmp_path / "endpoints.json"
    bad.write_text('{"control": null, "events": "tcp://127.0.0.1:1", "scenario": "x"}', "utf-8")
    line = _one_line(capsys, "dashboard", "--endpoints", str(bad))
    assert line == (
        f"lgwan-sim: error: {bad}: control: missing (an emulator started without its "
        "control API or event stream?)"
    )
