"""summary.json records the engine settings and counters, so two runs can be told apart."""

from __future__ import annotations

import json

from tests.scenario.support import SMALL


def test_engine_settings_and_counters_are_in_the_summary(write_scenario, cli, tmp_path):
    quiet = SMALL[: SMALL.index("\nevents:")] + "\n"  # no events
    text = quiet.replace("duration: 4h", "duration: 20m")
    path = write_scenario(text)
    plain, drained = tmp_path / "plain", tmp_path / "drained"
    for out, extra in ((plain, ()), (drained, ("--drain",))):
        done = cli(
            "run", str(path), "-o", str(out), "--no-plots", "--quiet", "--fidelity", "flow", *extra
        )
        assert done.code == 0, done.err
    a = json.loads((plain / "summary.json").read_text())["engine"]
    b = json.loads((drained / "summary.json").read_text())["engine"]
    assert a["settings"]["drain"] is False
    assert b["settings"]["drain"] is True
    assert a["settings"]["bin_s"] == b["settings"]["bin_s"] == 300
    assert a["settings"]["max_flow_rate_bps"] is None  # unlimited
    assert a["counters"].get("flows", 0) > 0, a["counters"]
    assert "delivered_after_end" in b["counters"]
    assert "delivered_after_end" not in a["counters"]
