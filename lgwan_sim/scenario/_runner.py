"""Run a scenario and write its results directory all at once, or not at all."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lgwan_sim import __version__
from lgwan_sim.engine import RunResult, run
from lgwan_sim.errors import ScenarioError
from lgwan_sim.scenario._build import EngineInputs, engine_inputs
from lgwan_sim.scenario._model import Scenario
from lgwan_sim.scenario._results import (
    DropsPerBin,
    RunTables,
    resolve_links,
    summarise,
    write_json,
    write_tables,
)

__all__ = [
    "SWEEP_FILES",
    "RunOutcome",
    "check_out_dir",
    "output_dir",
    "peak_rss_mib",
    "run_scenario",
    "write_run",
]

log = logging.getLogger(__name__)

#: ``render(topology, tables, folder, data_files) -> file names``: plots and the report.
Renderer = Callable[..., Sequence[str]]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutcome:
    scenario: Scenario
    inputs: EngineInputs
    result: RunResult
    tables: RunTables
    wall_s: float


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / 2**20


def run_scenario(
    scenario: Scenario,
    *,
    progress: Callable[[float], None] | None = None,
    links: Sequence[str] = (),
) -> RunOutcome:
    """Map the scenario to the engine, run it and condense the result.

    ``links`` names links (``a~b``, or one direction ``a~b>``) whose day the results follow
    besides the busiest ones; an unknown one is refused before the run starts.
    """
    resolve_links(scenario.topology, links)
    inputs = engine_inputs(scenario)
    drops = DropsPerBin()
    began = time.perf_counter()
    result = run(inputs, progress=progress, observer=drops)
    wall = time.perf_counter() - began
    tables = summarise(
        scenario, result, inputs.config, drops=drops, links=links, timeline=inputs.timeline.events
    )
    log.info("scenario %s ran in %.2fs", scenario.name, wall)
    return RunOutcome(scenario=scenario, inputs=inputs, result=result, tables=tables, wall_s=wall)


#: What ``lgwan-sim sweep`` writes into its folder (``sweep.json`` marks it).
SWEEP_FILES = frozenset(
    {
        "sweep.json",
        "sweep_runs.csv",
        "sweep_table.csv",
        "sweep_timing.json",
        "sweep_metrics.png",
        "sweep_latency.png",
        "report.html",
    }
)


def _protected(out: Path) -> str | None:
    """Why ``out`` may never be a results folder, or ``None``."""
    real = out.resolve()
    if real == Path(real.anchor):
        return "a filesystem root"
    for name, place in (("current", Path.cwd()), ("home", Path.home())):
        place = place.resolve()
        if real == place:
            return f"the {name} directory"
        if real in place.parents:
            return f"a folder that holds the {name} directory"
    return None


def _foreign_entries(out: Path) -> list[str] | None:
    """Entries of ``out`` that a previous run or sweep did not write (``None``: no marker).

    A run folder lists its files in ``run.json``; a sweep folder holds ``sweep.json`` and a
    fixed set of files. Anything else in the folder belongs to someone else.
    """
    names = sorted(p.name for p in out.iterdir())
    if "run.json" in names:
        try:
            listed = json.loads((out / "run.json").read_text(encoding="utf-8"))["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not isinstance(listed, list):
            return None
        known = {str(f) for f in listed} | {"run.json"}
    elif "sweep.json" in names:
        known = set(SWEEP_FILES)
        if (out / "runs").is_dir() and not (out / "runs").is_symlink():
            names.remove("runs")  # the runs a sweep kept (--keep-runs)
    elif "n1.json" in names:
        from lgwan_sim.scenario._n1 import N1_FILES

        known = set(N1_FILES)
    else:
        return None
    return [n for n in names if n not in known or not (out / n).is_file()]


def check_out_dir(out: Path, *, overwrite: bool) -> None:
    """Refuse an output path that cannot safely become (or be replaced by) a results folder.

    Refused always: a file, a filesystem root, the current or home directory or a folder
    that holds either. A non-empty folder is refused without ``overwrite``; with it, only a
    folder written by an earlier ``lgwan-sim run`` (``run.json`` lists its files),
    ``lgwan-sim sweep`` (``sweep.json``) or ``lgwan-sim n1`` (``n1.json``) holding nothing
    else is replaced.
    """
    if out.exists() and not out.is_dir():
        raise ScenarioError("the output path is a file, not a folder", field="out", value=str(out))
    why = _protected(out)
    if why is not None:
        raise ScenarioError(
            f"refusing to write results into {why}; name a folder of its own",
            field="out",
            value=str(out),
        )
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not overwrite:
        raise ScenarioError(
            "the output folder exists and is not empty (pass --overwrite to replace it)",
            field="out",
            value=str(out),
        )
    foreign = _foreign_entries(out)
    if foreign is None:
        raise ScenarioError(
            "--overwrite replaces only an empty folder or an earlier lgwan-sim run or sweep "
            "(run.json, sweep.json or n1.json), and this folder holds none of them",
            field="out",
            value=str(out),
        )
    if foreign:
        shown = ", ".join(foreign[:3]) + (
            f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        )
        raise ScenarioError(
            f"--overwrite refused: besides an earlier lgwan-sim result this folder holds {shown}",
            field="out",
            value=str(out),
        )


@contextlib.contextmanager
def output_dir(out: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``out``; move it into place only if the block succeeds.

    On any error the temporary folder, and any parent folders this call created, are removed,
    so a failed run leaves nothing behind. An existing ``out`` is replaced only with
    ``overwrite``.
    """
    out = out.absolute()
    check_out_dir(out, overwrite=overwrite)
    created: list[Path] = []
    parent = out.parent
    while not parent.exists():
        created.append(parent)
        parent = parent.parent
    for folder in reversed(created):
        folder.mkdir()
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a results folder is an ordinary folder
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in created:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        old.rmdir()
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)


def write_run(
    outcome: RunOutcome,
    out: Path,
    *,
    render: Renderer | None = None,
    overwrite: bool = False,
    command: Sequence[str] = (),
) -> Path:
    """Write summary, CSVs, ``run.json`` and (through ``render``) plots and report.html."""
    with output_dir(out, overwrite=overwrite) as folder:
        files = write_tables(outcome.tables, folder)
        if render is not None:
            files += list(render(outcome.scenario.topology, outcome.tables, folder, files))
        write_json(
            folder / "run.json",
            {
                "lgwan_sim_version": __version__,
                "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
                "engine_wall_s": round(outcome.wall_s, 3),
                "peak_rss_mib": round(peak_rss_mib(), 1),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpu_count": os.cpu_count(),
                "command": list(command),
                "scenario_file": str(Path(outcome.scenario.file).absolute()),
                "files": [*files, "run.json"],
            },
        )
    return out
