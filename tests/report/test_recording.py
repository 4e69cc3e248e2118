"""A run folder read back by ``Recording.load``: the run's own numbers and the engine's state."""

from __future__ import annotations

import csv
import gzip
import json
import math
import re
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

from lgwan_sim.engine import build
from lgwan_sim.errors import InputError
from lgwan_sim.report._recording import Recording
from lgwan_sim.scenario import load_scenario, run_scenario, write_run
from tests.support import MORIOKA_CUT, five_sites

#: A five-site network (the bundled study network's shape) with overlapping outages: the
#: cut line comes back while the site at its end is still down, and a failover and failback.
SMALL = five_sites(
    "recorded",
    MORIOKA_CUT,
    '{at: "+1h10m", kind: site_down, sites: [m1], until: "+2h"}',
    '{at: "+2h", kind: dc_loss, site: dc-a, detection_s: 30, switchover_s: 120, until: "+3h"}',
    '{at: "+3h", kind: demand_surge, service: directory, multiplier: 3, until: "+3h30m"}',
    fidelity="flow",
)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("recorded")
    path = folder / "recorded.yaml"
    path.write_text(SMALL, encoding="utf-8")
    outcome = run_scenario(load_scenario(path))
    out = write_run(outcome, folder / "run")
    return outcome, out


def test_series_are_the_run_results(small) -> None:
    outcome, out = small
    result = outcome.result
    rec = Recording.load(out)
    assert rec.link_ids == result.link_ids
    assert rec.n_bins == result.n_bins
    assert rec.bin_s == result.bin_s
    assert rec.start == result.start
    np.testing.assert_allclose(rec.times_s, np.arange(result.n_bins) * result.bin_s)
    util = np.asarray(result.link_utilisation)
    assert util.max() > 0
    np.testing.assert_allclose(rec.utilisation, util, rtol=1e-5, atol=1e-12)
    assert rec.services == tuple(s.name for s in outcome.scenario.services)
    for name in rec.services:
        stats = result.services[name]
        np.testing.assert_array_equal(rec.offered[name], result.offered_per_bin[name])
        np.testing.assert_array_equal(rec.delivered[name], result.delivered_per_bin[name])
        assert rec.dropped[name].sum() == stats.dropped_total
        np.testing.assert_allclose(
            rec.latency_p95_s[name], result.latency_p95_s[name], rtol=1e-5, equal_nan=True
        )
    np.testing.assert_array_equal(rec.unreachable, result.unreachable_local_bodies)
    assert rec.unreachable.max() > 0
    assert [(e.at_s, e.kind) for e in rec.events] == [(e.at_s, e.kind) for e in result.events]
    for got, want in zip(rec.events, result.events, strict=True):
        assert (got.links, got.sites, got.service or None) == (want.links, want.sites, want.service)
        assert (got.messages_lost, got.messages_rerouted) == (
            want.messages_lost,
            want.messages_rerouted,
        )
        assert got.routes_recomputed == want.routes_recomputed
    assert any(e.routes_recomputed for e in rec.events)


def _probe_times(result) -> list[float]:
    """Every event time, just before and just after it, and the middle of each bin."""
    times = {t for e in result.events for t in (e.at_s, e.at_s + 0.5, e.at_s - 0.5)}
    times |= {(b + 0.5) * result.bin_s for b in range(result.n_bins)}
    return sorted(t for t in times if 0 < t < result.duration_s)


def test_down_sets_are_the_engines_state_at_every_moment(small) -> None:
    outcome, out = small
    rec = Recording.load(out)
    engine = build(outcome.inputs)
    state = engine.state  # type: ignore[attr-defined]
    seen = set()
    for t in _probe_times(outcome.result):
        # the engine has applied what is due before the time it advances to: the state at t
        engine.advance_to(math.nextafter(t, math.inf))
        physical = rec.down_at(t)
        assert physical == (state.down_links, state.down_sites), t
        routing = rec.routing_down_at(t)
        assert routing == (state.router.down_links, state.router.down_sites), t
        seen.add(physical)
    # the overlaps are there: the line alone, the line and its town, the town alone, the ASP
    assert {
        (frozenset(), frozenset()),
        (frozenset({"m1~core"}), frozenset()),
        (frozenset({"m1~core"}), frozenset({"m1"})),
        (frozenset(), frozenset({"m1"})),
        (frozenset(), frozenset({"dc-a"})),
    } <= seen


