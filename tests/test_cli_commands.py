"""The root command group loads a command's module only when the command is asked for."""

from __future__ import annotations

import importlib

from lgwan_sim import cli as cli_module
from tests.support import modules_loaded


def test_every_command_is_homed_in_the_module_that_defines_it() -> None:
    homes: dict[str, str] = {}
    for module in cli_module._COMMAND_MODULES:
        for command in importlib.import_module(f"lgwan_sim._cli.{module}").commands:
            assert command.name is not None
            homes[command.name] = module
    assert homes == cli_module._COMMAND_HOMES


def test_help_lists_every_command() -> None:
    import click

    ctx = click.Context(cli_module.cli)
    assert cli_module.cli.list_commands(ctx) == sorted(cli_module._COMMAND_HOMES)
    for name in cli_module._COMMAND_HOMES:
        assert cli_module.cli.get_command(ctx, name) is not None
    assert cli_module.cli.get_command(ctx, "no-such-command") is None


def test_run_does_not_load_the_pki_emulator_or_dashboard() -> None:
    code = "from lgwan_sim.cli import main\nassert main(['run', '--help']) == 0"
    prefixes = ("lgwan_sim.lgpki", "lgwan_sim.backbone", "lgwan_sim.live", "lgwan_sim._cli.pki")
    assert modules_loaded(code, prefixes) == []
