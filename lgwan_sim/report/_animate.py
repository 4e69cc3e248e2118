"""A run as a video: the map of Japan with its links coloured bin by bin.

The figure is built once: prefectures in one ``PolyCollection``, every link in one
``LineCollection``, every site in one scatter, and the failed links and sites in one
collection each above them. A frame only sets colours, widths, positions of the failed
elements and the title, so 300 frames of the national map take seconds, not minutes.
Frames come from simulated time (frame ``k`` shows ``from + k * step``), so an export
depends only on the run folder and the options.

MP4 (H.264, yuv420p) and WebM (VP9) are encoded by ffmpeg: Debian's ``ffmpeg`` when it is
on ``PATH``, else the binary of the ``imageio-ffmpeg`` package (the ``animate`` extra). A
GIF is written by Pillow and needs no ffmpeg.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from lgwan_sim._time import JST
from lgwan_sim.errors import InputError, LgwanSimError
from lgwan_sim.network import LinkKind, SiteKind, Topology
from lgwan_sim.report._map import (
    _SITE_STYLE,
    link_style,
    link_widths,
    map_positions,
    prefecture_outlines,
    utilisation_scale,
)
from lgwan_sim.report._recording import Recording

if TYPE_CHECKING:
    from matplotlib.animation import FuncAnimation
    from matplotlib.collections import LineCollection, PathCollection
    from matplotlib.colors import Colormap, Normalize
    from matplotlib.figure import Figure
    from matplotlib.text import Text

__all__ = [
    "FORMATS",
    "MapAnimation",
    "ffmpeg_path",
    "frame_times",
    "write_animation",
]

#: File endings and what writes them.
FORMATS = (".mp4", ".webm", ".gif")
#: The frame's size in pixels (even, as H.264 in yuv420p needs).
WIDTH_PX, HEIGHT_PX = 800, 900
_DPI = 100
FAILED = "#e03131"
_WEEKDAYS_JA = "月火水木金土日"
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: The most frames one export makes (an hour of video at 15 fps would be 54,000).
MAX_FRAMES = 20_000


def ffmpeg_path() -> str | None:
    """Debian's ``ffmpeg`` on ``PATH``, else ``imageio-ffmpeg``'s binary; ``None`` if neither."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError:
        return None


def frame_times(
    recording: Recording,
    *,
    from_s: float | None = None,
    to_s: float | None = None,
    frames: int | None = None,
) -> npt.NDArray[np.float64]:
    """The simulated time of every frame: ``frames`` evenly spaced over ``[from_s, to_s)``,
    or, without ``frames``, the start of every bin in it (one frame per bin)."""
    t0 = 0.0 if from_s is None else from_s
    t1 = recording.duration_s if to_s is None else to_s
    if frames is None:
        first = math.ceil(t0 / recording.bin_s - 1e-9)
        starts = np.arange(first, recording.n_bins, dtype=float) * recording.bin_s
        return starts[starts < t1]
    return t0 + np.arange(frames, dtype=float) * ((t1 - t0) / frames)


#: The lowest utilisation the video's scale tells apart (0.01 %): a national network's
#: backbone runs at a few tenths of a per cent on a normal day.
SCALE_FLOOR = 1e-4


def animation_scale() -> tuple[Colormap, Normalize]:
    """The video's colours for utilisation: the map's colours on a logarithmic scale from
    0.01 % to 100 % (each decade a fifth of the way), purple above capacity.

    The static map's square-root scale puts every link of a normal national day in its
    bottom twentieth; a video of a failover must show where the traffic went.
    """
    from matplotlib.colors import LogNorm

    cmap, _ = utilisation_scale()
    cmap = cmap.with_extremes(under=cmap(0.0), over="#862e9c")
    return cmap, LogNorm(vmin=SCALE_FLOOR, vmax=1.0)


def _family() -> Any:
    import matplotlib

    return matplotlib.rcParams["font.family"]


def _clock(moment: datetime) -> str:
    """``2011年3月11日(金) 14:46 JST  Fri 11 Mar 2011 14:46``."""
    d = moment.astimezone(JST)
    ja = f"{d.year}年{d.month}月{d.day}日({_WEEKDAYS_JA[d.weekday()]}) {d:%H:%M}"
    # English names written out, not the locale's (%a, %b): the same file on every machine
    en = f"{_WEEKDAYS_EN[d.weekday()]} {d.day:02d} {_MONTHS_EN[d.month - 1]} {d.year} {d:%H:%M}"
    return f"{ja} JST   {en}"


