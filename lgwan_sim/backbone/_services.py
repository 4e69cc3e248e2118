"""Find the reference implementations of bundled services (``services/<name>/service.py``)."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from lgwan_sim._resources import bundled_dir
from lgwan_sim.backbone._sdk import Service
from lgwan_sim.errors import InputError

__all__ = ["ReferenceService", "reference_service", "reference_services"]


def reference_services() -> list[str]:
    """The bundled services that come with a program (``service.py`` beside ``service.yaml``)."""
    root = bundled_dir("services")
    return sorted(p.parent.name for p in root.glob("*/service.py"))


@dataclass(frozen=True, slots=True)
class ReferenceService:
    name: str
    path: Path
    module: ModuleType

    def make(self, endpoints: Path, site: str | None) -> Service:
        """The program's :class:`Service` at ``site`` (default: the running scenario's host)."""
        if site is None:
            try:
                hosts = json.loads(Path(endpoints).read_text(encoding="utf-8"))["hosts"]
            except (OSError, ValueError, KeyError, TypeError):
                hosts = {}
            site = hosts.get(self.name)
            if site is None:
                raise InputError(
                    "the emulator's scenario does not host this service; give --site",
                    field="service",
                    value=self.name,
                )
        service: Service = self.module.make(endpoints, site)
        return service


def reference_service(name: str) -> ReferenceService:
    path = bundled_dir("services") / name / "service.py"
    if not path.is_file():
        known = ", ".join(reference_services()) or "none"
        raise InputError(
            f"no reference implementation (there are: {known})", field="service", value=name
        )
    spec = importlib.util.spec_from_file_location(
        f"lgwan_sim_services_{name.replace('-', '_')}", path
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return ReferenceService(name=name, path=path, module=module)
