"""``lgwan-sim run | validate | scenarios list | compare | sweep``: the planner's commands.

Heavy imports (the engine, matplotlib, Dask) happen inside the commands, so ``lgwan-sim
--help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from lgwan_sim._cli._progress import progress_for
from lgwan_sim.errors import ScenarioError

__all__ = ["commands"]


def resolve_scenario(text: str) -> Path:
    """A scenario file path, or the name of a bundled scenario (``national-weekday``)."""
    path = Path(text)
    if path.is_file():
        return path
    from lgwan_sim._resources import bundled_dir

    bundled = bundled_dir("scenarios") / f"{text.removesuffix('.yaml')}.yaml"
    if bundled.is_file() and path.parent == Path("."):
        return bundled
    raise ScenarioError(
        "no such scenario file, nor a bundled scenario of that name "
        "(see: lgwan-sim scenarios list)",
        field="SCENARIO",
        value=text,
    )


@click.command("validate")
@click.argument("scenario")
def validate(scenario: str) -> None:
    """Check a scenario file (or bundled scenario name) without running it.

    Prints one summary line and exits 0, or prints one error line (file:line, field, value)
    and exits 2.
    """
    from lgwan_sim.scenario import load_scenario

    sc = load_scenario(resolve_scenario(scenario))
    from lgwan_sim.scenario._fields import format_duration

    click.echo(
        f"ok: {sc.name}: {len(sc.topology.sites)} sites, {len(sc.topology.links)} links, "
        f"{len(sc.services)} services, {len(sc.events)} events; "
        f"{sc.start.isoformat()} for {format_duration(sc.duration_s)}; "
        f"fidelity {sc.fidelity.value}, seed {sc.seed}"
    )


@click.group("scenarios")
def scenarios() -> None:
    """The bundled scenarios."""


@scenarios.command("list")
def scenarios_list() -> None:
    """List the bundled scenarios: name, duration, fidelity and what each studies."""
    from lgwan_sim.scenario import bundled_scenarios

    for entry in bundled_scenarios():
        click.echo(f"{entry.name:<28} {entry.duration:>6}  {entry.fidelity:<8}  {entry.title}")


@click.command("run")
@click.argument("scenario")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Results folder (written only when everything succeeded).",
)
@click.option(
    "--fidelity",
    type=click.Choice(["analytic", "flow", "packet"]),
    help="Override the scenario's fidelity.",
)
@click.option("--seed", type=click.IntRange(min=0), help="Override the scenario's seed.")
@click.option("--overwrite", is_flag=True, help="Replace a non-empty results folder.")
@click.option("--no-plots", is_flag=True, help="Write summary and CSVs only (no PNGs, no HTML).")
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="No progress on stderr (a bar on a terminal, else a line every tenth or 30 s); "
    "warnings and errors still appear.",
)
def run(
    scenario: str,
    out: Path,
    fidelity: str | None,
    seed: int | None,
    overwrite: bool,
    no_plots: bool,
    quiet: bool,
) -> None:
    """Run a scenario and write summary.json, CSV series, plots and report.html to --out."""
    from lgwan_sim.scenario import load_scenario
    from lgwan_sim.scenario._runner import check_out_dir, run_scenario, write_run

    path = resolve_scenario(scenario)
    sc = load_scenario(path, fidelity=fidelity, seed=seed)
    check_out_dir(out.absolute(), overwrite=overwrite)
    if sc.fidelity == "packet":
        from lgwan_sim._cli._common import warn_on_stderr
        from lgwan_sim.scenario._build import engine_inputs
        from lgwan_sim.scenario._estimate import long_run_warning

        slow = long_run_warning(engine_inputs(sc))
        if slow is not None:
            warn_on_stderr(slow)
    with progress_for(sc.duration_s, sc.name, quiet=quiet) as progress:
        outcome = run_scenario(sc, progress=progress)
    render = None
    if not no_plots:
        from lgwan_sim.report import write_run_report

        render = write_run_report
    write_run(
        outcome,
        out,
        render=render,
        overwrite=overwrite,
        command=["lgwan-sim", "run", scenario, "--out", str(out)]
        + ([f"--fidelity={fidelity}"] if fidelity else [])
        + ([f"--seed={seed}"] if seed is not None else []),
    )
    summary = outcome.tables.summary
    totals = summary["totals"]
    click.echo(
        f"{sc.name}: {totals['offered']} offered, {totals['delivered']} delivered, "
        f"{totals['dropped_total']} dropped, {totals['slo_breaches']} objective breaches, "
        f"peak {summary['unreachable_local_bodies']['peak']} unreachable local bodies; "
        f"{outcome.wall_s:.1f}s; results in {out}"
    )


@click.command("compare")
@click.argument("run_a", type=click.Path(file_okay=False, path_type=Path))
@click.argument("run_b", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@click.option("--all", "show_all", is_flag=True, help="Show equal rows too, not only differences.")
def compare(run_a: Path, run_b: Path, as_json: bool, show_all: bool) -> None:
    """Compare two run folders side by side: totals, services, reachability, busiest links."""
    import json

    from lgwan_sim.scenario._compare import compare_notes, compare_runs
    from lgwan_sim.scenario._results import fmt

    rows = compare_runs(run_a, run_b)
    notes = compare_notes(rows)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in rows], ensure_ascii=False, indent=2))
        for note in notes:  # stdout stays JSON
            click.echo(note, err=True)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("section", "item", f"A: {run_a.name}", f"B: {run_b.name}", "B - A", "change")
    shown = 0
    for r in rows:
        if not (show_all or r.differs or r.section == "scenario"):
            continue
        shown += 1
        change = "" if r.change is None else f"{r.change * 100:+.1f}%"
        diff = "" if r.diff is None else fmt(r.diff)
        style = "bold" if r.differs else None
        table.add_row(r.section, r.item, fmt(r.a), fmt(r.b), diff, change, style=style)
    console = Console(highlight=False, soft_wrap=True, width=160)
    for note in notes:
        console.print(note)
    console.print(table)
    differing = sum(1 for r in rows if r.differs and r.section != "scenario")
    console.print(f"{differing} of {len(rows)} figures differ (the scenario rows are always shown)")


@click.command("sweep")
@click.argument("scenario")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="PATH=V1,V2,...",
    help="A scenario field and the values to sweep (repeatable; the grid is their product).",
)
@click.option("--replications", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--scheduler", help="Address of an existing Dask scheduler (tcp://host:8786).")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Worker processes of the local cluster (default: one per CPU).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Results folder for the sweep table, plots and report.",
)
@click.option("--fidelity", type=click.Choice(["analytic", "flow", "packet"]))
@click.option("--seed", type=click.IntRange(min=0), help="First seed (default: the scenario's).")
@click.option("--overwrite", is_flag=True, help="Replace a non-empty results folder.")
def sweep(
    scenario: str,
    settings: tuple[str, ...],
    replications: int,
    scheduler: str | None,
    workers: int | None,
    out: Path,
    fidelity: str | None,
    seed: int | None,
    overwrite: bool,
) -> int:
    """Run a scenario over a grid of values, each run in its own process on Dask.

    Exits 0 when every run succeeded and 1 when some failed (their errors are in the table
    and the report; the other runs are kept).
    """
    from lgwan_sim.report import write_sweep_report
    from lgwan_sim.scenario import _sweep, load_scenario
    from lgwan_sim.scenario._runner import check_out_dir
    from lgwan_sim.scenario._sweep import parse_set, run_sweep, sweep_points, write_sweep

    if scheduler is not None and workers is not None:
        raise click.UsageError("--workers applies to the local cluster, not with --scheduler")
    path = resolve_scenario(scenario)
    base = load_scenario(path, fidelity=fidelity, seed=seed)
    grid = parse_set(settings)
    check_out_dir(out.absolute(), overwrite=overwrite)
    _sweep.check_grid(path, grid, base_seed=base.seed, fidelity=fidelity)
    total = len(sweep_points(grid, replications=replications, base_seed=base.seed))

    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    with Progress(console=console, disable=not console.is_terminal, transient=True) as bar:
        task = bar.add_task(f"sweep {base.name}", total=total)
        result = run_sweep(
            path,
            grid,
            replications=replications,
            base_seed=base.seed,
            fidelity=fidelity,
            workers=workers,
            scheduler=scheduler,
            on_done=lambda _run: bar.advance(task),
        )
    write_sweep(result, out, render=write_sweep_report, overwrite=overwrite)
    for failed in result.failed:
        click.echo(
            f"lgwan-sim: run {failed.point.index} failed "
            f"({_sweep.show_params(failed.point.params)}, seed {failed.point.seed}): "
            f"{failed.error}",
            err=True,
        )
    click.echo(
        f"{base.name}: {len(result.runs) - len(result.failed)} of {len(result.runs)} runs ok "
        f"on {result.workers} worker{'' if result.workers == 1 else 's'} "
        f"in {result.wall_s:.1f}s; results in {out}"
    )
    return 1 if result.failed else 0


commands: list[click.Command] = [run, validate, scenarios, compare, sweep]
