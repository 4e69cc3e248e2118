"""``lgwan-sim run``: the files of a run, their agreement, determinism and atomic writing."""

from __future__ import annotations

import base64
import csv
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from lgwan_sim.scenario import load_scenario
from lgwan_sim.scenario._results import fmt
from lgwan_sim.scenario._runner import run_scenario, write_run
from tests.scenario.support import BROKEN, SMALL

RUN_FILES = {
    "summary.json",
    "links.csv",
    "links_peak.csv",
    "links_all.csv.gz",
    "services.csv",
    "unreachable.csv",
    "events.csv",
    "changes.csv",
    "outages.csv",
    "link_utilisation.png",
    "service_traffic.png",
    "service_latency.png",
    "unreachable.png",
    "map_worst_moment.png",
    "report.html",
    "run.json",
}
#: Everything except run.json, which records the wall time and date of the run itself.
DETERMINISTIC = sorted(RUN_FILES - {"run.json"})


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run of the small scenario through the command line, shared by the module."""
    from lgwan_sim.cli import main

    folder = tmp_path_factory.mktemp("small")
    scenario = folder / "small.yaml"
    scenario.write_text(SMALL, encoding="utf-8")
    assert main(["run", str(scenario), "--out", str(folder / "out")]) == 0
    return folder / "out"


def test_run_writes_every_file_and_nothing_else(small_run: Path) -> None:
    assert {p.name for p in small_run.iterdir()} == RUN_FILES
    run = json.loads((small_run / "run.json").read_text())
    assert set(run["files"]) == RUN_FILES
    assert run["peak_rss_mib"] > 0


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_summary_accounts_for_every_exchange(small_run: Path) -> None:
    s = _summary(small_run)
    for name, svc in s["services"].items():
        assert svc["offered"] == svc["delivered"] + svc["dropped_total"] + svc["in_flight"], name
        assert svc["dropped_total"] == sum(svc["dropped"].values())
    totals = s["totals"]
    assert totals["offered"] == sum(v["offered"] for v in s["services"].values())
    # The outage of m1's line, the loss of dc-a and the region come through as drops.
    assert totals["dropped_total"] > 0
    assert s["unreachable_local_bodies"]["peak"] >= 1


def test_csv_series_agree_with_the_summary(small_run: Path) -> None:
    s = _summary(small_run)
    rows = _rows(small_run / "services.csv")
    n_bins = s["scenario"]["duration_s"] / s["scenario"]["bin_s"]
    assert len(rows) == n_bins * len(s["services"])
    for name, svc in s["services"].items():
        mine = [r for r in rows if r["service"] == name]
        assert sum(int(r["offered"]) for r in mine) == svc["offered"]
        # The engine rounds its expected (fractional) analytic counts per bin and in total
        # separately, so the per-bin sum may differ from the total by one message.
        assert abs(sum(int(r["delivered"]) for r in mine) - svc["delivered"]) <= 1
    unreachable = [int(r["unreachable_local_bodies"]) for r in _rows(small_run / "unreachable.csv")]
    assert max(unreachable) == s["unreachable_local_bodies"]["peak"]
    assert sum(1 for u in unreachable if u > 0) == s["unreachable_local_bodies"]["bins_with_any"]
    peaks = {r["link"]: r for r in _rows(small_run / "links_peak.csv")}
    links = _rows(small_run / "links.csv")
    for entry in s["busiest_links"]:
        assert peaks[entry["link"]]["peak_utilisation"] == fmt(entry["peak_utilisation"])
        series = [float(r[entry["link"]]) for r in links]
        assert max(series) == pytest.approx(entry["peak_load"], rel=1e-5)
        assert entry["peak_utilisation"] == min(1.0, entry["peak_load"])


def test_events_csv_is_the_applied_event_log(small_run: Path) -> None:
    events = _rows(small_run / "events.csv")
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "link_down"
    for kind in ("link_up", "site_down", "failover", "site_up", "failback", "demand"):
        assert kind in kinds
    failover = next(e for e in events if e["kind"] == "failover")
    assert failover["service"] == "mail-relay"
    assert float(failover["at_s"]) == 2 * 3600 + 30 + 120  # loss + detection + switchover
    assert [float(e["at_s"]) for e in events] == sorted(float(e["at_s"]) for e in events)


class _Cells(HTMLParser):
    """Collect every image source."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs).get("src") or "")