def test_failed_links_add_the_lines_of_a_down_site(small) -> None:
    _, out = small
    rec = Recording.load(out)
    assert rec.failed_links_at(1.5 * 3600 + 60) == {"m1~core"}  # the town is down
    assert rec.failed_links_at(2.5 * 3600) == {"core~dc-a"}  # the ASP is down
    assert rec.failed_links_at(3.5 * 3600) == set()


def test_spells_and_failover(small) -> None:
    _, out = small
    rec = Recording.load(out)
    spells = {(s.element, s.id): (s.from_s, s.until_s) for s in rec.spells}
    assert spells == {
        ("link", "m1~core"): (3600.0, 5400.0),
        ("site", "m1"): (4200.0, 7200.0),
        ("site", "dc-a"): (7200.0, 10800.0),
    }
    assert rec.failed_over_at(7200 + 149) == set()
    assert rec.failed_over_at(7200 + 150) == {"mail-relay"}
    assert rec.failed_over_at(4 * 3600) == set()


def test_undirected_utilisation_is_the_busier_direction(small) -> None:
    _outcome, out = small
    rec = Recording.load(out)
    i = rec.undirected_ids.index("core~dc-b")
    both = [rec.link_ids.index("core~dc-b>"), rec.link_ids.index("core~dc-b<")]
    np.testing.assert_array_equal(rec.undirected_utilisation[i], rec.utilisation[both].max(axis=0))


# -- a region of the national network: events.csv gives only a count of its sites -------
NATIONAL = textwrap.dedent(
    """\
    name: region
    topology: national
    start: "2026-06-10T09:00"
    duration: 3h
    seed: 3
    engine: {bin_s: 600}
    events:
      - {at: "+1h", kind: region_down, prefectures: ["03"], until: "+2h"}
      - {at: "+1h20m", kind: site_down, sites: [pn-03], until: "+2h30m"}
    """
)


@pytest.fixture(scope="module")
def national_run(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("region")
    path = folder / "region.yaml"
    path.write_text(NATIONAL, encoding="utf-8")
    outcome = run_scenario(load_scenario(path))
    return outcome, write_run(outcome, folder / "run")


def test_a_region_is_recorded_site_by_site(national_run) -> None:
    outcome, out = national_run
    with (out / "events.csv").open(encoding="utf-8") as handle:
        first = next(csv.DictReader(handle))
    assert first["sites"].endswith(" sites")  # abridged there
    rec = Recording.load(out)
    engine = build(outcome.inputs)
    state = engine.state  # type: ignore[attr-defined]
    iwate = {s.id for s in outcome.scenario.topology.sites_in_prefecture("03")}
    assert len(iwate) > 20
    for t_h, want in ((1.5, iwate), (2.25, {"pn-03"}), (2.75, set())):
        t = t_h * 3600
        engine.advance_to(t)
        assert rec.down_at(t)[1] == state.down_sites == want


def test_a_folder_without_changes_csv_is_refused_when_events_csv_abridges(
    national_run, tmp_path
) -> None:
    _, out = national_run
    copy = tmp_path / "old"
    shutil.copytree(out, copy)
    (copy / "changes.csv").unlink()
    with pytest.raises(InputError, match=r"changes\.csv: missing, and events\.csv gives only"):
        Recording.load(copy)


def test_a_folder_without_changes_csv_is_read_from_events_csv(small, tmp_path) -> None:
    _, out = small
    copy = tmp_path / "old"
    shutil.copytree(out, copy)
    (copy / "changes.csv").unlink()
    old, new = Recording.load(copy), Recording.load(out)
    assert old.spells == new.spells
    for t in (3700.0, 4300.0, 7300.0, 7250.0):
        assert old.down_at(t) == new.down_at(t)
        assert old.routing_down_at(t) == new.routing_down_at(t)


# -- bad folders: one line naming the file, the line and the field -----------------------
def _broken(out: Path, tmp_path: Path, name: str, edit) -> Path:
    copy = tmp_path / "bad"
    shutil.copytree(out, copy)
    path = copy / name
    if name.endswith(".gz"):
        text = gzip.decompress(path.read_bytes()).decode()
        path.write_bytes(gzip.compress(edit(text).encode()))
    else:
        path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    return copy


def _replace_cell(text: str, line: int, column: int, value: str) -> str:
    lines = text.split("\n")
    cells = lines[line - 1].split(",")
    cells[column] = value
    lines[line - 1] = ",".join(cells)
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("name", "edit", "message"),
    [
        (
            "links_all.csv.gz",
            lambda t: _replace_cell(t, 4, 3, "x"),
            r"links_all\.csv\.gz:4: core~dc-a<: not a number \(got 'x'\)$",
        ),
        (
            "links_all.csv.gz",
            lambda t: "\n".join([*t.split("\n")[:3], t.split("\n")[3].rsplit(",", 1)[0]]),
            r"links_all\.csv\.gz:4: 9 cells, the header has 10$",
        ),
        (
            "services.csv",
            lambda t: _replace_cell(t, 3, 3, "many"),
            r"services\.csv:3: offered: not a number \(got 'many'\)$",
        ),
        (
            "unreachable.csv",
            lambda t: _replace_cell(t, 2, 2, "1.5"),
            r"unreachable\.csv:2: unreachable_local_bodies: not a whole number \(got '1\.5'\)$",
        ),
        (
            "changes.csv",
            lambda t: _replace_cell(t, 2, 2, "sideways"),
            r"changes\.csv:2: view: must be physical or routing \(got 'sideways'\)$",
        ),
        (
            "events.csv",
            lambda t: t.replace("at_s,", "when,", 1),
            r"events\.csv:1: at_s: missing column$",
        ),
        ("summary.json", lambda t: t[:40], r"summary\.json:\d+: not JSON"),
    ],
)
def test_a_bad_file_is_one_error_naming_it(small, tmp_path, name, edit, message) -> None:
    _, out = small
    copy = _broken(out, tmp_path, name, edit)
    with pytest.raises(InputError, match=message) as info:
        Recording.load(copy)
    assert str(copy / name) in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["links_all.csv.gz", "services.csv", "summary.json"])
