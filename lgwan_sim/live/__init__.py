"""The trainer's live map: a finished run replayed, or a running emulator followed.

``lgwan-sim replay RUN_DIR`` and ``lgwan-sim dashboard --endpoints FILE`` serve one page on
127.0.0.1 that works offline: the national map drawn once on the server as SVG (every site,
link and prefecture an element with an id), updated by Server-Sent Events (``docs/dashboard.md``).
"""

from __future__ import annotations

from lgwan_sim.live._app import LiveServer, make_app
from lgwan_sim.live._dashboard import Dashboard, read_endpoints
from lgwan_sim.live._replay import Replay, ReplayRun, parse_speed, read_run
from lgwan_sim.live._state import UNITS, LiveState, ServiceInfo
from lgwan_sim.live._svg import layout, render_svg

__all__ = [
    "UNITS",
    "Dashboard",
    "LiveServer",
    "LiveState",
    "Replay",
    "ReplayRun",
    "ServiceInfo",
    "layout",
    "make_app",
    "parse_speed",
    "read_endpoints",
    "read_run",
    "render_svg",
]
