"""A scenario by name or file, with settings and a seed: what every front end loads.

The command line, the dashboard and the replay all start from the same three things: a
bundled scenario's name or a file, ``PATH=VALUE`` settings, and perhaps a seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lgwan_sim.errors import ScenarioError
from lgwan_sim.scenario._model import Scenario

__all__ = ["open_scenario", "parse_settings", "resolve_scenario"]


def resolve_scenario(text: str | Path) -> Path:
    """A scenario file path, or the name of a bundled scenario (``national-weekday``)."""
    path = Path(text)
    if path.is_file():
        return path
    from lgwan_sim._resources import bundled_dir

    name = str(text).removesuffix(".yaml")
    bundled = bundled_dir("scenarios") / f"{name}.yaml"
    if bundled.is_file() and path.parent == Path("."):
        return bundled
    from lgwan_sim._suggest import did_you_mean

    names = [p.stem for p in bundled_dir("scenarios").glob("*.yaml")]
    near = did_you_mean(name, names) if path.parent == Path(".") else ""
    raise ScenarioError(
        "no such scenario file, nor a bundled scenario of that name "
        f"({near + ' ' if near else ''}see: lgwan-sim scenarios list)",
        field="scenario",
        value=str(text),
    )


def parse_settings(
    items: Sequence[str], *, single: bool = False
) -> tuple[tuple[str, tuple[object, ...]], ...]:
    """Settings ``["a.b=1,2", "c=x"]`` -> ``(("a.b", (1, 2)), ("c", ("x",)))``, typed.

    With ``single`` (one run) each item holds one value, taken whole: a YAML list or
    mapping such as ``only_services=[eltax, konbini]`` is one value, ``a=1,2`` an error.
    Errors name the field ``settings``.
    """
    from lgwan_sim.scenario._loader import parse_override_value

    grid: list[tuple[str, tuple[object, ...]]] = []
    seen: set[str] = set()
    for item in items:
        path, sep, values = item.partition("=")
        path = path.strip()
        if not sep or not path or not values.strip():
            example = "=2" if single else "=1,2,4"
            raise ScenarioError(
                f"needs PATH={'VALUE' if single else 'V1,V2,...'} "
                f"(e.g. services.eltax.multiplier{example})",
                field="settings",
                value=item,
            )
        if path in seen:
            raise ScenarioError("the same PATH is given twice", field="settings", value=path)
        seen.add(path)
        text = values.strip()
        if single:
            if "," in text and not text.startswith(("[", "{")):
                raise ScenarioError(
                    "takes one value in a run (a sweep tries several)",
                    field="settings",
                    value=item,
                )
            grid.append((path, (parse_override_value(text),)))
            continue
        grid.append((path, tuple(parse_override_value(v.strip()) for v in values.split(","))))
    return tuple(grid)


def open_scenario(
    scenario: str | Path,
    settings: Sequence[str] = (),
    *,
    seed: int | None = None,
    fidelity: str | None = None,
    drain: bool = False,
) -> Scenario:
    """Load a bundled scenario's name or a file, with ``PATH=VALUE`` settings applied.

    ``drain`` is the setting ``engine.drain=true``. A setting the scenario refuses is a
    :class:`~lgwan_sim.errors.SettingError` naming it; an unknown name or file is a
    :class:`~lgwan_sim.errors.ScenarioError` about ``scenario``.
    """
    from lgwan_sim.scenario._sweep import load_with_settings

    params: list[tuple[str, object]] = [
        (p, values[0]) for p, values in parse_settings(settings, single=True)
    ]
    if drain:
        params.append(("engine.drain", True))
    return load_with_settings(resolve_scenario(scenario), params, seed=seed, fidelity=fidelity)
