"""``lgwan-sim replay`` and ``lgwan-sim dashboard``: the trainer's live map."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

__all__ = ["commands"]


def _serve(server: Any) -> None:
    """Print the page's URL first, then serve until SIGINT or SIGTERM."""
    url = server.start()
    click.echo(url)
    sys.stdout.flush()
    done = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        done.set()

    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not done.wait(0.5):
            if server._thread is not None and not server._thread.is_alive():
                break
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        server.stop()


_PORT = click.option(
    "--port",
    default=0,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port on 127.0.0.1 (0: one the system chooses).",
)


@click.command("replay")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--speed", default="600", show_default=True, help="Simulated seconds per wall second."
)
@_PORT
def replay(run_dir: Path, speed: str, port: int) -> None:
    """Replay a finished run (`lgwan-sim run ... -o RUN_DIR`) on the live map.

    Prints the page's URL, then serves it on 127.0.0.1 until interrupted; pause, step and
    the speed are in the page (docs/dashboard.md).
    """
    from lgwan_sim.live import LiveServer, Replay, parse_speed, read_run

    factor = parse_speed(speed, "--speed")
    source = Replay(read_run(run_dir), speed=factor)
    _serve(LiveServer(source, port=port))


@click.command("dashboard")
@click.option(
    "--endpoints",
    "endpoints_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The running emulator's endpoints.json (without it: wait for a drill started "
    "from the page).",
)
@click.option(
    "--drills",
    "drills_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the emulators that drills start (default: a temporary folder).",
)
@_PORT
def dashboard(endpoints_file: Path | None, drills_dir: Path | None, port: int) -> None:
    """Follow a running emulator (`lgwan-sim emulate`) on the live map, with the trainer's
    controls: click to fail or restore, drills, pause and step (docs/dashboard.md)."""
    from lgwan_sim._cli._common import options_named
    from lgwan_sim.live import Dashboard, LiveServer, read_endpoints

    with options_named(endpoints="--endpoints"):
        info = read_endpoints(endpoints_file) if endpoints_file is not None else None
    source = Dashboard(info, drills_dir=drills_dir)
    _serve(LiveServer(source, port=port))


commands: list[click.Command] = [replay, dashboard]
