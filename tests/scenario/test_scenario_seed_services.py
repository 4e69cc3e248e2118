"""The municipal cloud, the nightly family-register backup and the CEPTOAR alert broadcast."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from lgwan_sim.network import build_national
from lgwan_sim.scenario import load_catalogue, load_scenario

ROSTER = Path(__file__).resolve().parents[3] / "shared" / "data" / "municipalities.csv"
NEW = (
    "ceptoar-alert",
    "koseki-backup",
    "municipal-cloud-hokkaido",
    "municipal-cloud-kyoto",
    "municipal-cloud-saga",
)
PILOT = {
    "municipal-cloud-hokkaido": {"01"},
    "municipal-cloud-kyoto": {"26"},
    "municipal-cloud-saga": {"41", "44", "45", "36"},
}


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("roster", [None, ROSTER], ids=["synthetic", "roster"])
def test_the_municipal_cloud_serves_78_municipalities_of_six_prefectures(roster) -> None:
    if roster is not None and not roster.exists():
        pytest.skip("no roster")
    topology = build_national(roster=roster)
    catalogue = load_catalogue()
    chosen: dict[str, tuple[str, ...]] = {}
    for name, prefectures in PILOT.items():
        callers = catalogue[name].callers.resolve(topology, name)
        assert catalogue[name].host.primary == f"dc-{name.rsplit('-', 1)[1]}"
        by_pref = {p: [c for c in callers if topology.site(c).prefecture == p] for p in prefectures}
        assert {p: len(c) for p, c in by_pref.items()} == dict.fromkeys(prefectures, 13)
        assert all(topology.site(c).kind.value == "municipality" for c in callers)
        chosen[name] = callers
    assert sum(len(c) for c in chosen.values()) == 78
    # deterministic: the same ids on a second build
    again = catalogue["municipal-cloud-saga"].callers.resolve(build_national(roster=roster), "x")
    assert again != chosen["municipal-cloud-saga"]  # the hash is of the service name
    assert (
        catalogue["municipal-cloud-saga"].callers.resolve(
            build_national(roster=roster), "municipal-cloud-saga"
        )
        == chosen["municipal-cloud-saga"]
    )


def test_the_new_services_run_only_when_asked_for(write_scenario) -> None:
    whole = load_scenario(
        write_scenario('topology: national\nstart: "2026-06-10"\nduration: 1h\nseed: 1\n')
    )
    names = {c.name for c in whole.services}
    assert names
    assert not names & set(NEW)
    listed = load_scenario(
        write_scenario(
            'topology: national\nstart: "2026-06-10"\nduration: 1h\nseed: 1\n'
            "services:\n  koseki-backup: {}\n  municipal-cloud-kyoto: {}\n",
            "listed",
        )
    )
    # naming opt-in services under services: adds them to the whole catalogue
    assert {c.name for c in listed.services} == names | {"koseki-backup", "municipal-cloud-kyoto"}


def _factor(weights: tuple[float, ...], i: int) -> float:
    return weights[i] / (sum(weights) / len(weights))


@pytest.mark.parametrize("fidelity", ["analytic", "flow"])
def test_offered_counts_are_what_the_service_files_say(cli, write_scenario, tmp_path, fidelity):
    # Wednesday 10 June 2026 (weekday index 2, month index 5): one whole day. The analytic
    # run carries the whole catalogue beside the two services; the flow run draws its Poisson
    # arrivals for the two alone (only_services): the counts it checks are each service's
    # arrivals, drawn from its own file, and a national day of every service in flow is two
    # minutes that check them no better.
    only = "only_services: [koseki-backup, municipal-cloud-kyoto]" if fidelity == "flow" else ""
    path = write_scenario(
        f"""
        topology: national
        start: "2026-06-10T00:00"
        duration: 1d
        seed: 3
        engine: {{bin_s: 3600}}
        {only}
        services:
          koseki-backup: {{}}
          municipal-cloud-kyoto: {{}}
        """
    )
    out = tmp_path / "run"
    result = cli("run", path, "--out", out, "--fidelity", fidelity, "--no-plots")
    assert result.code == 0, result.err
    summary = _summary(out)
    catalogue = load_catalogue()
    for name, callers in (("koseki-backup", 1741), ("municipal-cloud-kyoto", 13)):
        spec = catalogue[name]
        expected = (
            callers
            * spec.requests_per_day.value
            * _factor(spec.profile.weekly, 2)
            * _factor(spec.profile.monthly, 5)
        )
        entry = summary["services"][name]
        assert entry["callers"] == callers
        assert entry["offered"] == entry["delivered"] + entry["dropped_total"] + entry["in_flight"]
        if fidelity == "analytic":
            assert entry["offered"] == round(expected)
        else:  # Poisson arrivals: within four standard deviations
            assert abs(entry["offered"] - expected) < 4 * expected**0.5
    # the backup runs only in its night window, 01:00-05:00
    rows = [r for r in _rows(out / "services.csv") if r["service"] == "koseki-backup"]
    busy = {int(float(r["t_s"])) // 3600 for r in rows if int(r["offered"]) > 0}
    assert busy <= {1, 2, 3, 4}
    assert busy


BROADCAST = """
    topology: national
    start: "2026-06-10T09:00"
    duration: 2m
    seed: 1
    services:
      directory: {multiplier: 0}
    events:
      - {at: "+1m", kind: ceptoar_alert, size_bytes: 50000, note: NISC alert}
    """


def test_a_broadcast_mails_every_local_body_once_analytic(cli, write_scenario, tmp_path) -> None:
    out = tmp_path / "run"
    result = cli("run", write_scenario(BROADCAST), "--out", out, "--no-plots")
    assert result.code == 0, result.err
    entry = _summary(out)["services"]["ceptoar-alert"]
    assert entry["callers"] == 1788
    assert entry["primary"] == "govnet"
    assert entry["offered"] == entry["delivered"] == 1788
    rows = [r for r in _rows(out / "services.csv") if r["service"] == "ceptoar-alert"]
    assert [int(float(r["t_s"])) for r in rows if int(r["offered"])] == [60]


def test_a_broadcast_carries_its_size(write_scenario) -> None:
    from lgwan_sim.scenario import engine_inputs

    scenario = load_scenario(write_scenario(BROADCAST))
    svc = engine_inputs(scenario).demand.service("ceptoar-alert")
    assert svc.arrivals == "trace"
    assert len(svc.trace_s) == 1788
    assert set(svc.trace_s) == {60.0}
    assert svc.response_size.mean_bytes == 50000
    assert sorted(svc.callers) == sorted(
        s.id
        for s in scenario.topology.sites.values()
        if s.kind.value in ("municipality", "prefecture")
    )


@pytest.mark.slow
def test_a_broadcast_reaches_every_local_body_in_flow(cli, write_scenario, tmp_path) -> None:
    out = tmp_path / "run"
    result = cli("run", write_scenario(BROADCAST), "--out", out, "--fidelity", "flow", "--no-plots")
    assert result.code == 0, result.err
    entry = _summary(out)["services"]["ceptoar-alert"]
    assert entry["offered"] == entry["delivered"] == 1788
    assert entry["dropped_total"] == 0
    assert entry["in_flight"] == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("size_bytes: 0", "events[1].size_bytes"),
        ("sites: [govnet]", "events[1].sites: unknown key"),
        ("size_bytes: 9000", "every ceptoar_alert of a scenario has one size"),
    ],
)
def test_bad_broadcasts_are_one_line_errors(cli, write_scenario, extra, message) -> None:
    second = f'      - at: "+90s"\n        kind: ceptoar_alert\n        {extra}\n'
    result = cli("validate", write_scenario(BROADCAST.rstrip(" ") + second))
    assert result.code == 2
    assert message in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1, result.err


SAGA = """
    topology: national
    start: "2026-06-10T09:50"
    duration: 30m
    seed: 5
    engine: {{bin_s: 60}}
    services:
      municipal-cloud-kyoto: {{}}
      municipal-cloud-saga: {{{standby}}}
    events:
      - {{at: "+5m", kind: dc_loss, site: dc-saga, until: "+25m", detection_s: 60, switchover_s: 240}}
    """


@pytest.mark.parametrize("fidelity", ["analytic", "flow"])
@pytest.mark.parametrize(("standby", "lost_s"), [("", 1200), ("secondary: dc-kyoto", 300)])
def test_losing_the_saga_data_centre_names_who_lost_their_core_systems(
    cli, write_scenario, tmp_path, fidelity, standby, lost_s
) -> None:
    out = tmp_path / "run"
    path = write_scenario(SAGA.format(standby=standby))
    result = cli("run", path, "--out", out, "--fidelity", fidelity, "--no-plots")
    assert result.code == 0, result.err
    summary = _summary(out)
    scenario = load_scenario(path)
    saga = scenario.service("municipal-cloud-saga").callers
    rows = _rows(out / "outages.csv")
    assert sorted(r["local_body"] for r in rows) == sorted(saga)
    assert {r["service"] for r in rows} == {"municipal-cloud-saga"}
    assert {float(r["duration_s"]) for r in rows} == {lost_s}
    assert {r["from"] for r in rows} == {"2026-06-10T09:55:00+09:00"}
    assert all(r["name"] for r in rows)
    (spell,) = summary["service_outages"]
    assert spell["local_bodies"] == 52
    assert spell["duration_s"] == lost_s
    entry = summary["services"]["municipal-cloud-saga"]
    assert entry["dropped"].get("site_down", 0) > 0
    assert entry["offered"] == entry["delivered"] + entry["dropped_total"] + entry["in_flight"]
    assert summary["services"]["municipal-cloud-kyoto"]["dropped_total"] == 0
    # the unreachable series agrees: 52 bodies for as long as the spell lasts (one bin more
    # while routing converges after the site returns)
    unreachable = [int(r["unreachable_local_bodies"]) for r in _rows(out / "unreachable.csv")]
    assert max(unreachable) == 52
    assert lost_s // 60 <= sum(1 for u in unreachable if u) <= lost_s // 60 + 1


def test_the_saga_report_names_who_lost_their_core_systems(cli, write_scenario, tmp_path) -> None:
    out = tmp_path / "run"
    result = cli("run", write_scenario(SAGA.format(standby="")), "--out", out)
    assert result.code == 0, result.err
    page = (out / "report.html").read_text(encoding="utf-8")
    section = page[page.index("Services lost to a down host") :]
    rows = _rows(out / "outages.csv")
    assert len(rows) == 52
    for row in rows:
        assert row["name"] in section
    assert 'data-key="service_outages.0.duration_s" data-value="1200">20 min<' in section
