"""``lgwan-sim n1``: the N-1 study on the command line, its files, progress and refusals."""

from __future__ import annotations

import csv
import json
import os
import signal
import threading
from pathlib import Path

import pytest

from tests.scenario.support import TINY


@pytest.fixture
def tiny_path(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY, encoding="utf-8")
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_n1_writes_every_case_with_progress_and_a_report(cli, tiny_path, tmp_path):
    out = tmp_path / "n1"
    r = cli("n1", tiny_path, "-o", out, "--sites", "--workers", "2")
    assert r.code == 0, r.err
    cases = _rows(out / "n1_cases.csv")
    assert [c["case"] for c in cases] == [
        "none", "asp~ce", "asp~cw", "ce~cw", "pn~ce", "pn~cw", "pref~pn",
        "pn", "campus:east", "campus:west",
    ]  # fmt: skip
    by = {c["case"]: c for c in cases}
    assert by["pref~pn"]["unreachable_local_bodies"] == "1"
    assert by["pref~pn"]["breaches"] == "mail-relay (cut off)"
    assert by["pn~ce"]["worst_link"] == "pn~cw>"
    assert float(by["pn~ce"]["peak_utilisation"]) > 1.0
    assert "overload" in by["pn~ce"]["breaches"]
    assert by["ce~cw"]["breaches"] == ""
    assert by["ce~cw"]["lost"] == "0"
    unreachable = _rows(out / "n1_unreachable.csv")
    assert [(u["site"], u["name"]) for u in unreachable if u["case"] == "pn"] == [
        ("m1", "Morioka"),
        ("m2", "Hanamaki"),
        ("pref", "Iwate"),
    ]
    worst = [w for w in _rows(out / "n1_worst_links.csv") if w["case"] == "pn~ce"]
    assert [w["rank"] for w in worst] == ["1", "2", "3", "4", "5"]
    doc = json.loads((out / "n1.json").read_text(encoding="utf-8"))
    assert [c["case"] for c in doc["cases"]] == [c["case"] for c in cases]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "N-1 study of tiny-n1" in page
    assert "<td>pn~ce</td>" in page
    assert "data:image/png" in page
    assert {"n1_peaks.png", "n1_impact.png"} <= {p.name for p in out.iterdir()}
    # progress on stderr (not a terminal): plain lines counting cases, up to all of them
    assert "lgwan-sim: n1 tiny-n1: 10 of 10 cases (100%)" in r.err
    assert (
        "9 failures: 2 cut off local bodies, 5 put a service in breach, 3 overload a link" in r.out
    )


def test_n1_is_the_same_in_this_process_on_forked_workers_or_on_dask(
    cli, tiny_path, tmp_path, monkeypatch
):
    # by default the cases run on one forked worker per core (at most 8); --workers 1 runs
    # them in the command's process; where processes cannot be forked, --workers 2 starts a
    # local Dask cluster: the files are the same, byte for byte
    from lgwan_sim.scenario import _n1

    assert cli("n1", tiny_path, "-o", tmp_path / "default", "-q").code == 0
    assert cli("n1", tiny_path, "-o", tmp_path / "here", "--workers", "1", "-q").code == 0
    built = []
    study_of = _n1.study_of
    monkeypatch.setattr(_n1, "study_of", lambda sc: built.append(sc) or study_of(sc))
    assert cli("n1", tiny_path, "-o", tmp_path / "forked", "--workers", "3", "-q").code == 0
    assert len(built) == 1  # here, once: the forked workers inherit it
    monkeypatch.setattr(_n1, "study_of", study_of)
    by_default = _n1.default_workers()
    monkeypatch.setattr(_n1, "can_fork", lambda: False)
    assert cli("n1", tiny_path, "-o", tmp_path / "dask", "--workers", "2", "-q").code == 0
    runs = ("default", "here", "forked", "dask")
    timing = {d: json.loads((tmp_path / d / "n1_timing.json").read_text()) for d in runs}
    expected = {"default": by_default, "here": 1, "forked": 3, "dask": 2}
    assert {d: t["workers"] for d, t in timing.items()} == expected
    # forked processes ran the cases, each reporting its own peak memory (a fast one may
    # have taken them all before the third had started)
    assert 1 <= len(timing["forked"]["worker_peak_rss_mib"]) <= 3
    for name in ("n1.json", "n1_cases.csv", "n1_worst_links.csv", "n1_unreachable.csv"):
        here = (tmp_path / "here" / name).read_bytes()
        for other in ("default", "forked", "dask"):
            assert (tmp_path / other / name).read_bytes() == here, (name, other)