@dataclass(frozen=True, slots=True)
class FrameState:
    """What one frame shows (for tests and the caption)."""

    t_s: float
    bin: int
    failed_links: frozenset[str]
    failed_sites: frozenset[str]
    unreachable: int


class MapAnimation:
    """The national (or any) map of a run, drawn once and updated in place frame by frame."""

    def __init__(
        self,
        recording: Recording,
        topology: Topology,
        *,
        times_s: Sequence[float] | npt.NDArray[np.float64],
        title: str | None = None,
    ) -> None:
        import matplotlib
        import matplotlib.pyplot as plt
        from matplotlib.collections import LineCollection, PolyCollection
        from matplotlib.lines import Line2D
        from matplotlib.ticker import FixedFormatter, FixedLocator

        from lgwan_sim.report._fonts import use_japanese_font

        use_japanese_font()
        self.recording = recording
        self.times_s = np.asarray(times_s, dtype=float)
        if len(self.times_s) == 0:
            raise InputError("no frame to draw: the span holds no bin", field="from_s")
        rec = recording
        self.fig: Figure = plt.figure(figsize=(WIDTH_PX / _DPI, HEIGHT_PX / _DPI), dpi=_DPI)
        self.fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.9)
        ax = self.ax = self.fig.add_subplot()
        ax.set_aspect(1.25)  # as the static map: roughly equal-area at Japan's latitudes
        pos, ((x0, x1), (y0, y1)) = map_positions(topology)
        self.positions = pos
        rings = prefecture_outlines()
        if rings:
            ax.add_collection(
                PolyCollection(
                    [np.asarray(r) for r in rings],
                    facecolors="#f1f3f5",
                    edgecolors="#adb5bd",
                    linewidths=0.4,
                    zorder=0,
                )
            )
        # links: in the recording's order (its utilisation rows); drawn access lines first,
        # backbones last, so a loaded backbone is not buried under idle access lines
        ids = rec.undirected_ids
        links = [topology.links[lid] for lid in ids]
        self.link_ids = ids
        self.segments = np.array([(pos[lk.a], pos[lk.b]) for lk in links], dtype=float)
        self.backbone = np.array([lk.kind is LinkKind.BACKBONE for lk in links], dtype=bool)
        self.base_widths = link_widths(lk.kind for lk in links)
        self._draw_order = np.argsort(self.backbone, kind="stable")
        self.links: LineCollection = LineCollection(
            list(self.segments[self._draw_order]), zorder=1, animated=True
        )
        ax.add_collection(self.links)
        # sites: one scatter, the small kinds first so the few big markers sit on top
        kinds = sorted(_SITE_STYLE, key=lambda k: _SITE_STYLE[k][0])
        sites = [s for k in kinds for s in sorted(topology.sites_of_kind(k), key=lambda s: s.id)]
        self.site_ids = tuple(s.id for s in sites)
        few = len(sites) <= 40
        self.site_xy = np.array([pos[s.id] for s in sites], dtype=float).reshape(-1, 2)
        self.site_colours = matplotlib.colors.to_rgba_array([_SITE_STYLE[s.kind][3] for s in sites])
        self.site_sizes = np.array(
            [max(_SITE_STYLE[s.kind][2], 40.0) if few else _SITE_STYLE[s.kind][2] for s in sites]
        )
        self.sites: PathCollection = ax.scatter(
            self.site_xy[:, 0],
            self.site_xy[:, 1],
            s=self.site_sizes,
            c=self.site_colours,
            linewidths=0,
            zorder=3,
            animated=True,
        )
        # failures above everything: one collection for lines, one for sites
        self.failed_lines: LineCollection = LineCollection(
            [], colors=FAILED, linewidths=1.8, zorder=9, animated=True
        )
        ax.add_collection(self.failed_lines)
        self.failed_marks: PathCollection = ax.scatter(
            np.zeros(0),
            np.zeros(0),
            s=110 if few else 40,
            marker="X",
            c=FAILED,
            edgecolors="white",
            linewidths=0.6,
            zorder=10,
            animated=True,
        )
        self._site_index = {sid: i for i, sid in enumerate(self.site_ids)}
        self._link_index = {lid: i for i, lid in enumerate(ids)}
        self.scale = cmap, norm = animation_scale()
        # the scale over the sea in the map's upper left, so the map keeps the whole width
        bar = self.fig.colorbar(
            plt.cm.ScalarMappable(norm=norm, cmap=cmap),
            cax=ax.inset_axes((0.04, 0.52, 0.025, 0.4)),
            extend="both",
        )
        bar.ax.set_title("利用率\nutilisation", fontsize=8, loc="left", family=_family())
        bar.ax.tick_params(labelsize=7)
        ticks = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
        bar.ax.yaxis.set_major_locator(FixedLocator(ticks))
        bar.ax.yaxis.set_minor_locator(FixedLocator([]))
        bar.ax.yaxis.set_major_formatter(FixedFormatter(["0.01%", "0.1%", "1%", "10%", "100%"]))
        handles = [
            Line2D([], [], color=FAILED, linewidth=1.8, label="障害回線 failed link"),
            Line2D(
                [],
                [],
                color=FAILED,
                marker="X",
                linestyle="",
                markersize=7,
                label="停止拠点 failed site",
            ),
            Line2D(
                [],
                [],
                color=_SITE_STYLE[SiteKind.MUNICIPALITY][3],
                marker="o",
                linestyle="",
                markersize=3,
                label="団体 local body",
            ),
        ]
        handles.append(
            Line2D([], [], color="#862e9c", linewidth=1.8, label="容量超過 over capacity")
        )
        ax.legend(handles=handles, loc="lower right", fontsize=7, framealpha=0.9)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_xticks([])
        ax.set_yticks([])
        # the header above the map: the run's name, the clock and the counts (the clock and
        # the counts change, over a background that never does)
        family = matplotlib.rcParams["font.family"]
        name = title or str(rec.summary.get("scenario", {}).get("name", ""))
        self.fig.text(0.02, 0.985, name, va="top", fontsize=12, family=family)
        self.clock: Text = self.fig.text(
            0.02, 0.945, "", va="top", fontsize=11, family=family, animated=True
        )
        self.status: Text = self.fig.text(
            0.98, 0.985, "", va="top", ha="right", fontsize=8, family=family, animated=True,
            linespacing=1.4,
        )  # fmt: skip
        self.artists = (
            self.links,
            self.sites,
            self.failed_lines,
            self.failed_marks,
            self.clock,
            self.status,
        )
        self.frames_drawn = 0
        self._background: Any = None
        self._text_cache: dict[str, Any] = {}
        self._widths: npt.NDArray[np.float64] | None = None

    # -- one frame -------------------------------------------------------------------------
    def state(self, k: int) -> FrameState:
        """What frame ``k`` shows: the bin holding its time, and every link and site down at
        any moment until the next frame (so a short outage is never skipped)."""
        rec = self.recording
        t = float(self.times_s[k])
        nxt = float(self.times_s[k + 1]) if k + 1 < len(self.times_s) else t + rec.bin_s
        links, sites = rec.down_during(t, max(nxt, math.nextafter(t, math.inf)))
        b = rec.bin_at(t)
        unreachable = int(rec.unreachable[b]) if rec.n_bins else 0
        return FrameState(t, b, rec.failed_links(links, sites), sites, unreachable)

    def update(self, k: int) -> tuple[Any, ...]:
        """Draw frame ``k`` into the artists built once; returns them."""
        rec = self.recording
        st = self.state(k)
        values = (
            rec.undirected_utilisation[:, st.bin] if rec.n_bins else np.zeros(len(self.link_ids))
        )
        colours, widths = link_style(values, self.backbone, self.base_widths, scale=self.scale)
        dead = np.zeros(len(self.link_ids), dtype=bool)
        for lid in st.failed_links:
            i = self._link_index.get(lid)
            if i is not None:
                dead[i] = True
        colours[dead, 3] = 0.0  # drawn red by the failure collection above
        order = self._draw_order
        self.links.set_color(colours[order])  # type: ignore[arg-type]
        if self._widths is None or not np.array_equal(widths, self._widths):
            self.links.set_linewidth(widths[order])  # type: ignore[arg-type]
            self._widths = widths
        self.failed_lines.set_segments(list(self.segments[dead]))
        down = [self._site_index[s] for s in sorted(st.failed_sites) if s in self._site_index]
        face = self.site_colours.copy()
        face[down, 3] = 0.0
        self.sites.set_facecolor(face)  # type: ignore[arg-type]
        self.failed_marks.set_offsets(self.site_xy[down] if down else np.zeros((0, 2)))
        self.clock.set_text(_clock(rec.time_of(st.t_s)))
        n_links = int(dead.sum())
        self.status.set_text(
            f"障害回線 failed links: {n_links}\n"
            f"停止拠点 failed sites: {len(down)}\n"
            f"不通団体 local bodies cut off: {st.unreachable}"
        )
        self.frames_drawn += 1
        return self.artists

    def render(self, k: int) -> bytes:
        """Frame ``k`` as RGBA pixels (``HEIGHT_PX`` rows of ``WIDTH_PX``).

        The static map (outlines, colour bar, legend, name) is drawn once and kept; a frame
        puts it back and draws only the artists that change on it.
        """
        canvas = self.fig.canvas
        if self._background is None:
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.fig.bbox)  # type: ignore[attr-defined]
        canvas.restore_region(self._background)  # type: ignore[attr-defined]
        for artist in self.update(k):
            if artist is self.status:
                self._draw_cached_text(artist)
            else:
                self.fig.draw_artist(artist)
        return bytes(canvas.buffer_rgba())  # type: ignore[attr-defined]

    def _draw_cached_text(self, text: Text) -> None:
        """Draw ``text`` from its pixels the first time it read so (it sits on the static
        header, so its pixels depend only on the words): the counts change seldom."""
        canvas = self.fig.canvas
        key = text.get_text()
        region = self._text_cache.get(key)
        if region is not None:
            canvas.restore_region(region)  # type: ignore[attr-defined]
            return
        self.fig.draw_artist(text)
        box = text.get_window_extent().padded(2)
        if len(self._text_cache) < 256:
            self._text_cache[key] = canvas.copy_from_bbox(box)  # type: ignore[attr-defined]

    def animation(self) -> FuncAnimation:
        """A matplotlib animation of every frame, for a notebook or a window (an export
        uses :meth:`render`, which draws the same frames)."""
        from matplotlib.animation import FuncAnimation

        return FuncAnimation(
            self.fig,
            self.update,
            frames=range(len(self.times_s)),
            init_func=lambda: self.artists,
            blit=True,
            repeat=False,
            cache_frame_data=False,
        )

    def close(self) -> None:
        import matplotlib.pyplot as plt

        plt.close(self.fig)


