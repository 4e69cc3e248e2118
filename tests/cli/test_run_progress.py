"""A run tells how far it is: progress on stderr, a warning before a run that takes hours."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lgwan_sim.cli import main

#: ``lgwan-sim: NAME: simulated 1h36m of 4h00m (40%), 0m03s elapsed, ETA 0m05s``
LINE = re.compile(
    r"^lgwan-sim: (?P<name>\S+): simulated (?P<sim>\d+h\d\dm) of (?P<total>\d+h\d\dm) "
    r"\((?P<pct>\d+)%\), (?P<elapsed>\d+m\d\ds) elapsed, ETA (?P<eta>\d+m\d\ds|unknown)$"
)


def test_a_run_whose_stderr_is_not_a_terminal_prints_a_line_every_tenth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "zoom"
    # flow fidelity reports at every 5-minute bin: 48 positions in the 4 hours
    code = main(["run", "packet-zoom", "--fidelity", "flow", "--no-plots", "--out", str(out)])
    assert code == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines, "no progress on a stderr that is not a terminal"
    matches = [LINE.match(line) for line in lines]
    assert all(matches), lines
    pcts = [int(m["pct"]) for m in matches if m]
    assert {m["name"] for m in matches if m} == {"packet-zoom"}
    assert {m["total"] for m in matches if m} == {"4h00m"}
    assert pcts == sorted(pcts)
    assert pcts[-1] == 100
    assert {p // 10 for p in pcts} >= set(range(1, 11))  # a line in every tenth
    assert len(pcts) <= 20  # not one per bin


def test_quiet_silences_the_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "zoom"
    argv = ["run", "packet-zoom", "--fidelity", "analytic", "--no-plots", "--quiet"]
    assert main([*argv, "--out", str(out)]) == 0
    assert capsys.readouterr().err == ""


def test_a_line_every_30_seconds_even_when_the_run_barely_moves() -> None:
    from lgwan_sim._cli._progress import PlainProgress

    clock = [0.0]
    sink = io.StringIO()
    progress = PlainProgress(86400.0, "slow", file=sink, clock=lambda: clock[0])
    for step in range(1, 7):  # 1 % of the day per 31 s of wall time
        clock[0] = 31.0 * step
        progress(864.0 * step)
    lines = sink.getvalue().splitlines()
    assert len(lines) == 6, lines
    last = LINE.match(lines[-1])
    assert last is not None
    assert (last["sim"], last["pct"], last["elapsed"]) == ("1h26m", "6", "3m06s")
    assert last["eta"] == "48m34s"  # 186 s for 6 %: 94 % more at the same pace


def test_a_line_every_30_seconds_even_between_callbacks() -> None:
    """A bin of a slow run can take minutes: a timer repeats the position meanwhile."""
    from lgwan_sim._cli._progress import PlainProgress

    sink = io.StringIO()
    seen = threading.Event()

    class Sink(io.StringIO):
        def write(self, s: str) -> int:
            n = sink.write(s)
            seen.set()
            return n

    with PlainProgress(3600.0, "slow", file=Sink(), every_s=0.05) as progress:
        progress(360.0)
        seen.clear()
        assert seen.wait(5.0), "no line from the timer"
    assert "(10%)" in sink.getvalue().splitlines()[-1]


def test_the_terminal_bar_shows_percent_and_time_remaining() -> None:
    from rich.console import Console

    from lgwan_sim._cli._progress import progress_for

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120, color_system=None)
    with progress_for(3600.0, "zoom", quiet=False, console=console) as progress:
        progress(1800.0)
        progress.refresh()  # type: ignore[attr-defined]
    text = buffer.getvalue()
    assert "50%" in text
    assert re.search(r"ETA \d+:\d\d:\d\d|ETA -:--:--", text), text


def test_a_long_packet_run_warns_in_one_line_before_it_starts(tmp_path: Path) -> None:
    with subprocess.Popen(
        [
            *(sys.executable, "-m", "lgwan_sim.cli", "run", "national-weekday"),
            *("--fidelity", "packet", "--quiet", "--out", str(tmp_path / "out")),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
    ) as proc:
        # Without the warning nothing would come (--quiet): end the run after a while then.
        timer = threading.Timer(300.0, proc.kill)
        timer.start()
        try:
            assert proc.stderr is not None
            first = proc.stderr.readline()  # the run itself would take hours: stop here
        finally:
            timer.cancel()
            proc.kill()
    assert first.startswith("lgwan-sim: warning: packet fidelity: "), first
    assert re.search(r"about \d+(\.\d)? hours of CPU", first), first
    assert "packet hops per CPU second measured on packet-zoom" in first
    assert not (tmp_path / "out").exists()
