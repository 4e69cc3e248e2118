"""Wall time and file size of a 300-frame animation of the national map, per format.

Usage::

    python benchmarks/bench_animate.py                    # runs tohoku-2011 first
    python benchmarks/bench_animate.py --run-dir runs/tohoku --frames 300 --json out.json

The run folder comes from ``lgwan-sim run tohoku-2011`` (the national topology, four days in
ten-minute bins) unless ``--run-dir`` names one. Each format is exported through the real
command line (``python -m lgwan_sim.cli animate RUN -o FILE --frames N``) in its own
process, so a figure includes reading the run folder, building the map and encoding. The
load average before and after each export is printed beside it (the machine may be shared),
with the CPU time of the export and its ffmpeg, which the load does not inflate.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FORMATS = ("mp4", "webm", "gif")


def _load() -> float:
    return os.getloadavg()[0]


def _frames_of(path: Path) -> int | None:
    """Frames in the file: ffprobe for a video, Pillow for a GIF."""
    if path.suffix == ".gif":
        from PIL import Image

        with Image.open(path) as im:
            return int(getattr(im, "n_frames", 1))
    try:
        out = subprocess.run(
            [
                "ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path),
            ],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return int(out.strip())


def compare_draw(run_dir: Path, frames: int) -> tuple[float, float]:
    """Milliseconds a frame, in this process: the export's frame (the static map kept, the
    changing artists drawn over it) against a full redraw of the same figure."""
    from lgwan_sim.report._animate import MapAnimation, frame_times
    from lgwan_sim.report._recording import Recording

    rec = Recording.load(run_dir)
    anim = MapAnimation(rec, rec.topology(), times_s=frame_times(rec, frames=frames))
    try:
        anim.render(0)
        began = time.perf_counter()
        for k in range(frames):
            anim.render(k)
        kept = (time.perf_counter() - began) / frames
        for artist in anim.artists:  # draw them with the rest, as a plain figure would
            artist.set_animated(False)
        began = time.perf_counter()
        for k in range(frames):
            anim.update(k)
            anim.fig.canvas.draw()
        full = (time.perf_counter() - began) / frames
    finally:
        anim.close()
    return 1000 * kept, 1000 * full


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, help="a run folder (default: run tohoku-2011)")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--compare-frames", type=int, default=30, help="frames of the in-process comparison"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        run_dir = args.run_dir
        if run_dir is None:
            run_dir = folder / "tohoku"
            began = time.perf_counter()
            cmd = [sys.executable, "-m", "lgwan_sim.cli", "run", "tohoku-2011"]
            subprocess.run([*cmd, "-o", str(run_dir), "-q"], check=True)
            print(f"run tohoku-2011: {time.perf_counter() - began:.1f} s")
        recorded = sum(
            (run_dir / name).stat().st_size
            for name in ("links_all.csv.gz", "changes.csv", "events.csv")
        )
        print(f"recording (links_all.csv.gz + changes.csv + events.csv): {recorded} bytes")
        rows = []
        for fmt in args.formats:
            out = folder / f"national.{fmt}"
            cmd = [sys.executable, "-m", "lgwan_sim.cli", "animate", str(run_dir), "-o", str(out)]
            cmd += ["--frames", str(args.frames), "--fps", str(args.fps)]
            load_before = _load()
            cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            began = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - began
            cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            # CPU time of the export and of its ffmpeg: what a machine of its own would wait
            # for at most, whatever else runs beside it
            cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
                cpu_after.ru_stime - cpu_before.ru_stime
            )
            row = {
                "format": fmt,
                "frames": args.frames,
                "frames_in_file": _frames_of(out),
                "wall_s": round(wall, 2),
                "cpu_s": round(cpu, 2),
                "per_frame_ms": round(1000 * wall / args.frames, 1),
                "bytes": out.stat().st_size,
                "load_before": round(load_before, 2),
                "load_after": round(_load(), 2),
            }
            rows.append(row)
            print(
                f"{fmt:5} {row['frames_in_file']} frames  {wall:6.1f} s wall  {cpu:6.1f} s CPU  "
                f"{row['per_frame_ms']:6.1f} ms/frame  {row['bytes'] / 1e6:6.2f} MB  "
                f"load {row['load_before']} -> {row['load_after']} on {os.cpu_count()} CPUs"
            )
        load_before = _load()
        kept, full = compare_draw(run_dir, args.compare_frames)
        print(
            f"a frame in process: {kept:.0f} ms kept map + changed artists, {full:.0f} ms full "
            f"redraw ({full / kept:.1f}x); load {load_before:.2f} -> {_load():.2f}"
        )
        if args.json:
            doc = {"rows": rows, "recording_bytes": recorded, "frame_ms": [kept, full]}
            args.json.write_text(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
