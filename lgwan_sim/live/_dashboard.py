"""The dashboard: the live map beside a running emulator, with the trainer's controls.

It subscribes to the emulator's event stream (ZeroMQ PUB: numbered events; a gap in the
numbers is filled from ``GET /events``) and polls ``GET /state`` twice a second for the
clock and what is down (the Clone pattern: the poll is the snapshot, the stream the
deltas). Clicks become faults through the control API (``PUT``/``DELETE /faults/{name}``),
pause and step go to ``POST /clock``.

A drill is a new emulator: ``lgwan-sim emulate SCENARIO --speed X --fidelity flow`` started
by the dashboard in a folder of its own, which the dashboard then follows; starting another
drill, or stopping the dashboard, stops the emulator it started (never one it was only
pointed at).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lgwan_sim.errors import InputError, LgwanSimError
from lgwan_sim.live._state import LiveState, fold_directed
from lgwan_sim.scenario import Scenario

__all__ = ["DRILLS", "Dashboard", "read_endpoints"]

#: The bundled scenarios a drill may start.
DRILLS = ("tohoku-2011", "east-central-loss", "dc-loss-failover")
#: The speeds a drill may run at (simulated seconds per wall second).
MIN_SPEED, MAX_SPEED = 1.0, 3600.0
#: Wall seconds between two polls of ``GET /state``.
POLL_S = 0.5


def read_endpoints(path: Path) -> dict[str, Any]:
    """An emulator's ``endpoints.json``; one line naming what is wrong otherwise."""
    if not path.is_file():
        raise InputError("no such file", field="endpoints", value=str(path))
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"not JSON ({exc})", file=str(path), field="endpoints") from None
    if not isinstance(info, dict):
        raise InputError("not an endpoints file", file=str(path), field="endpoints")
    for key in ("control", "events", "scenario"):
        if not info.get(key):
            raise InputError(
                "missing (an emulator started without its control API or event stream?)",
                file=str(path),
                field=key,
                value=info.get(key),
            )
    return info


def _scenario_of(info: dict[str, Any]) -> Scenario:
    from lgwan_sim.scenario import open_scenario

    given = info.get("scenario_file")
    where = given if given and Path(given).is_file() else info["scenario"]
    return open_scenario(where, tuple(info.get("settings") or ()), seed=info.get("seed"))


