"""``lgwan-sim run | validate | scenarios list | compare | sweep``: the planner's commands.

Heavy imports (the engine, matplotlib, Dask) happen inside the commands, so ``lgwan-sim
--help`` stays fast.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lgwan_sim._cli._common import options_named, out_option, plural
from lgwan_sim._cli._progress import progress_for
from lgwan_sim.errors import ScenarioError, SettingError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from lgwan_sim.scenario import Scenario

__all__ = ["commands"]


def resolve_scenario(text: str) -> Path:
    """A scenario file path, or the name of a bundled scenario (``national-weekday``)."""
    from lgwan_sim.scenario import resolve_scenario as resolve

    with options_named(scenario="SCENARIO"):
        return resolve(text)


@click.command("validate")
@click.argument("scenario")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="PATH=VALUE",
    help="Change one field for this check, as run --set does (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what will run as JSON.")
def validate(scenario: str, settings: tuple[str, ...], as_json: bool) -> None:
    """Check a scenario file (or bundled scenario name) without running it.

    Prints a summary line and one line per service that will run (its volume factor,
    requests a day per caller, callers and hosts) and exits 0, or prints one error line
    (file:line, field, value) and exits 2.
    """
    from lgwan_sim._cli._common import echo_json
    from lgwan_sim._fields import format_duration

    sc = _load(resolve_scenario(scenario), settings)
    rows: list[dict[str, Any]] = [
        {
            "name": s.name,
            "multiplier": s.multiplier,
            "volume_factor": s.multiplier * sc.growth_factor(s) * sc.demand_multiplier,
            "requests_per_day": s.requests_per_day
            * s.multiplier
            * sc.growth_factor(s)
            * sc.demand_multiplier,
            "callers": len(s.callers),
            "primary": s.primary,
            "secondary": s.secondary,
        }
        for s in sc.services
    ]
    if as_json:
        echo_json(
            {
                "name": sc.name,
                "file": sc.file,
                "sites": len(sc.topology.sites),
                "links": len(sc.topology.links),
                "start": sc.start.isoformat(),
                "duration_s": sc.duration_s,
                "fidelity": sc.fidelity.value,
                "seed": sc.seed,
                "demand_multiplier": sc.demand_multiplier,
                "growth_years": sc.growth_years,
                "events": len(sc.events),
                "services": rows,
            }
        )
        return
    click.echo(
        f"ok: {sc.name}: {plural(len(sc.topology.sites), 'site')}, "
        f"{plural(len(sc.topology.links), 'link')}, {plural(len(sc.services), 'service')}, "
        f"{plural(len(sc.events), 'event')}; "
        f"{sc.start.isoformat()} for {format_duration(sc.duration_s)}; "
        f"fidelity {sc.fidelity.value}, seed {sc.seed}"
    )
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        standby = "" if r["secondary"] is None else f", standby {r['secondary']}"
        click.echo(
            f"  {r['name']:<{width}}  x{r['volume_factor']:<6.3g} "
            f"{r['requests_per_day']:,.6g} requests a day from each of "
            f"{plural(r['callers'], 'caller')}; host {r['primary']}{standby}"
        )


def _load(
    path: Path, settings: tuple[str, ...], *, drain: bool = False, **options: Any
) -> Scenario:
    """Load ``path`` with ``--set PATH=VALUE`` changes, by the machinery of ``sweep --set``.

    ``--drain`` is the change ``engine.drain=true``.
    """
    from lgwan_sim.scenario import open_scenario

    with options_named(settings="--set"), _set_named():
        return open_scenario(path, settings, drain=drain, **options)


def parse_set(
    items: Sequence[str], *, single: bool = False
) -> tuple[tuple[str, tuple[object, ...]], ...]:
    """``--set`` items: ``["a.b=1,2", "c=x"]`` -> ``(("a.b", (1, 2)), ("c", ("x",)))``, typed.

    With ``single`` (``run --set``) each item holds one value, taken whole: a YAML list or
    mapping such as ``only_services=[eltax, konbini]`` is one value, ``a=1,2`` an error.
    """
    from lgwan_sim.scenario import parse_settings

    with _set_named():
        return parse_settings(items, single=single)


@contextlib.contextmanager
def _set_named() -> Iterator[None]:
    """The library's error about its ``settings`` field is one about ``--set``."""
    try:
        yield
    except SettingError:
        raise
    except ScenarioError as exc:
        if exc.field != "settings":
            raise
        raise exc.naming("--set") from None


@click.group("scenarios")
def scenarios() -> None:
    """The bundled scenarios."""


