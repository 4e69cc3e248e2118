"""Link impairments from a scenario file: loss, latency and flapping, seeded byte for byte."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from lgwan_sim.engine import EventKind, LossModel
from lgwan_sim.errors import ScenarioError
from lgwan_sim.scenario import load_scenario
from tests.scenario.support import SMALL

EVENTS = """\
events:
  - {at: "+5m", kind: link_loss, links: [m1~core], loss: 0.05, until: "+40m"}
  - at: "+5m"
    kind: link_loss
    links: [m2~core]
    p_good_to_bad: 0.01
    p_bad_to_good: 0.5
    loss_bad: 0.9
  - {at: "+0m", kind: link_latency, links: [m2~core], delay_s: 0.02, jitter_s: 0.01}
  - {at: "+5m", kind: link_flap, links: [core~dc-b], mtbf_s: 120, mttr_s: 10, until: "+50m"}
"""


def _scenario(fidelity: str = "packet") -> str:
    head = SMALL[: SMALL.index("events:")]
    return (
        head.replace("fidelity: analytic", f"fidelity: {fidelity}").replace(
            "duration: 4h", "duration: 1h"
        )
        + EVENTS
    )


def test_the_kinds_read_into_the_engines_events(write_scenario) -> None:
    scenario = load_scenario(write_scenario(_scenario()))
    kinds = [e.kind for e in scenario.events]
    assert [k.value for k in kinds] == ["link_loss", "link_loss", "link_latency", "link_flap"]
    loss, ge, latency, flap = scenario.events
    assert loss.model == LossModel.random(0.05)
    assert ge.model == LossModel(p_good_to_bad=0.01, p_bad_to_good=0.5, loss_bad=0.9)
    assert (latency.delay_s, latency.jitter_s, latency.restore) == (0.02, 0.01, ())
    timeline = flap.expand(scenario.topology, hold="h")
    assert [(e.kind, e.at_s, e.mtbf_s, e.mttr_s) for e in timeline] == [
        (EventKind.LINK_FLAP, 300.0, 120.0, 10.0),
        (EventKind.LINK_FLAP, 3000.0, None, None),
    ]


def _run(cli, path: Path, out: Path, seed: str) -> dict:
    result = cli("run", path, "--out", out, "--seed", seed, "--no-plots")
    assert result.code == 0, result.err
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


def test_a_run_with_impairments_is_the_same_byte_for_byte_and_flaps_are_events(
    cli, write_scenario, tmp_path: Path
) -> None:
    path = write_scenario(_scenario())
    first = _run(cli, path, tmp_path / "a", "7")
    _run(cli, path, tmp_path / "b", "7")
    other = _run(cli, path, tmp_path / "c", "8")
    for name in ("summary.json", "services.csv", "links.csv", "events.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert first["totals"]["dropped"] != other["totals"]["dropped"]
    assert first["totals"]["dropped"]["link_loss"] > 0
    with (tmp_path / "a" / "events.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    flaps = [r for r in rows if r["kind"] in ("link_down", "link_up") and "flap" in r["note"]]
    assert len(flaps) >= 4
    assert all(r["links"] == "core~dc-b" for r in flaps)
    assert {r["kind"] for r in flaps} == {"link_down", "link_up"}


def test_the_docs_example_of_loss_and_latency_loads_on_the_national_topology(
    write_scenario,
) -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"
    blocks = re.findall(r"```yaml\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)
    (block,) = [b for b in blocks if b.startswith("fidelity: packet\nevents:")]
    head = 'topology: national\nstart: "2011-03-11T00:00"\nduration: 4d\nseed: 1\n'
    scenario = load_scenario(write_scenario(head + block))
    assert [e.kind.value for e in scenario.events] == ["link_loss", "link_loss", "link_latency"]
    analytic = write_scenario(head + block.replace("fidelity: packet", "fidelity: analytic"))
    with pytest.raises(ScenarioError, match=r"events\[0\]\.kind: the analytic fidelity"):
        load_scenario(analytic)