class Dashboard:
    """Feeds the live page from an emulator (``info``: its endpoints) and runs drills."""

    def __init__(self, info: dict[str, Any] | None, *, drills_dir: Path | None = None) -> None:
        from lgwan_sim.backbone import Control
        from lgwan_sim.live._replay import services_of

        self._services_of = services_of
        self.info = info
        self.control: Control | None = Control(info) if info else None
        self.drills_dir = drills_dir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.drill: subprocess.Popen[bytes] | None = None
        self._drill_n = 0
        self._sub: Any = None
        self._ctx: Any = None
        self.last_seq = 0
        self._state_seq = 0  # the emulator's event count at the newest /state shown
        self._wake = asyncio.Event()
        self._clicks = asyncio.Lock()  # fail-or-restore decisions, one at a time
        if info is not None:
            sc = _scenario_of(info)
        else:
            from lgwan_sim.scenario import open_scenario

            sc = open_scenario(DRILLS[0])
        self.state = self._new_state(sc, attached=info is not None)

    def _new_state(self, sc: Scenario, *, attached: bool) -> LiveState:
        st = LiveState(
            sc.topology,
            self._services_of(sc),
            mode="live",
            title=sc.name,
            start=sc.start,
            end_s=sc.duration_s,
            bin_s=sc.bin_s,
        )
        st.routes = {}  # the path comes from the engine, asked for on each poll
        speed = (self.info or {}).get("speed") or 1.0
        st.control = {
            "paused": False,
            "speed": 0.0 if speed == "max" else float(speed),  # 0: virtual time
            "end_s": sc.duration_s,
            "attached": attached,
            "scenario": sc.name if attached else None,
        }
        self.scenario = sc
        return st

    # -- the emulator's stream and state ------------------------------------------------------
    def _open_stream(self) -> None:
        import zmq
        import zmq.asyncio

        self._close_stream()
        if self.info is None:
            return
        ctx = self._ctx = zmq.asyncio.Context()
        sock = self._sub = ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, 0)
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        sock.connect(self.info["events"])
        self.last_seq = 0

    def _close_stream(self) -> None:
        if self._sub is not None:
            self._sub.close(linger=0)
            self._sub = None
        if self._ctx is not None:
            self._ctx.term()
            self._ctx = None

    async def run(self) -> None:
        self._open_stream()
        poller = asyncio.create_task(self._poll_loop())
        try:
            while True:
                sock = self._sub
                if sock is None:
                    await asyncio.sleep(0.2)
                    continue
                try:
                    _, body = await sock.recv_multipart()
                except Exception:  # the socket was replaced (a new drill): take the new one
                    await asyncio.sleep(0.05)
                    continue
                if sock is not self._sub:
                    continue
                await self._take(json.loads(body))
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller

    async def _take(self, record: dict[str, Any]) -> None:
        seq = int(record["seq"])
        if self.last_seq and seq > self.last_seq + 1 and self.control is not None:
            # a gap (a slow subscriber): what was missed, from the emulator's log
            with contextlib.suppress(LgwanSimError, OSError):
                missed = await asyncio.to_thread(self.control.events, self.last_seq)
                for m in missed:
                    if int(m["seq"]) < seq:
                        self._event(m)
        if seq > self.last_seq:
            self.last_seq = seq
            if self._event(record):
                await self._refresh()

    def _event(self, record: dict[str, Any]) -> bool:
        """Show one emulator event; True when what is down may have changed."""
        kind = record.get("kind")
        st = self.state
        sim_s = float(record.get("sim_s", st.sim_s))
        if kind == "bin":
            util = record.get("utilisation")
            services = record.get("services") or {}
            st.update(
                sim_s=max(sim_s, st.sim_s),
                util=fold_directed(util) if util else None,
                bin_counts=(float(record["end_s"]), services) if services else None,
            )
            return False
        if kind == "applied":
            what = " ".join(
                str(x)
                for x in (
                    record.get("note"),
                    record.get("service"),
                    _count(record.get("links"), "links"),
                    _count(record.get("sites"), "sites"),
                )
                if x
            )
            text = f"{record.get('event_kind')}: {what}".rstrip(": ")
            st.update(sim_s=max(sim_s, st.sim_s), events=[(sim_s, text)])
            return True
        if kind == "fault":
            text = f"fault {record.get('name')} {record.get('what')}"
            st.update(events=[(sim_s, text)])
            return True
        if kind == "clock":
            st.update(control={"paused": bool(record.get("paused")), "speed": record.get("speed")})
            return False
        if kind == "transport":
            st.update(events=[(sim_s, f"transport {record.get('what')}")])
        return False

    async def _refresh(self) -> None:
        control = self.control
        if control is None:
            return
        from lgwan_sim.backbone import ControlError

        try:
            want = self.state.want_routes()
            state = await asyncio.to_thread(control.state, want)
        except ControlError:  # the emulator is there but busy (503): try again next poll
            return
        except (LgwanSimError, OSError, ValueError, http.client.HTTPException):
            if self.state.control.get("attached"):
                self.state.update(control={"attached": False})
            return
        # two reads may come back out of order (a poll and a click): keep the newer one
        if control is not self.control or int(state.get("seq", 0)) < self._state_seq:
            return
        self._state_seq = int(state.get("seq", 0))
        speed = state.get("speed", self.state.control.get("speed"))
        self.state.update(
            sim_s=max(float(state["sim_s"]), self.state.sim_s),
            down=(state["links_down"], state["sites_down"]),
            hosts=state["hosts"],
            faults=state["faults"],
            # the path shown is the one the engine's routing uses (it lags a failure by
            # the convergence delay), for the choice the request was made for
            routes={(r["src"], r["dst"]): r["sites"] for r in state.get("routes") or ()},
            control={
                "attached": True,
                "paused": bool(state.get("paused", False)),
                "speed": 0.0 if speed == "max" else speed,
                "ended": False,
            },
        )

    async def _poll_loop(self) -> None:
        while True:
            try:
                await self._refresh()
            except Exception as exc:  # never let one bad answer stop the polling
                print(f"lgwan-sim: dashboard: {exc!r}", file=sys.stderr)
            if self.drill is not None and self.drill.poll() is not None:
                self.state.update(control={"ended": True, "attached": False})
                self.drill = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_S)
            self._wake.clear()

    # -- the page's controls -------------------------------------------------------------------
    async def command(self, verb: str, body: dict[str, Any]) -> dict[str, Any]:
        if verb == "path":
            self.state.choose(body.get("site") or None, body.get("service") or None)
            await self._refresh()  # the engine's path for the new choice
            return {"path": self.state.path}
        if verb == "drill":
            return await self.start_drill(str(body.get("scenario", "")), body.get("speed", 60))
        control = self.control
        if control is None:
            raise LgwanSimError("no emulator: start a drill first")
        if verb == "fault":
            name, spec = self.fault_of(str(body.get("target", "")), str(body.get("id", "")))
            # One click at a time: a second click that read the fault list before the first
            # had put its fault would fail the element again instead of restoring it.
            async with self._clicks:
                # the emulator's own list decides, not the last state shown (a poll may lag)
                in_force = {f["name"] for f in await asyncio.to_thread(control.faults)}
                if name in in_force:
                    await asyncio.to_thread(control.delete, name)
                    done = "restored"
                else:
                    await asyncio.to_thread(lambda: control.put(name, **spec))
                    done = "failed"
            await self._refresh()
            return {"fault": name, "done": done}
        if verb == "clock":
            action = str(body.get("action", ""))
            if action == "pause":
                changes: dict[str, Any] = {"paused": True}
            elif action == "play":
                changes = {"paused": False}
            elif action == "step":
                changes = {"step_s": float(body.get("value") or self.scenario.bin_s)}
            elif action == "speed":
                from lgwan_sim.live._replay import parse_speed

                speed = parse_speed(body.get("value"))
                if not MIN_SPEED <= speed <= MAX_SPEED:
                    raise InputError(
                        f"the emulator runs at {MIN_SPEED:g}x to {MAX_SPEED:g}x",
                        field="speed",
                        value=speed,
                    )
                changes = {"speed": speed}
            else:
                raise InputError("unknown action", field="action", value=action)
            clock = await asyncio.to_thread(lambda: control.clock(**changes))
            self.state.update(control={"paused": clock["paused"], "speed": clock["speed"]})
            return {"clock": clock}
        raise InputError("unknown verb", field="verb", value=verb)

    def fault_of(self, target: str, ident: str) -> tuple[str, dict[str, Any]]:
        """The control API's fault for a click: its name and spec."""
        st = self.state
        topo = st.topology
        if target == "site":
            if ident not in topo.sites:
                raise InputError("unknown site", field="id", value=ident)
            return f"map-site-{st.site_index[ident]}", {"kind": "site_down", "sites": [ident]}
        if target == "link":
            if ident not in topo.links:
                raise InputError("unknown link", field="id", value=ident)
            return f"map-link-{st.link_index[ident]}", {"kind": "link_down", "links": [ident]}
        if target == "pref":
            if not topo.sites_in_prefecture(ident):
                raise InputError("no site in this prefecture", field="id", value=ident)
            return f"map-pref-{ident}", {"kind": "region_down", "prefectures": [ident]}
        if target == "campus":
            campuses = sorted({s.campus for s in topo.sites.values() if s.campus})
            if ident not in campuses:
                raise InputError("unknown campus", field="id", value=ident)
            return f"map-campus-{campuses.index(ident)}", {"kind": "campus_down", "campus": ident}
        raise InputError("site, link, pref or campus", field="target", value=target)

    async def start_drill(self, scenario: str, speed_value: object) -> dict[str, Any]:
        from lgwan_sim.live._replay import parse_speed

        if scenario not in DRILLS:
            raise InputError(f"one of {', '.join(DRILLS)}", field="scenario", value=scenario)
        speed = parse_speed(speed_value)
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise InputError(
                f"a drill runs at {MIN_SPEED:g}x to {MAX_SPEED:g}x", field="speed", value=speed
            )
        self._stop_drill()
        if self.drills_dir is None:
            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="lgwan-drills-")
            root = Path(self._tmp.name)
        else:
            root = self.drills_dir
        self._drill_n += 1
        out = root / f"{scenario}-{self._drill_n}"
        cmd = [
            sys.executable,
            "-m",
            "lgwan_sim",
            "emulate",
            scenario,
            "-o",
            str(out),
            "--speed",
            f"{speed:g}",
            "--fidelity",
            "flow",
            "--no-plots",
            "--overwrite",
            "-q",
        ]
        root.mkdir(parents=True, exist_ok=True)
        log = (root / f"{scenario}-{self._drill_n}.log").open("wb")
        self.drill = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=os.environ)
        endpoints = out / "endpoints.json"
        deadline = time.monotonic() + 120
        while not endpoints.is_file():
            if self.drill.poll() is not None or time.monotonic() > deadline:
                raise LgwanSimError(f"the drill's emulator did not start (see {log.name})")
            await asyncio.sleep(0.1)
        info = await asyncio.to_thread(read_endpoints, endpoints)
        await self.attach(info)
        return {"drill": scenario, "speed": speed, "endpoints": str(endpoints)}

    async def attach(self, info: dict[str, Any]) -> None:
        from lgwan_sim.backbone import Control

        sc = await asyncio.to_thread(_scenario_of, info)
        old = self.state
        self.info = info
        self.control = Control(info)
        same = (sc.topology.sites.keys(), sc.topology.links.keys()) == (
            old.topology.sites.keys(),
            old.topology.links.keys(),
        )
        new = self._new_state(sc, attached=True)
        if same:  # the page stays: start it over on the new run
            new.seq = old.seq
            new._queues = old._queues
            new.choice = old.choice if old.choice and old.choice[1] in new.hosts else None
            self.state = new
            new.rewind()
        else:  # another network: every page reloads
            self.state = new
            old._send({"reload": True})
        self._state_seq = 0
        self._open_stream()
        self._wake.set()

    def _stop_drill(self) -> None:
        if self.drill is not None and self.drill.poll() is None:
            self.drill.terminate()
            try:
                self.drill.wait(30)
            except subprocess.TimeoutExpired:
                self.drill.kill()
        self.drill = None

    async def close(self) -> None:
        self._stop_drill()
        self._close_stream()
        if self._tmp is not None:
            self._tmp.cleanup()


def _count(value: object, word: str) -> str:
    if isinstance(value, list | tuple):
        return f"{len(value)} {word}" if value else ""
    return str(value or "")