#: ffmpeg's settings per format: H.264 in yuv420p plays everywhere; VP9 in constant quality.
_CODECS = {
    ".mp4": ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast"],
    ".webm": [
        "-c:v",
        "libvpx-vp9",
        "-pix_fmt",
        "yuv420p",
        "-b:v",
        "0",
        "-crf",
        "40",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-row-mt",
        "0",
    ],
}


def _encode_ffmpeg(ffmpeg: str, path: Path, frames: Iterator[bytes], fps: int) -> None:
    """Pipe RGBA frames to ffmpeg. One thread and no version or date in the file, so the
    same frames give the same bytes."""
    command = [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgba", "-s", f"{WIDTH_PX}x{HEIGHT_PX}",
        "-r", str(fps), "-i", "pipe:0",
        *_CODECS[path.suffix.lower()],
        "-threads", "1", "-an", "-fflags", "+bitexact", "-flags:v", "+bitexact",
        "-map_metadata", "-1", str(path),
    ]  # fmt: skip
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(command, stdin=subprocess.PIPE, stderr=errors) as proc,
    ):
        assert proc.stdin is not None
        try:
            for frame in frames:
                proc.stdin.write(frame)
        except BrokenPipeError:  # ffmpeg stopped: its message says why
            pass
        except BaseException:
            proc.kill()
            raise
        finally:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
        code = proc.wait()
        if code != 0:
            errors.seek(0)
            said = errors.read().decode("utf-8", "replace").strip().splitlines()
            detail = said[-1] if said else f"exit {code}"
            raise LgwanSimError(f"ffmpeg could not write {path.suffix}: {detail}")