def test_report_is_self_contained_with_its_five_plots(small_run: Path) -> None:
    text = (small_run / "report.html").read_text(encoding="utf-8")
    assert not re.search(r'(src|href)="(?!data:|#)', text)
    parser = _Cells()
    parser.feed(text)
    assert len(parser.images) == 5
    embedded = sorted(base64.b64decode(src.split(",", 1)[1]) for src in parser.images)
    files = sorted(
        (small_run / n).read_bytes()
        for n in (
            "link_utilisation.png",
            "service_traffic.png",
            "service_latency.png",
            "unreachable.png",
            "map_worst_moment.png",
        )
    )
    assert embedded == files


def test_same_scenario_and_seed_give_byte_identical_files(
    small_run: Path, cli, tmp_path: Path
) -> None:
    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL, encoding="utf-8")
    assert cli("run", scenario, "--out", tmp_path / "again").code == 0
    for name in DETERMINISTIC:
        assert (tmp_path / "again" / name).read_bytes() == (small_run / name).read_bytes(), name


def test_cli_seed_and_fidelity_overrides_reach_the_summary(
    cli, small_path: Path, tmp_path: Path
) -> None:
    result = cli("run", small_path, "--out", tmp_path / "o", "--seed", "99", "--no-plots")
    assert result.code == 0, result.err
    s = _summary(tmp_path / "o")
    assert s["scenario"]["seed"] == 99
    assert not (tmp_path / "o" / "report.html").exists()


@pytest.mark.parametrize("path", sorted(BROKEN.glob("*.yaml")), ids=lambda p: p.stem)
def test_run_of_a_broken_scenario_writes_nothing(path: Path, cli, tmp_path: Path) -> None:
    fragment = path.read_text(encoding="utf-8").splitlines()[0].removeprefix("# expect: ")
    out = tmp_path / "results" / "run1"
    result = cli("run", path, "--out", out)
    assert result.code == 2
    lines = result.err.splitlines()
    assert len(lines) == 1
    assert fragment in lines[0]
    assert not (tmp_path / "results").exists()


def test_a_non_empty_out_folder_is_refused_and_left_alone(
    cli, small_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = cli("run", small_path, "--out", out)
    assert result.code == 2
    assert "--out: the output folder exists and is not empty" in result.err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    # --overwrite replaces only an earlier run, not a folder of someone else's files
    assert cli("run", small_path, "--out", out, "--overwrite", "--no-plots").code == 2
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_a_failure_while_writing_leaves_nothing_behind(small_path: Path, tmp_path: Path) -> None:
    outcome = run_scenario(load_scenario(small_path))

    def broken_renderer(*args: object) -> list[str]:
        raise OSError("disk full")

    out = tmp_path / "new" / "deeper" / "out"
    with pytest.raises(OSError, match="disk full"):
        write_run(outcome, out, render=broken_renderer)
    assert not (tmp_path / "new").exists()
    assert list(tmp_path.iterdir()) == [small_path]


def test_flow_fidelity_depends_on_the_seed_and_only_on_it(
    cli, small_path: Path, tmp_path: Path
) -> None:
    digests = []
    for out, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        result = cli(
            "run",
            small_path,
            "--out",
            tmp_path / out,
            "--fidelity",
            "flow",
            "--seed",
            seed,
            "--no-plots",
        )
        assert result.code == 0, result.err
        digests.append(_summary(tmp_path / out)["engine"]["series_sha256"])
    assert (tmp_path / "a" / "summary.json").read_bytes() != (
        tmp_path / "c" / "summary.json"
    ).read_bytes()
    assert digests[0] == digests[1] != digests[2]
    for name in ("summary.json", "services.csv", "links.csv", "events.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
