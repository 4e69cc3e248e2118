"""Wall time and file size of a 300-frame animation of the national map, per format.

Usage::

    python benchmarks/bench_animate.py                    # runs tohoku-2011 first
    python benchmarks/bench_animate.py --run-dir runs/tohoku --frames 300 --json out.json

The run folder comes from ``lgwan-sim run tohoku-2011`` (the national topology, four days in
ten-minute bins) unless ``--run-dir`` names one. Each format is exported through the real
command line (``python -m lgwan_sim.cli animate RUN -o FILE --frames N``) in its own
process, so a figure includes reading the run folder, building the map and encoding. The
load average before and after each export is printed beside it: the machine may be shared.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, help="a run folder (default: run tohoku-2011)")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--json", type=Path, help="also write the figures here")
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
            began = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - began
            row = {
                "format": fmt,
                "frames": args.frames,
                "frames_in_file": _frames_of(out),
                "wall_s": round(wall, 2),
                "per_frame_ms": round(1000 * wall / args.frames, 1),
                "bytes": out.stat().st_size,
                "load_before": round(load_before, 2),
                "load_after": round(_load(), 2),
            }
            rows.append(row)
            print(
                f"{fmt:5} {row['frames_in_file']} frames  {wall:6.1f} s  "
                f"{row['per_frame_ms']:6.1f} ms/frame  {row['bytes'] / 1e6:6.2f} MB  "
                f"load {row['load_before']} -> {row['load_after']} on {os.cpu_count()} CPUs"
            )
        if args.json:
            args.json.write_text(json.dumps({"rows": rows, "recording_bytes": recorded}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