@scenarios.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def scenarios_list(as_json: bool) -> None:
    """List the bundled scenarios: name, duration, fidelity and what each studies."""
    from lgwan_sim.scenario import bundled_scenarios

    if as_json:
        from lgwan_sim._cli._common import echo_json

        echo_json(
            [
                {
                    "name": e.name,
                    "duration": e.duration,
                    "fidelity": e.fidelity,
                    "title": e.title,
                }
                for e in bundled_scenarios()
            ]
        )
        return
    for entry in bundled_scenarios():
        click.echo(f"{entry.name:<28} {entry.duration:>6}  {entry.fidelity:<8}  {entry.title}")


def bundled_scenario(name: str) -> Path:
    """The file of the bundled scenario ``name``; an unknown name names the close ones."""
    from lgwan_sim._resources import bundled_dir
    from lgwan_sim._suggest import did_you_mean

    folder = bundled_dir("scenarios")
    stem = name.removesuffix(".yaml")
    path = folder / f"{stem}.yaml"
    if "/" not in stem and "\\" not in stem and path.is_file():
        return path
    near = did_you_mean(stem, [p.stem for p in folder.glob("*.yaml")])
    raise ScenarioError(
        f"no bundled scenario of that name ({near + ' ' if near else ''}"
        "see: lgwan-sim scenarios list)",
        field="NAME",
        value=name,
    )


@scenarios.command("show")
@click.argument("name")
def scenarios_show(name: str) -> None:
    """Print a bundled scenario's file, comments and all."""
    click.echo(bundled_scenario(name).read_text(encoding="utf-8"), nl=False)


@scenarios.command("copy")
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def scenarios_copy(name: str, file: Path, force: bool) -> None:
    """Copy a bundled scenario to FILE, to edit and run as your own."""
    from lgwan_sim._files import atomic_write

    text = bundled_scenario(name).read_text(encoding="utf-8")
    if file.exists() and not force:
        raise ScenarioError(
            "the file exists (pass --force to replace it)", field="FILE", value=str(file)
        )
    if not file.absolute().parent.is_dir():
        raise ScenarioError("the folder does not exist", field="FILE", value=str(file))
    atomic_write(file, text.encode("utf-8"), mode=0o666)
    click.echo(f"wrote {file} (a copy of {name}); run it with: lgwan-sim run {file} -o DIR")


@click.command("run")
@click.argument("scenario")
@out_option(
    type=click.Path(file_okay=False, path_type=Path),
    help="Results folder (written only when everything succeeded).",
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="PATH=VALUE",
    help="Change one scenario field for this run (repeatable), e.g. "
    "services.eltax.multiplier=1.5; the paths of sweep --set.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run's totals as JSON.")
