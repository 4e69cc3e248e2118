"""``lgwan-sim animate``: frames from simulated time, drawn in place, red where it failed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lgwan_sim.cli import main
from lgwan_sim.report import _animate
from lgwan_sim.report._animate import HEIGHT_PX, WIDTH_PX, MapAnimation, frame_times
from lgwan_sim.report._recording import Recording
from lgwan_sim.scenario import load_scenario, run_scenario, write_run
from tests.support import MORIOKA_CUT, five_sites

#: A line from Morioka cut from +1h to +1h30m, the town down from +1h10m, an ASP site lost.
SMALL = five_sites(
    "animated",
    MORIOKA_CUT,
    '{at: "+1h10m", kind: site_down, sites: [m1], until: "+2h"}',
    '{at: "+2h", kind: dc_loss, site: dc-a, detection_s: 30, switchover_s: 120, until: "+3h"}',
)

needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffprobe") is None or _animate.ffmpeg_path() is None,
    reason="ffmpeg and ffprobe are not installed (.ci/run installs Debian's ffmpeg)",
)
if os.environ.get("CI") and shutil.which("ffprobe") is None:  # pragma: no cover
    raise RuntimeError("CI must have ffmpeg: the MP4 and WebM exports are tested there")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("animated")
    path = folder / "animated.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return write_run(run_scenario(load_scenario(path)), folder / "run")


@pytest.fixture(scope="module")
def recording(run_dir: Path) -> Recording:
    return Recording.load(run_dir)


def _cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _probe(path: Path) -> dict[str, object]:
    out = subprocess.run(
        [
            "ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
            "-show_entries", "stream=codec_name,pix_fmt,width,height,nb_read_frames",
            "-of", "json", str(path),
        ],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    stream: dict[str, object] = json.loads(out)["streams"][0]
    return stream


# -- frames from simulated time -----------------------------------------------------------
def test_one_frame_per_bin_by_default_and_evenly_spaced_with_frames(recording) -> None:
    np.testing.assert_array_equal(frame_times(recording), np.arange(48) * 300.0)
    np.testing.assert_array_equal(
        frame_times(recording, from_s=3600, to_s=7200), 3600 + np.arange(12) * 300.0
    )
    np.testing.assert_array_equal(
        frame_times(recording, from_s=0, to_s=3600, frames=4), [0, 900, 1800, 2700]
    )


def test_a_frame_shows_what_was_down_during_its_span(recording, run_dir) -> None:
    topology = recording.topology()
    times = [0.0, 3000.0, 3700.0, 4300.0, 5500.0, 6500.0, 7300.0]
    anim = MapAnimation(recording, topology, times_s=times)
    try:
        states = [anim.state(k) for k in range(len(times))]
    finally:
        anim.close()
    assert states[0].failed_links == frozenset()
    # 3000 to 3700 s: the cut at 3600 s falls in the span, so the frame shows it
    assert states[1].failed_links == {"m1~core"}
    assert states[2].failed_sites == {"m1"}  # down from 4200 s, within [3700, 4300)
    assert states[3].failed_sites == {"m1"}
    assert states[4].failed_links == {"m1~core"}  # the town's own line while it is down
    # 6500 to 7300 s: the town comes back and the ASP site goes, both at 7200 s
    assert states[5].failed_sites == {"m1", "dc-a"}
    assert states[5].failed_links == {"m1~core", "core~dc-a"}
    assert states[6].failed_sites == {"dc-a"}


# -- files ---------------------------------------------------------------------------------
def test_a_gif_has_its_frames_at_the_frame_size(capsys, run_dir, tmp_path) -> None:
    out = tmp_path / "small.gif"
    code, said, err = _cli(capsys, "animate", run_dir, "-o", out, "--frames", "6", "--fps", "5")
    assert code == 0, err
    assert said.startswith(f"{out}: 6 frames, 800x900 px, 5 fps")
    with Image.open(out) as im:
        assert im.size == (WIDTH_PX, HEIGHT_PX)
        assert im.n_frames == 6
        assert im.info["duration"] == 200
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.gif"]


@needs_ffmpeg
@pytest.mark.parametrize(("suffix", "codec"), [(".mp4", "h264"), (".webm", "vp9")])
def test_a_video_has_its_frames_at_the_frame_size(capsys, run_dir, tmp_path, suffix, codec) -> None:
    out = tmp_path / f"small{suffix}"
    code, _, err = _cli(capsys, "animate", run_dir, "-o", out, "--from", "+1h", "--to", "+3h")
    assert code == 0, err
    stream = _probe(out)
    assert stream["codec_name"] == codec
    assert stream["pix_fmt"] == "yuv420p"
    assert (stream["width"], stream["height"]) == (WIDTH_PX, HEIGHT_PX)
    assert int(str(stream["nb_read_frames"])) == 24  # the 24 five-minute bins of two hours
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


@needs_ffmpeg
def test_an_export_is_the_same_bytes_twice(capsys, run_dir, tmp_path) -> None:
    for name in ("a.mp4", "b.mp4", "a.gif", "b.gif"):
        assert _cli(capsys, "animate", run_dir, "-o", tmp_path / name, "--frames", "5")[0] == 0
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()
    assert (tmp_path / "a.gif").read_bytes() == (tmp_path / "b.gif").read_bytes()


def _pixel(anim: MapAnimation, lon: float, lat: float) -> tuple[int, int]:
    """The (column, row) of a map point in a saved frame (rows counted from the top)."""
    x, y = anim.ax.transData.transform((lon, lat))
    return round(float(x)), round(HEIGHT_PX - float(y))


def _is_red(rgb: tuple[int, int, int]) -> bool:
    r, g, b = rgb
    return r > 170 and g < 110 and b < 110


def test_a_failed_link_is_red_where_it_is_on_the_saved_frame(
    capsys, recording, run_dir, tmp_path
) -> None:
    out = tmp_path / "cut.gif"
    # frames at +30m, +45m, +60m and +75m: the line is cut in the third frame's span
    code, _, err = _cli(
        capsys, "animate", run_dir, "-o", out, "--from", "+30m", "--to", "+90m", "--frames", "4"
    )
    assert code == 0, err
    times = frame_times(recording, from_s=1800, to_s=5400, frames=4)
    anim = MapAnimation(recording, recording.topology(), times_s=times)
    try:
        anim.render(0)  # the axes take their place (and aspect) when first drawn
        (ax_, ay_), (bx, by) = anim.positions["m1"], anim.positions["core"]
        # two points along the line, away from the markers at its ends
        points = [_pixel(anim, ax_ + f * (bx - ax_), ay_ + f * (by - ay_)) for f in (0.35, 0.55)]
    finally:
        anim.close()

    def red_near(frame: Image.Image, col: int, row: int) -> bool:
        return any(
            _is_red(frame.getpixel((col + dx, row + dy)))  # type: ignore[arg-type]
            for dx in (-1, 0, 1)
            for dy in (-1, 0, 1)
        )

    with Image.open(out) as im:
        frames = []
        for k in range(4):
            im.seek(k)
            frames.append(im.convert("RGB"))
    for col, row in points:
        assert not red_near(frames[0], col, row)  # before the cut: coloured by its load
        assert red_near(frames[2], col, row)
        assert red_near(frames[3], col, row)  # the town is down, so its line carries nothing


def test_artists_are_updated_in_place(recording, monkeypatch) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the map was cleared")

    times = frame_times(recording)
    figures = len(plt.get_fignums())
    anim = MapAnimation(recording, recording.topology(), times_s=times)
    monkeypatch.setattr(Axes, "clear", refuse)  # a frame never clears the map
    monkeypatch.setattr(Axes, "cla", refuse)
    try:
        anim.render(0)
        built = (list(anim.fig.findobj()), list(anim.ax.collections), anim.links, anim.sites)
        colours = []
        for k in (12, 27, 40):
            anim.render(k)
            colours.append(np.array(anim.links.get_colors()))
        assert list(anim.fig.findobj()) == built[0]
        assert list(anim.ax.collections) == built[1]
        assert (anim.links, anim.sites) == built[2:]
        assert len(plt.get_fignums()) == figures + 1
        assert anim.frames_drawn == 4
        # and they did change: the cut line's colour, and the loads
        assert not np.array_equal(colours[0], colours[1])
    finally:
        anim.close()


# -- bad input: one line, exit 2, nothing written -----------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "{tmp}/x.avi"], "--out: must end in .mp4, .webm or .gif (got '{tmp}/x.avi')"),
        (["-o", "{tmp}/x.gif", "--fps", "0"], "--fps: must be a whole number from 1 to 60"),
        (["-o", "{tmp}/x.gif", "--fps", "fast"], "--fps: must be a whole number (got 'fast')"),
        (["-o", "{tmp}/x.gif", "--frames", "0"], "--frames: must be a whole number from 1"),
        (["-o", "{tmp}/x.gif", "--from", "+1x"], '--from: must be "+<duration>" after the'),
        (["-o", "{tmp}/x.gif", "--to", "2026-02-17T09:00"], "--to: outside the run"),
        (["-o", "{tmp}/x.gif", "--from", "+2h", "--to", "+1h"], "--to: must be after --from"),
        (["-o", "{tmp}/x.gif", "--from", "+1h1m", "--to", "+1h2m"], "--from: no bin starts"),
        (["-o", "{tmp}/no/x.gif"], "--out: no such folder (got '{tmp}/no')"),
    ],
)
def test_bad_options_are_one_line(capsys, run_dir, tmp_path, args, message) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, out, err = _cli(capsys, "animate", run_dir, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("lgwan-sim: error: " + message.replace("{tmp}", str(tmp_path)))
    assert list(tmp_path.iterdir()) == []


def test_a_bad_run_folder_is_one_line_naming_the_file(capsys, run_dir, tmp_path) -> None:
    broken = tmp_path / "run"
    shutil.copytree(run_dir, broken)
    (broken / "services.csv").write_text("time,t_s\n", encoding="utf-8")
    code, _, err = _cli(capsys, "animate", broken, "-o", tmp_path / "x.gif")
    assert code == 2
    assert err == f"lgwan-sim: error: {broken / 'services.csv'}:1: service: missing column\n"
    assert not (tmp_path / "x.gif").exists()


def test_times_are_read_as_scenario_times(capsys, run_dir, tmp_path) -> None:
    # +1h, 09:00 JST and 00:00 UTC are one moment of a run that starts at 08:00 JST
    for k, start in enumerate(("+1h", "2026-02-16T09:00", "2026-02-16T00:00Z")):
        code, out, err = _cli(
            capsys, "animate", run_dir, "-o", tmp_path / f"{k}.gif", "--from", start,
            "--frames", "1",
        )  # fmt: skip
        assert code == 0, err
        assert "from 2026-02-16T09:00:00+09:00" in out


def test_an_export_that_fails_leaves_nothing(capsys, run_dir, tmp_path, monkeypatch) -> None:
    drawn = MapAnimation.render

    def fail_on_third(self: MapAnimation, k: int) -> bytes:
        if k == 2:
            raise OSError("disk full")
        return drawn(self, k)

    monkeypatch.setattr(MapAnimation, "render", fail_on_third)
    for name in ["x.gif"] + (["x.mp4"] if _animate.ffmpeg_path() else []):
        (tmp_path / name).write_bytes(b"an older file")
        code, _, err = _cli(capsys, "animate", run_dir, "-o", tmp_path / name)
        assert code == 2
        assert err == "lgwan-sim: error: disk full\n"
        assert (tmp_path / name).read_bytes() == b"an older file"  # not replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["x.gif"] + (["x.mp4"] if _animate.ffmpeg_path() else [])
    )


def test_without_ffmpeg_a_video_is_refused_and_a_gif_still_works(
    capsys, run_dir, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(_animate, "ffmpeg_path", lambda: None)
    code, _, err = _cli(capsys, "animate", run_dir, "-o", tmp_path / "x.mp4")
    assert code == 2
    assert err.startswith("lgwan-sim: error: writing .mp4 needs ffmpeg")
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
    assert _cli(capsys, "animate", run_dir, "-o", tmp_path / "x.gif", "--frames", "2")[0] == 0


@pytest.mark.slow
@needs_ffmpeg
def test_the_national_map_of_a_region_outage(capsys, tmp_path) -> None:
    path = tmp_path / "region.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            name: region
            topology: national
            start: "2026-06-10T09:00"
            duration: 2h
            seed: 3
            engine: {bin_s: 600}
            events:
              - {at: "+30m", kind: region_down, prefectures: ["04"], until: "+1h30m"}
            """
        ),
        encoding="utf-8",
    )
    run = write_run(run_scenario(load_scenario(path)), tmp_path / "run")
    out = tmp_path / "national.mp4"
    code, _, err = _cli(capsys, "animate", run, "-o", out)
    assert code == 0, err
    assert int(str(_probe(out)["nb_read_frames"])) == 12
    rec = Recording.load(run)
    anim = MapAnimation(rec, rec.topology(), times_s=frame_times(rec))
    try:
        st = anim.state(5)  # +50m: Miyagi is down
        assert st.failed_sites == {s.id for s in rec.topology().sites_in_prefecture("04")}
        assert len(st.failed_sites) > 20
    finally:
        anim.close()


def test_the_title_gives_the_simulated_time_in_japanese_and_english(recording) -> None:
    anim = MapAnimation(recording, recording.topology(), times_s=[3600.0, 4500.0])
    try:
        anim.render(0)
        assert anim.clock.get_text() == "2026年2月16日(月) 09:00 JST   Mon 16 Feb 2026 09:00"
        anim.render(1)
        assert anim.clock.get_text().endswith("Mon 16 Feb 2026 09:15")
        assert "failed links: 1" in anim.status.get_text()
    finally:
        anim.close()
