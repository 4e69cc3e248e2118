"""``lgwan-sim run | validate | scenarios list | compare | sweep``: the planner's commands.

Heavy imports (the engine, matplotlib, Dask) happen inside the commands, so ``lgwan-sim
--help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

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


commands: list[click.Command] = [validate, scenarios]