@click.option(
    "--fidelity",
    type=click.Choice(["analytic", "flow", "packet"]),
    help="Override the scenario's fidelity.",
)
@click.option("--seed", type=click.IntRange(min=0), help="Override the scenario's seed.")
@click.option("--overwrite", is_flag=True, help="Replace a non-empty results folder.")
@click.option("--no-plots", is_flag=True, help="Write summary and CSVs only (no PNGs, no HTML).")
@click.option(
    "--link",
    "links",
    multiple=True,
    metavar="ID",
    help="Follow this link's day too (repeatable): a~b for both directions, a~b> or a~b< "
    "for one; in links.csv, summary.json and the report. Every link is in links_all.csv.gz.",
)
@click.option(
    "--drain",
    is_flag=True,
    help="After the end, start nothing new and run until nothing is in flight "
    "(as engine: {drain: true}).",
)
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
    settings: tuple[str, ...],
    as_json: bool,
    fidelity: str | None,
    seed: int | None,
    overwrite: bool,
    no_plots: bool,
    links: tuple[str, ...],
    drain: bool,
    quiet: bool,
) -> None:
    """Run a scenario and write summary.json, CSV series, plots and report.html to -o/--out."""
    from lgwan_sim.scenario import check_out_dir, run_scenario, write_run

    path = resolve_scenario(scenario)
    sc = _load(path, settings, fidelity=fidelity, seed=seed, drain=drain)
    with options_named(out="--out", links="--link"):
        check_out_dir(out.absolute(), overwrite=overwrite)
        from lgwan_sim.scenario import resolve_links

        resolve_links(sc.topology, links)
    if sc.fidelity == "packet":
        from lgwan_sim._cli._common import warn_on_stderr
        from lgwan_sim.scenario import engine_inputs, long_run_warning

        slow = long_run_warning(engine_inputs(sc))
        if slow is not None:
            warn_on_stderr(slow)
    with progress_for(sc.duration_s, sc.name, quiet=quiet) as progress:
        outcome = run_scenario(sc, progress=progress, links=links)
    render = None
    if not no_plots:
        from lgwan_sim.report import write_run_report

        render = write_run_report
    with options_named(out="--out"):
        write_run(
            outcome,
            out,
            render=render,
            overwrite=overwrite,
            command=["lgwan-sim", "run", scenario, "--out", str(out)]
            + [f"--set={item}" for item in settings]
            + ([f"--fidelity={fidelity}"] if fidelity else [])
            + ([f"--seed={seed}"] if seed is not None else [])
            + [f"--link={link}" for link in links]
            + (["--drain"] if drain else []),
        )
    summary = outcome.tables.summary.to_dict()
    totals = summary["totals"]
    if as_json:
        from lgwan_sim._cli._common import echo_json

        echo_json(
            {
                "name": sc.name,
                "out": str(out),
                "wall_s": round(outcome.wall_s, 3),
                "totals": totals,
                "unreachable_local_bodies": summary["unreachable_local_bodies"],
            }
        )
        return
    click.echo(
        f"{sc.name}: {totals['offered']} offered, {totals['delivered']} delivered, "
        f"{totals['dropped_total']} dropped, {totals['in_flight']} in flight, "
        f"{plural(totals['slo_breaches'], 'objective breach', 'objective breaches')}, "
        f"peak {plural(summary['unreachable_local_bodies']['peak'], 'unreachable local body', 'unreachable local bodies')}; "
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

    from lgwan_sim.scenario import compare_notes, compare_runs, fmt

    rows = compare_runs(run_a, run_b)
    notes = compare_notes(rows)
    from lgwan_sim._cli._common import warn_on_stderr
    from lgwan_sim.scenario import fidelity_warning

    warning = fidelity_warning(rows)
    if warning is not None:
        warn_on_stderr(warning)
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
    console.print(
        f"{differing} of {plural(len(rows), 'figure')} "
        f"{'differs' if differing == 1 else 'differ'} (the scenario rows are always shown)"
    )


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
@out_option(
    type=click.Path(file_okay=False, path_type=Path),
    help="Results folder for the sweep table, plots and report.",
)
@click.option("--fidelity", type=click.Choice(["analytic", "flow", "packet"]))
@click.option("--seed", type=click.IntRange(min=0), help="First seed (default: the scenario's).")
@click.option("--overwrite", is_flag=True, help="Replace a non-empty results folder.")
@click.option(
    "--keep-runs",
    is_flag=True,
    help="Keep each run's folder (summary, CSVs, plots, report) in runs/run-N of -o/--out.",
)
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
    keep_runs: bool,
) -> int:
    """Run a scenario over a grid of values, each run in its own process on Dask.

    Exits 0 when every run succeeded and 1 when some failed (their errors are in the table
    and the report; the other runs are kept).
    """
    from lgwan_sim.report import write_sweep_report
    from lgwan_sim.scenario import (
        check_grid,
        check_out_dir,
        identical_replications,
        load_scenario,
        run_sweep,
        show_params,
        sweep_points,
        write_sweep,
    )

    if scheduler is not None and workers is not None:
        raise click.UsageError("--workers applies to the local cluster, not with --scheduler")
    path = resolve_scenario(scenario)
    base = load_scenario(path, fidelity=fidelity, seed=seed)
    grid = parse_set(settings)
    with options_named(out="--out", settings="--set", replications="--replications"):
        check_out_dir(out.absolute(), overwrite=overwrite)
        check_grid(path, grid, base_seed=base.seed, fidelity=fidelity)
        total = len(sweep_points(grid, replications=replications, base_seed=base.seed))

    import shutil
    import tempfile

    from rich.console import Console
    from rich.progress import Progress

    kept = None
    if keep_runs:  # beside the results folder, so the runs move in without a copy
        near = out.absolute().parent
        kept = Path(
            tempfile.mkdtemp(
                prefix=f".{out.name}.", suffix=".runs", dir=near if near.is_dir() else None
            )
        )
    try:
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
                keep_runs_in=kept,
            )
        with options_named(out="--out"):
            write_sweep(result, out, render=write_sweep_report, overwrite=overwrite, kept_runs=kept)
    finally:
        if kept is not None and kept.exists():
            shutil.rmtree(kept, ignore_errors=True)
    if replications > 1 and identical_replications(result):
        from lgwan_sim._cli._common import warn_on_stderr

        which = fidelity or base.fidelity.value
        warn_on_stderr(
            f"the {replications} replications of each point are identical: the {which} "
            "fidelity does not depend on the seed, so they add no information (use "
            "--replications 1, or the flow fidelity for run-to-run variation)"
            if which == "analytic"
            else f"the {replications} replications of each point are identical "
            f"(fidelity {which}): they add no information"
        )
    for failed in result.failed:
        click.echo(
            f"lgwan-sim: run {failed.point.index} failed "
            f"({show_params(failed.point.params)}, seed {failed.point.seed}): "
            f"{failed.error}",
            err=True,
        )
    click.echo(
        f"{base.name}: {len(result.runs) - len(result.failed)} of "
        f"{plural(len(result.runs), 'run')} ok on {plural(result.workers, 'worker')} "
        f"in {result.wall_s:.1f}s; results in {out}"
    )
    return 1 if result.failed else 0


commands: list[click.Command] = [run, validate, scenarios, compare, sweep]