def test_a_missing_file_is_named(small, tmp_path, name) -> None:
    _, out = small
    copy = tmp_path / "bad"
    shutil.copytree(out, copy)
    (copy / name).unlink()
    with pytest.raises(InputError, match=re.escape(f"{name}: missing from the run")):
        Recording.load(copy)


def test_a_truncated_gzip_is_named(small, tmp_path) -> None:
    _, out = small
    copy = tmp_path / "bad"
    shutil.copytree(out, copy)
    path = copy / "links_all.csv.gz"
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(InputError, match=r"links_all\.csv\.gz: cannot be read"):
        Recording.load(copy)


# -- the run's network ---------------------------------------------------------------------
def _point_run_json_at(folder: Path, scenario_file: str) -> None:
    run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    run["scenario_file"] = scenario_file
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")


def test_the_network_comes_from_the_scenario_file(small) -> None:
    outcome, out = small
    topology = Recording.load(out).topology()
    assert set(topology.links) == set(outcome.scenario.topology.links)
    assert topology.site("m1").lat == outcome.scenario.topology.site("m1").lat


def test_a_changed_scenario_file_is_refused(small, tmp_path) -> None:
    _, out = small
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    changed = tmp_path / "changed.yaml"
    changed.write_text(
        SMALL.replace("      - {a: m2, b: core, capacity_bps: 1.0e+8, kind: access}\n", "")
    )
    _point_run_json_at(copy, str(changed))
    with pytest.raises(
        InputError,
        match=r"run\.json: scenario_file: the scenario file .* no longer has the run's links \(got 3\)",
    ):
        Recording.load(copy).topology()


def test_a_gone_scenario_file_is_refused_unless_the_network_is_national(
    small, national_run, tmp_path
) -> None:
    _, out = small
    copy = tmp_path / "small"
    shutil.copytree(out, copy)
    _point_run_json_at(copy, str(tmp_path / "gone.yaml"))
    with pytest.raises(
        InputError, match=r"run\.json: scenario_file: the run's scenario file is gone"
    ):
        Recording.load(copy).topology()
    outcome, national_out = national_run
    copy = tmp_path / "national"
    shutil.copytree(national_out, copy)
    _point_run_json_at(copy, str(tmp_path / "gone.yaml"))
    rebuilt = Recording.load(copy).topology()
    assert set(rebuilt.links) == set(outcome.scenario.topology.links)


def test_the_python_example_of_docs_animate_runs(small, tmp_path, monkeypatch, capsys) -> None:
    _, out = small
    doc = Path(__file__).resolve().parents[2] / "docs" / "animate.md"
    (block,) = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    shutil.copytree(out, tmp_path / "runs" / "tohoku")
    monkeypatch.chdir(tmp_path)
    exec(compile(block, str(doc), "exec"), {})
    said = capsys.readouterr().out
    assert "sites down;" in said
    assert "busiest line:" in said
