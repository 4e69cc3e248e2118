"""Options and helpers shared by the command groups."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from lgwan_sim.errors import InputError, SettingError
from lgwan_sim.network import ROSTER_COLUMNS, Topology, build_national, load_topology

__all__ = [
    "echo_json",
    "options_named",
    "out_option",
    "plural",
    "topology_from_options",
    "topology_options",
    "warn_on_stderr",
]

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


def out_option(
    *, type: click.Path, help: str, required: bool = True, old: str | None = None
) -> Callable[[F], F]:
    """``-o/--out PATH``, the output option of every command that writes a file or folder.

    ``old`` is an earlier spelling (``--output``), still accepted but not shown in the help.
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            legacy = kwargs.pop("out_legacy", None)
            if legacy is not None:
                if kwargs.get("out") is not None:
                    raise click.UsageError(f"give -o/--out or {old}, not both")
                kwargs["out"] = legacy
            if required and kwargs.get("out") is None:
                raise click.UsageError("Missing option '-o' / '--out'.")
            return func(*args, **kwargs)

        decorated = click.option("-o", "--out", "out", type=type, help=help)(wrapper)
        if old is not None:
            decorated = click.option(old, "out_legacy", type=type, hidden=True)(decorated)
        return cast(F, decorated)

    return decorate


@contextlib.contextmanager
def options_named(*, settings: str | None = None, **fields: str) -> Iterator[None]:
    """Errors the library raises about a value an option gave name the option instead.

    The library names its own fields: ``options_named(out="--out")`` turns its error about
    ``out`` into one about ``--out``, and ``settings="--set"`` a
    :class:`~lgwan_sim.errors.SettingError` about ``services.x.multiplier=2`` into one about
    ``--set services.x.multiplier=2``. Other errors pass unchanged.
    """
    try:
        yield
    except SettingError as exc:
        if settings is None:
            raise
        raise exc.naming(f"{settings} {exc.field}") from None
    except InputError as exc:
        option = fields.get(exc.field or "")
        if option is None:
            raise
        raise exc.naming(option) from None


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 event``, ``2 events``, ``1 entry`` / ``3 entries`` (``many``: the plural form)."""
    return f"{count} {word if count == 1 else (many or word + 's')}"
