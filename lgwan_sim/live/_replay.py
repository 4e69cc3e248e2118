"""A finished run played back: its files read once, then a clock that walks its bins.

The run directory is read through the report's :class:`~lgwan_sim.report.Recording`:
every link's utilisation per bin (``links_all.csv.gz``), each service's offered, delivered
and dropped per bin (``services.csv``), the applied events (``events.csv``) and every state
change the engine made (``changes.csv``). Which links and sites were down when, and where
each service was hosted, are what the run recorded, so faults applied live in an emulation
replay as they happened. The scenario (the file named in ``run.json``, with the ``--set``
and ``--seed`` of its command) gives the network and the services' callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lgwan_sim.errors import InputError
from lgwan_sim.live._state import UNITS, LiveState, ServiceInfo
from lgwan_sim.scenario import Scenario

__all__ = ["Replay", "ReplayRun", "read_run"]

_NEEDED = ("summary.json", "links_all.csv.gz", "services.csv", "events.csv")


@dataclass(slots=True)
class Change:
    """The network from ``at_s`` on: what is down, where each service is hosted."""

    at_s: float
    down_links: frozenset[str]
    down_sites: frozenset[str]
    hosts: dict[str, str]


@dataclass(slots=True)
class ReplayRun:
    """A run as the replay needs it."""

    scenario: Scenario
    bin_s: float
    end_s: float
    times_s: npt.NDArray[np.float64]
    util: npt.NDArray[np.int32]  # [bin, link] in 1/UNITS, the larger direction
    services: dict[str, npt.NDArray[np.float64]]  # [bin, (offered, delivered, dropped)]
    events: list[tuple[float, str]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)


def _bad(path: Path, message: str, value: object) -> InputError:
    return InputError(message, field="RUN_DIR", value=value, file=str(path))


def _given(command: list[str], option: str) -> tuple[str, ...]:
    """The values of ``option`` in a recorded command, as ``--set X`` or ``--set=X``."""
    out = [command[i + 1] for i, x in enumerate(command[:-1]) if x == option]
    out += [x.removeprefix(f"{option}=") for x in command if x.startswith(f"{option}=")]
    return tuple(out)


def _scenario_of(folder: Path, summary: dict[str, Any]) -> Scenario:
    from lgwan_sim.scenario import open_scenario, resolve_scenario

    meta = summary.get("scenario", {})
    run_info: dict[str, Any] = {}
    if (folder / "run.json").is_file():
        run_info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    command = [str(x) for x in run_info.get("command", [])]
    settings = _given(command, "--set")
    seed = next((int(x) for x in _given(command, "--seed")), None)
    candidates = [Path(run_info["scenario_file"])] if run_info.get("scenario_file") else []
    if meta.get("name"):
        with contextlib.suppress(InputError):
            candidates.append(resolve_scenario(str(meta["name"])))
    want = meta.get("file_sha256")
    for path in candidates:
        if path.is_file() and (
            want is None or hashlib.sha256(path.read_bytes()).hexdigest() == want
        ):
            return open_scenario(path, settings, seed=seed)
    raise _bad(
        folder / "run.json",
        "the run's scenario file is gone or has changed since the run",
        str(candidates[0]) if candidates else meta.get("name"),
    )


def read_run(folder: Path) -> ReplayRun:
    """Read a run directory written by ``lgwan-sim run`` (or ``emulate``)."""
    from lgwan_sim.report import Recording as RunRecording

    if not folder.is_dir():
        raise _bad(folder, "no such run directory", str(folder))
    for name in _NEEDED:
        if not (folder / name).is_file():
            raise _bad(folder / name, "not a run directory: this file is missing", name)
    run = RunRecording.load(folder)
    sc = _scenario_of(folder, dict(run.summary))
    topo = sc.topology
    link_ids = sorted(topo.links)
    row = {lid: i for i, lid in enumerate(run.undirected_ids)}
    missing = [lid for lid in run.undirected_ids if lid not in topo.links]
    if missing or len(row) != len(link_ids):
        raise _bad(folder / "links_all.csv.gz", "its links are not the scenario's", missing[:3])
    per_link = run.undirected_utilisation[[row[lid] for lid in link_ids]]  # [link, bin]
    util = np.rint(per_link.T * UNITS).astype(np.int32)
    services = {
        name: np.stack([run.offered[name], run.delivered[name], run.dropped[name]], axis=1)
        for name in run.services
    }
    events = []
    for ev in run.events:
        named = " ".join(ev.sites) if len(ev.sites) <= 20 else f"{len(ev.sites)} sites"
        what = " ".join(x for x in (ev.note, ev.service, " ".join(ev.links), named) if x)
        events.append((ev.at_s, f"{ev.kind}: {what}" if what else ev.kind))
    out = ReplayRun(
        scenario=sc,
        bin_s=run.bin_s,
        end_s=run.duration_s,
        times_s=run.times_s,
        util=util,
        services=services,
        events=events,
    )
    # the network over time, as the run recorded it
    choice = {c.name: c for c in sc.services}
    for t in sorted({0.0, *(ev.at_s for ev in run.events)}):
        links, sites = run.down_at(t)
        moved = run.failed_over_at(t)
        hosts = {
            name: c.secondary if name in moved and c.secondary else c.primary
            for name, c in choice.items()
        }
        step = Change(t, links, sites, hosts)
        last = out.changes[-1] if out.changes else None
        if last is None or (last.down_links, last.down_sites, last.hosts) != (links, sites, hosts):
            out.changes.append(step)
    return out


def services_of(sc: Scenario) -> list[ServiceInfo]:
    return [
        ServiceInfo(
            name=c.name,
            title=f"{c.spec.title_ja} {c.spec.title}".strip(),
            primary=c.primary,
            secondary=c.secondary,
            callers=tuple(c.callers),
        )
        for c in sc.services
    ]


class Replay:
    """Plays a :class:`ReplayRun` into a :class:`LiveState` at ``speed`` (sim s per wall s)."""

    #: Wall seconds between two frames while playing.
    TICK_S = 0.1

    def __init__(self, recording: ReplayRun, *, speed: float = 60.0) -> None:
        rec = self.recording = recording
        sc = rec.scenario
        self.state = LiveState(
            sc.topology,
            services_of(sc),
            mode="replay",
            title=sc.name,
            start=sc.start,
            end_s=rec.end_s,
            bin_s=rec.bin_s,
        )
        self.t = 0.0
        self._bin = -1
        self._closed = 0  # bins whose counts were sent
        self._event = 0  # timeline lines sent
        self._change = -1
        self.state.control = {"paused": False, "speed": speed, "end_s": rec.end_s, "ended": False}
        self.show(0.0)

    @property
    def speed(self) -> float:
        return float(self.state.control["speed"])

    def show(self, t: float) -> None:
        """Bring the state to simulated time ``t`` (only forward, or from 0 after restart)."""
        rec = self.recording
        t = min(max(t, 0.0), rec.end_s)
        self.t = t
        n = len(rec.times_s)
        while self._closed < n and rec.times_s[self._closed] + rec.bin_s <= t + 1e-9:
            i = self._closed
            self._closed += 1
            self.state.update(
                bin_counts=(
                    float(rec.times_s[i] + rec.bin_s),
                    {k: [round(float(x), 3) for x in v[i]] for k, v in rec.services.items()},
                )
            )
        b = min(int(t // rec.bin_s), n - 1) if n else -1
        util = None
        if b != self._bin and b >= 0:
            self._bin = b
            util = rec.util[b].tolist()
        change = self._change
        while change + 1 < len(rec.changes) and rec.changes[change + 1].at_s <= t:
            change += 1
        down = hosts = None
        if change != self._change:
            self._change = change
            c = rec.changes[change]
            down, hosts = (c.down_links, c.down_sites), c.hosts
        lines = []
        while self._event < len(rec.events) and rec.events[self._event][0] <= t:
            lines.append(rec.events[self._event])
            self._event += 1
        ended = t >= rec.end_s
        self.state.update(
            sim_s=t,
            util=util,
            down=down,
            hosts=hosts,
            events=lines,
            control={"ended": ended, **({"paused": True} if ended else {})},
        )

    def restart(self) -> None:
        self._bin, self._closed, self._event, self._change = -1, 0, 0, -1
        self.state.rewind()
        self.show(0.0)

    async def command(self, verb: str, body: dict[str, Any]) -> dict[str, Any]:
        """The page's controls: ``clock`` (``action``, ``value``) and ``path``."""
        if verb == "clock":
            return self.control(str(body.get("action", "")), body.get("value"))
        if verb == "path":
            self.state.choose(body.get("site") or None, body.get("service") or None)
            return {"path": self.state.path}
        raise InputError("unknown verb", field="verb", value=verb)

    async def close(self) -> None:
        return None

    def control(self, action: str, value: Any = None) -> dict[str, Any]:
        """``pause``, ``play``, ``step`` (to the next bin's end), ``speed`` (``value``),
        ``restart``, ``seek`` (to simulated second ``value``, paused). Returns the control
        state."""
        st = self.state
        if action == "pause":
            st.update(control={"paused": True})
        elif action == "play":
            if self.t >= self.recording.end_s:
                self.restart()
            st.update(control={"paused": False})
        elif action == "step":
            st.update(control={"paused": True})
            bin_s = self.recording.bin_s
            self.show((math.floor(self.t / bin_s + 1e-9) + 1) * bin_s)
        elif action == "speed":
            speed = parse_speed(value)
            st.update(control={"speed": speed})
        elif action == "restart":
            self.restart()
        elif action == "seek":  # to simulated second ``value``, paused
            try:
                t = float(value)
            except (TypeError, ValueError):
                raise InputError("simulated seconds", field="value", value=value) from None
            if not math.isfinite(t):
                raise InputError("simulated seconds", field="value", value=value)
            st.update(control={"paused": True})
            if t < self.t:
                self.restart()
            self.show(t)
        else:
            raise InputError("unknown action", field="action", value=action)
        return dict(st.control)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self.TICK_S)
            now = loop.time()
            if not self.state.control["paused"] and self.t < self.recording.end_s:
                self.show(self.t + (now - last) * self.speed)
            last = now


def parse_speed(value: object, field_name: str = "speed") -> float:
    """A speed factor: a positive number, optionally written ``60x``."""
    text = str(value).strip().lower().rstrip("x×")
    try:
        speed = float(text)
    except ValueError:
        raise InputError("a factor such as 1, 60 or 600x", field=field_name, value=value) from None
    if not (math.isfinite(speed) and speed > 0):
        raise InputError("must be a finite factor > 0", field=field_name, value=value)
    return speed
