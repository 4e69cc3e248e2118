"""``lgwan-sim n1``: every single failure of the backbone in turn, on this machine's CPUs or
on Dask."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import click

from lgwan_sim._cli._common import out_option, plural

__all__ = ["commands"]


@click.command("n1")
@click.argument("scenario")
@out_option(
    type=click.Path(file_okay=False, path_type=Path),
    help="Results folder (written only when every case succeeded).",
)
@click.option(
    "--sites",
    is_flag=True,
    help="Fail every prefecture node and central site (its whole campus) too, not only links.",
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="PATH=VALUE",
    help="Change one scenario field for the study (repeatable), as run --set does.",
)
@click.option("--scheduler", help="Address of an existing Dask scheduler (tcp://host:8786).")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Worker processes, forked from this one once the study is built (default: one per "
    "CPU, at most 8); 1 runs the cases in this process. Where processes cannot be forked "
    "the default is 1 and N > 1 starts a local Dask cluster.",
)
@click.option("--overwrite", is_flag=True, help="Replace a non-empty results folder.")
@click.option("--no-plots", is_flag=True, help="Write the JSON and CSVs only (no PNGs, no HTML).")
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="No progress on stderr (a bar on a terminal, else a line every tenth or 30 s).",
)
def n1(
    scenario: str,
    out: Path,
    sites: bool,
    settings: tuple[str, ...],
    scheduler: str | None,
    workers: int | None,
    overwrite: bool,
    no_plots: bool,
    quiet: bool,
) -> None:
    """The N-1 study: fail every backbone and prefecture link in turn over the scenario's day.

    Each failure is held all day with routing converged (analytic model). Writes per case
    the busiest links, the local bodies cut off, the exchanges lost and the services in
    breach (n1_cases.csv, n1_worst_links.csv, n1_unreachable.csv, n1.json), plots and
    report.html to -o/--out.
    """
    from lgwan_sim._cli._common import options_named, warn_on_stderr
    from lgwan_sim._cli._progress import count_progress_for
    from lgwan_sim._cli.scenario import parse_set, resolve_scenario
    from lgwan_sim.scenario import check_out_dir, events_note, load_with_settings, run_n1, write_n1

    if scheduler is not None and workers is not None:
        raise click.UsageError("--workers applies to this machine, not with --scheduler")
    path = resolve_scenario(scenario)
    params = tuple((p, values[0]) for p, values in parse_set(settings, single=True))
    with options_named(out="--out", settings="--set"):
        sc = load_with_settings(path, params)
        check_out_dir(out.absolute(), overwrite=overwrite)
    note = events_note(sc)
    if note is not None:
        warn_on_stderr(note)

    done = 0
    with contextlib.ExitStack() as stack:
        shown: list[Any] = []  # the progress display, once started

        def start(n_cases: int) -> None:
            # once the workers are forked: the display's thread must not be running then
            shown.append(
                stack.enter_context(count_progress_for(n_cases, f"n1 {sc.name}", quiet=quiet))
            )

        def advance(_impact: object) -> None:
            nonlocal done
            done += 1
            shown[0](done)

        result = run_n1(
            path,
            sc,
            params,
            sites=sites,
            workers=workers,
            scheduler=scheduler,
            on_started=start,
            on_done=advance,
        )
    render = None
    if not no_plots:
        from lgwan_sim.report import write_n1_report

        render = write_n1_report
    with options_named(out="--out"):
        write_n1(result, out, render=render, overwrite=overwrite)
    cut = sum(1 for i in result.impacts if i.unreachable)
    breach = sum(1 for i in result.impacts if i.kind != "none" and i.breaches)
    over = sum(1 for i in result.impacts if i.peak_utilisation > 1.0)
    click.echo(
        f"{sc.name}: {plural(len(result.impacts) - 1, 'failure')}: {cut} cut off local bodies, "
        f"{breach} put a service in breach, {over} overload a link; "
        f"{plural(result.workers, 'worker')}, {result.wall_s:.1f}s; results in {out}"
    )


commands: list[click.Command] = [n1]
