"""``--overwrite`` replaces only an earlier lgwan-sim result, never someone else's files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lgwan_sim.scenario._runner import SWEEP_FILES


def _project(root: Path) -> Path:
    """A folder with a user's own files in it."""
    root.mkdir()
    (root / "important.txt").write_text("keep me", encoding="utf-8")
    (root / "sub").mkdir()
    (root / "sub" / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    return root


def _untouched(root: Path) -> None:
    assert sorted(p.name for p in root.iterdir()) == ["important.txt", "sub"]
    assert (root / "important.txt").read_text(encoding="utf-8") == "keep me"
    assert (root / "sub" / "data.csv").is_file()


def _one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_run_overwrite_of_the_current_directory_is_refused(
    cli, small_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path / "project")
    monkeypatch.chdir(project)
    result = cli("run", small_path, "--out", ".", "--overwrite", "--no-plots")
    assert result.code == 2
    line = _one_line(result.err)
    assert "--out: refusing to write results into the current directory" in line
    assert f"(got '{project}')" in line
    _untouched(project)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project", "small.yaml"]


def test_a_folder_holding_the_current_directory_is_refused(
    cli, small_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path / "project")
    monkeypatch.chdir(project / "sub")
    result = cli("run", small_path, "--out", "..", "--overwrite", "--no-plots")
    assert result.code == 2
    assert "a folder that holds the current directory" in _one_line(result.err)
    _untouched(project)


def test_the_home_directory_and_the_root_are_refused(
    cli, small_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _project(tmp_path / "home")
    monkeypatch.setenv("HOME", str(home))
    result = cli("run", small_path, "--out", home, "--overwrite", "--no-plots")
    assert result.code == 2
    assert "refusing to write results into the home directory" in _one_line(result.err)
    _untouched(home)
    result = cli("run", small_path, "--out", "/", "--overwrite", "--no-plots")
    assert result.code == 2
    assert "refusing to write results into a filesystem root" in _one_line(result.err)


def test_run_overwrite_of_a_user_folder_is_refused(cli, small_path: Path, tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    result = cli("run", small_path, "--out", project, "--overwrite", "--no-plots")
    assert result.code == 2
    line = _one_line(result.err)
    assert "--out: --overwrite replaces only an empty folder or an earlier lgwan-sim run" in line
    assert str(project) in line
    _untouched(project)
    assert not list(tmp_path.glob(".project.*"))


def test_run_overwrite_replaces_an_earlier_run_and_an_empty_folder(
    cli, small_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    assert cli("run", small_path, "--out", out, "--no-plots").code == 0
    first = json.loads((out / "run.json").read_text(encoding="utf-8"))["created_utc"]
    (out / "summary.json").write_text("{}", encoding="utf-8")  # stale content, to be replaced
    assert cli("run", small_path, "--out", out, "--overwrite").code == 0
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["totals"]["offered"] > 0
    assert (out / "report.html").is_file()  # the plots run wrote more files than the first
    assert first <= json.loads((out / "run.json").read_text(encoding="utf-8"))["created_utc"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "small.yaml"]


def test_an_earlier_run_with_a_file_of_the_user_in_it_is_not_replaced(
    cli, small_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert cli("run", small_path, "--out", out, "--no-plots").code == 0
    (out / "notes.txt").write_text("my notes", encoding="utf-8")
    result = cli("run", small_path, "--out", out, "--overwrite", "--no-plots")
    assert result.code == 2
    assert "this folder holds notes.txt" in _one_line(result.err)
    assert (out / "notes.txt").read_text(encoding="utf-8") == "my notes"
    assert (out / "summary.json").is_file()


def test_sweep_overwrite_of_a_user_folder_is_refused_before_any_run(
    cli, small_path: Path, tmp_path: Path
) -> None:
    project = _project(tmp_path / "project")
    result = cli(
        "sweep", small_path, "--set", "demand.multiplier=1,2", "--workers", "1",
        "--out", project, "--overwrite",
    )  # fmt: skip
    assert result.code == 2
    assert "--overwrite replaces only an empty folder" in _one_line(result.err)
    assert result.out == ""
    _untouched(project)


def test_sweep_overwrite_replaces_an_earlier_sweep(cli, small_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    args = ("sweep", small_path, "--set", "demand.multiplier=1,2", "--workers", "1", "--out", out)
    assert cli(*args).code == 0
    assert {p.name for p in out.iterdir()} == SWEEP_FILES  # what the marker check accepts
    (out / "sweep_table.csv").write_text("stale", encoding="utf-8")
    assert cli(*args).code == 2  # not without --overwrite
    assert cli(*args, "--overwrite").code == 0
    assert (out / "sweep_table.csv").read_text(encoding="utf-8").startswith("demand.multiplier,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.yaml", "sweep"]
