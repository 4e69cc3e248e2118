"""Options and helpers shared by the command groups."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from lgwan_sim.network import ROSTER_COLUMNS, Topology, build_national, load_topology

__all__ = ["echo_json", "topology_from_options", "topology_options", "warn_on_stderr"]

F = TypeVar("F", bound=Callable[..., Any])


def topology_options(func: F) -> F:
    """``--topology FILE``, ``--roster FILE`` and ``--backup-lines`` for commands on a network."""
    func = click.option(
        "--backup-lines",
        is_flag=True,
        default=False,
        help="Give every local body a backup line to the nearest central site.",
    )(func)
    func = click.option(
        "--roster",
        type=click.Path(dir_okay=False, path_type=Path),
        help="CSV of real municipalities to use instead of the synthetic ones (UTF-8, with a "
        f"header). Required columns: {','.join(ROSTER_COLUMNS)}; others, such as pref and "
        "name_kana, are ignored.",
    )(func)
    return click.option(
        "--topology",
        "topology_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="A topology file (YAML or JSON: name, sites, links) instead of the national one.",
    )(func)


def topology_from_options(
    topology_file: Path | None, roster: Path | None, backup_lines: bool
) -> Topology:
    if topology_file is not None:
        if roster is not None or backup_lines:
            raise click.UsageError(
                "--roster and --backup-lines apply only to the national topology"
            )
        return load_topology(topology_file)
    return build_national(
        roster=roster, backup_lines=backup_lines or None, on_warning=warn_on_stderr
    )


def warn_on_stderr(message: str) -> None:
    """A warning the command goes on after: one line on stderr, exit code unchanged."""
    click.echo(f"lgwan-sim: warning: {message}", err=True)


def echo_json(doc: Any) -> None:
    """Print ``doc`` as strict JSON (no ``Infinity`` or ``NaN``: use ``None``)."""
    json.dump(doc, sys.stdout, ensure_ascii=False, indent=2, sort_keys=True, allow_nan=False)
    sys.stdout.write("\n")
