"""``topology route``: no route is an answer (exit 1), an unknown site is bad input (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys

from lgwan_sim.cli import main


def test_no_route_after_a_failure_is_exit_1_with_one_line(capsys) -> None:
    code = main(["topology", "route", "mun-03-005", "asp-eltax-east", "--fail", "pn-03"])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == "no route from 'mun-03-005' to 'asp-eltax-east'\n"
    assert err == ""


def test_no_route_as_json_is_exit_1_with_a_null_path(capsys) -> None:
    code = main(["topology", "route", "mun-03-005", "asp-eltax-east", "--fail", "pn-03", "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    assert err == ""
    doc = json.loads(out)
    assert doc["path"] is None
    assert doc["hops"] is None
    assert doc["failed"] == ["pn-03"]


def test_no_route_exit_code_from_the_installed_command() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lgwan_sim.cli",
            "topology",
            "route",
            "mun-03-005",
            "asp-eltax-east",
            "--fail",
            "pn-03",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout.strip().splitlines() == ["no route from 'mun-03-005' to 'asp-eltax-east'"]
    assert proc.stderr == ""


def test_unknown_site_is_still_bad_input(capsys) -> None:
    code = main(["topology", "route", "mun-03-999", "asp-eltax-east", "--fail", "pn-03"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.startswith("lgwan-sim: error: unknown site 'mun-03-999'")


def test_unknown_failed_element_is_still_bad_input(capsys) -> None:
    code = main(["topology", "route", "mun-03-005", "asp-eltax-east", "--fail", "pn-99"])
    _, err = capsys.readouterr()
    assert code == 2
    assert "pn-99" in err


def test_a_route_that_survives_the_failure_is_exit_0(capsys) -> None:
    code = main(["topology", "route", "mun-03-005", "asp-eltax-east", "--fail", "pn-04"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert out.startswith("mun-03-005")
