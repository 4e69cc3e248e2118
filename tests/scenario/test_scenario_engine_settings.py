"""The ``engine:`` block: every setting reaches the engine, and each is checked."""

from __future__ import annotations

import json

import pytest

from lgwan_sim.engine import EngineConfig
from lgwan_sim.scenario import engine_inputs, load_scenario
from tests.scenario.support import SMALL

ENGINE_LINE = "engine: {bin_s: 300}"


def _with_engine(block: str) -> str:
    assert ENGINE_LINE in SMALL
    return SMALL.replace(ENGINE_LINE, f"engine: {block}")


def test_every_engine_setting_reaches_the_engine_config(write_scenario) -> None:
    path = write_scenario(
        _with_engine(
            "{bin_s: 300, convergence_delay_s: 1.5, buffer_bytes: 2.0e+6, mss_bytes: 1400,"
            " header_bytes: 52, window_bytes: 1.0e+6, initial_window_segments: 4,"
            " failed_flows: reroute, max_flow_rate_bps: 5.0e+7, drain: true}"
        )
    )
    config = engine_inputs(load_scenario(path)).config
    assert config == EngineConfig(
        bin_s=300.0,
        convergence_delay_s=1.5,
        buffer_bytes=2e6,
        mss_bytes=1400.0,
        header_bytes=52.0,
        window_bytes=1e6,
        initial_window_segments=4,
        failed_flows="reroute",
        max_flow_rate_bps=5e7,
        drain=True,
    )


def test_without_settings_the_engine_defaults_apply(write_scenario) -> None:
    config = engine_inputs(load_scenario(write_scenario(SMALL))).config
    assert config == EngineConfig(bin_s=300.0)


@pytest.mark.parametrize(
    ("block", "fragment"),
    [
        ("{buffer_bytes: .inf}", "engine.buffer_bytes: must be a finite number (got inf)"),
        ("{buffer_bytes: -1}", "engine.buffer_bytes: must be >= 0 (got -1)"),
        ("{buffer_bytes: 1.0e+11}", "engine.buffer_bytes: must be <= 1e+10"),
        ("{mss_bytes: 0}", "engine.mss_bytes: must be >= 1 (got 0)"),
        ("{mss_bytes: .nan}", "engine.mss_bytes: must be a finite number (got nan)"),
        ("{header_bytes: 2000}", "engine.header_bytes: must be <= 1500 (got 2000)"),
        ("{window_bytes: 1.0e+10}", "engine.window_bytes: must be <= 1.07374e+09"),
        ("{window_bytes: 1000}", "engine.window_bytes: must hold at least one segment"),
        ("{mss_bytes: 9000, window_bytes: 8000}", "engine.window_bytes: must hold at least"),
        ("{initial_window_segments: 0}", "engine.initial_window_segments: must be >= 1"),
        ("{initial_window_segments: 2.5}", "engine.initial_window_segments: must be an integer"),
        ("{initial_window_segments: 5000}", "engine.initial_window_segments: must be <= 1000"),
        ("{failed_flows: retry}", "engine.failed_flows: must be one of lose, reroute"),
        ("{max_flow_rate_bps: 0}", "engine.max_flow_rate_bps: must be >= 1000 (got 0)"),
        ("{max_flow_rate_bps: .inf}", "engine.max_flow_rate_bps: must be a finite number"),
        ("{drain: yes please}", "engine.drain: must be true or false"),
        ("{window: 10}", "engine.window: unknown key"),
    ],
)
def test_a_bad_engine_setting_is_one_line_and_exit_2(block, fragment, write_scenario, cli) -> None:
    text = _with_engine(block)
    path = write_scenario(text)
    line = text.splitlines().index(f"engine: {block}") + 1
    result = cli("validate", path)
    assert result.code == 2
    assert result.out == ""
    (only,) = result.err.splitlines()
    assert only.startswith(f"lgwan-sim: error: {path}:{line}: "), only
    assert fragment in only, only


def test_run_drain_leaves_nothing_in_flight(write_scenario, cli, tmp_path) -> None:
    quiet = SMALL[: SMALL.index("\nevents:")] + "\n"  # a quiet half hour, no events
    # 30 MB lectures, a few a minute: some are still streaming when the half hour ends
    lectures = (
        "services:\n  e-learning: {primary: dc-a, secondary: dc-b, requests_per_day: 20000}\n"
    )
    quiet = (
        quiet.replace("services:\n", lectures, 1)
        .replace("only_services: [", "only_services: [e-learning, ", 1)
        .replace("duration: 4h", "duration: 30m")
    )
    path = write_scenario(quiet)
    plain, drained = tmp_path / "plain", tmp_path / "drained"
    for out, extra in ((plain, ()), (drained, ("--drain",))):
        result = cli("run", path, "--fidelity", "flow", "--no-plots", "--out", out, *extra)
        assert result.code == 0, result.err
    p = json.loads((plain / "summary.json").read_text(encoding="utf-8"))["totals"]
    d = json.loads((drained / "summary.json").read_text(encoding="utf-8"))["totals"]
    assert p["in_flight"] > 0
    assert d["in_flight"] == 0
    assert d["offered"] == p["offered"] == d["delivered"] + d["dropped_total"]
