"""How far a run is, on stderr: a bar on a terminal, plain lines elsewhere, or nothing."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["PlainCountProgress", "PlainProgress", "count_progress_for", "progress_for"]


def _hm(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}h{rest // 60:02d}m"


def _ms(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


class PlainProgress:
    """Progress as plain lines on stderr, for output that is not a terminal (a log, a pipe).

    A line (simulated time, %, wall time so far, ETA) when the run enters a new tenth of its
    simulated time, and at least every ``every_s`` seconds of wall time: between the
    engine's reports a timer repeats the last position, so a slow bin cannot hide a run.
    The ETA assumes the rest of the run goes at the pace so far.
    """

    def __init__(
        self,
        total_s: float,
        label: str,
        *,
        file: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        every_s: float = 30.0,
    ) -> None:
        self._total = total_s
        self._label = label
        self._file = file
        self._clock = clock
        self._every = every_s
        self._began = clock()
        self._last_line = self._began
        self._pos = 0.0
        self._tenth = 0
        self._done = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    def __enter__(self) -> PlainProgress:
        self._timer = threading.Thread(target=self._tick, name="lgwan-sim-progress", daemon=True)
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join()

    def _tick(self) -> None:
        while not self._stop.wait(self._every):
            with self._lock:
                if not self._done and self._clock() - self._last_line >= self._every:
                    self._line(self._clock())

    def __call__(self, sim_now_s: float) -> None:
        with self._lock:
            if self._done:
                return
            self._pos = min(max(sim_now_s, 0.0), self._total)
            now = self._clock()
            tenth = int(self._pos / self._total * 10)
            if tenth > self._tenth or now - self._last_line >= self._every:
                self._tenth = tenth
                self._done = self._pos >= self._total
                self._line(now)

    def _line(self, now: float) -> None:
        frac = self._pos / self._total
        elapsed = now - self._began
        eta = _ms(elapsed * (1.0 - frac) / frac) if frac > 0 else "unknown"
        file = self._file if self._file is not None else sys.stderr
        file.write(
            f"lgwan-sim: {self._label}: simulated {_hm(self._pos)} of {_hm(self._total)} "
            f"({int(frac * 100)}%), {_ms(elapsed)} elapsed, ETA {eta}\n"
        )
        file.flush()
        self._last_line = now


class _Bar:
    """A rich progress bar in simulated time on a terminal: %, simulated time, ETA."""

    def __init__(self, total_s: float, label: str, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[sim]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._total = total_s
        self._task = self._bar.add_task(label, total=total_s, sim="0h00m simulated")

    def __enter__(self) -> _Bar:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def refresh(self) -> None:
        self._bar.refresh()

    def __call__(self, sim_now_s: float) -> None:
        now = min(sim_now_s, self._total)
        self._bar.update(self._task, completed=now, sim=f"{_hm(now)} simulated")


class _Silent:
    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __call__(self, sim_now_s: float) -> None:
        return None


def progress_for(
    total_s: float, label: str, *, quiet: bool, console: Console | None = None
) -> PlainProgress | _Bar | _Silent:
    """The progress display of a run on stderr: a bar on a terminal, else plain lines.

    ``quiet`` shows none (warnings and errors still appear).
    """
    if quiet:
        return _Silent()
    from rich.console import Console

    console = console or Console(stderr=True)
    if console.is_terminal:
        return _Bar(total_s, label, console)
    return PlainProgress(total_s, label, file=console.file)


class PlainCountProgress(PlainProgress):
    """:class:`PlainProgress` for a count of jobs (``31 of 154 cases``), not simulated time.

    Called with the number done so far; a line at each new tenth and at least every
    ``every_s`` seconds.
    """

    def __init__(self, total: int, label: str, *, unit: str = "case", **kwargs: object) -> None:
        super().__init__(float(total), label, **kwargs)  # type: ignore[arg-type]
        self._unit = unit

    def _line(self, now: float) -> None:
        frac = self._pos / self._total if self._total else 1.0
        elapsed = now - self._began
        eta = _ms(elapsed * (1.0 - frac) / frac) if frac > 0 else "unknown"
        total = int(self._total)
        file = self._file if self._file is not None else sys.stderr
        file.write(
            f"lgwan-sim: {self._label}: {int(self._pos)} of {total} "
            f"{self._unit if total == 1 else self._unit + 's'} ({int(frac * 100)}%), "
            f"{_ms(elapsed)} elapsed, ETA {eta}\n"
        )
        file.flush()
        self._last_line = now


class _CountBar:
    """A rich progress bar over a count of jobs, on a terminal."""

    def __init__(self, total: int, label: str, console: Console, unit: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(f"{unit}s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._task = self._bar.add_task(label, total=total)

    def __enter__(self) -> _CountBar:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def __call__(self, done: float) -> None:
        self._bar.update(self._task, completed=done)


def count_progress_for(
    total: int, label: str, *, quiet: bool, unit: str = "case", console: Console | None = None
) -> PlainCountProgress | _CountBar | _Silent:
    """Progress over ``total`` jobs on stderr: a bar on a terminal, else plain lines."""
    if quiet:
        return _Silent()
    from rich.console import Console

    console = console or Console(stderr=True)
    if console.is_terminal:
        return _CountBar(total, label, console, unit)
    return PlainCountProgress(total, label, unit=unit, file=console.file)
