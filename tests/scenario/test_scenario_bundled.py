"""The bundled scenarios: listed, valid, and each one runs from the command line."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lgwan_sim.scenario import bundled_scenarios

#: In file-name order ("growth-2030-upgrade.yaml" sorts before "growth-2030.yaml").
BUNDLED = (
    "dc-loss-failover",
    "east-central-loss",
    "growth-2030-upgrade",
    "growth-2030",
    "national-weekday",
    "packet-zoom",
    "saga-dc-loss-standby",
    "saga-dc-loss",
    "tax-season-peak",
    "tohoku-2011",
)


def test_scenarios_list_shows_every_bundled_scenario(cli) -> None:
    result = cli("scenarios", "list")
    assert result.code == 0
    assert [line.split()[0] for line in result.out.splitlines()] == list(BUNDLED)
    assert tuple(b.name for b in bundled_scenarios()) == BUNDLED


#: Every bundled scenario runs on the national network but the packet-level zoom.
SITES = {name: 5 if name == "packet-zoom" else 1853 for name in BUNDLED}


@pytest.mark.parametrize("name", BUNDLED)
def test_every_bundled_scenario_validates_by_name(cli, name: str) -> None:
    result = cli("validate", name)
    assert result.code == 0, result.err
    assert result.out.startswith(f"ok: {name}: {SITES[name]} sites")


@pytest.fixture(scope="module")
def bundled_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Run every bundled scenario through the real command, two at a time (two cores)."""
    root = tmp_path_factory.mktemp("bundled")

    def run(name: str) -> tuple[str, subprocess.CompletedProcess[str]]:
        cmd = [sys.executable, "-m", "lgwan_sim.cli", "run", name, "--out", str(root / name)]
        return name, subprocess.run(cmd, capture_output=True, text=True, timeout=600)

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = dict(pool.map(run, BUNDLED))
    for name, proc in done.items():
        assert proc.returncode == 0, f"{name}: {proc.stderr}"
    return {name: root / name for name in BUNDLED}


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))


def _peaks(folder: Path) -> dict[str, float]:
    with (folder / "links_peak.csv").open(encoding="utf-8", newline="") as handle:
        return {r["link"]: float(r["peak_utilisation"]) for r in csv.DictReader(handle)}


@pytest.mark.slow
def test_every_bundled_scenario_writes_its_report(bundled_runs: dict[str, Path]) -> None:
    for name, folder in bundled_runs.items():
        assert (folder / "report.html").stat().st_size > 100_000, name
        assert _summary(folder)["scenario"]["name"] == name


@pytest.mark.slow
def test_the_weekday_baseline_delivers_everything(bundled_runs: dict[str, Path]) -> None:
    s = _summary(bundled_runs["national-weekday"])
    assert s["totals"]["dropped_total"] == 0
    assert s["unreachable_local_bodies"]["peak"] == 0
    assert s["services"]["mail-relay"]["callers"] == 1788


@pytest.mark.slow
def test_tax_season_multiplies_eltax(bundled_runs: dict[str, Path]) -> None:
    peak = _summary(bundled_runs["tax-season-peak"])["services"]["eltax"]["offered"]
    june = _summary(bundled_runs["national-weekday"])["services"]["eltax"]["offered"]
    assert peak > 2.5 * june


@pytest.mark.slow
def test_the_backbone_upgrade_cuts_backbone_utilisation_tenfold(
    bundled_runs: dict[str, Path],
) -> None:
    before = _peaks(bundled_runs["growth-2030"])
    after = _peaks(bundled_runs["growth-2030-upgrade"])
    uplink = "pn-13~central-east>"
    assert after[uplink] == pytest.approx(before[uplink] / 10, rel=1e-3)
    grown = _summary(bundled_runs["growth-2030"])["totals"]["offered"]
    assert grown > _summary(bundled_runs["national-weekday"])["totals"]["offered"]


@pytest.mark.slow
def test_tohoku_cuts_off_the_three_prefectures_then_restores_them(
    bundled_runs: dict[str, Path],
) -> None:
    folder = bundled_runs["tohoku-2011"]
    s = _summary(folder)
    # Iwate 33 + Miyagi 35 + Fukushima 59 municipalities, plus the three prefectures
    assert s["unreachable_local_bodies"]["peak"] == 130
    with (folder / "unreachable.csv").open(encoding="utf-8", newline="") as handle:
        series = [int(r["unreachable_local_bodies"]) for r in csv.DictReader(handle)]
    assert series[0] == 0
    assert series[-1] == 0
    assert s["totals"]["dropped"]["site_down"] > 0


@pytest.mark.slow
def test_dc_loss_fails_the_hosted_services_over_and_back(bundled_runs: dict[str, Path]) -> None:
    with (bundled_runs["dc-loss-failover"] / "events.csv").open(encoding="utf-8") as handle:
        events = list(csv.DictReader(handle))
    over = sorted(e["service"] for e in events if e["kind"] == "failover")
    back = sorted(e["service"] for e in events if e["kind"] == "failback")
    hosted = ["document-exchange", "konbini", "mail-relay", "resident-identity"]
    assert over == hosted
    assert back == hosted
    assert _summary(bundled_runs["dc-loss-failover"])["totals"]["dropped_total"] > 0


@pytest.mark.slow
def test_losing_the_east_central_site_leaves_every_body_reachable(
    bundled_runs: dict[str, Path],
) -> None:
    s = _summary(bundled_runs["east-central-loss"])
    assert s["unreachable_local_bodies"]["peak"] == 0
    assert s["worst_moment"]["failed_sites"] == 3


@pytest.mark.slow
def test_the_packet_zoom_accounts_for_every_packet_and_fails_over(
    bundled_runs: dict[str, Path],
) -> None:
    folder = bundled_runs["packet-zoom"]
    s = _summary(folder)
    assert (s["scenario"]["fidelity"], s["scenario"]["sites"]) == ("packet", 5)
    for name, svc in s["services"].items():
        lost = sum(svc["dropped"].values())
        assert svc["offered"] == svc["delivered"] + lost + svc["in_flight"], name
    # the cable cut and the site loss each lose traffic, for their own reason, and only they
    assert set(s["totals"]["dropped"]) <= {"link_failure", "no_route", "site_down"}
    assert s["totals"]["dropped"]["link_failure"] > 0
    assert s["totals"]["dropped"]["site_down"] > 0
    with (folder / "events.csv").open(encoding="utf-8") as handle:
        events = [(e["kind"], e["service"]) for e in csv.DictReader(handle)]
    assert ("failover", "mail-relay") in events
    assert ("failback", "mail-relay") in events
