"""The ``lgwan-sim`` command line: a thin shell over the library.

``main(argv)`` parses arguments, calls the library and maps every
:class:`~lgwan_sim.errors.LgwanSimError` (and ``OSError``: an output path that cannot be
written) to one line on stderr and exit code 2.
Command groups live in ``lgwan_sim/_cli/``; each module there exposes ``commands``,
a list of click commands registered below.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Sequence

import click

from lgwan_sim import __version__
from lgwan_sim.errors import LgwanSimError, LgwanSimWarning

__all__ = ["cli", "main"]

#: Modules under ``lgwan_sim._cli`` whose ``commands`` join the root group.
_COMMAND_MODULES: tuple[str, ...] = (
    "topology",
    "pki",
    "scenario",
    "n1",
    "emulate",
    "animate",
    "live",
)

#: Each root command and the module of ``_COMMAND_MODULES`` that defines it. A command's
#: module is imported when the command is asked for, so ``run`` does not load the PKI,
#: the emulator or the dashboard.
_COMMAND_HOMES: dict[str, str] = {
    "topology": "topology",
    "pki": "pki",
    "run": "scenario",
    "validate": "scenario",
    "scenarios": "scenario",
    "compare": "scenario",
    "sweep": "scenario",
    "n1": "n1",
    "emulate": "emulate",
    "serve": "emulate",
    "fault": "emulate",
    "animate": "animate",
    "replay": "live",
    "dashboard": "live",
}


def _load_commands(group: click.Group, module: str) -> None:
    for command in importlib.import_module(f"lgwan_sim._cli.{module}").commands:
        group.add_command(command)


class _LazyGroup(click.Group):
    """The root group: its commands' modules are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(_COMMAND_HOMES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in _COMMAND_HOMES:
            _load_commands(self, _COMMAND_HOMES[cmd_name])
        return self.commands.get(cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lgwan-sim")
def cli() -> None:
    """Simulate and emulate Japan's LGWAN: topology, scenarios, LGPKI."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    0: done. 1: the command ran and the answer is negative (``topology route`` found no
    route, ``pki verify`` rejected), or an unexpected crash. 2: bad input or usage.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    with warnings.catch_warnings():
        default_show = warnings.showwarning

        def show(
            message: Warning | str,
            category: type[Warning],
            filename: str,
            lineno: int,
            file: object = None,
            line: str | None = None,
        ) -> None:
            if issubclass(category, LgwanSimWarning):
                click.echo(f"lgwan-sim: warning: {message}", err=True)
            else:
                default_show(message, category, filename, lineno, file, line)  # type: ignore[arg-type]

        warnings.showwarning = show
        warnings.simplefilter("always", LgwanSimWarning)  # shown as a line, never raised
        return _main(args)


def _main(args: list[str]) -> int:
    try:
        result = cli.main(args=args, prog_name="lgwan-sim", standalone_mode=False)
    except LgwanSimError as exc:
        click.echo(f"lgwan-sim: error: {exc}", err=True)
        return 2
    except OSError as exc:  # a file the user named cannot be written or read
        click.echo(f"lgwan-sim: error: {exc}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("lgwan-sim: aborted", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"lgwan-sim: error: {exc.format_message()}", err=True)
        return exc.exit_code  # 2 for usage errors, as click sets it
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
