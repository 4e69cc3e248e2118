"""``lgwan-sim animate``: a finished run as a video of the map (MP4, WebM or GIF)."""

from __future__ import annotations

import math
from pathlib import Path

import click

from lgwan_sim._cli._common import out_option
from lgwan_sim._time import parse_moment
from lgwan_sim.errors import InputError

__all__ = ["commands", "parse_run_time"]

#: Frames per second a video may have.
MAX_FPS = 60

_TIME_FORMS = (
    'must be "+<duration>" after the run\'s start (e.g. "+14h46m") or a date-time '
    '(e.g. "2011-03-11T14:46", JST)'
)


def parse_run_time(text: str, *, option: str, start_iso: str) -> float:
    """A moment of the run as scenarios write one: ``+2h30m`` after the start, or an ISO
    date-time (JST without an offset); seconds after the start."""
    from datetime import datetime

    from lgwan_sim._fields import parse_duration_s

    value = text.strip()
    if value.startswith("+"):
        seconds = parse_duration_s(value[1:])
        if seconds is None:
            raise InputError(_TIME_FORMS, field=option, value=text)
        return seconds
    moment = parse_moment(value)
    if moment is None:
        raise InputError(_TIME_FORMS, field=option, value=text)
    return (moment - datetime.fromisoformat(start_iso)).total_seconds()


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB"


@click.command("animate")
@click.argument("run_dir", type=click.Path(path_type=Path))
@out_option(
    type=click.Path(dir_okay=False, path_type=Path),
    help="The video: FILE.mp4 (H.264), FILE.webm (VP9) or FILE.gif.",
)
@click.option(
    "--fps", default="15", metavar="N", show_default=True, help="Frames per second of the video."
)
@click.option("--from", "from_", metavar="T", help='First moment shown: "+6h" or a date-time.')
@click.option("--to", metavar="T", help="End of what is shown (default: the end of the run).")
@click.option(
    "--frames",
    metavar="N",
    help="Frames, evenly spaced in simulated time (default: one per bin of the run).",
)
def animate(
    run_dir: Path, out: Path, fps: str, from_: str | None, to: str | None, frames: str | None
) -> None:
    """Make a video of the map of RUN_DIR (a folder of lgwan-sim run -o).

    Each frame shows one moment of simulated time: links coloured by their utilisation in
    that bin, failed links and sites in red, the clock in Japanese and English and the counts
    of failed links, failed sites and local bodies cut off. The same folder and options give
    the same file.
    """
    from lgwan_sim._cli._common import options_named
    from lgwan_sim.errors import LgwanSimError
    from lgwan_sim.report import (
        ANIMATION_FORMATS,
        MAX_ANIMATION_FRAMES,
        Recording,
        ffmpeg_path,
        frame_times,
        write_animation,
    )

    suffix = out.suffix.lower()
    if suffix not in ANIMATION_FORMATS:
        raise InputError("must end in .mp4, .webm or .gif", field="--out", value=str(out))
    folder = out.parent
    if not folder.is_dir():
        raise InputError("no such folder", field="--out", value=str(folder))
    if suffix != ".gif" and ffmpeg_path() is None:
        raise LgwanSimError(
            f"writing {suffix} needs ffmpeg: install Debian's ffmpeg, or the animate extra "
            "(pip install 'lgwan-sim[animate]'), or write a .gif"
        )
    fps_n = _whole(fps, "--fps", 1, MAX_FPS)
    n_frames = None if frames is None else _whole(frames, "--frames", 1, MAX_ANIMATION_FRAMES)
    recording = Recording.load(run_dir)
    start = recording.start.isoformat()
    end_s = recording.duration_s
    t0 = 0.0 if from_ is None else parse_run_time(from_, option="--from", start_iso=start)
    t1 = end_s if to is None else parse_run_time(to, option="--to", start_iso=start)
    for option, given, t in (("--from", from_, t0), ("--to", to, t1)):
        if not 0 <= t <= end_s:
            raise InputError(
                f"outside the run ({start} to {recording.time_of(end_s).isoformat()})",
                field=option,
                value=given,
            )
    if not t1 > t0:
        raise InputError("must be after --from", field="--to", value=to)
    with options_named(from_s="--from"):
        times = frame_times(recording, from_s=t0, to_s=t1, frames=n_frames)
    if len(times) == 0:
        raise InputError(
            f"no bin starts in this span (bins are {recording.bin_s:g} s): give --frames",
            field="--from",
            value=from_,
        )
    if len(times) > MAX_ANIMATION_FRAMES:
        raise InputError(
            f"{len(times)} frames, more than {MAX_ANIMATION_FRAMES}: give --frames",
            field="--frames",
        )
    topology = recording.topology()
    with options_named(out="--out", from_s="--from"):
        written = write_animation(recording, topology, out, times_s=times, fps=fps_n)
    first = recording.time_of(float(times[0])).isoformat()
    click.echo(
        f"{out}: {written.frames} frames, {written.width_px}x{written.height_px} px, "
        f"{fps_n} fps ({written.frames / fps_n:.1f} s), from {first}; {_size(written.bytes)}"
    )


def _whole(text: str, option: str, low: int, high: int) -> int:
    try:
        value = float(text)
    except ValueError:
        raise InputError("must be a whole number", field=option, value=text) from None
    if not (math.isfinite(value) and value.is_integer() and low <= value <= high):
        raise InputError(f"must be a whole number from {low} to {high}", field=option, value=text)
    return int(value)


commands = [animate]