def test_by_default_n1_forks_one_worker_per_usable_cpu_up_to_eight(monkeypatch):
    from lgwan_sim.scenario import _n1

    # the CPUs this process may run on, not the machine's
    monkeypatch.setattr(_n1.os, "sched_getaffinity", lambda pid: {0, 3}, raising=False)
    monkeypatch.setattr(_n1.os, "cpu_count", lambda: 64)
    assert _n1._usable_cpus() == 2
    for cpus, workers in ((1, 1), (2, 2), (8, 8), (64, 8)):
        monkeypatch.setattr(_n1, "_usable_cpus", lambda cpus=cpus: cpus)
        assert _n1.default_workers() == workers
    monkeypatch.setattr(_n1, "can_fork", lambda: False)
    assert _n1.default_workers() == 1


def _run_in_thread(fn, timeout_s: float = 60.0):
    """``fn()`` in a thread: its result or exception, or a failure if it never returns."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout_s)
    assert not thread.is_alive(), "the study never returned"
    return box


@pytest.mark.parametrize("how", ["killed", "unpicklable error"])
def test_a_worker_that_dies_or_fails_ends_the_study_with_an_error_not_a_wait(
    tiny_path, monkeypatch, how
):
    from lgwan_sim.engine import N1Study
    from lgwan_sim.errors import LgwanSimError, NoRouteError
    from lgwan_sim.scenario import load_with_settings
    from lgwan_sim.scenario._n1 import run_n1

    parent = os.getpid()
    case = N1Study.case

    def failing(self, c):
        if os.getpid() != parent and c.id != "none":  # in a forked worker only
            if how == "killed":
                os.kill(os.getpid(), signal.SIGKILL)
            raise NoRouteError("m1", "dc")  # its pickle cannot be read back
        return case(self, c)

    monkeypatch.setattr(N1Study, "case", failing)
    sc = load_with_settings(tiny_path, ())
    box = _run_in_thread(lambda: run_n1(tiny_path, sc, workers=2))
    error = box.get("error")
    assert isinstance(error, LgwanSimError), box
    if how == "killed":
        assert "worker process died" in str(error)
    else:
        assert "N-1 case" in str(error)
        assert "no route from 'm1' to 'dc'" in str(error)


def test_n1_refuses_a_full_folder_and_replaces_its_own_with_overwrite(cli, tiny_path, tmp_path):
    out = tmp_path / "n1"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    r = cli("n1", tiny_path, "-o", out, "--workers", "1", "-q")
    assert r.code == 2
    assert "not empty" in r.err
    (out / "notes.txt").unlink()
    assert cli("n1", tiny_path, "-o", out, "--workers", "1", "-q", "--no-plots").code == 0
    r = cli("n1", tiny_path, "-o", out, "--workers", "1", "-q", "--overwrite")
    assert r.code == 0, r.err
    assert (out / "report.html").is_file()


def test_n1_warns_that_a_scenarios_events_are_not_applied(cli, small_path, tmp_path):
    r = cli("n1", small_path, "-o", tmp_path / "n1", "--workers", "1", "-q", "--no-plots")
    assert r.code == 0, r.err
    assert "lgwan-sim: warning: small: the N-1 study" in r.err
    assert "3 events are not applied" in r.err
