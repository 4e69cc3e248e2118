"""The faces of the packages: what each exports, and who may import what.

A module whose name starts with ``_`` belongs to the package that holds it: modules of that
package (and of its subpackages) may import it, nobody else. ``lgwan_sim._yaml`` is
therefore shared by every package, ``lgwan_sim._fields`` only inside
``scenario/``. The command line (``_cli/``) and the reports (``report/``) are the outer
shell, so they import another package only through its ``__init__``, and only names its
``__all__`` lists. Every ``__all__`` names what exists, and every public name a package's
``__init__`` imports is in its ``__all__`` (httpx's exported-members test).
"""

from __future__ import annotations
import __future__

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

import lgwan_sim

ROOT = Path(lgwan_sim.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = ("lgwan_sim", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
PACKAGES = sorted(name for name, p in MODULES.items() if p.name == "__init__.py")


@dataclass(frozen=True)
class Import:
    importer: str
    line: int
    target: str
    """The dotted name imported: a module, or ``module.name`` for ``from module import name``."""
    bound: str
    """The name the import binds in the importer."""


def _imports(module: str) -> list[Import]:
    """Every import in ``module``, also those inside functions, with relative ones resolved."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [
                Import(module, node.lineno, a.name, a.asname or a.name.split(".")[0])
                for a in node.names
            ]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found += [
                Import(module, node.lineno, f"{base}.{a.name}", a.asname or a.name)
                for a in node.names
            ]
    return [i for i in found if i.target.split(".")[0] == "lgwan_sim"]


def _owner(target: str) -> str | None:
    """The package a private module in ``target`` belongs to (the deepest one), or None.

    Only modules count: ``lgwan_sim.engine._metrics._LOG_MIN`` names the private module
    ``_metrics`` of ``lgwan_sim.engine`` (a private name inside it is that package's business).
    """
    parts = target.split(".")
    while parts and ".".join(parts) not in MODULES:
        parts.pop()
    private = [i for i, p in enumerate(parts) if p.startswith("_") and not p.startswith("__")]
    return ".".join(parts[: private[-1]]) if private else None


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def cross_package_private_imports(modules: list[str]) -> list[str]:
    bad = []
    for module in modules:
        for imp in _imports(module):
            owner = _owner(imp.target)
            if owner is not None and not _within(module, owner):
                bad.append(f"{MODULES[module].relative_to(ROOT.parent)}:{imp.line}: {imp.target}")
    return bad


def test_no_module_imports_another_packages_private_module() -> None:
    assert cross_package_private_imports(sorted(MODULES)) == []


def test_the_rule_catches_a_private_import_from_another_package() -> None:
    # The check itself must be able to fail: a private name of scenario/ seen from engine/.
    assert _owner("lgwan_sim.scenario._loader.apply_overrides") == "lgwan_sim.scenario"
    assert _owner("lgwan_sim._fields.Fields") == "lgwan_sim"
    assert _owner("lgwan_sim.scenario.load_scenario") is None
    assert _owner("lgwan_sim._cli._common.plural") == "lgwan_sim._cli"
    assert _owner("lgwan_sim.lgpki._message._MAGIC") == "lgwan_sim.lgpki"
    assert _owner("lgwan_sim.scenario._sweep") == "lgwan_sim.scenario"
    assert not _within("lgwan_sim.engine._run", "lgwan_sim.scenario")
    assert _within("lgwan_sim.scenario._loader", "lgwan_sim.scenario")
    assert _within("lgwan_sim.report._html", "lgwan_sim")  # lgwan_sim._yaml is for everyone


def _subpackage(module: str) -> str | None:
    """``lgwan_sim.scenario._sweep`` -> ``lgwan_sim.scenario``; root modules -> None."""
    parts = module.split(".")
    if len(parts) < 2 or f"lgwan_sim.{parts[1]}" not in PACKAGES:
        return None
    return f"lgwan_sim.{parts[1]}"


SHELL = [m for m in MODULES if _subpackage(m) in ("lgwan_sim._cli", "lgwan_sim.report")]


@pytest.mark.parametrize("module", SHELL)
def test_the_shell_imports_other_packages_only_through_their_faces(module: str) -> None:
    own = _subpackage(module)
    bad = []
    for imp in _imports(module):
        other = _subpackage(imp.target)
        if other is None or other == own:
            continue
        package, _, name = imp.target.rpartition(".")
        face = importlib.import_module(other)
        if package != other or name not in getattr(face, "__all__", ()):
            bad.append(f"line {imp.line}: {imp.target} (not in {other}.__all__)")
    assert bad == []


# ``python -m lgwan_sim`` runs the command line when imported: it exports nothing
@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.endswith(".__main__")))
def test_every_all_is_honest(module: str) -> None:
    """Each ``__all__`` names what exists, once; a package's holds every public name it has,
    and a public module's every public name it defines (ruff's RUF022 keeps the order)."""
    mod = importlib.import_module(module)
    exported = getattr(mod, "__all__", None)
    package = MODULES[module].name == "__init__.py"
    public = sorted(
        name
        for name, value in vars(mod).items()
        if not name.startswith("_")
        and not isinstance(value, ModuleType)
        and (package or getattr(value, "__module__", None) == module)
        and not (name == "annotations" and value is __future__.annotations)
    )
    if exported is None:
        assert public == [] or _owner(module) is not None, f"{module} has no __all__"
        return
    assert len(exported) == len(set(exported)), "a name is listed twice"
    assert [n for n in exported if not hasattr(mod, n)] == []
    if package or _owner(module) is None:
        assert [n for n in public if n not in exported] == []


def _flag_fields(module: str) -> list[str]:
    """``field="--out"`` (or an f-string starting ``--``) in a call in ``module``."""
    path = MODULES[module]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if not isinstance(node, ast.Call):
            continue
        for kw in node.keywords:
            value = kw.value
            if isinstance(value, ast.JoinedStr) and value.values:
                value = value.values[0]
            if (
                kw.arg == "field"
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
                and value.value.startswith("-")
            ):
                found.append(f"line {node.lineno}: field={value.value!r}")
    return found


LIBRARY = [m for m in MODULES if not _within(m, "lgwan_sim._cli") and m != "lgwan_sim.cli"]


@pytest.mark.parametrize("module", LIBRARY)
def test_library_errors_name_library_fields_not_options(module: str) -> None:
    # The command line puts its option in (lgwan_sim._cli._common.options_named).
    assert _flag_fields(module) == []


def command_line_imports(modules: list[str]) -> list[str]:
    """Imports of the command line (``lgwan_sim._cli``, ``lgwan_sim.cli``) from the library."""
    bad = []
    for module in modules:
        for imp in _imports(module):
            if _within(imp.target, "lgwan_sim._cli") or _within(imp.target, "lgwan_sim.cli"):
                bad.append(f"{MODULES[module].relative_to(ROOT.parent)}:{imp.line}: {imp.target}")
    return bad


def test_the_library_never_imports_the_command_line() -> None:
    # The dashboard and the replay load scenarios through lgwan_sim.scenario, as the
    # command line does; the command line is the outermost shell and nothing leans on it.
    library = [m for m in LIBRARY if m != "lgwan_sim.__main__"]
    assert command_line_imports(library) == []
