"""Unknown ids are answered with the close matches, in the one error line."""

from __future__ import annotations

import textwrap

import pytest

from lgwan_sim.cli import main


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    err = capsys.readouterr().err
    return code, err


def test_an_unknown_site_in_a_route_names_close_ids(capsys):
    code, err = _run(capsys, "topology", "route", "mun-03-0005", "asp-eltax-east")
    assert code == 2
    assert err.count("\n") == 1
    assert "unknown site 'mun-03-0005'" in err
    assert "did you mean 'mun-03-005'" in err


def test_an_unknown_failure_names_close_links_and_sites(capsys):
    code, err = _run(capsys, "topology", "failure", "pn-03~central-eats")
    assert code == 2
    assert "did you mean 'pn-03~central-east'" in err
    code, err = _run(capsys, "topology", "failure", "pn03")
    assert code == 2
    assert "did you mean 'pn-03'" in err


def test_an_unknown_bundled_scenario_names_close_ones(capsys):
    code, err = _run(capsys, "validate", "national-weekdy")
    assert code == 2
    assert err.count("\n") == 1
    assert "did you mean 'national-weekday'?" in err


def test_an_unknown_service_and_link_in_a_scenario_name_close_ones(capsys, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            name: s
            only_services: [eltx]
            topology: national
            start: "2026-06-10T09:00"
            duration: 1h
            seed: 1
            fidelity: analytic
            """
        ),
        encoding="utf-8",
    )
    code, err = _run(capsys, "validate", str(path))
    assert code == 2
    assert err.count("\n") == 1
    assert "s.yaml:2: only_services[0]: unknown service" in err
    assert "did you mean 'eltax'" in err
    path.write_text(
        textwrap.dedent(
            """\
            name: s
            topology: national
            start: "2026-06-10T09:00"
            duration: 1h
            seed: 1
            fidelity: analytic
            events:
              - {at: "+10m", kind: link_down, links: [pn-03~central-eastt]}
            """
        ),
        encoding="utf-8",
    )
    code, err = _run(capsys, "validate", str(path))
    assert code == 2
    assert "s.yaml:8: events[0].links[0]: unknown link" in err
    assert "did you mean 'pn-03~central-east'" in err


def test_nothing_close_adds_nothing(capsys):
    code, err = _run(capsys, "topology", "route", "zzzzzzzz", "asp-eltax-east")
    assert code == 2
    assert "did you mean" not in err
