"""The bundled scenarios in ``scenarios/``, listed without running or fully loading them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lgwan_sim._resources import bundled_dir
from lgwan_sim._yaml import LineDict, load_yaml
from lgwan_sim.errors import ScenarioError

__all__ = ["BundledScenario", "bundled_scenarios"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BundledScenario:
    name: str
    path: Path
    title: str
    duration: str
    fidelity: str


def bundled_scenarios() -> list[BundledScenario]:
    """Every ``scenarios/*.yaml``, by file name; ``title`` is the description's first sentence."""
    out = []
    for path in sorted(bundled_dir("scenarios").glob("*.yaml")):
        doc = load_yaml(path, error=ScenarioError)
        if not isinstance(doc, LineDict):
            raise ScenarioError("a scenario file must be a mapping of keys", file=path, line=1)
        description = " ".join(str(doc.get("description", "")).split())
        title = description.split(". ")[0].rstrip(".")
        out.append(
            BundledScenario(
                name=path.stem,
                path=path,
                title=title,
                duration=str(doc.get("duration", "")),
                fidelity=str(doc.get("fidelity", "analytic")),
            )
        )
    return out