def gif_palette(samples: Sequence[bytes]) -> npt.NDArray[np.uint8]:
    """One palette of 256 colours for a whole GIF: from sample frames and every colour the
    map can give a link (the scale, over capacity, failed), so no frame lacks one."""
    from PIL import Image

    cmap, _ = animation_scale()
    scale = np.asarray(cmap(np.linspace(0.0, 1.0, 64)))[:, :3]
    extra = [*scale, matplotlib_rgb(FAILED), matplotlib_rgb("#862e9c")]
    swatch = np.repeat(np.round(np.asarray(extra) * 255).astype(np.uint8)[None], 8, axis=0)
    rows = [np.frombuffer(f, np.uint8).reshape(HEIGHT_PX, WIDTH_PX, 4)[:, :, :3] for f in samples]
    montage = np.concatenate(
        [*rows, np.resize(swatch, (8 * 8, WIDTH_PX, 3))], axis=0
    )  # the swatch repeated across the width, so it weighs in the median cut
    quantised = Image.fromarray(montage, "RGB").quantize(
        256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    palette = np.zeros((256, 3), dtype=np.uint8)
    used = np.asarray(quantised.getpalette() or [], dtype=np.uint8).reshape(-1, 3)[:256]
    palette[: len(used)] = used
    return palette


def matplotlib_rgb(colour: str) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    return to_rgb(colour)


def _palette_lut(palette: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """The nearest palette entry of every colour of 5 bits a channel (32,768 colours)."""
    levels = (np.arange(32) * 8 + 4).astype(np.int32)
    r, g, b = np.meshgrid(levels, levels, levels, indexing="ij")
    colours = np.stack([r.ravel(), g.ravel(), b.ravel()], axis=1)
    pal = palette.astype(np.int32)
    best = np.zeros(len(colours), dtype=np.uint8)
    for lo in range(0, len(colours), 4096):
        block = colours[lo : lo + 4096]
        d = ((block[:, None, :] - pal[None, :, :]) ** 2).sum(axis=2)
        best[lo : lo + 4096] = d.argmin(axis=1)
    return best


def _encode_gif(path: Path, frames: Iterator[bytes], fps: int, samples: Sequence[bytes]) -> None:
    """A looping GIF through Pillow, every frame on one palette (so the file is a third
    of the size of one palette per frame, and each frame is a table look-up)."""
    from PIL import Image

    palette = gif_palette(samples)
    lut = _palette_lut(palette)
    flat = palette.ravel().tolist()
    images = []
    for frame in frames:
        rgb = np.frombuffer(frame, np.uint8).reshape(HEIGHT_PX, WIDTH_PX, 4)
        key = (
            (rgb[:, :, 0].astype(np.int32) >> 3) << 10
            | (rgb[:, :, 1].astype(np.int32) >> 3) << 5
            | (rgb[:, :, 2].astype(np.int32) >> 3)
        )
        image = Image.fromarray(lut[key], "P")
        image.putpalette(flat)
        images.append(image)
    images[0].save(
        path,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=round(1000 / fps),
        loop=0,
        optimize=False,
    )


@dataclass(frozen=True, slots=True)
class Written:
    path: Path
    frames: int
    bytes: int
    width_px: int
    height_px: int


def write_animation(
    recording: Recording,
    topology: Topology,
    out: Path,
    *,
    times_s: npt.NDArray[np.float64],
    fps: int = 15,
    progress: Callable[[int, int], None] | None = None,
) -> Written:
    """Write the frames at ``times_s`` to ``out`` (``.mp4``, ``.webm`` or ``.gif``).

    The file appears whole or not at all: it is written beside ``out`` under a temporary
    name and renamed when complete.
    """
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise InputError("must end in .mp4, .webm or .gif", field="out", value=str(out))
    ffmpeg = None
    if suffix != ".gif":
        ffmpeg = ffmpeg_path()
        if ffmpeg is None:
            raise LgwanSimError(
                f"writing {suffix} needs ffmpeg: install Debian's ffmpeg, or the animate extra "
                "(pip install 'lgwan-sim[animate]'), or write a .gif"
            )
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise InputError("no such folder", field="out", value=str(folder))
    anim = MapAnimation(recording, topology, times_s=times_s)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=suffix, dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    n = len(times_s)

    def frames() -> Iterator[bytes]:
        for k in range(n):
            yield anim.render(k)
            if progress is not None:
                progress(k + 1, n)

    try:
        if ffmpeg is None:
            samples = [anim.render(k) for k in sorted({0, n // 2, n - 1})]
            _encode_gif(tmp, frames(), fps, samples)
        else:
            _encode_ffmpeg(ffmpeg, tmp, frames(), fps)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        anim.close()
    return Written(out, len(times_s), out.stat().st_size, WIDTH_PX, HEIGHT_PX)
