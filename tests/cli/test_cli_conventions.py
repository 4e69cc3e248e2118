"""One convention across the command line: -o/--out, --json, one time rule, singulars."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest

from lgwan_sim._resources import bundled_dir
from lgwan_sim.cli import cli, main

TWO_SITES = """\
name: pair
sites:
  - {id: a, kind: municipality, prefecture: "03", lat: 39.7, lon: 141.1}
  - {id: b, kind: central, lat: 35.7, lon: 139.8}
links:
  - {a: a, b: b, capacity_bps: 1.0e+8}
"""


def _commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    # through list_commands/get_command: the root group loads a command's module on demand
    found: dict[str, click.Command] = {}
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            found.update(_commands(command, full + " "))
        else:
            found[full] = command
    return found


COMMANDS = _commands(cli)
WRITERS = [
    "run",
    "sweep",
    "n1",
    "animate",
    "topology export",
    "topology map",
    "pki issue",
    "pki sign",
    "pki export",
]


def _option(command: click.Command, name: str) -> click.Option | None:
    for param in command.params:
        if isinstance(param, click.Option) and name in param.opts and not param.hidden:
            return param
    return None


@pytest.mark.parametrize("name", WRITERS)
def test_every_command_that_writes_takes_o_and_out(name: str) -> None:
    option = _option(COMMANDS[name], "--out")
    assert option is not None, f"{name} has no --out"
    assert "-o" in option.opts


def test_no_command_shows_another_spelling_of_the_output_option() -> None:
    for name, command in COMMANDS.items():
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert "--output" not in param.opts, name


def test_the_old_output_spelling_still_works(tmp_path: Path, capsys) -> None:
    topo = tmp_path / "pair.yaml"
    topo.write_text(TWO_SITES, encoding="utf-8")
    out = tmp_path / "pair.json"
    code = main(["topology", "export", "--topology", str(topo), "--format", "json", "--output", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert out.is_file()


@pytest.mark.parametrize("name", ["run", "validate", "scenarios list", "pki status", "pki verify"])
def test_json_is_offered(name: str) -> None:
    assert _option(COMMANDS[name], "--json") is not None


def test_validate_run_and_list_print_json(tmp_path: Path, capsys) -> None:
    zoom = bundled_dir("scenarios") / "packet-zoom.yaml"
    assert main(["validate", str(zoom), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "packet-zoom"
    assert main(["scenarios", "list", "--json"]) == 0
    names = [e["name"] for e in json.loads(capsys.readouterr().out)]
    assert "packet-zoom" in names
    code = main(["run", str(zoom), "-o", str(tmp_path / "r"), "--fidelity", "analytic", "--no-plots", "--json"])  # fmt: skip
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["totals"]["offered"] > 0


def test_singulars(tmp_path: Path, capsys) -> None:
    topo = tmp_path / "pair.yaml"
    topo.write_text(TWO_SITES, encoding="utf-8")
    assert main(["topology", "summary", "--topology", str(topo)]) == 0
    out = capsys.readouterr().out
    assert "pair: 2 sites, 1 link\n" in out
    assert "diameter: 1 hop " in out


def test_pki_and_scenarios_read_times_by_one_rule() -> None:
    from lgwan_sim import _fields
    from lgwan_sim._cli import pki as pki_cli

    assert pki_cli.parse_moment is _fields.parse_moment
    # without an offset: Japan Standard Time, in both
    assert pki_cli._at("2020-04-02T09:00") == datetime(2020, 4, 2, 0, 0, tzinfo=UTC)
    assert pki_cli._at("2020-04-02T09:00Z") == datetime(2020, 4, 2, 9, 0, tzinfo=UTC)
    assert pki_cli._at("2020-04-02") == datetime(2020, 4, 1, 15, 0, tzinfo=UTC)


def test_pki_at_without_an_offset_is_jst_from_the_command_line(tmp_path: Path, capsys) -> None:
    home = tmp_path / "ca"
    assert main(["pki", "--home", str(home), "init", "--generation", "G2", "--at", "2020-04-01T09:00"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["pki", "--home", str(home), "crl", "--ca", "org_g2", "--at", "2020-04-02T10:00"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    # 10:00 JST is 01:00 UTC; the list is good for 48 hours
    assert "next update 2020-04-04T01:00:00Z" in out, out
    assert main(["pki", "--home", str(home), "status", "--json", "--at", "2020-04-02T10:00"]) == 0  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    assert doc["at"] == "2020-04-02T01:00:00Z"
    org = next(c for c in doc["cas"] if c["ca"] == "org_g2")
    assert org["crl_next_update"] == "2020-04-04T01:00:00Z"
